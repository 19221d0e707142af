"""How many patients each whole-clinic list holds on any day, kept as the outlook's spans change.

"Showing 1–50 of 9,591 overdue" counted 9,591 spans on every click: the count grew with the clinic while the page
of 50 did not (issue #13: ratio 50k/2k ≤ 1.5). Each span (``tracker.progress.outlook``) puts its patient on a list
for a run of days: the whole span for a flag (overdue, window open, behind, target date soon, window opening soon),
fewer days for a repeat-session window (open, or opening within the look-ahead). This module keeps, per list, +1 on
the first such day and −1 on the day after the last (``db.models.OutlookTally``), added in the transaction that
writes the spans, as its last step before commit (``add``, ``apply_pending``). A list's count on a day is the sum of
its changes up to that day: as many rows as days on which the list changed (at most about 1,300 in the generated
50,000-patient clinic's four years), whatever the number of patients.

Lists kept (``LISTS``): the patient list's (every patient, and each of its filters) and the schedule's (its lists
of measured patients, every follow-up, repeat-session windows open or opening, treated and not measured). What
depends on the look-ahead is kept for ``DEFAULT_HORIZON_DAYS``, the schedule's default; another look-ahead, and a
search, are counted over the spans (``counts`` is only asked for what it keeps).

``recount`` counts the whole tally again from the spans (start-up, when it is missing or of an older
``TALLY_VERSION``, or after spans of an older engine version were replaced; ``check``, where it differs); until it
has been counted, ``counts`` answers None and the lists count over the spans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db import models
from db.engine import advisory_lock
from tracker.course.vocabulary import DEFAULT_HORIZON_DAYS, PatientFilter
from tracker.database import Reads, read_connection

# Raised whenever which lists are kept, or how a span counts on them, changes: start-up counts them again.
TALLY_VERSION = 1
FOREVER = models.SPAN_FOREVER
STATE = "outlook tally"  # its MaintenanceState row: {"version": TALLY_VERSION} once counted
PENDING = "outlook tally changes"  # Session.info key: changes to add just before the transaction commits

_tally = models.Base.metadata.tables[models.OutlookTally.__tablename__]
_span = models.Base.metadata.tables[models.OutlookSpan.__tablename__]
_state = models.Base.metadata.tables[models.MaintenanceState.__tablename__]

PATIENTS = "patients"  # every live patient (the patient list without a filter)
EVERY_FOLLOW_UP = "schedule: every follow-up"  # overdue, window open, target soon or opening within the look-ahead
REPEAT_OPEN = "repeat window open"
REPEAT_OPENS = "repeat window opens"  # within the look-ahead
UNMEASURED = "treated, not measured"
# The lists that are a span's flag: the column holding it.
_FLAGS = {PatientFilter.OVERDUE: _span.c.on_overdue, PatientFilter.WINDOW_OPEN: _span.c.window_open,
          PatientFilter.BEHIND: _span.c.behind}
SCHEDULE_LISTS = (PatientFilter.OVERDUE, PatientFilter.WINDOW_OPEN, PatientFilter.TARGET_SOON,
                  PatientFilter.UPCOMING)


def patient_list(kind: PatientFilter) -> str:
    """The tally of the patient list's filter ``kind`` (live patients whose span on the day passes it)."""
    return str(kind.value)


def schedule_list(kind: PatientFilter) -> str:
    """The tally of the schedule's list ``kind``: measured patients only (``schedule._from_spans``)."""
    return f"schedule: {kind.value}"


LISTS = (PATIENTS, *(patient_list(k) for k in (*_FLAGS, PatientFilter.TARGET_SOON)),
         *(schedule_list(k) for k in SCHEDULE_LISTS), EVERY_FOLLOW_UP, REPEAT_OPEN, REPEAT_OPENS, UNMEASURED)
# What a span needs to say on which lists it puts its patient, and on which days.
SPAN_FIELDS = ("valid_from", "valid_until", "measured", "day0", "on_overdue", "window_open", "behind", "target_soon",
               "opens_soon", "repeat_start", "repeat_end")
_FIELDS = tuple(_span.c[name] for name in SPAN_FIELDS)

Days = tuple[date, date]  # from the first day, up to and not including the second


def on_lists(span: Mapping[Any, Any]) -> Iterator[tuple[str, Days]]:
    """``(list, days)`` for each list the span ``span`` (its ``SPAN_FIELDS``) puts its patient on, and the days
    it does: the database's tests of ``outlook.on_list`` and of the schedule's sections, written per day."""
    start, until = span["valid_from"], span["valid_until"]

    def within(first: date, end: date) -> Days | None:
        first, end = max(first, start), min(end, until)
        return (first, end) if first < end else None

    whole: Days = (start, until)
    measured = bool(span["measured"])
    yield PATIENTS, whole
    for kind, flag in _FLAGS.items():
        if span[flag.name]:
            yield patient_list(kind), whole
            if measured and kind != PatientFilter.BEHIND:
                yield schedule_list(kind), whole
    yield from _follow_ups(span, whole, measured)
    # The repeat-session window: open on the days start … end; opening within the look-ahead on the days
    # start − look-ahead … start − 1.
    repeat_start, repeat_end = span["repeat_start"], span["repeat_end"]
    if repeat_start and repeat_end and (days := within(repeat_start, repeat_end + timedelta(1))):
        yield REPEAT_OPEN, days
    if repeat_start and (days := within(repeat_start - timedelta(DEFAULT_HORIZON_DAYS), repeat_start)):
        yield REPEAT_OPENS, days
    if not measured and span["day0"] is not None:
        yield UNMEASURED, whole


def _follow_ups(span: Mapping[Any, Any], whole: Days, measured: bool) -> Iterator[tuple[str, Days]]:
    """The dated follow-up lists (a span's ``target_soon`` and ``opens_soon`` flags hold over all of it: the spans
    are cut where they change) and the schedule's every follow-up, which holds them and the flagged ones."""
    if span["target_soon"]:
        yield patient_list(PatientFilter.TARGET_SOON), whole
    if not measured:
        return
    if span["target_soon"]:
        yield schedule_list(PatientFilter.TARGET_SOON), whole
    if span["opens_soon"]:
        yield schedule_list(PatientFilter.UPCOMING), whole
    if span["on_overdue"] or span["window_open"] or span["target_soon"] or span["opens_soon"]:
        yield EVERY_FOLLOW_UP, whole


def changes(spans: Iterable[Mapping[Any, Any]], sign: int = 1) -> Counter[tuple[str, date]]:
    """The tally's changes by ``(list, day)`` that ``spans`` make (``sign`` −1: that removing them makes)."""
    found: Counter[tuple[str, date]] = Counter()
    for span in spans:
        for name, (first, end) in on_lists(span):
            found[name, first] += sign
            if end < FOREVER:  # a span that never ends never takes its patient off the list
                found[name, end] -= sign
    return found


def old_spans(connection: Connection, patient_ids: list[int]) -> list[Mapping[Any, Any]]:
    """The spans of ``patient_ids`` as they stand, to be taken off the tally before they are replaced."""
    return [row._mapping for row in connection.execute(select(*_FIELDS).where(_span.c.patient_id.in_(patient_ids)))]


def add(reads: Reads, found: Counter[tuple[str, date]]) -> None:
    """Have the changes ``found`` added to the tally in the caller's transaction: just before it commits
    (``apply_pending``, which ``outlook.refresh_tracked`` calls), or at once inside a savepoint (rolled back with
    it) or on a bare connection."""
    if isinstance(reads, Session) and not reads.in_nested_transaction():
        reads.info.setdefault(PENDING, Counter()).update(found)
    else:
        apply(reads, found)


def apply_pending(session: Session) -> None:
    """Add what ``add`` kept for this transaction to the tally (its last step before commit)."""
    apply(session, session.info.pop(PENDING, Counter()))


def apply(reads: Reads, found: Counter[tuple[str, date]]) -> None:
    """Add the changes ``found`` to the tally in the caller's transaction.

    PostgreSQL: under the tally's own advisory lock, so that writers add to the same rows (most spans start today)
    one after the other, held from there to the commit. It is the last lock a writer takes (``add`` keeps the
    changes until then), so no writer holding it waits for anything another writer holds: no deadlock with the
    patients' row locks or the audit chain's lock, and page views (which take only the audit chain's) never wait
    for it."""
    rows = [{"list_name": name, "day": day, "change": change} for (name, day), change in sorted(found.items())
            if change]
    if not rows:
        return
    connection = read_connection(reads)
    advisory_lock(connection, "outlook tally")
    upsert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(_tally)
    connection.execute(upsert.on_conflict_do_update(index_elements=[_tally.c.list_name, _tally.c.day],
                                                    set_={"change": _tally.c.change + upsert.excluded.change}), rows)


def counts(reads: Reads, names: Iterable[str], day: date) -> dict[str, int] | None:
    """How many patients each list of ``names`` (``LISTS``) holds on ``day``, a day the spans cover
    (``outlook.covered``): one indexed sum per list. None while the tally is not counted (``kept``). Raises
    KeyError for a list it does not keep."""
    wanted = list(dict.fromkeys(names))
    unknown = set(wanted) - set(LISTS)
    if unknown:
        raise KeyError(f"not kept: {sorted(unknown)}")
    connection = read_connection(reads)
    if not kept(connection):
        return None
    found = dict(connection.execute(select(_tally.c.list_name, func.sum(_tally.c.change))
                                    .where(_tally.c.list_name.in_(wanted), _tally.c.day <= day)
                                    .group_by(_tally.c.list_name)).all())
    return {name: int(found.get(name) or 0) for name in wanted}


def kept(connection: Connection) -> bool:
    """Whether the tally has been counted from the spans by this ``TALLY_VERSION`` (and kept with them since)."""
    value = connection.execute(select(_state.c.value).where(_state.c.name == STATE)).scalar()
    return isinstance(value, dict) and value.get("version") == TALLY_VERSION


def recount(reads: Reads) -> int:
    """Count the whole tally again from the spans, in the caller's transaction; returns how many rows it has."""
    connection = read_connection(reads)
    advisory_lock(connection, "outlook tally")  # no write adds to the tally between the count and its rows
    found = _from_spans(connection)
    connection.execute(delete(_tally))
    rows = [{"list_name": name, "day": day, "change": change} for (name, day), change in sorted(found.items())
            if change]
    if rows:
        connection.execute(_tally.insert(), rows)
    connection.execute(delete(_state).where(_state.c.name == STATE))
    connection.execute(_state.insert(), {"name": STATE, "value": {"version": TALLY_VERSION},
                                         "updated_at": datetime.now(UTC)})
    return len(rows)


def differences(reads: Reads) -> list[str]:
    """Where the tally differs from a count of the spans, in words (nothing when it agrees): ``check``'s test. Takes
    the tally's lock (until the caller's transaction ends), so that no write lands between reading the spans and
    reading the tally."""
    connection = read_connection(reads)
    advisory_lock(connection, "outlook tally")
    found = _from_spans(connection)
    stored = {(r.list_name, r.day): r.change for r in connection.execute(select(_tally)) if r.change}
    expected = {key: change for key, change in found.items() if change}
    wrong = []
    for name, day in sorted(set(stored) | set(expected)):
        kept_change, counted = stored.get((name, day), 0), expected.get((name, day), 0)
        if kept_change != counted:
            wrong.append(f"{name} from {day.isoformat()}: kept {kept_change:+d}, the spans say {counted:+d}")
    return wrong


def _from_spans(connection: Connection) -> Counter[tuple[str, date]]:
    """The tally's changes as every span stored makes them, read 5,000 spans at a time."""
    found: Counter[tuple[str, date]] = Counter()
    for chunk in connection.execute(select(*_FIELDS)).mappings().partitions(5000):
        found.update(changes(chunk))
    return found
