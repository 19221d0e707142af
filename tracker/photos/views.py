"""Looking at a patient's photos: the timeline grid, one photo's image, and the before/after comparison.

Three services, each one use case in one transaction, each checking who is asking:

- ``photo_timeline``: which photo sits where (one row per standard view, one column per visit), as ids;
- ``photo_image``: one photo's thumbnail or display copy, only for an actor who may see its patient;
- ``before_after``: the same view from two visits, fitted into one frame (same pixel size, letterboxed,
  never stretched), optionally faded into each other, with a plain warning when the two photos were not
  taken the same way (DESIGN.md §4: comparisons are fair only under the same capture conditions).

Soft-deleted photos, visits and patients are never shown. A patient account reaches only its own photos
(``tracker.progress.view.resolve_patient``); asking for another patient's photo id is refused with the same
words whether that id exists or not. Every view is audited; refused attempts are audited too.
Thumbnails are covered by the timeline's audit entry (one per page draw, not one per thumbnail); opening a
display copy is audited on its own.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Literal

from PIL import Image, ImageOps
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import PATIENT, ROLES, Actor, require_patient_access, require_role
from tracker.course.calendar_months import months_between
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.vocabulary import view_words
from tracker.operations.database import Reads, read_connection, transaction
from tracker.errors import NotFound, PermissionDenied, ValidationError
from tracker.photos.store import read_display, read_thumbnail
from tracker.progress.view import PatientBasics, resolve_patient

PhotoKind = Literal["thumbnail", "display"]

# Long side of the before/after frame: each half of a side-by-side pair fills a wide screen column, and the
# fade view fills the page, without sending the full 2048 px display copies through the browser twice.
FRAME_LONG_SIDE = 1280
# Letterbox bars: a neutral dark grey that cannot be mistaken for scalp or hair.
LETTERBOX = (38, 38, 38)
COMPARISON_QUALITY = 88
# Shapes (width/height) more than 5% apart mean a different crop or camera mode: the scalp then fills the
# frame differently and an apparent change in coverage may be framing alone.
ASPECT_TOLERANCE = 0.05
# A photo with under half the linear resolution of the other (a quarter of its pixels) is enlarged more
# than twice to fill the frame: strands blur into the scalp and the hair looks sparser than it is.
MAX_PIXEL_RATIO = 4.0

_REFUSED = "This record is not available to your account."

# Capture checklist keys recorded on a visit (``tracker.records.visits.CAPTURE_CHECKS``) and the words used when
# they show that a photo was taken differently. "same_*" boxes mean "the same as at the previous visit".
_SAME_AS_LAST_TIME = {"same_distance": "camera distance", "same_lighting": "lighting", "same_parting": "parting"}
# Conditions recorded as values (e.g. ``"distance": "30 cm"``, ``"device": "iPhone 15"``) compare directly.
_RECORDED_VALUES = {"distance": "camera distance", "lighting": "lighting", "parting": "parting", "device": "camera"}
# Wet hair clumps into strands and shows more scalp than dry hair.
_DRY_HAIR = "dry_hair"


def view_label(view: str) -> str:
    """
    >>> view_label("left_temporal"), view_label("closeup"), view_label("crown_left")
    ('Left temporal', 'Close-up (trichoscopy)', 'Crown left')
    """
    return view_words(view)


# --- the timeline grid --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineVisit:
    id: int
    date: date


@dataclass(frozen=True)
class TimelineRow:
    """One standard view: ``cells[i]`` is the photo id taken at ``PhotoTimeline.visits[i]``, or None.

    When a visit holds several photos of the view, the cell is the one uploaded last.
    """

    view: str
    label: str
    cells: tuple[int | None, ...]


@dataclass(frozen=True)
class PhotoTimeline:
    """Visits in date order (columns) and, in ``SCALP_VIEWS`` order, the views that have photos (rows)."""

    mrn: str
    full_name: str
    visits: tuple[TimelineVisit, ...]
    rows: tuple[TimelineRow, ...]

    @property
    def photo_count(self) -> int:
        return sum(cell is not None for row in self.rows for cell in row.cells)


def _view_order(view: str) -> tuple[int, str]:
    return (SCALP_VIEWS.index(view), "") if view in SCALP_VIEWS else (len(SCALP_VIEWS), view)


def _live_visits(session: Session, patient_id: int) -> list[models.Visit]:
    return list(session.scalars(
        select(models.Visit)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None))
        .order_by(models.Visit.date, models.Visit.id)
    ))


def _live_photos(session: Session, patient_id: int, view: str | None = None) -> list[models.Photo]:
    query = (
        select(models.Photo)
        .join(models.Visit, models.Visit.id == models.Photo.visit_id)
        .where(models.Visit.patient_id == patient_id, models.Visit.deleted_at.is_(None),
               models.Photo.deleted_at.is_(None))
        .order_by(models.Photo.id)
    )
    if view is not None:
        query = query.where(models.Photo.view == view)
    return list(session.scalars(query))


def build_timeline(visits: list[TimelineVisit], photos: list[tuple[int, str, int]]) -> tuple[TimelineRow, ...]:
    """Lay ``(photo_id, view, visit_id)`` triples out as rows per view; the highest id wins a shared cell.

    >>> visits = [TimelineVisit(1, date(2025, 1, 15)), TimelineVisit(2, date(2025, 4, 14))]
    >>> build_timeline(visits, [(10, "vertex", 2), (11, "frontal", 1), (12, "vertex", 1), (13, "vertex", 1)])
    (TimelineRow(view='frontal', label='Frontal', cells=(11, None)), \
TimelineRow(view='vertex', label='Vertex', cells=(13, 10)))
    """
    column = {visit.id: index for index, visit in enumerate(visits)}
    grid: dict[str, list[int | None]] = {}
    for photo_id, view, visit_id in sorted(photos):
        if visit_id in column:
            grid.setdefault(view, [None] * len(visits))[column[visit_id]] = photo_id
    return tuple(TimelineRow(view, view_label(view), tuple(grid[view])) for view in sorted(grid, key=_view_order))


_visit = models.Visit.__table__
_photo = models.Photo.__table__
# Every live visit with its live photos (a visit without one still makes a column), oldest first: only the
# columns the grid needs, in one Core statement built once, with no ORM objects for a patient's hundreds of
# photos on every page run.
_TIMELINE = (
    select(_visit.c.id, _visit.c.date, _photo.c.id, _photo.c.view)
    .select_from(_visit.outerjoin(_photo, (_photo.c.visit_id == _visit.c.id) & _photo.c.deleted_at.is_(None)))
    .where(_visit.c.patient_id == bindparam("patient_id"), _visit.c.deleted_at.is_(None))
    .order_by(_visit.c.date, _visit.c.id, _photo.c.id)
)


def read_timeline(session: Reads, patient: PatientBasics) -> PhotoTimeline:
    visits: list[TimelineVisit] = []
    photos: list[tuple[int, str, int]] = []
    for visit_id, day, photo_id, view in read_connection(session).execute(_TIMELINE, {"patient_id": patient.id}).all():
        if not visits or visits[-1].id != visit_id:
            visits.append(TimelineVisit(visit_id, day))
        if photo_id is not None:
            photos.append((photo_id, view, visit_id))
    return PhotoTimeline(patient.mrn, patient.full_name, tuple(visits), build_timeline(visits, photos))


def photo_timeline(actor: Actor | None, mrn: str | None = None, url: str | None = None) -> PhotoTimeline:
    """One patient's photo grid (audited as a view). A patient account passes ``mrn=None`` for its own."""
    with audit.refusals_recorded(actor, "photo timeline", mrn, url), transaction(url) as session:
        patient = resolve_patient(session, actor, mrn)
        timeline = read_timeline(session, patient)
        audit.record(session, actor, "view", patient_id=patient.id,
                     detail=f"photo timeline ({timeline.photo_count} photos)")
        return timeline


# --- one photo's image --------------------------------------------------------------------------------


def _reachable_photo(session: Session, actor: Actor | None, photo_id: int) -> tuple[models.Photo, models.Visit]:
    """The live photo ``photo_id`` if the actor may see its patient; a patient account hears the same
    refusal for another patient's photo and for an id that does not exist."""
    actor = require_role(actor, *ROLES)
    found = session.execute(
        select(models.Photo, models.Visit)
        .join(models.Visit, models.Visit.id == models.Photo.visit_id)
        .join(models.Patient, models.Patient.id == models.Visit.patient_id)
        .where(models.Photo.id == photo_id, models.Photo.deleted_at.is_(None), models.Visit.deleted_at.is_(None),
               models.Patient.deleted_at.is_(None))
    ).first()
    if found is None:
        if actor.role == PATIENT:
            raise PermissionDenied(_REFUSED)
        raise NotFound("This photo does not exist or has been removed.")
    photo, visit = found
    require_patient_access(actor, visit.patient_id)
    return photo, visit


def _read(photo: models.Photo, kind: PhotoKind) -> bytes:
    try:
        return read_display(photo) if kind == "display" else read_thumbnail(photo)
    except KeyError:
        raise NotFound(
            "The file of this photo is missing from the photo store. Tell your administrator: the store's "
            "consistency check lists such photos."
        ) from None


def timeline_thumbnails(actor: Actor | None, mrn: str | None = None, url: str | None = None) -> dict[int, bytes]:
    """Every live photo's thumbnail of one patient, by photo id, read with one access check in one
    transaction (the grid would otherwise open a transaction per thumbnail on every page run). A photo
    whose file is missing is left out; the consistency check reports it."""
    with audit.refusals_recorded(actor, "photo thumbnails", mrn, url):
        with transaction(url) as session:
            patient = resolve_patient(session, actor, mrn)
            photos = session.scalars(
                select(models.Photo)
                .join(models.Visit, models.Visit.id == models.Photo.visit_id)
                .where(models.Visit.patient_id == patient.id, models.Visit.deleted_at.is_(None),
                       models.Photo.deleted_at.is_(None))
            ).all()
    thumbnails: dict[int, bytes] = {}
    for photo in photos:
        try:
            thumbnails[photo.id] = _read(photo, "thumbnail")
        except NotFound:
            continue
    return thumbnails


def photo_image(actor: Actor | None, photo_id: int, kind: PhotoKind = "thumbnail", url: str | None = None) -> bytes:
    """The JPEG bytes of one photo's thumbnail (≤ 320 px) or display copy (≤ 2048 px, upright, no EXIF).

    Refused (PermissionDenied) unless the actor may see the photo's patient. Opening a display copy is
    audited; thumbnails are covered by the timeline's entry.
    """
    if kind not in ("thumbnail", "display"):
        raise ValueError(f"kind must be 'thumbnail' or 'display', not {kind!r}")
    with audit.refusals_recorded(actor, f"photo {photo_id} ({kind})", None, url):
        with transaction(url) as session:
            photo, visit = _reachable_photo(session, actor, photo_id)
            data = _read(photo, kind)
            if kind == "display":
                audit.record(session, actor, "view", patient_id=visit.patient_id,
                             detail=f"photo {photo.id} ({photo.view}, visit of {visit.date.isoformat()})")
            return data


# --- before and after ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteDensity:
    site: str
    density_per_cm2: float


@dataclass(frozen=True)
class ComparedPhoto:
    """One side of the comparison. ``image`` is the JPEG fitted into the shared frame; ``width``/``height``
    are the upright original's pixels; ``months`` is the time since day 0 (None without a session)."""

    visit_id: int
    date: date
    photo_id: int
    months: float | None
    densities: tuple[SiteDensity, ...]
    width: int
    height: int
    image: bytes


@dataclass(frozen=True)
class FramingWarning:
    """One way the two photos differ: ``what`` names it ("lighting"), ``detail`` says how."""

    what: str
    detail: str


@dataclass(frozen=True)
class BeforeAfter:
    """The comparison of ``view`` between two visits.

    ``views``: the patient's views that have photos (SCALP_VIEWS order), to choose from.
    ``visits``: the visits holding a photo of ``view`` (date order), to choose the two from.
    ``first``/``second``: None when fewer than two visits have this view (``first`` alone when one does).
    ``blended``: the two fitted images faded ``fade`` % of the way from first to second, when asked for.
    ``frame``: (width, height) of both fitted images and of the blend.
    """

    mrn: str
    view: str | None
    views: tuple[str, ...]
    visits: tuple[TimelineVisit, ...]
    first: ComparedPhoto | None
    second: ComparedPhoto | None
    frame: tuple[int, int] | None
    fade: int | None
    blended: bytes | None
    framing_warnings: tuple[FramingWarning, ...]

    @property
    def caution(self) -> str | None:
        """The sentence shown above the comparison when the photos were not taken the same way."""
        return caution_sentence(self.framing_warnings)


def caution_sentence(warnings: tuple[FramingWarning, ...] | list[FramingWarning]) -> str | None:
    """
    >>> caution_sentence([FramingWarning("shape", ""), FramingWarning("lighting", "")])
    'These two photos were not taken the same way (shape and lighting differ): compare with care.'
    >>> caution_sentence([FramingWarning("parting", "")])
    'These two photos were not taken the same way (parting differs): compare with care.'
    >>> caution_sentence([]) is None
    True
    """
    names = list(dict.fromkeys(w.what for w in warnings))
    if not names:
        return None
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    verb = "differs" if len(names) == 1 else "differ"
    return f"These two photos were not taken the same way ({listed} {verb}): compare with care."


def frame_size(reference: tuple[int, int], other: tuple[int, int],
               long_side: int = FRAME_LONG_SIDE) -> tuple[int, int]:
    """The shared frame: the reference (first) photo's shape, its long side the larger photo's long side
    capped at ``long_side`` (a comparison never enlarges both photos beyond what either holds).

    >>> frame_size((960, 720), (1600, 900))
    (1280, 960)
    >>> frame_size((300, 400), (240, 320))
    (300, 400)
    """
    width, height = reference
    side = min(long_side, max(*reference, *other))
    if width >= height:
        return side, max(1, round(side * height / width))
    return max(1, round(side * width / height)), side


def fit_pair(first: Image.Image, second: Image.Image,
             long_side: int = FRAME_LONG_SIDE) -> tuple[Image.Image, Image.Image]:
    """Both photos scaled (aspect kept) and centred in the same frame, letterboxed with neutral bars."""
    size = frame_size(first.size, second.size, long_side)

    def fitted(image: Image.Image) -> Image.Image:
        return ImageOps.pad(image.convert("RGB"), size, method=Image.Resampling.LANCZOS, color=LETTERBOX)

    return fitted(first), fitted(second)


def blend_pair(first: Image.Image, second: Image.Image, percent: int) -> Image.Image:
    """``percent`` 0 shows the first photo only, 100 the second only (same frame size required)."""
    return Image.blend(first, second, percent / 100)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=COMPARISON_QUALITY)
    return out.getvalue()


def _size(photo: models.Photo) -> str:
    return f"{photo.width}×{photo.height} pixels"


def shape_and_size_warnings(first: tuple[int, int], second: tuple[int, int]) -> list[FramingWarning]:
    """
    >>> [w.what for w in shape_and_size_warnings((4032, 3024), (2560, 1440))]
    ['shape']
    >>> [w.what for w in shape_and_size_warnings((4032, 3024), (1600, 1200))]
    ['image size']
    >>> shape_and_size_warnings((4032, 3024), (4000, 3000))
    []
    """
    warnings = []
    aspects = sorted((first[0] / first[1], second[0] / second[1]))
    sizes = f"{first[0]}×{first[1]} against {second[0]}×{second[1]} pixels"
    if aspects[1] / aspects[0] - 1 > ASPECT_TOLERANCE:
        warnings.append(FramingWarning("shape", f"the photos are cropped differently ({sizes})"))
    pixels = sorted((first[0] * first[1], second[0] * second[1]))
    if pixels[1] / pixels[0] > MAX_PIXEL_RATIO:
        warnings.append(FramingWarning(
            "image size", f"one photo has far fewer pixels and is enlarged to fill the frame ({sizes})"))
    return warnings


def condition_warnings(first: models.Visit, second: models.Visit,
                       since_first: list[models.Visit]) -> list[FramingWarning]:
    """Differences the capture checklists record. ``since_first``: the visits after the earlier of the two,
    up to and including the later one: a "same as last time" box left unticked at any of them breaks the
    chain that would make the two photos comparable."""
    warnings: list[FramingWarning] = []
    earlier, later = sorted((first, second), key=lambda v: (v.date, v.id))
    for key, what in _SAME_AS_LAST_TIME.items():
        broken = [v for v in since_first if (v.capture_conditions or {}).get(key) is False]
        if broken:
            days = ", ".join(f"{v.date:%d %b %Y}" for v in broken)
            warnings.append(FramingWarning(what, f'"same {what}" was not ticked at the visit of {days}'))
    conditions = (earlier.capture_conditions or {}, later.capture_conditions or {})
    for key, what in _RECORDED_VALUES.items():
        values = [c.get(key) for c in conditions]
        if not all(isinstance(v, str) and v.strip() for v in values):
            continue  # recorded at one visit only, or not at all: nothing to compare
        before, after = (v.strip() for v in values)
        if before.lower() != after.lower():
            detail = f"{before} on {earlier.date:%d %b %Y}, {after} on {later.date:%d %b %Y}"
            warnings.append(FramingWarning(what, detail))
    wet = [v for v in (earlier, later) if (v.capture_conditions or {}).get(_DRY_HAIR) is False]
    if wet:
        days = ", ".join(f"{v.date:%d %b %Y}" for v in wet)
        warnings.append(FramingWarning("hair dryness", f"the hair was not dry at the visit of {days}"))
    first_per_aspect: dict[str, FramingWarning] = {}
    for warning in warnings:
        first_per_aspect.setdefault(warning.what, warning)
    return list(first_per_aspect.values())


def _densities(session: Session, visit_id: int) -> tuple[SiteDensity, ...]:
    return tuple(
        SiteDensity(m.site, m.density_per_cm2)
        for m in session.scalars(
            select(models.DensityMeasurement)
            .where(models.DensityMeasurement.visit_id == visit_id, models.DensityMeasurement.deleted_at.is_(None))
            .order_by(models.DensityMeasurement.site)
        )
    )


def _day0(session: Session, patient_id: int) -> date | None:
    """Day 0 as the milestone engine counts it: the first treatment session on or before today."""
    return session.scalar(
        select(func.min(models.TreatmentSession.date)).where(
            models.TreatmentSession.patient_id == patient_id, models.TreatmentSession.deleted_at.is_(None),
            models.TreatmentSession.date <= date.today())
    )


def default_pair(dated: list[TimelineVisit], day0: date | None) -> tuple[int, int] | None:
    """(baseline, latest) visit ids among visits with the view: the baseline is the latest on or before
    day 0, else the first; None when fewer than two visits have the view.

    >>> visits = [TimelineVisit(1, date(2025, 1, 2)), TimelineVisit(2, date(2025, 1, 15)),
    ...           TimelineVisit(3, date(2025, 4, 14)), TimelineVisit(4, date(2026, 1, 20))]
    >>> default_pair(visits, date(2025, 1, 15)), default_pair(visits, date(2024, 12, 1)), default_pair(visits, None)
    ((2, 4), (1, 4), (1, 4))
    """
    if len(dated) < 2:
        return None
    before = [v for v in dated if day0 is not None and v.date <= day0]
    baseline = before[-1] if before else dated[0]
    latest = dated[-1]
    if latest.id == baseline.id:  # every visit is on or before day 0: compare the two latest
        baseline = dated[-2]
    return baseline.id, latest.id


def _compared(session: Session, photo: models.Photo, visit: models.Visit, day0: date | None,
              image: Image.Image) -> ComparedPhoto:
    return ComparedPhoto(
        visit_id=visit.id, date=visit.date, photo_id=photo.id,
        months=round(months_between(day0, visit.date), 2) if day0 else None,
        densities=_densities(session, visit.id), width=photo.width, height=photo.height, image=_jpeg(image),
    )


def _open(photo: models.Photo) -> Image.Image:
    with Image.open(io.BytesIO(_read(photo, "display"))) as image:
        return image.convert("RGB")


def before_after(actor: Actor | None, mrn: str | None, view: str | None = None, first_visit_id: int | None = None,
                 second_visit_id: int | None = None, fade: int | None = None,
                 url: str | None = None) -> BeforeAfter:
    """Compare ``view`` between two of the patient's visits (audited as a view).

    Parameters:
        actor: who asks; a patient account passes ``mrn=None`` and gets its own photos only.
        mrn: the patient (staff); for a patient account any other MRN is refused.
        view: one of ``SCALP_VIEWS``; None (or a view without photos) picks the first view photographed
            at two visits or more, else the first with a photo. ``BeforeAfter.view`` says which is shown.
        first_visit_id / second_visit_id: visits holding a photo of ``view``; None picks the baseline (the
            latest visit on or before day 0, else the first) and the latest visit.
        fade: 0–100, or None for no blend; 0 is the first photo alone, 100 the second alone.

    Raises ValidationError for an unknown view, a fade outside 0–100 or the same visit twice; NotFound for
    a visit of this patient without a photo of the view (or not this patient's visit at all).
    """
    if view is not None and view not in SCALP_VIEWS:
        raise ValidationError(f"Unknown photo view {view!r}. Choose one of: {', '.join(SCALP_VIEWS)}.")
    if fade is not None and not 0 <= fade <= 100:
        raise ValidationError("The fade goes from 0 (before) to 100 (after).")
    with audit.refusals_recorded(actor, "before/after photos", mrn, url):
        with transaction(url) as session:
            patient = resolve_patient(session, actor, mrn)
            result = _compare(session, patient, view, first_visit_id, second_visit_id, fade)
            detail = f"before/after {result.view or 'photos'}"
            if result.first and result.second:
                detail += f": {result.first.date.isoformat()} and {result.second.date.isoformat()}"
            audit.record(session, actor, "view", patient_id=patient.id, detail=detail)
            return result


def _compare(session: Session, patient: PatientBasics, view: str | None, first_visit_id: int | None,
             second_visit_id: int | None, fade_percent: int | None) -> BeforeAfter:
    visits = _live_visits(session, patient.id)
    by_id = {v.id: v for v in visits}
    photos = _live_photos(session, patient.id)
    latest_photo: dict[tuple[str, int], models.Photo] = {(p.view, p.visit_id): p for p in photos}  # last id wins
    views = tuple(sorted({p.view for p in photos}, key=_view_order))
    if view not in views:  # none asked for, or none left (its photos were removed): the default view
        counts = {v: sum(1 for (pv, _) in latest_photo if pv == v) for v in views}
        view = next((v for v in views if counts[v] >= 2), views[0] if views else None)
    dated = [TimelineVisit(v.id, v.date) for v in visits if (view, v.id) in latest_photo]
    empty = BeforeAfter(patient.mrn, view, views, tuple(dated), None, None, None, None, None, ())
    if view is None or not dated:
        return empty

    day0 = _day0(session, patient.id)
    pair = default_pair(dated, day0)
    if pair is None:  # one visit has this view: show it alone, in a frame of its own
        photo = latest_photo[(view, dated[0].id)]
        alone = _open(photo)
        image, _ = fit_pair(alone, alone)
        one = _compared(session, photo, by_id[dated[0].id], day0, image)
        return BeforeAfter(patient.mrn, view, views, tuple(dated), one, None, image.size, None, None, ())
    first_id = first_visit_id if first_visit_id is not None else pair[0]
    second_id = second_visit_id if second_visit_id is not None else pair[1]
    for chosen in (first_id, second_id):
        if (view, chosen) not in latest_photo:
            raise NotFound(f"There is no {view_label(view).lower()} photo at the visit chosen. Choose another visit.")
    if first_id == second_id:
        raise ValidationError("Choose two different visits to compare.")

    first_visit, second_visit = by_id[first_id], by_id[second_id]
    first_photo, second_photo = latest_photo[(view, first_id)], latest_photo[(view, second_id)]
    first_image, second_image = fit_pair(_open(first_photo), _open(second_photo))
    earlier, later = sorted((first_visit, second_visit), key=lambda v: (v.date, v.id))
    since_first = [v for v in visits if (earlier.date, earlier.id) < (v.date, v.id) <= (later.date, later.id)]
    warnings = shape_and_size_warnings((first_photo.width, first_photo.height),
                                       (second_photo.width, second_photo.height))
    warnings += condition_warnings(first_visit, second_visit, since_first)
    return BeforeAfter(
        mrn=patient.mrn, view=view, views=views, visits=tuple(dated),
        first=_compared(session, first_photo, first_visit, day0, first_image),
        second=_compared(session, second_photo, second_visit, day0, second_image),
        frame=first_image.size,
        fade=fade_percent,
        blended=_jpeg(blend_pair(first_image, second_image, fade_percent)) if fade_percent is not None else None,
        framing_warnings=tuple(warnings),
    )
