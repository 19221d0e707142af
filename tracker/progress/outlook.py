"""Each patient's outlook: what the whole-clinic lists (Patients, Schedule) show for them, kept in a table.

Running the milestone engine for every patient on every click took seconds at a few thousand patients (issue #13).
The engine's answer for a patient changes only when a record changes or when "today" crosses one of the patient's
milestone dates (a window opens or closes, a target date passes). So for each live patient this module stores
``OutlookSpan`` rows: what the lists show on every day from ``valid_from`` up to, not including, ``valid_until``,
apart from what is counted from "today" itself (days to a target). Spans are also cut where a list counted from today
changes (a target date within 7 days, a window opening within the default look-ahead: ``soon``), so that those lists
are flags too. The lists then ask the database "which span holds today" with indexed range queries, for any today,
and no job has to run at midnight. How many patients each list holds is kept beside the spans
(``tracker.progress.outlook_tally``).

- ``facts``: what the lists show on one day, from the engine's ``Progress`` (the one place that turns a progress
  into list facts; the engine path of the lists and the spans both use it, so they cannot disagree).
- ``spans``: a patient's spans. The first starts on the patient's latest record (a session or a visit: neither can
  be dated in the future, ``tracker.validation.check_not_in_future``), so in use "today" is always covered; a list
  asked about an earlier day is computed by the engine instead (``covered``).
- ``refresh``: recompute some patients' spans in the caller's transaction. Every ORM write that changes what the
  lists show (a patient, visit, measurement, scale score or session added, corrected or removed) is noticed after
  each flush and refreshed just before the transaction commits (``track_flush``, ``refresh_tracked``: listeners on
  every SQLAlchemy session, registered when this module is imported, which ``tracker/__init__.py`` does for every
  process); writers that bypass the ORM (bulk import, protocol edits) call ``refresh`` themselves.
- ``rebuild``: every patient whose outlook is missing or from an older ``ENGINE_VERSION`` (start-up, generators).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, event, insert, or_, select
from sqlalchemy.orm import Session, SessionTransaction

from db import models
from tracker.course.change_words import latest_change_words
from tracker.course.followup import Outlook, next_visit, outlook
from tracker.course.milestones import (
    DUE,
    UPCOMING,
    DensityRecord,
    Progress,
    Protocol,
    SessionRecord,
    assess,
    seen_on,
)
from tracker.course.protocols import to_engine
from tracker.course.salt import SaltRecord, outcome_records
from tracker.course.vocabulary import DEFAULT_HORIZON_DAYS, TARGET_SOON_DAYS, FollowUpStatus, PatientFilter
from tracker.database import Reads, at_start_up, read_connection, transaction
from tracker.progress import outlook_tally
from tracker.progress.patient_progress import CLINIC_SALT_SCORES
from tracker.validation import fold

# Raised whenever what a span holds, or how it is computed, changes: start-up rebuilds older rows.
ENGINE_VERSION = 4
FOREVER = models.SPAN_FOREVER  # ``valid_until`` of a patient's last span: from then on
_CHUNK = 500  # patients per bulk read (IN lists stay well under both databases' limits)

_span = models.Base.metadata.tables[models.OutlookSpan.__tablename__]
_outlook = models.Base.metadata.tables[models.PatientOutlook.__tablename__]


class StatusKind(StrEnum):
    """Which sentence the patient list says of a patient (``tracker.records.patient_list.status_text``)."""

    UNTREATED = "untreated"
    UNMEASURED = "unmeasured"
    TARGET_PASSED = "target_passed"
    WINDOW_MISSED = "window_missed"
    WINDOW_OPEN = "window_open"
    WINDOW_OPENS = "window_opens"
    ALL_ASSESSED = "all_assessed"


@dataclass(frozen=True)
class Facts:
    """What the whole-clinic lists show for one patient on one day, apart from what is counted from that day.

    ``next_*``: the next milestone not yet visited whose window has not closed (``followup.Outlook``); ``visit_*``:
    the milestone a follow-up list shows (``followup.NextVisit``; ``visit_status`` None: no visit to book);
    ``overdue_since``: the target date that passed with no visit; ``measured``: the engine has a series to judge;
    ``last_visit``: the latest live visit; ``latest_change``: the latest judged change in words;
    ``latest_session`` and ``repeat_*``: the latest session and the repeat-session window after it.
    """

    day0: date | None
    measured: bool
    status_kind: StatusKind
    next_name: str | None
    next_status: str | None
    next_window_start: date | None
    next_window_end: date | None
    next_due: date | None
    overdue: bool
    behind: bool
    visit_status: FollowUpStatus | None
    visit_milestone: str | None
    visit_window_start: date | None
    visit_window_end: date | None
    visit_target: date | None
    overdue_since: date | None
    note: str
    last_visit: date | None
    latest_change: str
    latest_session: date | None
    repeat_start: date | None
    repeat_end: date | None


FACT_NAMES = tuple(f.name for f in fields(Facts))


def facts(progress: Progress, last_visit: date | None, judged_on_salt: bool,
          latest_change: str | None = None) -> Facts:
    """The list facts of ``progress`` (on its ``as_of``). ``latest_change``: the words when the caller has them
    (they do not change with the day)."""
    view = outlook(progress)
    visit = next_visit(progress, view)
    window = progress.next_session_window
    latest_session = progress.nsaid_free[-1].session_date if progress.nsaid_free else None
    return Facts(
        day0=progress.day0, measured=bool(progress.sites), status_kind=status_kind(progress, view),
        next_name=view.next_name, next_status=view.next_status, next_window_start=view.next_window_start,
        next_window_end=view.next_window_end, next_due=view.next_due, overdue=view.overdue, behind=view.behind,
        visit_status=visit.status if visit else None, visit_milestone=visit.milestone.name if visit else None,
        visit_window_start=visit.milestone.window_start if visit else None,
        visit_window_end=visit.milestone.window_end if visit else None,
        visit_target=visit.milestone.target if visit else None,
        overdue_since=visit.overdue_since if visit else None, note=visit.note if visit else "",
        last_visit=last_visit,
        latest_change=latest_change if latest_change is not None else latest_change_words(progress, judged_on_salt),
        latest_session=latest_session, repeat_start=window.start if window else None,
        repeat_end=window.end if window else None,
    )


def status_kind(progress: Progress, view: Outlook) -> StatusKind:
    """Which sentence the patient list says on ``progress.as_of`` (``view``: its ``outlook``)."""
    if progress.day0 is None:
        return StatusKind.UNTREATED
    if not progress.sites:
        return StatusKind.UNMEASURED  # no density, or no SALT score for a SALT protocol
    if view.overdue:
        if view.next_status == DUE and view.next_due and progress.as_of > view.next_due:
            return StatusKind.TARGET_PASSED
        return StatusKind.WINDOW_MISSED
    if view.next_due and view.next_window_start and view.next_status == DUE:
        return StatusKind.WINDOW_OPEN
    if view.next_window_start and view.next_status == UPCOMING:
        return StatusKind.WINDOW_OPENS
    return StatusKind.ALL_ASSESSED


@dataclass(frozen=True)
class PatientRecords:
    """What the engine needs of one patient: live sessions, the judged series (densities, or SALT scores as one
    site), the dates of live visits (oldest first) and the protocol (``tracker.course.milestones.Protocol``)."""

    sessions: tuple[SessionRecord, ...]
    series: tuple[DensityRecord, ...]
    visit_dates: tuple[date, ...]
    protocol: Protocol

    @property
    def latest_record(self) -> date:
        """The latest day anything was recorded (``date.min`` with nothing recorded): the spans start there."""
        return max([s.date for s in self.sessions] + list(self.visit_dates[-1:]), default=date.min)

    def on(self, day: date) -> Facts:
        """The engine's facts on ``day``, whatever the day (the lists' path for a day before the latest record)."""
        progress = assess(self.sessions, self.series, self.protocol, day)
        last_visit = max((d for d in self.visit_dates if d <= day), default=None)
        return facts(progress, last_visit, self.protocol.judged_on_salt)


def spans(records: PatientRecords, today: date | None = None) -> list[tuple[date, date, Facts]]:
    """``(valid_from, valid_until, facts)`` from ``today`` (default: the server's) or the patient's latest record,
    whichever is earlier, to ``FOREVER``, in order, each span as long as the facts stay the same.

    After the latest record the days the facts can change are the milestone windows' first day, the day after their
    last, and the day after each target date (the engine's date-driven statuses, ``seen_on``); spans are also cut
    where a follow-up list counted from "today" changes (``soon``: a week before a target date, the default
    look-ahead before a window opens), which the facts do not show. A record dated after
    ``today`` (a visit booked ahead, a clinic whose day starts before the server's) also changes them on its own
    day: the engine counts a record only from its date on, so each such day starts the engine again. Without it
    the spans would start at that record, and until then every list would have to ask the engine."""
    today = today or date.today()
    latest = records.latest_record
    ahead = sorted({d for d in (*(s.date for s in records.sessions), *records.visit_dates) if today < d <= latest})
    starts = [min(today, latest), *ahead] if ahead else [latest]
    found: list[tuple[date, date, Facts]] = []
    flags: list[tuple[bool, bool]] = []  # each span's ``soon`` flags, constant over it
    for start, end in zip(starts, [*starts[1:], FOREVER], strict=True):
        for day, now in _changes(records, start, end):
            if found and found[-1][2] == now and flags[-1] == soon(now, day):
                continue
            if found:
                found[-1] = (found[-1][0], day, found[-1][2])
            found.append((day, FOREVER, now))
            flags.append(soon(now, day))
    return found


def soon(held: Facts, day: date) -> tuple[bool, bool]:
    """Whether, on ``day``, the follow-up's target date is within ``TARGET_SOON_DAYS`` (today included) and whether
    its window opens within ``DEFAULT_HORIZON_DAYS`` (after today): ``on_list``'s dated tests, which ``spans`` keep
    constant over each span (it cuts them where either changes), so that both lists are flags read in urgency order
    from an index, as overdue is, instead of a date range whose rows grow with the clinic and must be sorted."""
    booked = held.visit_status is not None
    target, opens = held.visit_target, held.visit_window_start
    return (booked and target is not None and day <= target <= day + timedelta(TARGET_SOON_DAYS),
            booked and opens is not None and day < opens <= day + timedelta(DEFAULT_HORIZON_DAYS))


def _changes(records: PatientRecords, start: date, end: date) -> Iterator[tuple[date, Facts]]:
    """The facts on ``start`` and on every later day before ``end`` they, or the dated lists (``soon``), may change
    with nothing new recorded."""
    progress = assess(records.sessions, records.series, records.protocol, start)
    judged_on_salt = records.protocol.judged_on_salt
    change = latest_change_words(progress, judged_on_salt)
    last_visit = max((d for d in records.visit_dates if d <= start), default=None)
    milestones = [m for site in progress.sites for m in site.milestones] + list(progress.unmeasured)
    one_day = timedelta(days=1)
    changing = {d for m in milestones for d in (m.window_start, m.window_end + one_day, m.target + one_day)
                if start < d < end}
    # ... and where the follow-up lists' dated tests change (``soon``): a week before a target, the look-ahead before
    # a window opens. The facts stay those of the day before there: the engine is not asked again.
    dated = {d for m in milestones for d in (m.target - timedelta(TARGET_SOON_DAYS),
                                             m.window_start - timedelta(DEFAULT_HORIZON_DAYS)) if start < d < end}
    held = facts(seen_on(progress, start), last_visit, judged_on_salt, change)
    yield start, held
    for day in sorted(changing | dated):
        if day in changing:
            held = facts(seen_on(progress, day), last_visit, judged_on_salt, change)
        yield day, held


def load_records(reads: Reads, patient_ids: Iterable[int]) -> dict[int, PatientRecords]:
    """The engine's records of each live patient among ``patient_ids``, in a few bulk queries per 500 patients."""
    connection = read_connection(reads)
    protocols = {row.id: to_engine(row) for row in connection.execute(select(models.Protocol.__table__))}
    found: dict[int, PatientRecords] = {}
    for chunk in _chunks(sorted(set(patient_ids))):
        found.update(_load_chunk(connection, chunk, protocols))
    return found


def _load_chunk(connection: Connection, chunk: list[int],
                protocols: dict[int, Protocol]) -> dict[int, PatientRecords]:
    P, S, V, M = (models.Patient, models.TreatmentSession, models.Visit, models.DensityMeasurement)
    patients = connection.execute(
        select(P.id, P.protocol_id).where(P.id.in_(chunk), P.deleted_at.is_(None))).all()
    sessions: dict[int, list[SessionRecord]] = {}
    for pid, day, treatment, product, lot in connection.execute(
            select(S.patient_id, S.date, S.treatment, S.product, S.lot_number)
            .where(S.patient_id.in_(chunk), S.deleted_at.is_(None))):
        sessions.setdefault(pid, []).append(SessionRecord(day, treatment, product or "", lot or ""))
    densities: dict[int, list[DensityRecord]] = {}
    for pid, day, site, density in connection.execute(
            select(V.patient_id, V.date, M.site, M.density_per_cm2).join(M, M.visit_id == V.id)
            .where(V.patient_id.in_(chunk), V.deleted_at.is_(None), M.deleted_at.is_(None))):
        densities.setdefault(pid, []).append(DensityRecord(day, site, density))
    salt: dict[int, list[SaltRecord]] = {}
    for pid, day, score in connection.execute(CLINIC_SALT_SCORES.where(models.Visit.patient_id.in_(chunk))):
        salt.setdefault(pid, []).append(SaltRecord(day, score))
    visits: dict[int, list[date]] = {}
    for pid, day in connection.execute(
            select(V.patient_id, V.date).where(V.patient_id.in_(chunk), V.deleted_at.is_(None))):
        visits.setdefault(pid, []).append(day)
    found = {}
    for pid, protocol_id in patients:
        protocol = protocols.get(protocol_id) if protocol_id is not None else None
        protocol = protocol or to_engine(None)
        series = outcome_records(protocol, densities.get(pid, ()), salt.get(pid, ()))
        days = tuple(sorted(visits.get(pid, ())))
        found[pid] = PatientRecords(tuple(sessions.get(pid, ())), tuple(series), days, protocol)
    return found


def _columns(held: Facts, valid_from: date) -> dict[str, Any]:
    """A span's columns: its facts (not dataclasses.asdict: it deep-copies every value, and the values are dates
    and strings; a third of a rebuild went there) and what the lists filter and sort on."""
    window_open = bool(held.visit_status and held.visit_window_start and held.visit_window_end
                       and held.visit_window_start <= valid_from <= held.visit_window_end)
    urgency_day = held.overdue_since or held.next_due
    target_soon, opens_soon = soon(held, valid_from)
    return {
        **{name: getattr(held, name) for name in FACT_NAMES},
        "on_overdue": held.visit_status == FollowUpStatus.OVERDUE, "window_open": window_open,
        "target_soon": target_soon, "opens_soon": opens_soon,
        # tracker.course.followup.urgency: overdue first (since when), then by target date, then none
        "urgency": 0 if held.overdue_since else 1 if held.next_due else 2, "urgency_day": urgency_day,
    }


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for at in range(0, len(ids), _CHUNK):
        yield ids[at:at + _CHUNK]


def refresh(reads: Reads, patient_ids: Iterable[int]) -> int:
    """Recompute the outlook of ``patient_ids`` in the caller's transaction (a removed or unknown patient's rows
    are dropped); returns how many live patients were written."""
    connection = read_connection(reads)
    ids = sorted(set(patient_ids))
    written = 0
    now = datetime.now(UTC)
    for chunk in _chunks(ids):
        # PostgreSQL: two transactions refreshing one patient take turns (in id order, so never in a circle);
        # without it the second would not see the first's new rows, keep them and add its own. FOR NO KEY UPDATE,
        # since both hold the key-share lock their new visits' foreign keys took on the patient: FOR UPDATE would
        # wait for each other's. SQLite's writers already take turns.
        connection.execute(select(models.Patient.id).where(models.Patient.id.in_(chunk))
                           .order_by(models.Patient.id).with_for_update(key_share=True))
        tally = outlook_tally.changes(outlook_tally.old_spans(connection, chunk), sign=-1)
        connection.execute(delete(_span).where(_span.c.patient_id.in_(chunk)))
        connection.execute(delete(_outlook).where(_outlook.c.patient_id.in_(chunk)))
        records = load_records(connection, chunk)
        if records:
            who = {row.id: row for row in connection.execute(
                select(models.Patient.id, models.Patient.mrn, models.Patient.full_name)
                .where(models.Patient.id.in_(list(records))))}
            found = {pid: spans(one) for pid, one in records.items()}
            connection.execute(insert(_outlook), [
                {"patient_id": pid, "name_key": fold(who[pid].full_name) or "", "mrn": who[pid].mrn,
                 "covers_from": found[pid][0][0],
                 "engine_version": ENGINE_VERSION, "refreshed_at": now} for pid in records])
            new = [{"patient_id": pid, "valid_from": start, "valid_until": until, "mrn": who[pid].mrn,
                    **_columns(held, start)}
                   for pid, patient_spans in found.items() for start, until, held in patient_spans]
            connection.execute(insert(_span), new)
            tally.update(outlook_tally.changes(new))
            written += len(records)
        outlook_tally.add(reads, tally)
    return written


# How many patients a write recomputes inside its own transaction (about 1–2 ms each); beyond it they are marked stale
# there and recomputed in committed batches just after (``refresh_followers``), so that editing a protocol followed
# by 50,000 patients does not hold SQLite's write lock, or their rows on PostgreSQL, for a minute or more.
IN_TRANSACTION = 2000


def refresh_followers(reads: Reads, patient_ids: Iterable[int]) -> None:
    """Recompute the outlook of ``patient_ids`` in the caller's transaction, or, for more than ``IN_TRANSACTION``
    of them, mark it stale there (the lists then ask the engine: ``covered``) for the caller to ``rebuild`` once it
    has committed."""
    ids = sorted(set(patient_ids))
    if len(ids) <= IN_TRANSACTION:
        refresh(reads, ids)
        return
    connection = read_connection(reads)
    for chunk in _chunks(ids):
        connection.execute(_outlook.update().where(_outlook.c.patient_id.in_(chunk)).values(engine_version=0))


def rebuild(url: str | None = None, *, everyone: bool = False, batch: int = 2000,
            progress: Callable[[int, int], None] | None = None) -> int:
    """Fill the outlook of every live patient whose rows are missing or of an older ``ENGINE_VERSION`` (all of
    them with ``everyone``), ``batch`` patients per transaction; ``progress(done, total)`` after each. Returns
    how many patients were written."""
    version = _outlook.c.engine_version
    with transaction(url) as session:
        if not outlook_tally.kept(session.connection()):  # a new table, or lists kept differently: before any change
            outlook_tally.recount(session)
        ids = list(session.scalars(stale_patients(everyone)))
        # Spans of an older engine version may have been written by a server of an older release, which did not keep
        # the tally (a chain upgraded one server at a time): count it again once they are replaced.
        older = session.execute(select(_outlook.c.patient_id).where(version > 0, version < ENGINE_VERSION)
                                .limit(1)).first()
    done = 0
    for at in range(0, len(ids), batch):
        with transaction(url) as session:
            done += refresh(session, ids[at:at + batch])
        if progress is not None:
            progress(min(at + batch, len(ids)), len(ids))
    if older:
        with transaction(url) as session:
            outlook_tally.recount(session)
    return done


def stale_patients(everyone: bool = False) -> Any:
    """The ids of live patients whose outlook is missing or older than ``ENGINE_VERSION`` (every live patient with
    ``everyone``), and of removed patients that still have one."""
    P = models.Patient
    live = select(P.id).where(P.deleted_at.is_(None))
    gone = select(_outlook.c.patient_id).join(P, P.id == _outlook.c.patient_id).where(P.deleted_at.is_not(None))
    if not everyone:
        live = live.where(P.id.not_in(select(_outlook.c.patient_id)
                                      .where(_outlook.c.engine_version == ENGINE_VERSION)))
    return live.union(gone)


# --- keeping it current: every ORM write that changes what the lists show --------------------------------

_TRACKED = "outlook_patients"  # Session.info key: patient ids written in this transaction
_VISITS = "outlook_visits"  # visit ids whose measurements or scale scores were written


@event.listens_for(Session, "after_flush")
def track_flush(session: Session, _context: object) -> None:
    """After each flush, note the patients whose list facts the flushed rows may change."""
    patients: set[int] = session.info.setdefault(_TRACKED, set())
    visits: set[int] = session.info.setdefault(_VISITS, set())
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, models.Patient):
            patients.add(row.id)
        elif isinstance(row, (models.Visit, models.TreatmentSession)):
            patients.add(row.patient_id)
        elif isinstance(row, (models.DensityMeasurement, models.ScaleScore)):
            visits.add(row.visit_id)


@event.listens_for(Session, "before_commit")
def refresh_tracked(session: Session) -> None:
    """Just before a transaction commits: refresh the outlook of every patient its writes touched."""
    session.flush()  # what is still pending is noted by track_flush first
    patients: set[int] = session.info.pop(_TRACKED, set())
    visits: set[int] = session.info.pop(_VISITS, set())
    if visits:
        patients |= set(session.scalars(select(models.Visit.patient_id).where(models.Visit.id.in_(visits))))
    # A row whose patient was never set fails its own insert before this runs; None is dropped all the same.
    patients.discard(None)  # type: ignore[arg-type,unused-ignore]
    if patients:
        refresh(session, patients)
    outlook_tally.apply_pending(session)  # the last lock this transaction takes (``outlook_tally.apply``)


@event.listens_for(Session, "after_transaction_end")
def forget_tracked(session: Session, transaction: SessionTransaction) -> None:
    """When the outermost transaction ends (committed: refreshed already; rolled back: nothing written), nothing is
    left to refresh. A savepoint rolled back inside it forgets nothing: a patient refreshed for nothing costs little,
    one left out would stay wrong in the lists."""
    if transaction.parent is None:
        session.info.pop(_TRACKED, None)
        session.info.pop(_VISITS, None)
        session.info.pop(outlook_tally.PENDING, None)


# --- reading: the span that holds a day --------------------------------------------------------------------

def holds(day: date) -> ColumnElement[bool]:
    """The span of each patient that holds ``day`` (the last columns of every span index)."""
    return and_(_span.c.valid_from <= day, _span.c.valid_until > day)


def covered(connection: Connection, day: date) -> bool:
    """Whether the spans answer for ``day``: no outlook is marked stale or of another ``ENGINE_VERSION``
    (``refresh_followers``; until start-up rebuilds it) and none starts after ``day`` (a day before some patient's
    latest record: the lists then ask the engine). Two indexed probes, whatever the number of patients.

    A live patient with no outlook at all (a write that bypassed the refresh) is not looked for here: counting the
    patients on every click grew with the clinic. ``check`` finds them and gives them one (``missing``)."""
    version = _outlook.c.engine_version
    for probe in (_outlook.c.covers_from > day, or_(version < ENGINE_VERSION, version > ENGINE_VERSION)):
        if connection.execute(select(_outlook.c.patient_id).where(probe).limit(1)).first():
            return False
    return True


def on_list(kind: PatientFilter, day: date, horizon_days: int = 0) -> ColumnElement[bool]:
    """The database's test of ``followup.follow_up_lists`` for one list on ``day`` (the same dates, both ends
    included), for the spans holding ``day``, each written to read one index; ``behind`` is the latest assessed
    milestone's status. "Target date within 7 days", and "window opens within ``horizon_days``" at the default
    look-ahead, are the span's flags (``soon``); at another look-ahead, a range of window-opening dates."""
    if kind == PatientFilter.BEHIND:
        return _span.c.behind.is_(True)
    if kind == PatientFilter.OVERDUE:
        return _span.c.on_overdue.is_(True)
    if kind == PatientFilter.WINDOW_OPEN:
        return _span.c.window_open.is_(True)
    if kind == PatientFilter.TARGET_SOON:
        return _span.c.target_soon.is_(True)
    if horizon_days == DEFAULT_HORIZON_DAYS:
        return _span.c.opens_soon.is_(True)
    booked = _span.c.visit_status.is_not(None)
    return and_(_span.c.visit_window_start > day, _span.c.visit_window_start <= day + timedelta(horizon_days), booked)


BY_URGENCY = (_span.c.urgency, _span.c.urgency_day, _span.c.mrn)  # the follow-up lists' order, as indexed


def span_facts(row: Any) -> Facts:
    """The ``Facts`` of a span row read with every ``FACT_NAMES`` column."""
    values = {name: getattr(row, name) for name in FACT_NAMES}
    values["status_kind"] = StatusKind(values["status_kind"])
    if values["visit_status"] is not None:
        values["visit_status"] = FollowUpStatus(values["visit_status"])
    return Facts(**values)


SPAN_COLUMNS = tuple(_span.c[name] for name in FACT_NAMES)
SPAN = _span
OUTLOOK = _outlook

# Start-up fills the outlook of patients who have none (the first start after migration 0007) or an older one.
at_start_up(rebuild)
