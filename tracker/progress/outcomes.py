"""Clinic outcomes: how a protocol performs across the clinic's patients (issue #15), for clinicians and admins.

``clinic_outcomes`` answers for one protocol, optionally one condition, and a range of day 0 (the patient's first
live treatment session, DESIGN.md §1: a patient belongs to the range their course started in, both ends included;
a patient not treated yet belongs to no range and is counted apart). Figures as ``tracker.progress.outcome_figures``
defines them, on ``today``: patients, their live sessions up to today, adverse events per 100 sessions (sessions
with adverse events recorded), milestone attainment, responders at 6 and 12 months, the median change from
baseline over months with its interquartile band, and per lot the patients treated and their outcomes.

Speed (``tests/bench/bench_outcomes.py``): every patient's outcome comes from the milestone engine, kept per process
in ``tracker.progress.outcome_store`` while the patient's outlook stamp stands; a click reads the outlook rows stamped
since the store was current and runs the engine only for those. While the store is first filled (in the background
from the server's start-up) a click on a large clinic answers ``Preparing`` instead: the page says the figures are
being prepared and shows how far.

Every call is audited as a "view" naming the filters and the cohort's size; no individual patient is shown, so
the entry names none. A refused call (a patient account, nobody) is audited too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.clinic_dates import parse_date, show_date
from tracker.course.clinical import CONDITIONS, DEFAULT_PROTOCOL_NAME
from tracker.course.milestones import Protocol
from tracker.course.protocols import to_engine
from tracker.course.vocabulary import condition_words
from tracker.database import database_url, read_connection, reading, transaction
from tracker.errors import PermissionDenied, ValidationError
from tracker.progress.outcome_columns import Ints, OutcomeColumns
from tracker.progress.outcome_figures import (
    RESPONDER_MONTHS,
    Attainment,
    ChangePoint,
    LotOutcome,
    Responders,
    per_100,
)
from tracker.progress.outcome_store import Preparing, synced

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
                    url: str | None = None) -> ClinicOutcomes | Preparing:
    """The clinic's outcomes for ``protocol`` (a protocol's name; None: the default protocol), ``condition`` (a
    ``CONDITIONS`` code, or ``ALL_CONDITIONS``) and day 0 from ``start`` to ``end`` (both included; a date, or the
    text typed in the clinic's date format, ``tracker.clinic_dates.parse_date``; None or blank: open), as they
    stand on ``today`` (default: today); or ``Preparing`` (patients computed so far, of how many) while this process
    first computes every patient's outcome in the background (``tracker.progress.outcome_store``).

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
        versions = frozenset((row.id, row.version) for row in stored.values())
        with synced(connection, url or database_url(), versions, today) as columns:
            if isinstance(columns, Preparing):
                audit.record(session, actor, "view", detail=f"clinic outcomes: being prepared, {columns.done} of "
                                                            f"{columns.total} patients")
                return columns
            slots, untreated = columns.chosen(stored[name].id, name == DEFAULT_PROTOCOL_NAME, condition, start, end)
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
