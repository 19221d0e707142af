"""Capture devices (``tracker.records.capture_devices``): admins add and retire them with plain refusals; staff
list them; every change is audited (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db import models
from tests.scalp_samples import ADMIN, CLINICIAN
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied, ValidationError
from tracker.records.capture_devices import add_device, list_devices, retire_device


def _audit(url: str) -> list[tuple[str | None, str, str]]:
    with transaction(url) as session:
        return [(e.username, e.action, e.detail) for e in session.scalars(
            select(models.AuditEntry).order_by(models.AuditEntry.id))]


def test_admin_adds_and_retires_a_device(clinic):
    added = add_device(ADMIN, "  Dermatoscope,   room 2 ", "10", "7,5", url=clinic)  # a decimal comma is a decimal
    assert (added.name, added.field_mm, added.created_by, added.retired_at) == (
        "Dermatoscope, room 2", (10.0, 7.5), "admin.kim", None)
    assert added.label == "Dermatoscope, room 2 (10×7.5 mm)"
    other = add_device(ADMIN, "Alpha scope", 4, 3, url=clinic)
    assert [d.name for d in list_devices(CLINICIAN, url=clinic)] == ["Alpha scope", "Dermatoscope, room 2"]

    retired = retire_device(ADMIN, other.id, url=clinic)
    assert retired.retired_at is not None
    assert [d.name for d in list_devices(CLINICIAN, url=clinic)] == ["Dermatoscope, room 2"]
    assert [d.name for d in list_devices(ADMIN, include_retired=True, url=clinic)] == [
        "Alpha scope", "Dermatoscope, room 2"]
    assert _audit(clinic) == [
        ("admin.kim", "create", f"capture device {added.id} 'Dermatoscope, room 2': field 10×7.5 mm"),
        ("admin.kim", "create", f"capture device {other.id} 'Alpha scope': field 4×3 mm"),
        ("admin.kim", "update", f"capture device {other.id} 'Alpha scope' retired"),
    ]
    with pytest.raises(ValidationError, match="already retired"):
        retire_device(ADMIN, other.id, url=clinic)
    with pytest.raises(NotFound):
        retire_device(ADMIN, 9999, url=clinic)


def test_bad_devices_are_refused_with_every_reason(clinic):
    add_device(ADMIN, "Scope A", 8, 6, url=clinic)
    with pytest.raises(ValidationError) as refused:
        add_device(ADMIN, "scope a", "ten", "0", url=clinic)
    assert refused.value.problems == [
        "field width 'ten' is not a number (millimetres)",
        "field height 0 mm is out of range: it must be more than 0 and at most 100 mm",
        "a device named 'scope a' already exists (retired devices keep their name): choose another name",
    ]
    assert str(refused.value) == "The device was not added: 3 things need fixing."
    with pytest.raises(ValidationError) as tiny:  # 7.5 typed as 0.0075: a field nothing could be counted in
        add_device(ADMIN, "Scope C", "0.01", "0,0075", url=clinic)
    assert tiny.value.problems == ["a field width of 0.01 mm is too small for a close-up (at least 1 mm): is it in mm?",
                                   "a field height of 0.0075 mm is too small for a close-up (at least 1 mm): is it in "
                                   "mm?"]
    with pytest.raises(ValidationError) as blank:
        add_device(ADMIN, "   ", "", "150", url=clinic)
    assert blank.value.problems[0].startswith("the device name is required")
    assert blank.value.problems[1].startswith("the field width is required")
    assert blank.value.problems[2] == "field height 150 mm is out of range: it must be more than 0 and at most 100 mm"
    with pytest.raises(ValidationError, match="control character"):
        add_device(ADMIN, "Scope\x07B", 8, 6, url=clinic)
    assert [d.name for d in list_devices(ADMIN, include_retired=True, url=clinic)] == ["Scope A"]


@pytest.mark.parametrize("who", [CLINICIAN, Actor("pat", "patient", patient_id=1), None])
def test_only_admins_change_devices(clinic, who):
    device = add_device(ADMIN, "Scope A", 8, 6, url=clinic)
    with pytest.raises(PermissionDenied):
        add_device(who, "Scope B", 8, 6, url=clinic)
    with pytest.raises(PermissionDenied):
        retire_device(who, device.id, url=clinic)
    if who is not CLINICIAN:
        with pytest.raises(PermissionDenied):
            list_devices(who, url=clinic)
    assert [d.retired_at for d in list_devices(ADMIN, include_retired=True, url=clinic)] == [None]
