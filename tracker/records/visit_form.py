"""The visit form as typed, and every check of it that needs no database.

``check_entry`` reads what the clinician typed on the "Log visit" page (dates and numbers may arrive as
text) and lists every problem it finds, in the order the page shows them, rather than stopping at the
first: the date, each measured site, the scale score, the notes and device, and the photo list. Pure: no
session, no store. ``tracker.records.visits.log_visit`` adds the checks that need the patient (birth
date) and the photo files themselves, then saves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tracker.clinic_dates import parse_date
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.decimals import required_decimal
from tracker.course.scales import ScaleEntry, ScaleScore, parse_percentage, parse_scale_entry
from tracker.course.vocabulary import GLOBAL_ASSESSMENT_WORDS, view_words
from tracker.errors import ValidationError
from tracker.storage.ingest import HashedFile
from tracker.validation import (
    check_not_in_future,
    clean_file_name,
    clean_text,
    parse_density,
    parse_optional_amount,
    parse_site,
)

# Mean shaft diameter of scalp hair: vellus hairs are under 30 µm, terminal hairs mostly 60–100 µm
# (DESIGN.md §2 counts a hair over 40 µm as terminal); no scalp hair reaches 200 µm, so a larger number
# is a typing error (millimetres or a density typed in the wrong box).
MAX_SHAFT_DIAMETER_UM = 200.0

# The capture checklist (DESIGN.md §4): photos compare fairly only when taken the same way each time.
CAPTURE_CHECKS = {
    "dry_hair": "Hair dry",
    "same_parting": "Same parting as last time",
    "same_distance": "Same camera distance",
    "same_lighting": "Same lighting",
}
NOTES_MAX = 10_000
DEVICE_MAX = 120


@dataclass(frozen=True)
class SiteEntry:
    """One measured scalp site as typed: density is required for a measured site, the rest optional.

    A site whose every box is blank was not measured this time and is left out.
    """

    site: str
    density: float | str | None = None
    shaft_diameter_um: float | str | None = None
    terminal_pct: float | str | None = None
    anagen_pct: float | str | None = None


@dataclass(frozen=True)
class VisitEntry:
    """Everything the visit form collects except the photos.

    ``capture`` maps each key of ``CAPTURE_CHECKS`` to whether it was ticked; ``device`` names the camera
    or phone. ``scale`` is None (or blank) when no scale was scored at this visit. ``global_assessment``: the
    7-point global photographic assessment, a whole number −3 … +3 (DESIGN.md §2); ``satisfaction``: the
    patient's satisfaction, a whole number 0–10; both optional (None or blank: not asked at this visit).
    """

    date: date | str | None
    sites: Sequence[SiteEntry] = ()
    scale: ScaleEntry | None = None
    capture: Mapping[str, bool] = field(default_factory=dict)
    device: str = ""
    notes: str = ""
    global_assessment: int | float | str | None = None
    satisfaction: int | float | str | None = None


@dataclass(frozen=True)
class PhotoUpload:
    """One uploaded or camera photo for a standard view (``tracker.course.clinical.SCALP_VIEWS``).

    ``quality``: what the capture checks found before the save (``tracker.records.capture_checks.PhotoCheck.record``:
    the measures, the problems, whether the clinician kept it anyway, and the SHA-256 of the file checked); stored
    with the photo when it is this file's. None: not checked.
    """

    view: str
    file_name: str
    data: bytes = field(repr=False)
    quality: Mapping[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Measurement:
    """One measured site, checked: density in hairs/cm², shaft diameter in µm, terminal and anagen in %."""

    site: str
    density: float
    shaft_diameter_um: float | None
    terminal_pct: float | None
    anagen_pct: float | None


@dataclass(frozen=True)
class CheckedVisit:
    """The visit form after the checks that need no database: the parsed values and every problem found.

    ``contents`` are the photos' bytes with their hashes, in the order of the uploads.
    """

    visit_date: date | None
    measurements: tuple[Measurement, ...]
    scale: ScaleScore | None
    notes: str | None
    capture: Mapping[str, object]
    contents: tuple[HashedFile, ...]
    problems: tuple[str, ...]
    global_assessment: int | None = None
    satisfaction: int | None = None


def check_entry(entry: VisitEntry, photos: Sequence[PhotoUpload], today: date) -> CheckedVisit:
    """Every check of the form that needs no database, in the order the problems are listed."""
    problems: list[str] = []
    visit_date = _parse_visit_date(entry.date, today, problems)
    measurements = _parse_sites(entry.sites, problems)
    scale = _parse_scale(entry.scale, problems)
    assessment = _checked_rating(entry.global_assessment, GLOBAL_ASSESSMENT, problems)
    satisfaction = _checked_rating(entry.satisfaction, SATISFACTION, problems)
    notes = _checked_text(entry.notes, "notes", NOTES_MAX, problems)
    device = _checked_text(entry.device, "camera or device", DEVICE_MAX, problems)
    capture: dict[str, object] = {key: bool(entry.capture.get(key, False)) for key in CAPTURE_CHECKS}
    if device:
        capture["device"] = device
    # Each photo is hashed here, once: the checks, intake and the store all use this digest.
    contents = tuple(HashedFile.of(upload.data) for upload in photos)
    check_photo_list(photos, contents, problems)
    if not _anything_typed(entry) and not photos:
        problems.append("nothing to record: enter a density, a scale score, a global assessment, a satisfaction "
                        "score or a photo")
    return CheckedVisit(
        visit_date=visit_date, measurements=tuple(measurements), scale=scale, notes=notes, capture=capture,
        contents=contents, problems=tuple(problems), global_assessment=assessment, satisfaction=satisfaction,
    )


def _parse_visit_date(value: date | str | None, today: date, problems: list[str]) -> date | None:
    try:
        return check_not_in_future(parse_date(value, "visit date"), today, "visit date")
    except ValidationError as error:
        problems.append(str(error))
        return None


def _parse_sites(entries: Sequence[SiteEntry], problems: list[str]) -> list[Measurement]:
    measurements: list[Measurement] = []
    seen: set[str] = set()
    for entry in entries:
        metrics = (entry.shaft_diameter_um, entry.terminal_pct, entry.anagen_pct)
        if _blank(entry.density) and all(_blank(value) for value in metrics):
            continue  # not measured this time
        try:
            site = parse_site(entry.site)
        except ValidationError as error:
            problems.append(str(error))
            continue
        if site in seen:
            problems.append(f"site {site!r} is entered twice; enter each site once")
            continue
        seen.add(site)
        measurement = _parse_site_values(entry, site, problems)
        if measurement is not None:
            measurements.append(measurement)
    return measurements


def _parse_site_values(entry: SiteEntry, site: str, problems: list[str]) -> Measurement | None:
    """One typed site's numbers; each problem is added to ``problems`` (all are checked, not just the first).

    None when the density is unusable (the other numbers are still checked so every problem is listed).
    """
    checks: tuple[tuple[str, Callable[[], float | None]], ...] = (
        ("density", lambda: _site_density(entry.density, site)),
        ("shaft", lambda: parse_shaft_diameter(entry.shaft_diameter_um, f"shaft diameter at {site}")),
        ("terminal", lambda: parse_percentage(entry.terminal_pct, f"terminal % at {site}")),
        ("anagen", lambda: parse_percentage(entry.anagen_pct, f"anagen % at {site}")),
    )
    values: dict[str, float | None] = {}
    for name, check in checks:
        try:
            values[name] = check()
        except ValidationError as error:
            problems.extend(error.problems)
            values[name] = None
    density = values["density"]
    if density is None:
        return None
    return Measurement(site, density, values["shaft"], values["terminal"], values["anagen"])


def _site_density(value: object, site: str) -> float:
    """The density typed for ``site``: required when any other measurement of that site is typed."""
    if _blank(value):
        return _missing_density(site)
    return parse_density(value, label=f"density at {site}")


def _missing_density(site: str) -> float:
    raise ValidationError(
        f"density at {site} is required when other measurements of that site are entered "
        "(or clear that site's boxes)"
    )


def parse_shaft_diameter(value: object, label: str = "shaft diameter") -> float | None:
    """A shaft diameter in µm (blank: not measured; more than 0, at most ``MAX_SHAFT_DIAMETER_UM``), for the visit
    form and the measurement's correction.

    >>> parse_shaft_diameter("62,5"), parse_shaft_diameter("")
    (62.5, None)
    """
    return parse_optional_amount(value, label, MAX_SHAFT_DIAMETER_UM, "micrometres", "µm")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_scale(scale: ScaleEntry | None, problems: list[str]) -> ScaleScore | None:
    """The scale score, or None when no scale was scored (or it has problems, added to ``problems``)."""
    if scale is None or scale.is_blank:
        return None
    try:
        return parse_scale_entry(scale)
    except ValidationError as error:
        problems.extend(error.problems)
        return None


def _checked_text(value: str | None, label: str, limit: int, problems: list[str]) -> str | None:
    try:
        return clean_text(value, label, limit)
    except ValidationError as error:
        problems.append(str(error))
        return None


def _anything_typed(entry: VisitEntry) -> bool:
    """A scale was scored, a rating given or any box of any site was filled in."""
    scored = entry.scale is not None and not entry.scale.is_blank
    rated = not (_blank(entry.global_assessment) and _blank(entry.satisfaction))
    typed_site = any(
        not all(_blank(v) for v in (s.density, s.shaft_diameter_um, s.terminal_pct, s.anagen_pct)) for s in entry.sites
    )
    return typed_site or scored or rated


@dataclass(frozen=True)
class RatingScale:
    """A whole-number rating: its name in a message, its lowest and highest score and what those mean, and
    whether a score is written with its sign (+2 on the assessment, 7 for satisfaction)."""

    label: str
    low: int
    high: int
    low_words: str
    high_words: str
    signed: bool = False

    def shown(self, score: int) -> str:
        """
        >>> GLOBAL_ASSESSMENT.shown(-4), GLOBAL_ASSESSMENT.shown(3), SATISFACTION.shown(11)
        ('−4', '+3', '11')
        """
        if score < 0:
            return f"−{-score}"
        return f"+{score}" if self.signed and score else str(score)

    def bounds(self) -> str:
        return f"{self.shown(self.low)} ({self.low_words}) to {self.shown(self.high)} ({self.high_words})"


_LOWEST, _HIGHEST = min(GLOBAL_ASSESSMENT_WORDS), max(GLOBAL_ASSESSMENT_WORDS)
GLOBAL_ASSESSMENT = RatingScale("global photographic assessment", _LOWEST, _HIGHEST,
                                GLOBAL_ASSESSMENT_WORDS[_LOWEST].lower(), GLOBAL_ASSESSMENT_WORDS[_HIGHEST].lower(),
                                signed=True)
# The patient's own 0–10 rating of the result (DESIGN.md §2, "patient satisfaction").
SATISFACTION = RatingScale("patient satisfaction", 0, 10, "not at all satisfied", "completely satisfied")


def parse_rating(value: object, scale: RatingScale) -> int | None:
    """A whole-number rating on ``scale``: blank (None or spaces) is None (not asked at this visit).

    Raises ValidationError naming the rating, what was typed and the scale's range.

    >>> parse_rating(" +2 ", GLOBAL_ASSESSMENT), parse_rating("−1", GLOBAL_ASSESSMENT), parse_rating("", SATISFACTION)
    (2, -1, None)
    >>> parse_rating(2.5, GLOBAL_ASSESSMENT)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: global photographic assessment 2.5 is not a whole number: choose a score from −3 ...
    >>> parse_rating("7,5", SATISFACTION)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: patient satisfaction 7,5 is not a whole number: choose a score from 0 ...
    >>> parse_rating(11, SATISFACTION)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: patient satisfaction 11 is out of range: choose a score from 0 (not at all ...
    """
    if _blank(value):
        return None
    choose = f"choose a score from {scale.bounds()}"
    shown = str(value).strip()
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError
        # A typed minus may be the typographic one (−) the chart and this message print; a decimal comma is
        # read as one, so that "7,5" is told it is not a whole number rather than read as 75.
        number = required_decimal(value.replace("−", "-")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{scale.label} {shown!r} is not a number: {choose}") from None
    if not math.isfinite(number) or not number.is_integer():
        raise ValidationError(f"{scale.label} {shown} is not a whole number: {choose}")
    score = int(number)
    if not scale.low <= score <= scale.high:
        raise ValidationError(f"{scale.label} {scale.shown(score)} is out of range: {choose}")
    return score


def _checked_rating(value: object, scale: RatingScale, problems: list[str]) -> int | None:
    try:
        return parse_rating(value, scale)
    except ValidationError as error:
        problems.append(str(error))
        return None


def check_photo_list(photos: Sequence[PhotoUpload], contents: Sequence[HashedFile], problems: list[str]) -> None:
    """Unknown views and the same file twice for one view (the store keeps a photo once per view);
    ``contents`` are the uploads' bytes with their hashes, in the same order."""
    first_of: dict[tuple[str, str], PhotoUpload] = {}
    for upload, content in zip(photos, contents, strict=True):
        if upload.view not in SCALP_VIEWS:
            problems.append(
                f'photo "{clean_file_name(upload.file_name)}": unknown view {clean_file_name(upload.view)!r}; '
                f'choose one of {", ".join(SCALP_VIEWS)}'
            )
            continue
        earlier = first_of.setdefault((upload.view, content.sha256), upload)
        if earlier is not upload:
            problems.append(photo_problem(
                upload, f'this is the same photo as "{clean_file_name(earlier.file_name)}"; attach it once'
            ))


def photo_problem(upload: PhotoUpload, message: str) -> str:
    """A photo's problem, naming its view and file (the file's own name only: no folders or controls)."""
    label = view_words(upload.view)
    name = clean_file_name(upload.file_name)
    if name and f'"{name}"' in message:
        return f"{label} photo: {message}"
    return f'{label} photo "{name}": {message}'
