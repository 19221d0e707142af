"""The few patients a rare search names, from SQLite's trigram index of names and MRNs (migration 0010).

The patient list's search reads the names in name order until it has the page and its count
(``tracker.records.patient_list``): quick when the words are common ("garcia": the first 100 matches are near),
but a word only one patient has (an MRN) made it read every name of the clinic. SQLite's FTS5 trigram index
(``patient_search``, kept from ``patient_outlook`` by triggers) finds the patients holding every word, whatever the
clinic's size; when they are few, the list reads only them. PostgreSQL's planner makes the same choice by itself
with its GIN trigram indexes, so nothing is asked here there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from tracker.validation import fold, search_words

TRIGRAM = 3  # the index's unit: a shorter word cannot be looked up in it
_MATCH = text("SELECT rowid FROM patient_search WHERE patient_search MATCH :words LIMIT :limit")


def few_named(session: Session, query: str, most: int) -> list[int] | None:
    """The ids of the patients whose name or MRN may hold every word of ``query`` (a superset of those whose do:
    the index folds more than the search), when there are at most ``most``; None when there are more, when a word
    is shorter than ``TRIGRAM`` characters or on another database than SQLite (the caller reads the names)."""
    words = search_words(query)
    if session.get_bind().dialect.name != "sqlite" or not words or any(len(word) < TRIGRAM for word in words):
        return None
    # Each word as a phrase, in either form the search compares (folded for the name, lowercased for the MRN).
    phrases = [" OR ".join(dict.fromkeys(_phrase(form) for form in (fold(word) or word, word))) for word in words]
    found = list(session.scalars(_MATCH, {"words": " AND ".join(f"({one})" for one in phrases),
                                          "limit": most + 1}))
    return found if len(found) <= most else None


def _phrase(word: str) -> str:
    """``word`` as an FTS5 string: in double quotes, a quote doubled, so that nothing in it is query syntax."""
    return '"' + word.replace('"', '""') + '"'
