"""The clinic's capture devices: a camera or trichoscope and the field its close-ups cover, in mm.

A hair count on a close-up becomes a density only through the field of view: hairs/cm² = hairs / (width ×
height / 100). So the field is a setting of the device, entered once by an admin (from the device's manual or a
photo of a millimetre ruler), and clinicians pick the device when they count. A device is retired, never
deleted: the counts made with it keep its name and field in their own ``count_detail``.

Adding and retiring are admin-only and audited; the list is for staff (the count screen offers it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from db import models
from tracker.access import audit
from tracker.access.actors import ADMIN, STAFF, Actor, require_role
from tracker.database import transaction
from tracker.errors import NotFound, ValidationError
from tracker.validation import clean_text, parse_optional_amount

DEVICE_NAME_MAX = 120
# The close-up field a device may declare, per side (the table's own check, migration 0008): trichoscopes
# cover a few mm to about 20 mm; 100 mm is a whole scalp region, where single hairs can no longer be seen.
FIELD_MM_MAX = 100.0
# Below 1 mm a side a close-up would show a few hair shafts across at most: no device photographs so little, and
# it is a field typed in cm or with a misplaced decimal point (0.0075 for 7.5).
FIELD_MM_MIN = 1.0


@dataclass(frozen=True)
class CaptureDevice:
    """A device as the pages see it: ``field_mm`` is (width, height) in mm of the whole close-up frame;
    ``retired_at`` is None for a device in use."""

    id: int
    name: str
    field_mm: tuple[float, float]
    created_by: str | None
    retired_at: datetime | None

    @property
    def label(self) -> str:
        """The device as the count screen offers it, e.g. ``Dermatoscope A (10×7.5 mm)``."""
        return f"{self.name} ({self.field_mm[0]:g}×{self.field_mm[1]:g} mm)"


def _device(row: models.CaptureDevice) -> CaptureDevice:
    return CaptureDevice(row.id, row.name, (row.field_width_mm, row.field_height_mm), row.created_by, row.retired_at)


def list_devices(actor: Actor | None, include_retired: bool = False, url: str | None = None) -> list[CaptureDevice]:
    """The clinic's devices by name, those in use only unless ``include_retired``. Staff only."""
    require_role(actor, *STAFF)
    with transaction(url) as session:
        query = select(models.CaptureDevice).order_by(func.lower(models.CaptureDevice.name))
        if not include_retired:
            query = query.where(models.CaptureDevice.retired_at.is_(None))
        return [_device(row) for row in session.scalars(query)]


def add_device(actor: Actor | None, name: object, field_width_mm: object, field_height_mm: object,
               url: str | None = None) -> CaptureDevice:
    """Add a device with the field of view of its close-ups, width and height in mm (more than 0, at most 100;
    a decimal comma is a decimal). Admins only; audited.

    Raises ValidationError listing every problem (a blank or too long name, a name another device has, even
    retired and in other capitals, a field that is not a number or out of range); PermissionDenied for anyone
    but an admin.
    """
    require_role(actor, ADMIN)
    problems: list[str] = []
    cleaned: str | None = None
    try:
        cleaned = clean_text(name, "device name", DEVICE_NAME_MAX, single_line=True)
        if cleaned is None:
            problems.append("the device name is required (for example the model and the clinic room)")
    except ValidationError as error:
        problems.append(str(error))
    field: list[float] = []
    for value, side in ((field_width_mm, "width"), (field_height_mm, "height")):
        try:
            number = parse_optional_amount(value, f"field {side}", FIELD_MM_MAX, "millimetres", "mm")
        except ValidationError as error:
            problems.append(str(error))
            continue
        if number is None:
            problems.append(f"the field {side} is required: the size in mm of what a close-up of this device "
                            "covers (from its manual, or a photo of a millimetre ruler)")
        elif number < FIELD_MM_MIN:
            problems.append(f"a field {side} of {number:g} mm is too small for a close-up (at least "
                            f"{FIELD_MM_MIN:g} mm): is it in mm?")
        else:
            field.append(number)
    with transaction(url) as session:
        if cleaned is not None and session.scalar(select(models.CaptureDevice.name).where(
                func.lower(models.CaptureDevice.name) == cleaned.lower())) is not None:
            problems.append(f"a device named {cleaned!r} already exists (retired devices keep their name): "
                            "choose another name")
        if problems:
            raise ValidationError("The device was not added: " + (problems[0] if len(problems) == 1
                                                                  else f"{len(problems)} things need fixing."),
                                  problems)
        assert cleaned is not None  # no problems: the name was given
        row = models.CaptureDevice(name=cleaned, field_width_mm=field[0], field_height_mm=field[1],
                                   created_by=actor.username if actor else None)
        session.add(row)
        session.flush()
        audit.record(session, actor, "create",
                     detail=f"capture device {row.id} {cleaned!r}: field {field[0]:g}×{field[1]:g} mm")
        return _device(row)


def retire_device(actor: Actor | None, device_id: int, url: str | None = None) -> CaptureDevice:
    """Retire a device: it is no longer offered for counting; counts made with it keep its name and field.
    Admins only; audited. Raises NotFound for an unknown device, ValidationError for one already retired."""
    require_role(actor, ADMIN)
    with transaction(url) as session:
        row = session.get(models.CaptureDevice, device_id, with_for_update=True)
        if row is None:
            raise NotFound("This capture device does not exist.")
        if row.retired_at is not None:
            raise ValidationError(f"The device {row.name!r} is already retired.")
        row.retired_at = models.utcnow()
        audit.record(session, actor, "update", detail=f"capture device {row.id} {row.name!r} retired")
        return _device(row)
