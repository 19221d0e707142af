"""The audit trail: append-only, each entry chained to the previous one by a SHA-256 hash.

An edited entry no longer matches its own hash; a removed one breaks the chain (the next entry's
``previous_hash`` points at nothing). ``verify`` walks the chain and says where it breaks. Deleting the newest
entries, emptying the table or recomputing the chain leaves a valid chain: ``verify_trail`` also checks the
database against the signed anchors kept outside it (``tracker.access.audit_anchor``).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, or_, select, text
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit_anchor
from tracker.access.actors import ADMIN, Actor, require_role
from tracker.access.patient_lookup import with_mrn
from tracker.clinic_dates import parse_date, show_date
from tracker.database import Reads, read_connection, transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.safe_csv import to_csv

GENESIS = "0" * 64
# What is recorded (Trust issue): views, creations, changes, soft deletes, exports, report downloads,
# and sign-ins.
ACTIONS = ("view", "create", "update", "delete", "export", "report", "sign_in", "sign_in_failed",
           "sign_out", "account", "import", "restore", "refused")


def _entry_hash(previous_hash: str, at: datetime, username: str | None, role: str | None,
                patient_id: int | None, action: str, detail: str, address: str | None) -> str:
    payload = json.dumps(
        [previous_hash, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"), username, role,
         patient_id, action, detail, address],
        separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


_entry = models.Base.metadata.tables[models.AuditEntry.__tablename__]
# Built once: every page run records a view, so the entry is written with Core statements (the ORM's
# unit of work cost more than the page's reads; bench_progress_page.py).
_LATEST = select(_entry.c.id, _entry.c.entry_hash).order_by(_entry.c.id.desc()).limit(1)
_APPEND = insert(_entry)
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(7312001)")


def record(session: Reads, actor: Actor | None, action: str, *, patient_id: int | None = None,
           detail: str = "", username: str | None = None) -> None:
    """Append one entry inside the caller's transaction (it is kept only if the use case commits). An entry
    whose id crosses a multiple of ``audit_anchor.ANCHOR_EVERY`` has the head anchored once the transaction
    ends."""
    connection = read_connection(session)
    if connection.dialect.name == "postgresql":
        # Serialise writers of the chain: two entries must never share a predecessor.
        connection.execute(_CHAIN_LOCK)
    latest = connection.execute(_LATEST).first()
    previous = latest.entry_hash if latest else GENESIS
    at = datetime.now(UTC)
    # A command-line actor's name adds the OS user who ran it (access.CommandLineActor).
    name = (getattr(actor, "audit_name", None) or actor.username) if actor else username
    role = actor.role if actor else None
    address = actor.address if actor else None
    entry_id = connection.execute(_APPEND, {
        "at": at, "username": name, "role": role, "patient_id": patient_id, "action": action, "detail": detail,
        "address": address, "previous_hash": previous,
        "entry_hash": _entry_hash(previous, at, name, role, patient_id, action, detail, address),
    }).inserted_primary_key[0]  # type: ignore[index]  # an INSERT always has its key; SQLAlchemy types it Optional
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


def verify(session: Session) -> Verification:
    problems: list[str] = []
    expected_previous = GENESIS
    count = 0
    for entry in session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id)):
        count += 1
        if entry.previous_hash != expected_previous:
            problems.append(f"entry {entry.id}: chain broken before it (an entry was removed or reordered)")
        at = entry.at if entry.at.tzinfo else entry.at.replace(tzinfo=UTC)
        actual = _entry_hash(entry.previous_hash, at, entry.username, entry.role, entry.patient_id,
                             entry.action, entry.detail, entry.address)
        if actual != entry.entry_hash:
            problems.append(f"entry {entry.id}: content does not match its hash (edited)")
        expected_previous = entry.entry_hash
    return Verification(count, tuple(problems))


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


def browse(actor: Actor, *, username: str = "", mrn: str = "", action: str = "", since: date | str | None = None,
           until: date | str | None = None, limit: int = 500, url: str | None = None) -> list[AuditRow]:
    """Admins browse the trail, newest first, filtered; browsing it is itself recorded.

    ``since`` and ``until`` (both days included) are dates or text typed in the clinic's date format; blank is
    no bound. Raises ``ValidationError`` for a date that does not read.
    """
    require_role(actor, ADMIN)
    since, until = _days(since, until)
    with transaction(url) as session:
        rows = _query(session, username=username, mrn=mrn, action=action, since=since, until=until, limit=limit)
        record(session, actor, "view", detail="audit trail")
        return rows


def export_csv(actor: Actor, *, username: str = "", mrn: str = "", action: str = "", since: date | str | None = None,
               until: date | str | None = None, url: str | None = None) -> bytes:
    """The filtered trail as CSV (times YYYY-MM-DD HH:MM:SS UTC, for machines); filters as for ``browse``."""
    require_role(actor, ADMIN)
    since, until = _days(since, until)
    with transaction(url) as session:
        rows = _query(session, username=username, mrn=mrn, action=action, since=since, until=until, limit=None)
        record(session, actor, "export", detail=f"audit trail CSV, {len(rows)} entries")
    return to_csv(AUDIT_COLUMNS, (
        (r.id, r.at.strftime("%Y-%m-%d %H:%M:%S"), r.username, r.role, r.patient_mrn, r.action, r.detail, r.address)
        for r in rows
    ))


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


def _query(session: Session, *, username: str, mrn: str, action: str, since: date | None, until: date | None,
           limit: int | None) -> list[AuditRow]:
    query = (
        select(models.AuditEntry, models.Patient.mrn)
        .outerjoin(models.Patient, models.Patient.id == models.AuditEntry.patient_id)
        .order_by(models.AuditEntry.id.desc())
    )
    if username.strip():
        # 'cli:user' also finds 'cli:user (root)' (a command-line actor names its OS user; usernames hold
        # neither spaces nor brackets). Typed the way accounts are: full-width letters are plain ones.
        name = unicodedata.normalize("NFKC", username).strip().lower()
        query = query.where(or_(models.AuditEntry.username == name,
                                models.AuditEntry.username.startswith(f"{name} (", autoescape=True)))
    if mrn.strip():
        query = with_mrn(query, models.Patient.mrn, mrn)
    if action.strip():
        query = query.where(models.AuditEntry.action == action.strip())
    if since:
        query = query.where(models.AuditEntry.at >= datetime.combine(since, time.min, tzinfo=UTC))
    if until:
        query = query.where(models.AuditEntry.at < datetime.combine(until + timedelta(days=1), time.min,
                                                                    tzinfo=UTC))
    if limit:
        query = query.limit(limit)
    return [
        AuditRow(e.id, e.at if e.at.tzinfo else e.at.replace(tzinfo=UTC), e.username, e.role, patient_mrn,
                 e.action, e.detail, e.address)
        for e, patient_mrn in session.execute(query)
    ]
