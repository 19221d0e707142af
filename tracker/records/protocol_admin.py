"""Protocol administration: list, read, edit and copy the expected courses patients are judged against.

A protocol's band and windows decide whether a patient shows as ahead, on track or behind, so:

- only admins change them, and every change is audited with the values before and after (the protocol
  table keeps no history of its own);
- every edit names the version it started from; an edit of a version someone else has replaced since is
  refused (``ConflictError``), never silently applied over theirs;
- the rules of ``tracker.course.protocols`` (``parse_band``, ``parse_windows``) decide what is valid; this
  module first checks the rows as a clinician typed them, so that every problem is listed at once;
- every protocol carries an evidence note (DESIGN.md §3: the UI never promises an outcome), so an empty
  note is refused;
- the measurement noise (% of baseline density, ``noise_pct``) is a band setting like the others: it decides
  how far outside the band a point may lie and still be on track, so it is saved, versioned and audited with
  the band (``tracker.course.protocols.parse_noise_pct``: 0 to 50);
- the outcome measure (``density`` or ``salt``, ``tracker.course.protocols.parse_outcome``) decides what the band
  means: a change in hairs/cm², or the % improvement of the SALT score from baseline (alopecia areata; the noise is
  then in percentage points of improvement). It is saved, versioned and audited with the band.

Rows come in as mappings, as a table editor gives them: band rows ``{"month", "low", "high"}``, window
rows ``{"name", "start_month", "end_month", "target_month"}``. Rows left entirely blank are ignored.

>>> [(p.month, p.low, p.high) for p in preview_band([{"month": 0, "low": -10, "high": 5},
...                                                  {"month": 3, "low": 5, "high": 20}])]
[(0, -10, 5), (2, 0, 15), (3, 5, 20), (6, 5, 20), (12, 5, 20)]
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import ADMIN, STAFF, Actor, require_role
from tracker.course.clinical import DEFAULT_NOISE_PCT, DEFAULT_PROTOCOL_NAME, BandPoint, MilestoneWindow
from tracker.course.decimals import required_decimal
from tracker.course.milestones import Protocol, expected_band
from tracker.course.protocols import parse_band, parse_noise_pct, parse_outcome, parse_windows
from tracker.course.vocabulary import OutcomeMeasure
from tracker.database import transaction
from tracker.errors import ConflictError, NotFound, ValidationError
from tracker.progress import outlook

# The points the issue asks the preview to show: the default band's own points (DESIGN.md §3).
PREVIEW_MONTHS = (0, 2, 3, 6, 12)
MAX_NAME_LENGTH = 120  # db.models.Protocol.name
MAX_WINDOW_NAME_LENGTH = 60
MAX_NOTE_LENGTH = 5000
BAND_FIELDS = (("month", "month"), ("low", "low"), ("high", "high"))
WINDOW_FIELDS = (("start_month", "start month"), ("end_month", "end month"), ("target_month", "target month"))


@dataclass(frozen=True)
class BandPreviewPoint:
    """The expected change from baseline (hairs/cm²) ``month`` months after day 0."""

    month: int
    low: float
    high: float


@dataclass(frozen=True)
class ProtocolSummary:
    name: str
    version: int
    patients: int
    band_points: int
    windows: int
    evidence_note: str
    created_by: str | None
    noise_pct: float
    outcome_measure: str = OutcomeMeasure.DENSITY


@dataclass(frozen=True)
class ProtocolDetail:
    """A protocol as stored, validated; ``patients`` counts the live patient records linked to it;
    ``noise_pct``: the measurement noise in % of baseline density (hairs/cm² = baseline × noise_pct / 100);
    ``outcome_measure``: ``density`` (band in hairs/cm² of change) or ``salt`` (band in % improvement of the SALT
    score, noise in percentage points of improvement)."""

    name: str
    version: int
    band: tuple[BandPoint, ...]
    windows: tuple[MilestoneWindow, ...]
    evidence_note: str
    noise_pct: float
    patients: int
    created_by: str | None
    preview: tuple[BandPreviewPoint, ...]
    outcome_measure: str = OutcomeMeasure.DENSITY


def list_protocols(actor: Actor, url: str | None = None) -> list[ProtocolSummary]:
    """Every protocol, by name, with the number of live patients linked to it. Staff only."""
    require_role(actor, *STAFF)
    with transaction(url) as session:
        counts = _patient_counts(session)
        return [
            ProtocolSummary(
                name=row.name, version=row.version, patients=counts.get(row.id, 0), band_points=len(row.band or ()),
                windows=len(row.windows or ()), evidence_note=row.evidence_note or "", created_by=row.created_by,
                noise_pct=row.noise_pct, outcome_measure=parse_outcome(row.outcome_measure),
            )
            for row in session.scalars(select(models.Protocol).order_by(models.Protocol.name))
        ]


def get_protocol(actor: Actor, name: str, url: str | None = None) -> ProtocolDetail:
    """One protocol by its exact name. Staff only."""
    require_role(actor, *STAFF)
    with transaction(url) as session:
        return _detail(session, _find(session, name))


def save_protocol(
    actor: Actor,
    name: str,
    band: Sequence[Mapping[str, Any]],
    windows: Sequence[Mapping[str, Any]],
    evidence_note: str,
    expected_version: int | None,
    url: str | None = None,
    noise_pct: Any = None,
    outcome_measure: Any = None,
) -> ProtocolDetail:
    """Create a protocol (``expected_version`` None) or replace one's band, windows, evidence note and
    measurement noise (``noise_pct``: % of baseline density, 0 to 50; None keeps the stored value, and a new
    protocol gets the default 10: automated counts vary ~10% between repeat measurements, DESIGN.md §2).

    ``expected_version`` is the version the admin started editing; if the stored protocol has moved on
    since, nothing is saved and ``ConflictError`` says so. Admins only. Audited as "create" or "update".
    ``outcome_measure``: ``density`` or ``salt``; None keeps the stored one, and a new protocol judges density.
    """
    require_role(actor, ADMIN)
    values, problems = _validated(band, windows, evidence_note, noise_pct, outcome_measure)
    clean_name, name_problems = _clean_name(name)
    if name_problems or problems:
        raise _refusal("The protocol was not saved; please correct:", name_problems + problems)
    with transaction(url) as session:
        if expected_version is None:
            values["noise_pct"] = DEFAULT_NOISE_PCT if values["noise_pct"] is None else values["noise_pct"]
            values["outcome_measure"] = values["outcome_measure"] or OutcomeMeasure.DENSITY.value
            row = _create(session, actor, clean_name, values, detail_extra={})
        else:
            row = _find(session, clean_name)
            if row.version != expected_version:
                raise _conflict(row.name, expected_version, row.version)
            if values["noise_pct"] is None:  # not given: the edit keeps the protocol's noise
                values["noise_pct"] = row.noise_pct
            if values["outcome_measure"] is None:  # not given: the edit keeps the protocol's outcome measure
                values["outcome_measure"] = row.outcome_measure
            elif values["outcome_measure"] != row.outcome_measure:
                _refuse_outcome_change_while_followed(session, row)
            before = {"band": row.band, "windows": row.windows, "evidence_note": row.evidence_note,
                      "noise_pct": row.noise_pct, "outcome_measure": row.outcome_measure}
            # An UPDATE's result is a CursorResult (with rowcount); Session.execute is typed for any statement.
            changed = cast(CursorResult[Any], session.execute(
                update(models.Protocol)
                .where(models.Protocol.id == row.id, models.Protocol.version == expected_version)
                .values(**values, version=expected_version + 1)
                .execution_options(synchronize_session=False)
            )).rowcount
            if changed != 1:  # replaced between our read and our write
                raise _conflict(row.name, expected_version, None)
            session.expire(row)
            audit.record(session, actor, "update", detail=_json({
                "protocol": row.name, "version": expected_version + 1, "before": before, "after": values,
            }))
            # Its patients' milestones move with the band and windows: their outlook too, in this transaction (a
            # protocol followed by thousands is marked stale here and recomputed just after, below).
            outlook.refresh_followers(session, session.scalars(select(models.Patient.id).where(
                models.Patient.protocol_id == row.id, models.Patient.deleted_at.is_(None))))
        saved = _detail(session, row)
    outlook.rebuild(url)  # what refresh_followers marked stale, in committed batches; nothing otherwise
    return saved


def _refuse_outcome_change_while_followed(session: Session, row: models.Protocol) -> None:
    """Its band means hairs/cm² for one outcome and % SALT improvement for the other: patients who follow the
    protocol would be judged on a band that changed meaning under them, so the change is refused for them."""
    follows = models.Patient.protocol_id == row.id
    if row.name == DEFAULT_PROTOCOL_NAME:  # a patient without a protocol follows the default
        follows = follows | models.Patient.protocol_id.is_(None)
    patients = session.scalar(select(func.count()).select_from(models.Patient)
                              .where(follows, models.Patient.deleted_at.is_(None))) or 0
    if patients:
        raise ValidationError(
            f"{patients} patient{'' if patients == 1 else 's'} follow{'s' if patients == 1 else ''} "
            f"'{row.name}': changing what it judges would change the meaning of its band for them. Copy it to a "
            "new protocol, set the other outcome measure there, and move the patients who need it.")


def copy_protocol(actor: Actor, source_name: str, new_name: str, url: str | None = None) -> ProtocolDetail:
    """A new protocol with another one's band, windows, evidence note and noise, to edit from there. Admins only."""
    require_role(actor, ADMIN)
    clean_name, problems = _clean_name(new_name)
    if problems:
        raise ValidationError(problems[0], problems)
    with transaction(url) as session:
        source = _find(session, source_name)
        values = {"band": source.band, "windows": source.windows, "evidence_note": source.evidence_note or "",
                  "noise_pct": source.noise_pct, "outcome_measure": source.outcome_measure}
        row = _create(session, actor, clean_name, values, detail_extra={"copied_from": source.name})
        return _detail(session, row)


def preview_band(band: Sequence[Mapping[str, Any]],
                 months: Iterable[int] = PREVIEW_MONTHS) -> tuple[BandPreviewPoint, ...]:
    """The band as typed, at ``months``; raises ``ValidationError`` listing every problem with the rows."""
    rows, problems = _band_rows(band)
    if not problems:
        try:
            points = parse_band(rows)
        except ValidationError as error:
            problems = list(error.problems)
    if problems:
        raise _refusal("The band cannot be previewed yet:", problems)
    return _preview(points, months)


# --- reading -------------------------------------------------------------------------------------


def _find(session: Session, name: str) -> models.Protocol:
    row = session.scalar(select(models.Protocol).where(models.Protocol.name == (name or "").strip()))
    if row is None:
        raise NotFound(f"No protocol named {(name or '').strip()!r}.")
    return row


def _patient_counts(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(models.Patient.protocol_id, func.count(models.Patient.id))
        .where(models.Patient.deleted_at.is_(None), models.Patient.protocol_id.is_not(None))
        .group_by(models.Patient.protocol_id)
    )
    return {protocol_id: count for protocol_id, count in rows if protocol_id is not None}


def _detail(session: Session, row: models.Protocol) -> ProtocolDetail:
    band = tuple(BandPoint(_number(p.month), _number(p.low), _number(p.high)) for p in parse_band(row.band))
    windows = parse_windows(row.windows)
    return ProtocolDetail(
        name=row.name, version=row.version, band=band, windows=windows, evidence_note=row.evidence_note or "",
        noise_pct=row.noise_pct, patients=_patient_counts(session).get(row.id, 0), created_by=row.created_by,
        preview=_preview(band), outcome_measure=parse_outcome(row.outcome_measure),
    )


def _preview(band: Sequence[BandPoint], months: Iterable[int] = PREVIEW_MONTHS) -> tuple[BandPreviewPoint, ...]:
    protocol = Protocol(name="preview", band=tuple(band), windows=())
    points = []
    for month in months:
        band_at = expected_band(protocol, month)
        if band_at is None:  # parse_band refuses a band that does not start at month 0
            raise ValueError(f"the band has no value at month {month}")
        low, high = band_at
        points.append(BandPreviewPoint(month, _number(round(low, 2)), _number(round(high, 2))))
    return tuple(points)


# --- writing -------------------------------------------------------------------------------------


def _create(session: Session, actor: Actor, name: str, values: dict[str, Any],
            detail_extra: dict[str, Any]) -> models.Protocol:
    taken = session.scalar(select(models.Protocol.name).where(func.lower(models.Protocol.name) == name.lower()))
    if taken is not None:
        raise ValidationError(f"A protocol named {taken!r} already exists; choose another name.")
    row = models.Protocol(name=name, created_by=actor.username, version=1, **values)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as error:  # created by someone else a moment ago
        raise ConflictError(f"A protocol named {name!r} was just created by someone else; "
                            "choose another name.") from error
    audit.record(session, actor, "create",
                 detail=_json({"protocol": name, "version": 1, **detail_extra, "after": values}))
    return row


def _conflict(name: str, expected: int, current: int | None) -> ConflictError:
    now = f" (it is now version {current})" if current is not None else ""
    return ConflictError(
        f"Protocol {name!r} was changed by someone else after you opened version {expected}{now}. "
        "Nothing was saved. Load the latest version and make your changes again."
    )


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


# --- validation ----------------------------------------------------------------------------------


def _refusal(headline: str, problems: list[str]) -> ValidationError:
    """One problem is the message itself; several are listed under the headline."""
    return ValidationError(problems[0]) if len(problems) == 1 else ValidationError(headline, problems)


def _validated(band: Sequence[Mapping[str, Any]], windows: Sequence[Mapping[str, Any]], evidence_note: str | None,
               noise_pct: Any, outcome_measure: Any = None) -> tuple[dict[str, Any], list[str]]:
    """The values to store and every problem found (rows first, then the rules of tracker.course.protocols)."""
    problems: list[str] = []
    band_rows, band_problems = _band_rows(band)
    window_rows, window_problems = _window_rows(windows)
    problems += band_problems + window_problems
    points: tuple[BandPoint, ...] = ()
    if not band_problems:
        try:
            points = parse_band(band_rows)
        except ValidationError as error:
            problems += error.problems
    parsed_windows: tuple[MilestoneWindow, ...] = ()
    if not window_problems:
        if not window_rows:
            problems.append("A protocol needs at least one milestone window.")
        else:
            try:
                parsed_windows = parse_windows(window_rows)
            except ValidationError as error:
                problems += error.problems
    note = (evidence_note or "").strip()
    if not note:
        problems.append("The evidence note is required: say what the band and windows are based on.")
    elif len(note) > MAX_NOTE_LENGTH:
        problems.append(f"The evidence note has at most {MAX_NOTE_LENGTH} characters.")
    elif _has_control_characters(note, allow_newlines=True):
        problems.append("The evidence note contains control characters; retype it.")
    noise, noise_problem = _noise(noise_pct)
    outcome, outcome_problem = _outcome(outcome_measure)
    problems += [problem for problem in (noise_problem, outcome_problem) if problem]
    values = {
        "band": [{"month": _number(p.month), "low": _number(p.low), "high": _number(p.high)} for p in points],
        "windows": [
            {"name": w.name, "start_month": w.start_month, "end_month": w.end_month, "target_month": w.target_month}
            for w in parsed_windows
        ],
        "evidence_note": note,
        "noise_pct": None if noise is None else _number(noise),
        "outcome_measure": outcome,
    }
    return values, problems


def _outcome(value: Any) -> tuple[str | None, str | None]:
    """The outcome measure as chosen (``density`` or ``salt``), checked by ``parse_outcome``; None: not given."""
    if value is None:
        return None, None
    try:
        return parse_outcome(value).value, None
    except ValidationError as error:
        return None, str(error)


def _noise(value: Any) -> tuple[float | None, str | None]:
    """The measurement noise as typed (% of baseline density), checked by ``parse_noise_pct``; None: not given."""
    if value is None:
        return None, None
    noise, problem = _read_number(value, "The measurement noise")
    if noise is None:
        return None, problem
    try:
        return parse_noise_pct(noise), None
    except ValidationError as error:
        return None, str(error)


def _band_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    kept, problems = [], []
    for number, row in enumerate(rows or (), start=1):
        if all(_blank(row.get(field)) for field, _ in BAND_FIELDS):
            continue
        values = {}
        for field, label in BAND_FIELDS:
            value, problem = _read_number(row.get(field), f"Band row {number}: the {label}")
            if problem:
                problems.append(problem)
            values[field] = value
        kept.append(values)
    return kept, problems


def _window_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    kept, problems, seen = [], [], set()
    for number, row in enumerate(rows or (), start=1):
        fields = ("name",) + tuple(field for field, _ in WINDOW_FIELDS)
        if all(_blank(row.get(field)) for field in fields):
            continue
        name = "" if _blank(row.get("name")) else str(row.get("name")).strip()
        values: dict[str, Any] = {"name": name}
        if not name:
            problems.append(f"Window row {number}: the name is missing.")
        elif len(name) > MAX_WINDOW_NAME_LENGTH or _has_control_characters(name):
            problems.append(f"Window row {number}: the name has at most {MAX_WINDOW_NAME_LENGTH} plain characters.")
        elif name.lower() in seen:
            problems.append(f"Window row {number}: another window is already named {name!r}.")
        seen.add(name.lower())
        for field, label in WINDOW_FIELDS:
            value, problem = _read_number(row.get(field), f"Window row {number}: the {label}")
            if value is not None and not float(value).is_integer():
                problem = f"Window row {number}: the {label} must be a whole number of months ({value:g} is not)."
            if problem is None and value is not None and value < 0:
                problem = f"Window row {number}: the {label} cannot be before day 0."
            if problem:
                problems.append(problem)
            values[field] = int(value) if problem is None and value is not None else value
        kept.append(values)
    return kept, problems


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    try:  # pandas' NA and NaT, numpy's nan, without importing either here
        return bool(value != value)
    except (TypeError, ValueError):
        return False


def _read_number(value: Any, label: str) -> tuple[float | None, str | None]:
    if _blank(value):
        return None, f"{label} is missing."
    if isinstance(value, bool):
        return None, f"{label} must be a number."
    try:
        # Typed text is read as every form reads it: a decimal point or comma, nothing else ("1,5e2" and "1_5"
        # are refused, not read as 150 and 15).
        number = required_decimal(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None, f"{label} must be a number ({str(value)[:20]!r} is not)."
    if not math.isfinite(number):
        return None, f"{label} must be a finite number."
    return number, None


def _number(value: float) -> int | float:
    """Whole numbers as ints, so that the stored JSON and the tables read 6, not 6.0."""
    value = float(value)
    return int(value) if value.is_integer() else value


def _has_control_characters(text: str, allow_newlines: bool = False) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in text)


def _clean_name(name: str | None) -> tuple[str, list[str]]:
    text = (name or "").strip()
    if not text:
        return text, ["The protocol needs a name."]
    if len(text) > MAX_NAME_LENGTH:
        return text, [f"A protocol name has at most {MAX_NAME_LENGTH} characters."]
    if _has_control_characters(text):
        return text, ["The protocol name contains control characters; retype it."]
    return text, []
