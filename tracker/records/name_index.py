"""The few patients a rare search names, from SQLite's trigram index of names and MRNs (migration 0010).

The patient list's search reads the names in name order until it has the page and its count
(``tracker.records.patient_list``): quick when the words are common ("garcia": the first 100 matches are near),
but a word only one patient has (an MRN) made it read every name of the clinic. SQLite's FTS5 trigram index
(``patient_search``, kept from ``patient_outlook`` by triggers) finds the patients holding the words, whatever the
clinic's size; when they are few, the list reads only them (and still tests every word itself). PostgreSQL's planner
makes the same choice by itself with its GIN trigram indexes, so nothing is asked here there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from tracker.validation import fold, search_words

TRIGRAM = 3  # the index's unit: a shorter text cannot be looked up in it
INDEX = "patient_search"
_MATCH = text(f"SELECT rowid FROM {INDEX} WHERE {INDEX} MATCH :words LIMIT :limit")
_PRESENT = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name")


def few_named(session: Session, query: str, most: int) -> list[int] | None:
    """The ids of the patients whose name or MRN may hold the words of ``query`` (a superset of those that do: the
    index folds more than the search, and words it cannot look up are left to the caller's own test), when there
    are at most ``most``; None when there are more, when no word can be looked up, on an installation without the
    index (an SQLite without the trigram tokenizer) or on another database than SQLite: the caller reads the names."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    phrases = [phrase for word in search_words(query) if (phrase := _lookup(word))]
    if not phrases or session.execute(_PRESENT, {"name": INDEX}).first() is None:
        return None
    found = list(session.scalars(_MATCH, {"words": " AND ".join(f"({one})" for one in phrases), "limit": most + 1}))
    return found if len(found) <= most else None


def repaired(session: Session) -> bool:
    """SQLite: check the index against the outlook's rows (FTS5's ``integrity-check``) and, where they differ (a
    write that bypassed its triggers), build it again from them; True when it had to. ``check`` runs it."""
    if session.get_bind().dialect.name != "sqlite" or session.execute(_PRESENT, {"name": INDEX}).first() is None:
        return False
    try:
        with session.begin_nested():
            session.execute(text(f"INSERT INTO {INDEX}({INDEX}, rank) VALUES ('integrity-check', 1)"))
        return False
    except DatabaseError:  # SQLITE_CORRUPT_VTAB: the index does not say what the rows say
        session.execute(text(f"INSERT INTO {INDEX}({INDEX}) VALUES ('rebuild')"))
        return True


def _lookup(word: str) -> str | None:
    """The index's test of ``word`` in either form the search compares (folded for the name, lowercased for the
    MRN), or None when a form cannot be looked up: shorter than a trigram (an accent typed as its own character
    folds away), or holding a control character (FTS5 strings end at NUL).

    >>> _lookup('garcía'), _lookup('rt-0042'), _lookup('le\\u0301'), _lookup('ab')
    ('"garcia" OR "garcía"', '"rt-0042"', None, None)
    """
    forms = list(dict.fromkeys((fold(word) or "", word)))
    if any(len(form) < TRIGRAM or any(ord(char) < 32 for char in form) for form in forms):
        return None
    return " OR ".join('"' + form.replace('"', '""') + '"' for form in forms)
