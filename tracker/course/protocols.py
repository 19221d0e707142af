"""Protocols as stored (JSON band points and windows) turned into the engine's ``Protocol``, validated."""

from __future__ import annotations

import math
from typing import Any
from typing import Protocol as Shape

from tracker.course.clinical import MAX_NOISE_PCT, BandPoint, MilestoneWindow
from tracker.course.milestones import DEFAULT_PROTOCOL, Protocol
from tracker.course.vocabulary import OUTCOME_WORDS, OutcomeMeasure
from tracker.errors import ValidationError


class StoredProtocol(Shape):
    """A protocol row as stored (``db.models.Protocol`` has these columns). The engine room reads the row
    through this shape so that it never imports the database layer."""

    @property
    def name(self) -> str: ...
    @property
    def band(self) -> list[dict[str, Any]]: ...
    @property
    def windows(self) -> list[dict[str, Any]]: ...
    @property
    def evidence_note(self) -> str | None: ...
    @property
    def noise_pct(self) -> float: ...
    @property
    def outcome_measure(self) -> str: ...


def to_engine(row: StoredProtocol | None) -> Protocol:
    """The engine's view of a stored protocol; a patient without one follows the default."""
    if row is None:
        return DEFAULT_PROTOCOL
    return from_stored(row.name, row.band, row.windows, row.evidence_note, row.noise_pct, row.outcome_measure)


def from_stored(name: str, band: list[dict[str, Any]], windows: list[dict[str, Any]],
                evidence_note: str | None, noise_pct: float, outcome_measure: str | None = None) -> Protocol:
    """The engine's view of a protocol's stored columns (read without an ORM object on hot paths);
    ``noise_pct``: % of baseline density, or percentage points of SALT improvement (``parse_noise_pct``
    checks it); ``outcome_measure``: ``density`` (also when missing) or ``salt`` (``parse_outcome``)."""
    return Protocol(name=name, band=parse_band(band), windows=parse_windows(windows), evidence_note=evidence_note or "",
                    noise_pct=parse_noise_pct(noise_pct), outcome=parse_outcome(outcome_measure))


def parse_outcome(value: str | None) -> OutcomeMeasure:
    """A protocol's outcome measure: ``density`` (the default, also for an empty value) or ``salt``.

    >>> parse_outcome(None), parse_outcome(" SALT ")
    (<OutcomeMeasure.DENSITY: 'density'>, <OutcomeMeasure.SALT: 'salt'>)
    >>> parse_outcome("hairs")
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: The outcome measure must be one of density, salt ('hairs' is not).
    """
    text = str(value or OutcomeMeasure.DENSITY).strip().lower()
    try:
        return OutcomeMeasure(text)
    except ValueError as exc:
        raise ValidationError(f"The outcome measure must be one of {', '.join(OUTCOME_WORDS)} "
                              f"({str(value)[:20]!r} is not).") from exc


def parse_noise_pct(value: float) -> float:
    """The measurement noise in % of baseline density: a number from 0 to ``MAX_NOISE_PCT`` (50).

    >>> parse_noise_pct(10), parse_noise_pct(0)
    (10.0, 0.0)
    >>> parse_noise_pct(-5)
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: The measurement noise must be between 0 and 50% of the baseline density (-5 is not).
    """
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"The measurement noise must be a number of % ({str(value)[:20]!r} is not).") from exc
    if not math.isfinite(number) or not 0 <= number <= MAX_NOISE_PCT:
        raise ValidationError(f"The measurement noise must be between 0 and {MAX_NOISE_PCT:g}% of the baseline "
                              f"density ({number:g} is not).")
    return number


def parse_band(points: list[dict[str, Any]]) -> tuple[BandPoint, ...]:
    """Band points sorted by month; each needs low ≤ high and months may not repeat."""
    try:
        band = tuple(
            sorted((BandPoint(float(p["month"]), float(p["low"]), float(p["high"])) for p in points),
                   key=lambda p: p.month)
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"Every band point needs a month, a low and a high number ({exc}).") from exc
    if not band:
        raise ValidationError("A protocol needs at least one band point.")
    for point in band:
        if point.month < 0:
            raise ValidationError(f"Band month {point.month:g} is before day 0.")
        if point.low > point.high:
            raise ValidationError(f"At month {point.month:g} the band's low ({point.low:g}) "
                                  f"is above its high ({point.high:g}).")
    if band[0].month != 0:
        # The engine judges every milestone against the band; one that starts later would leave early
        # visits with nothing to compare against.
        raise ValidationError("The band must start at month 0 (day of the first session).")
    months = [p.month for p in band]
    if len(set(months)) != len(months):
        raise ValidationError("Two band points share the same month.")
    return band


def parse_windows(windows: list[dict[str, Any]]) -> tuple[MilestoneWindow, ...]:
    try:
        parsed = tuple(
            MilestoneWindow(str(w["name"]), int(w["start_month"]), int(w["end_month"]), int(w["target_month"]))
            for w in windows
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError("Every milestone window needs a name and whole start, end and target months "
                              f"({exc}).") from exc
    for window in parsed:
        if not 0 <= window.start_month <= window.target_month <= window.end_month:
            raise ValidationError(
                f"Window {window.name}: the target month must lie inside the window "
                f"({window.start_month}–{window.end_month})."
            )
    return parsed
