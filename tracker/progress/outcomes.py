"""Clinic outcomes: how a protocol performs across the clinic's patients (issue #15), for clinicians and admins.

``clinic_outcomes`` answers for one protocol, optionally one condition, and a range of day 0 (the patient's first
live treatment session, DESIGN.md §1: a patient belongs to the range their course started in, both ends included;
a patient not treated yet belongs to no range and is counted apart). Figures as ``tracker.progress.outcome_figures``
defines them, on ``today``: patients, their live sessions up to today, adverse events per 100 sessions (sessions
with adverse events recorded), milestone attainment, responders at 6 and 12 months, the median change from
baseline over months with its interquartile band, and per lot the patients treated and their outcomes.

Speed (``tests/bench/bench_outcomes.py``): every patient's outcome comes from the milestone engine, which costs
about half a millisecond a patient with its reads, so a 50,000-patient clinic would take seconds per click. The
engine's answer for a patient changes only when one of its records changes (which the outlook notices and stamps
as ``patient_outlook.refreshed_at``), when a protocol changes, or on another day. So each process keeps the
outcome of every patient it has computed with that stamp (``_Kept``, one per database, dropped when the day or a
protocol changes), and a click reads only the stamps of the protocol's patients (one indexed statement) and runs
the engine for those whose stamp moved. The first click of the day in a process computes them all.

Every call is audited as a "view" naming the filters and the cohort's size; no individual patient is shown, so
the entry names none. A refused call (a patient account, nobody) is audited too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Connection, and_, cast, func, or_, select

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import parse_date, show_date
from tracker.course.clinical import CONDITIONS, DEFAULT_PROTOCOL_NAME
from tracker.course.milestones import Protocol, assess
from tracker.course.protocols import to_engine
from tracker.course.vocabulary import condition_words
from tracker.database import read_connection, reading, transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.progress import outlook
from tracker.progress.outcome_columns import Ints, OutcomeColumns
from tracker.progress.outcome_figures import (
    RESPONDER_MONTHS,
    Attainment,
    ChangePoint,
    LotOutcome,
    LotUse,
    PatientOutcome,
    Responders,
    patient_outcome,
    per_100,
)

ALL_CONDITIONS = ""  # the condition filter's "every condition"


@dataclass(frozen=True)
class ClinicOutcomes:
    """The outcomes of ``protocol`` for ``condition`` (``ALL_CONDITIONS``: every one) and day 0 from ``start`` to
    ``end`` (both included; None: open), on ``today``.

    - ``judged_on_salt``: changes are % SALT improvement (else hairs/cm²); ``protocol_names`` and ``conditions``:
      the filters' choices.
    - ``patients``: in the cohort; ``untreated``: the protocol's (and condition's) patients with no session yet,
      in no cohort; ``sessions``: the cohort's live sessions up to ``today``; ``with_adverse_events``: those with
      adverse events recorded; ``adverse_per_100``: per 100 sessions (None without sessions).
    - ``attainment``: one per milestone window; ``responders``: at 6 and at 12 months; ``change``: the median
      change from baseline by month; ``lots``: per lot given to the cohort.
    """

    protocol: str
    judged_on_salt: bool
    condition: str
    start: date | None
    end: date | None
    today: date
    protocol_names: tuple[str, ...]
    conditions: tuple[str, ...]
    patients: int
    untreated: int
    sessions: int
    with_adverse_events: int
    adverse_per_100: float | None
    attainment: tuple[Attainment, ...]
    responders: tuple[Responders, ...]
    change: tuple[ChangePoint, ...]
    lots: tuple[LotOutcome, ...]

    @property
    def change_unit(self) -> str:
        return "% SALT improvement" if self.judged_on_salt else "hairs/cm²"

    def described(self) -> str:
        """The filters in words, e.g. "Exosome (default), every condition, day 0 from 2025-01-01 to any date"."""
        condition = condition_words(self.condition) if self.condition else "every condition"
        start = show_date(self.start) if self.start else "any date"
        end = show_date(self.end) if self.end else "any date"
        return f"{self.protocol}, {condition}, day 0 from {start} to {end}"


def clinic_outcomes(actor: Actor, protocol: str | None = None, condition: str = ALL_CONDITIONS,
                    start: date | str | None = None, end: date | str | None = None, today: date | None = None,
                    url: str | None = None) -> ClinicOutcomes:
    """The clinic's outcomes for ``protocol`` (a protocol's name; None: the default protocol), ``condition`` (a
    ``CONDITIONS`` code, or ``ALL_CONDITIONS``) and day 0 from ``start`` to ``end`` (both included; a date, or the
    text typed in the clinic's date format, ``tracker.clinic_dates.parse_date``; None or blank: open), as they
    stand on ``today`` (default: today).

    Staff only (``PermissionDenied``, audited as a refusal, for anyone else); one read-only transaction and one
    "view" audit entry. Raises ``ValidationError`` for an unknown protocol or condition, a date that cannot be
    read, or ``start`` after ``end``.
    """
    _staff_only(actor, url)
    today = today or date.today()
    if condition and condition not in CONDITIONS:
        raise ValidationError(f"Unknown condition {condition!r}: choose one of "
                              f"{', '.join(condition_words(c) for c in CONDITIONS)}, or every condition.")
    start, end = _day(start, "First day 0"), _day(end, "Last day 0")
    if start is not None and end is not None and start > end:
        raise ValidationError(f"The first day 0 ({show_date(start)}) is after the last ({show_date(end)}): "
                              "no course can start in that range; swap the two dates.")
    with reading(url) as session:
        connection = read_connection(session)
        stored = {row.name: row for row in connection.execute(select(models.Protocol.__table__))}
        name = protocol or DEFAULT_PROTOCOL_NAME
        if name not in stored:
            raise ValidationError(f"There is no protocol named {name!r}; the clinic's protocols are "
                                  f"{', '.join(sorted(stored))}.")
        chosen = to_engine(stored[name])
        names = tuple(sorted(stored, key=lambda n: (n != DEFAULT_PROTOCOL_NAME, n.lower())))
        with _kept(url or "", stored, today) as columns:
            patient_ids = _patient_outcomes(connection, columns, stored, name, condition, today)
            slots, untreated = columns.chosen(patient_ids, start, end)
            result = _summary(chosen, columns, slots, untreated, condition, start, end, today, names)
        audit.record(session, actor, "view",
                     detail=f"clinic outcomes: {result.described()}: {result.patients} patients")
    return result


def _day(value: date | str | None, label: str) -> date | None:
    """A range's day: blank is no bound."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_date(value, label)


def _staff_only(actor: Actor, url: str | None) -> None:
    try:
        require_role(actor, *STAFF)
    except PermissionDenied:
        with transaction(url) as session:
            audit.record(session, actor if isinstance(actor, Actor) else None, "refused",
                         patient_id=actor.patient_id if isinstance(actor, Actor) else None,
                         detail="clinic outcomes: staff only")
        raise


def _summary(protocol: Protocol, columns: OutcomeColumns, slots: Ints, untreated: int, condition: str,
             start: date | None, end: date | None, today: date, names: tuple[str, ...]) -> ClinicOutcomes:
    sessions, adverse = int(columns.sessions[slots].sum()), int(columns.adverse[slots].sum())
    return ClinicOutcomes(
        protocol=protocol.name, judged_on_salt=protocol.judged_on_salt, condition=condition, start=start, end=end,
        today=today, protocol_names=names, conditions=CONDITIONS, patients=len(slots), untreated=untreated,
        sessions=sessions, with_adverse_events=adverse, adverse_per_100=per_100(adverse, sessions),
        attainment=columns.attainment(protocol, slots),
        responders=tuple(columns.responders(protocol, slots, month) for month in RESPONDER_MONTHS),
        change=columns.change_over_months(slots), lots=columns.lot_outcomes(protocol, slots))


# --- every patient's outcome, kept per process while its outlook stamp stands ------------------------------

@dataclass
class _Kept:
    """The outcomes computed for one database on ``today`` with the protocols at ``protocols`` (id, version), each
    row with its patient's outlook stamp (``refreshed_at``; None: not to be trusted next time); ``lock``: one
    click at a time writes and reads them."""

    today: date
    protocols: frozenset[tuple[int, int]]
    columns: OutcomeColumns = field(default_factory=OutcomeColumns)
    lock: threading.Lock = field(default_factory=threading.Lock)


_KEPT: dict[str, _Kept] = {}
_KEPT_LOCK = threading.Lock()


@contextmanager
def _kept(url: str, stored: dict[str, Any], today: date) -> Iterator[OutcomeColumns]:
    """This process's columns for the database at ``url``, new when the day or a protocol changed; held by this
    click until it is done with them."""
    versions = frozenset((row.id, row.version) for row in stored.values())
    with _KEPT_LOCK:
        kept = _KEPT.get(url)
        if kept is None or kept.today != today or kept.protocols != versions:
            kept = _KEPT[url] = _Kept(today, versions)
    with kept.lock:
        yield kept.columns


def _patient_outcomes(connection: Connection, columns: OutcomeColumns, stored: dict[str, Any], name: str,
                      condition: str, today: date) -> list[int]:
    """The ids of the live patients following protocol ``name`` (a patient with none follows the default) with
    ``condition``, after computing into ``columns`` those whose outlook stamp moved since their row was written."""
    P, kept_outlook = models.Patient, outlook.OUTLOOK
    protocol_id = stored[name].id
    follows = P.protocol_id == protocol_id
    if name == DEFAULT_PROTOCOL_NAME:
        follows = or_(follows, P.protocol_id.is_(None))
    query = (select(P.id, kept_outlook.c.refreshed_at, kept_outlook.c.engine_version)
             .select_from(P).outerjoin(kept_outlook, kept_outlook.c.patient_id == P.id)
             .where(P.deleted_at.is_(None), follows))
    if condition:
        query = query.where(P.condition == condition)
    # Read first: rows read after it are at least as new, so a fingerprint kept with them never hides a change.
    fingerprint = tuple(connection.execute(_fingerprint(connection)).one())
    held = columns.cohorts.get((name, condition)) if columns.fingerprint == fingerprint else None
    if held is not None:
        return held
    patient_ids: list[int] = []
    stale: dict[int, Any] = {}
    for pid, stamp, version in connection.execute(query):
        patient_ids.append(pid)
        current = stamp if version == outlook.ENGINE_VERSION else None  # an outdated outlook stamps nothing
        if current is None or columns.stamp_of(pid) != current:
            stale[pid] = current
    for outcome in _computed(connection, list(stale), today):
        columns.put(outcome, stale[outcome.patient_id])
    if columns.fingerprint != fingerprint:
        columns.fingerprint, columns.cohorts = fingerprint, {}
    if not any(stamp is None for stamp in stale.values()):  # every row of the cohort is stamped: a later click
        columns.cohorts[name, condition] = patient_ids    # with the same fingerprint can skip reading them
    return patient_ids


def _fingerprint(connection: Connection) -> Any:
    """One statement whose answer changes whenever any patient's outlook does (a stamp moved, a row came or went,
    an outlook went stale) or a patient record is removed: the outlook rows, the sum of their stamps in whole
    milliseconds (a sum, not the latest, so that a transaction that stamped earlier and committed later still
    changes it), the oldest engine version, and the live patients."""
    kept, P = outlook.OUTLOOK.c, models.Patient
    if connection.dialect.name == "postgresql":
        stamp = cast(func.extract("epoch", kept.refreshed_at) * 1000, BigInteger)
    else:  # SQLite keeps the stamp as text: days since 2023-02-24 (julian day 2460000.5), in milliseconds
        stamp = cast((func.julianday(kept.refreshed_at) - 2460000.5) * 86_400_000, BigInteger)
    live = select(func.count()).select_from(P).where(P.deleted_at.is_(None)).scalar_subquery()
    return select(func.count(), func.sum(stamp), func.min(kept.engine_version), live).select_from(outlook.OUTLOOK)


def _computed(connection: Connection, patient_ids: list[int], today: date) -> Iterable[PatientOutcome]:
    """Run the engine on ``today`` for ``patient_ids``, with their sessions' lots and adverse events."""
    if not patient_ids:
        return
    records = outlook.load_records(connection, patient_ids)
    uses = _session_uses(connection, patient_ids, today)
    for pid, one in records.items():
        progress = assess(one.sessions, one.series, one.protocol, today)
        sessions, adverse, lots = uses.get(pid, (0, 0, ()))
        yield patient_outcome(pid, progress, one.protocol, sessions, adverse, lots)


def _session_uses(connection: Connection, patient_ids: list[int],
                  today: date) -> dict[int, tuple[int, int, tuple[LotUse, ...]]]:
    """Per patient: live sessions up to ``today``, those with adverse events recorded, and the lots given."""
    S = models.TreatmentSession
    has_adverse = and_(S.adverse_events.is_not(None), func.trim(S.adverse_events) != "")
    counts: dict[int, dict[str, list[Any]]] = {}
    for at in range(0, len(patient_ids), 500):
        for pid, lot, adverse in connection.execute(
                select(S.patient_id, S.lot_number, has_adverse)
                .where(S.patient_id.in_(patient_ids[at:at + 500]), S.deleted_at.is_(None), S.date <= today)
                .order_by(S.patient_id, S.date, S.id)):
            text = (lot or "").strip()
            entry = counts.setdefault(pid, {}).setdefault(text.lower(), [text, 0, 0])
            entry[1] += 1
            entry[2] += 1 if adverse else 0
    found = {}
    for pid, lots in counts.items():
        uses = tuple(LotUse(key, shown, n, ae) for key, (shown, n, ae) in lots.items())
        found[pid] = (sum(u.sessions for u in uses), sum(u.with_adverse_events for u in uses), uses)
    return found
