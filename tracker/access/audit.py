"""The audit trail: append-only, each entry chained to the previous one by a SHA-256 hash.

An edited entry no longer matches its own hash; a removed one breaks the chain (the next entry's
``previous_hash`` points at nothing). ``verify`` walks the chain and says where it breaks. Deleting the newest
entries, emptying the table or recomputing the chain leaves a valid chain: ``verify_trail`` also checks the
database against the signed anchors kept outside it (``tracker.access.audit_anchor``).

An entry that concerns many patients (a list, a schedule, an export) does not name them in its text: it says
how many and the SHA-256 of their sorted ids, and one ``audit_patient`` row per patient makes "who viewed
patient X" one indexed query (``browse``'s patient filter). The digest is part of the hashed entry, so rows
added to, removed from or changed in ``audit_patient`` no longer match it (``verify``).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, func, insert, select, text, union

from db import models
from db.engine import advisory_lock
from tracker.access import audit_anchor
from tracker.access.actors import ADMIN, Actor, require_role
from tracker.access.patient_lookup import with_mrn
from tracker.clinic_dates import parse_date, show_date
from tracker.database import AnyRow, Reads, after_reading, read_connection, reading, streamed_rows, transaction
from tracker.errors import NotFound, PermissionDenied, ValidationError
from tracker.paging import Page, last_page, page_number
from tracker.paging import page_size as checked_size
from tracker.safe_csv import csv_chunks

GENESIS = "0" * 64
# What is recorded (Trust issue): views, creations, changes, soft deletes, exports, report downloads,
# and sign-ins.
ACTIONS = ("view", "create", "update", "delete", "export", "report", "sign_in", "sign_in_failed",
           "sign_out", "account", "import", "restore", "refused")


def _entry_hash(previous_hash: str, at: datetime, username: str | None, role: str | None,
                patient_id: int | None, action: str, detail: str, address: str | None,
                patient_count: int | None = None) -> str:
    hashed: list[Any] = [previous_hash, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"), username, role,
                         patient_id, action, detail, address]
    if patient_count is not None:  # only then: every entry written before the column keeps its hash
        hashed.append(patient_count)
    payload = json.dumps(hashed, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def patients_digest(patient_ids: Collection[int]) -> str:
    """SHA-256 (hex) of the distinct ids, sorted and written in decimal with commas between them.

    >>> patients_digest([3, 1, 3]) == hashlib.sha256(b"1,3").hexdigest()
    True
    """
    return hashlib.sha256(",".join(str(i) for i in sorted(set(patient_ids))).encode()).hexdigest()


def patients_note(patient_ids: Collection[int]) -> str:
    """What an entry's detail says of the patients it concerns (``record(patient_ids=...)``).

    >>> patients_note([12, 7])[:46]
    '2 patients (sha256 of their sorted ids: 49c119'
    """
    number = len(set(patient_ids))
    return (f"{number:,} patient{'' if number == 1 else 's'} "
            f"(sha256 of their sorted ids: {patients_digest(patient_ids)})")


# At the end of the detail of an entry with a ``patient_count``, where ``record`` puts it. Read only on such
# entries: any other detail may end with typed text that looks like it (a refused request's MRN).
_PATIENTS_NOTE = re.compile(r"(\d[\d,]*) patients? \(sha256 of their sorted ids: ([0-9a-f]{64})\)\Z")

_entry = models.Base.metadata.tables[models.AuditEntry.__tablename__]
_patients = models.Base.metadata.tables[models.AuditPatient.__tablename__]
_patient = models.Base.metadata.tables[models.Patient.__tablename__]
# Built once: every page run records a view, so the entry is written with Core statements (the ORM's
# unit of work cost more than the page's reads; bench_progress_page.py).
_LATEST = select(_entry.c.id, _entry.c.entry_hash).order_by(_entry.c.id.desc()).limit(1)
_APPEND = insert(_entry)
# An entry's patients in one statement, from one array parameter: a schedule of 50,000 patients took 3.1 s as
# executemany batches on PostgreSQL (one INSERT each) and 0.45 s so; 0.74 s and 0.17 s on SQLite.
_APPEND_PATIENTS = {
    "postgresql": text(f"INSERT INTO {_patients.name} (entry_id, patient_id) "
                       "SELECT :entry_id, unnest(CAST(:ids AS integer[]))"),
    "sqlite": text(f"INSERT INTO {_patients.name} (entry_id, patient_id) SELECT :entry_id, value FROM json_each(:ids)"),
}
_ROWS_AT_ONCE = 5000  # entries per verification step


def record(session: Reads, actor: Actor | None, action: str, *, patient_id: int | None = None,
           detail: str = "", username: str | None = None, patient_ids: Collection[int] | None = None) -> None:
    """Append one entry inside the caller's transaction (it is kept only if the use case commits). An entry
    whose id crosses a multiple of ``audit_anchor.ANCHOR_EVERY`` has the head anchored once the transaction
    ends.

    ``patient_ids``: the patients an entry about many concerns (a list shown, an export). The detail then ends
    with their count and digest (``patients_note``) and one ``audit_patient`` row per distinct id is inserted
    in the same transaction, by one statement.
    """
    if after_reading(session, lambda writer: record(writer, actor, action, patient_id=patient_id, detail=detail,
                                                    username=username, patient_ids=patient_ids)):
        return  # a read-only use case: written just after its reads, in a short write transaction of its own
    connection = read_connection(session)
    # Serialise writers of the chain (PostgreSQL): two entries must never share a predecessor.
    advisory_lock(connection, "audit chain")
    latest = connection.execute(_LATEST).first()
    previous = latest.entry_hash if latest else GENESIS
    at = datetime.now(UTC)
    # A command-line actor's name adds the OS user who ran it (access.CommandLineActor).
    name = (getattr(actor, "audit_name", None) or actor.username) if actor else username
    role = actor.role if actor else None
    address = actor.address if actor else None
    ids = sorted(set(patient_ids)) if patient_ids is not None else None
    count = len(ids) if ids is not None else None
    if ids is not None:
        detail = f"{detail}; {patients_note(ids)}" if detail else patients_note(ids)
    entry_id = connection.execute(_APPEND, {
        "at": at, "username": name, "role": role, "patient_id": patient_id, "action": action, "detail": detail,
        "address": address, "previous_hash": previous, "patient_count": count,
        "entry_hash": _entry_hash(previous, at, name, role, patient_id, action, detail, address, count),
    }).inserted_primary_key[0]  # type: ignore[index]  # an INSERT always has its key; SQLAlchemy types it Optional
    if ids:
        postgresql = connection.dialect.name == "postgresql"
        connection.execute(_APPEND_PATIENTS["postgresql" if postgresql else "sqlite"],
                           {"entry_id": entry_id, "ids": ids if postgresql else json.dumps(ids)})
    if entry_id // audit_anchor.ANCHOR_EVERY > (latest.id if latest else 0) // audit_anchor.ANCHOR_EVERY:
        audit_anchor.anchor_when_committed(connection)


@contextmanager
def refusals_recorded(actor: Actor | None, what: str, mrn: str | None, url: str | None = None) -> Iterator[None]:
    """Record a refused access in a transaction of its own (the refused use case's is rolled back)."""
    try:
        yield
    except PermissionDenied:
        with transaction(url) as session:
            record(session, actor, "refused", patient_id=actor.patient_id if actor else None,
                   detail=f"{what}: asked for MRN {mrn!r}"[:500])
        raise


@dataclass(frozen=True)
class Verification:
    """``entries`` walked, one line per problem; ``anchors``: the check against the anchors (``verify_trail``)."""

    entries: int
    problems: tuple[str, ...]
    anchors: audit_anchor.AnchorCheck | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


_ENTRIES_AFTER = select(_entry).where(_entry.c.id > bindparam("after")).order_by(_entry.c.id).limit(_ROWS_AT_ONCE)


def verify(reads: Reads) -> Verification:
    """Walk the chain in id order, ``_ROWS_AT_ONCE`` entries at a time (memory stays flat on any trail): each
    entry must point at the one before, match its own hash, and have exactly the ``audit_patient`` rows its
    detail's digest names."""
    connection = read_connection(reads)
    problems: list[str] = []
    expected_previous, count, after = GENESIS, 0, 0
    while entries := connection.execute(_ENTRIES_AFTER, {"after": after}).all():
        patients = _patients_of(connection, entries[0].id, entries[-1].id)
        for entry in entries:
            problems += _entry_problems(entry, expected_previous, patients.get(entry.id, []))
            expected_previous = entry.entry_hash
        count, after = count + len(entries), entries[-1].id
    return Verification(count, tuple(problems))


def _patients_of(connection: Connection, first: int, last: int) -> dict[int, list[int]]:
    """The ``audit_patient`` ids of the entries ``first`` to ``last``, by entry."""
    found: dict[int, list[int]] = {}
    for entry_id, patient_id in connection.execute(
            select(_patients.c.entry_id, _patients.c.patient_id)
            .where(_patients.c.entry_id.between(first, last))
            .order_by(_patients.c.entry_id, _patients.c.patient_id)):
        found.setdefault(entry_id, []).append(patient_id)
    return found


def _entry_problems(entry: AnyRow, expected_previous: str, patient_ids: list[int]) -> list[str]:
    problems: list[str] = []
    if entry.previous_hash != expected_previous:
        problems.append(f"entry {entry.id}: chain broken before it (an entry was removed or reordered)")
    at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
    actual = _entry_hash(entry.previous_hash, at, entry.username, entry.role, entry.patient_id,
                         entry.action, entry.detail, entry.address, entry.patient_count)
    if actual != entry.entry_hash:
        problems.append(f"entry {entry.id}: content does not match its hash (edited)")
    if entry.patient_count is None:
        if patient_ids:
            problems.append(f"entry {entry.id}: {len(patient_ids)} patient rows that the entry does not list "
                            f"(added)")
        return problems
    # Only ``record`` sets ``patient_count`` and then ends the detail with the note: safe to read it here.
    note = _PATIENTS_NOTE.search(entry.detail or "")
    if (note is None or entry.patient_count != len(patient_ids)
            or int(note.group(1).replace(",", "")) != len(patient_ids)
            or patients_digest(patient_ids) != note.group(2)):
        problems.append(f"entry {entry.id}: its patient rows ({len(patient_ids)}) do not match the count and "
                        f"digest it records (rows added, removed or changed)")
    return problems


def verify_trail(given: tuple[audit_anchor.Anchor, ...] = (), url: str | None = None) -> Verification:
    """The chain, then the database against every anchor of the file and every ``given`` one (head lines kept
    in another system's log): what ``python -m tracker audit verify`` reports."""
    with transaction(url) as session:
        chain = verify(session)
        anchors = audit_anchor.check(session, given)
    return Verification(chain.entries, chain.problems + anchors.problems, anchors)


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    username: str | None
    role: str | None
    patient_mrn: str | None
    action: str
    detail: str
    address: str | None


AUDIT_COLUMNS = ("id", "at (UTC)", "username", "role", "patient MRN", "action", "detail", "address")


@dataclass(frozen=True)
class RepeatedEntry:
    """A run of consecutive entries that differ only in time (a page redrawn while its user works on it):
    ``latest`` as browsed, how many there were, and when the run began."""

    latest: AuditRow
    count: int
    since: datetime


def collapse_repeats(rows: list[AuditRow]) -> list[RepeatedEntry]:
    """Consecutive entries (newest first, as ``browse`` returns them) by the same user, from the same address,
    with the same action, patient and detail, as one line. For reading only: the trail and its CSV export
    keep every entry.

    >>> at = [datetime(2026, 1, 5, 9, minute, tzinfo=UTC) for minute in range(4)]
    >>> rows = [AuditRow(4, at[3], "dr.lee", "clinician", "P-1", "view", "visit form", None),
    ...         AuditRow(3, at[2], "dr.lee", "clinician", "P-1", "view", "visit form", None),
    ...         AuditRow(2, at[1], "dr.lee", "clinician", "P-1", "create", "visit", None),
    ...         AuditRow(1, at[0], "dr.lee", "clinician", "P-1", "view", "visit form", None)]
    >>> [(line.latest.id, line.count, line.since.minute) for line in collapse_repeats(rows)]
    [(4, 2, 2), (2, 1, 1), (1, 1, 0)]
    """
    lines: list[RepeatedEntry] = []
    for row in rows:
        previous = lines[-1].latest if lines else None
        if previous and (previous.username, previous.role, previous.address, previous.patient_mrn, previous.action,
                         previous.detail) == (row.username, row.role, row.address, row.patient_mrn, row.action,
                                              row.detail):
            lines[-1] = RepeatedEntry(previous, lines[-1].count + 1, row.at)
        else:
            lines.append(RepeatedEntry(row, 1, row.at))
    return lines


PAGE_SIZE = 100  # entries a page of the trail shows


def browse(actor: Actor, *, username: str = "", mrn: str = "", action: str = "", since: date | str | None = None,
           until: date | str | None = None, page: int = 1, page_size: int = PAGE_SIZE,
           url: str | None = None) -> Page[AuditRow]:
    """Admins browse the trail, newest first, filtered, one page (``page``, 1-based, of ``page_size`` entries)
    read from the database; browsing it is itself recorded.

    ``mrn``: the patient's entries, both those about them alone and those about many patients that name them
    (``audit_patient``): who viewed patient X. ``username``: that user's entries (``cli:backup`` also finds
    ``cli:backup (root)``). ``since`` and ``until`` (both days included) are dates or text typed in the clinic's
    date format; blank is no bound. A page past the last shows the last. Raises ``ValidationError`` for a date
    or a page or page size outside ``tracker.paging``'s bounds
    that does not read, ``NotFound`` for an MRN no patient has.
    """
    require_role(actor, ADMIN)
    number, size = page_number(page), checked_size(page_size)
    since, until = _days(since, until)
    with reading(url) as session:  # never SQLite's write lock; the entry is written just after the reads
        connection = read_connection(session)
        where = _conditions(connection, username=username, mrn=mrn, action=action, since=since, until=until)
        total = connection.execute(select(func.count()).select_from(_entry).where(*where)).scalar_one()
        number = min(number, last_page(total, size))
        rows = connection.execute(_rows(where).limit(size).offset((number - 1) * size))
        result = Page(tuple(_audit_row(row) for row in rows), total, number, size)
        record(session, actor, "view", detail="audit trail")
        return result


@dataclass(frozen=True)
class AuditExport:
    """A CSV file of ``entries`` entries to write out as ``chunks`` come (encoded bytes, read as they are asked
    for: iterate them once)."""

    entries: int
    chunks: Iterator[bytes]


def export_csv(actor: Actor, *, username: str = "", mrn: str = "", action: str = "", since: date | str | None = None,
               until: date | str | None = None, url: str | None = None) -> AuditExport:
    """The filtered trail as CSV (times YYYY-MM-DD HH:MM:SS UTC, for machines), newest first, as encoded chunks
    read from a server-side cursor (``safe_csv.csv_chunks``): write them out as they come. Filters as for
    ``browse``; checked, counted and audited before this returns (the export is recorded before a row is read),
    and the rows are those up to the newest entry at that moment, so the file holds exactly the entries the
    audit entry counts. Raises as ``browse`` does.
    """
    require_role(actor, ADMIN)
    since, until = _days(since, until)
    with reading(url) as session:  # never SQLite's write lock; the entry is written just after the reads
        connection = read_connection(session)
        where = _conditions(connection, username=username, mrn=mrn, action=action, since=since, until=until)
        head = connection.execute(_LATEST).first()
        where.append(_entry.c.id <= (head.id if head else 0))  # the trail only grows: a fixed set of entries
        total = connection.execute(select(func.count()).select_from(_entry).where(*where)).scalar_one()
        record(session, actor, "export", detail=f"audit trail CSV, {total} entries")
    return AuditExport(total, csv_chunks(AUDIT_COLUMNS, (
        (r.id, r.at.strftime("%Y-%m-%d %H:%M:%S"), r.username, r.role, r.mrn, r.action, r.detail, r.address)
        for r in streamed_rows(_rows(where), url)
    )))


def _day(value: date | str | None, label: str) -> date | None:
    """A filter's day: blank is no bound."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_date(value, label)


def _days(since: date | str | None, until: date | str | None) -> tuple[date | None, date | None]:
    """The filter's From and To days, checked together: a range that ends before it starts is refused (it could
    only ever show nothing), and a To on the last day a calendar has (31/12/9999) is no upper bound."""
    first, last = _day(since, "From"), _day(until, "To")
    if first and last and first > last:
        raise ValidationError(f"From ({show_date(first)}) is after To ({show_date(last)}): no entry can match; "
                              "swap the two dates")
    return first, (None if last == date.max else last)


_CLI_PREFIX = "cli:"  # command-line actors (actors.CommandLineActor), the only names recorded with " (OS user)"


def _conditions(connection: Connection, *, username: str, mrn: str, action: str, since: date | None,
                until: date | None) -> list[ColumnElement[bool]]:
    """The filters as conditions on ``audit_entry``, each one its indexes serve (user, action, time, patient)."""
    where: list[ColumnElement[bool]] = []
    if username.strip():
        where.append(_entry.c.username.in_(_usernames(connection, username)))
    if mrn.strip():
        where.append(_entry.c.id.in_(_about_patient(connection, mrn)))
    if action.strip():
        if action.strip() not in ACTIONS:
            raise ValidationError(f"{action.strip()!r} is not an action of the trail: one of {', '.join(ACTIONS)}.")
        where.append(_entry.c.action == action.strip())
    if since:
        where.append(_entry.c.at >= datetime.combine(since, time.min, tzinfo=UTC))
    if until:
        where.append(_entry.c.at < datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC))
    return where


def _usernames(connection: Connection, username: str) -> list[str]:
    """The names recorded for ``username``, typed the way accounts are (full-width letters are plain ones,
    capitals are small): itself, and for a command (``cli:user``) also each ``cli:user (root)`` it was run as.

    Those are found by walking the distinct names on the username index (one probe per distinct name, never a
    scan of the trail) rather than by ``LIKE 'cli:user (%'``, which no index serves in either database.
    """
    name = unicodedata.normalize("NFKC", username).strip().lower()
    if not name.startswith(_CLI_PREFIX):
        return [name]
    names = select(func.min(_entry.c.username).label("name")).cte("names", recursive=True)
    following = select(func.min(_entry.c.username)).where(_entry.c.username > names.c.name).scalar_subquery()
    names = names.union_all(select(following.label("name")).where(names.c.name.is_not(None)))
    return [name] + [found for found in connection.execute(select(names.c.name)).scalars()
                     if found and found.startswith(f"{name} (")]


def _about_patient(connection: Connection, mrn: str) -> Select[*tuple[Any, ...]]:
    """The ids of the entries about the patient ``mrn`` (any capitals): those naming them in ``patient_id`` and
    those about many patients that list them (``audit_patient``); both indexed."""
    ids = connection.execute(with_mrn(select(_patient.c.id), _patient.c.mrn, mrn)).scalars().all()
    if not ids:
        raise NotFound(f"No patient has the MRN {mrn.strip()!r}.")
    about = union(select(_entry.c.id).where(_entry.c.patient_id.in_(ids)),
                  select(_patients.c.entry_id).where(_patients.c.patient_id.in_(ids))).subquery()
    return select(about.c.id)


def _rows(where: Sequence[ColumnElement[bool]]) -> Select[*tuple[Any, ...]]:
    """The entries matching ``where``, newest first, with the MRN of the patient each names."""
    return (select(_entry.c.id, _entry.c.at, _entry.c.username, _entry.c.role, _patient.c.mrn, _entry.c.action,
                   _entry.c.detail, _entry.c.address)
            .select_from(_entry.outerjoin(_patient, _patient.c.id == _entry.c.patient_id))
            .where(*where).order_by(_entry.c.id.desc()))


def _audit_row(row: AnyRow) -> AuditRow:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return AuditRow(row.id, at, row.username, row.role, row.mrn, row.action, row.detail, row.address)
