"""The count screen's services: ``closeup_count`` (the close-ups, devices and detections) and
``save_counted_density`` (the corrected count stored as a density, ``method='counted'``): what is stored, every
refusal, access and audit (on SQLite and PostgreSQL). The detector itself is tested in test_hair_count.py; here its
result is taken as given and only the arithmetic of the corrections is checked by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tests.browser import ARTIFACTS
from tests.closeup_samples import make_closeup_patient
from tests.conftest import ROOT
from tests.scalp_samples import ADMIN, CLINICIAN
from tests.test_outlook import differences
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import NeedsConfirmation, NotFound, PermissionDenied, ValidationError
from tracker.exchange.progress_report import progress_report_pdf
from tracker.progress.patient_progress import progress_json
from tracker.records.capture_devices import add_device, retire_device
from tracker.records.closeup_count import closeup_count
from tracker.records.counted_density import save_counted_density

# 4 × 3 mm (the 800 × 600 px close-ups' shape) = 0.12 cm²: each hair counted is 8⅓ hairs/cm², so the 24 hairs
# drawn are 200 hairs/cm², a third above the baseline's 150 (not unlikely: within 50%).
FIELD = (4.0, 3.0)


def _measurements(url: str) -> list[models.DensityMeasurement]:
    with transaction(url) as session:
        rows = list(session.scalars(select(models.DensityMeasurement).order_by(models.DensityMeasurement.id)))
        session.expunge_all()
        return rows


def _last_audit(url: str) -> models.AuditEntry:
    with transaction(url) as session:
        entry = session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id.desc()).limit(1)).one()
        session.expunge(entry)
        return entry


def test_screen_lists_closeups_and_detects_hairs(clinic):
    made = make_closeup_patient(clinic)
    device = add_device(ADMIN, "Scope", *FIELD, url=clinic)
    listing = closeup_count(CLINICIAN, made.mrn, url=clinic)
    assert [(c.photo_id, c.date, c.measured_sites) for c in listing.closeups] == [
        (made.photos["month6_closeup"], date(2025, 7, 15), ()),
        (made.photos["baseline_closeup"], date(2025, 1, 15), ("vertex",)),
    ]
    assert [d.name for d in listing.devices] == ["Scope"] and listing.sites == ("vertex",)
    assert listing.found is None and listing.image is None
    screen = closeup_count(CLINICIAN, made.mrn, made.photos["month6_closeup"], device.id, url=clinic)
    assert screen.size == (800, 600) and screen.image is not None and screen.image[:2] == b"\xff\xd8"
    assert screen.found is not None and screen.found.field_mm == FIELD and screen.found.count > 0
    assert _last_audit(clinic).detail == (
        f"hair count: photo {made.photos['month6_closeup']} (close-up, visit of 2025-07-15) with 'Scope'")
    with pytest.raises(NotFound, match="not a close-up"):
        closeup_count(CLINICIAN, made.mrn, made.photos["month6_vertex"], device.id, url=clinic)


def test_a_close_up_too_coarse_for_the_devices_field_is_refused_in_one_sentence(clinic):
    # 10 mm over the close-up's 800 pixels is 12.5 µm per pixel, coarser than the 10 a count is given at (the page
    # shows this message as its error, no count).
    made = make_closeup_patient(clinic)
    wide = add_device(ADMIN, "Wide", 10, 7.5, url=clinic)
    with pytest.raises(ValidationError) as refused:
        closeup_count(CLINICIAN, made.mrn, made.photos["month6_closeup"], wide.id, url=clinic)
    assert str(refused.value) == (
        "The photo is 800×600 pixels for a field of 10 × 7.5 mm: 12.5 µm per pixel, too coarse to see hair shafts (at "
        "most 10 µm per pixel, e.g. 1000 pixels across). Upload the close-up at its full size, or check the "
        "device's field size.")


def test_corrected_count_is_stored_as_a_counted_density(clinic):
    made = make_closeup_patient(clinic)
    device = add_device(ADMIN, "Scope", *FIELD, url=clinic)
    screen = closeup_count(CLINICIAN, made.mrn, made.photos["month6_closeup"], device.id, url=clinic)
    found = screen.found
    assert found is not None and screen.size is not None
    saved = save_counted_density(CLINICIAN, made.photos["month6_closeup"], device.id, " Vertex ", found, screen.size,
                                 added=[(10, 20), (790.5, 590)], removed=[0], url=clinic)
    count = len(found.marks) - 1 + 2  # one detection removed, two hairs added
    assert (saved.site, saved.count) == ("vertex", count)
    assert saved.density_per_cm2 == pytest.approx(round(count / 0.12, 2))

    stored = _measurements(clinic)[-1]
    assert (stored.visit_id, stored.site, stored.method, stored.photo_id, stored.created_by) == (
        made.visits["month6"], "vertex", "counted", made.photos["month6_closeup"], "dr.lee")
    assert stored.density_per_cm2 == saved.density_per_cm2
    detail = stored.count_detail
    assert detail is not None
    assert (detail["count"], detail["field_width_mm"], detail["field_height_mm"], detail["device"]) == (
        count, 4.0, 3.0, "Scope")
    assert detail["added"] == [[10.0, 20.0], [790.5, 590.0]] and detail["removed"] == [0]
    assert len(detail["detected"]) == len(found.marks)
    assert detail["image"]["photo_id"] == made.photos["month6_closeup"] and detail["image"]["size"] == [800, 600]
    entry = _last_audit(clinic)
    assert (entry.username, entry.action, entry.patient_id) == ("dr.lee", "create", made.patient_id)
    assert f"{count} hairs in 4×3 mm (Scope)" in entry.detail and "1 removed, 2 added" in entry.detail
    with transaction(clinic) as session:
        assert session.get_one(models.Visit, made.visits["month6"]).version == 2

    assert differences(clinic, range(0, 400, 30)) == []  # the whole-clinic lists' outlook followed on commit

    expected = [
        {"date": "2025-01-15", "density": 150.0, "method": "typed"},
        {"date": "2025-07-15", "density": round(count / 0.12, 2), "method": "counted", "hairs": count,
         "field_mm": [4.0, 3.0]},
    ]
    service = progress_json(CLINICIAN, made.mrn, as_of=date(2025, 8, 1), url=clinic)
    assert service["sites"][0]["measurements"] == expected
    # and through the command line a script uses (the clinic's settings are in this process's environment)
    result = subprocess.run([sys.executable, "-m", "tracker", "progress", made.mrn, "--as-of", "2025-08-01", "--json"],
                            cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sites"][0]["measurements"] == expected


def test_a_site_already_measured_is_refused_with_the_way_to_correct_it(clinic):
    made = make_closeup_patient(clinic)
    device = add_device(ADMIN, "Scope", *FIELD, url=clinic)
    screen = closeup_count(CLINICIAN, made.mrn, made.photos["baseline_closeup"], device.id, url=clinic)
    assert screen.found is not None and screen.size is not None
    before = _measurements(clinic)
    with pytest.raises(ValidationError) as refused:
        save_counted_density(CLINICIAN, made.photos["baseline_closeup"], device.id, "vertex", screen.found,
                             screen.size, url=clinic)
    assert str(refused.value) == (
        "The count was not saved: Vertex is already measured at the visit of 2025-01-15 (150 hairs/cm², typed). "
        "To replace it, correct or remove that measurement from the patient record (with its reason), then save "
        "the count again; or save the count for another site.")
    assert [m.id for m in _measurements(clinic)] == [m.id for m in before]


def test_impossible_counts_are_refused_and_unlikely_ones_asked(clinic):
    made = make_closeup_patient(clinic)
    photo = made.photos["month6_closeup"]
    device = add_device(ADMIN, "Scope", *FIELD, url=clinic)
    screen = closeup_count(CLINICIAN, made.mrn, photo, device.id, url=clinic)
    found, size = screen.found, screen.size
    assert found is not None and size is not None
    everything = list(range(len(found.marks)))
    with pytest.raises(ValidationError, match="no hair is marked"):
        save_counted_density(CLINICIAN, photo, device.id, "vertex", found, size, removed=everything, url=clinic)
    with pytest.raises(ValidationError, match=r"outside the photo \(800×600 px\)"):
        save_counted_density(CLINICIAN, photo, device.id, "vertex", found, size, added=[(801, 10)], url=clinic)
    with pytest.raises(ValidationError, match="no detection on this photo"):
        save_counted_density(CLINICIAN, photo, device.id, "vertex", found, size, removed=[len(found.marks)],
                             url=clinic)
    with pytest.raises(ValidationError, match="may contain only letters"):
        save_counted_density(CLINICIAN, photo, device.id, "top of head", found, size, url=clinic)
    with pytest.raises(ValidationError, match="only a close-up|Only a close-up"):
        save_counted_density(CLINICIAN, made.photos["month6_vertex"], device.id, "vertex", found, size, url=clinic)
    other = add_device(ADMIN, "Wide", 10, 7.5, url=clinic)
    with pytest.raises(ValidationError, match="another device's field"):
        save_counted_density(CLINICIAN, photo, other.id, "vertex", found, size, url=clinic)
    # 73 hairs on 4 × 3 mm are 608 hairs/cm²: beyond the 600 any density may have
    many = [(10.0 * n + 5, 5.0) for n in range(73 - len(found.marks))]
    with pytest.raises(ValidationError, match="out of range"):
        save_counted_density(CLINICIAN, photo, device.id, "frontal", found, size, added=many, url=clinic)
    # two hairs on 4 × 3 mm are 16.67 hairs/cm²: 89% below the vertex's 150 at baseline, asked before saving
    with pytest.raises(NeedsConfirmation) as asked:
        save_counted_density(CLINICIAN, photo, device.id, "vertex", found, size, removed=everything[2:], url=clinic)
    assert asked.value.warnings == (
        "Vertex density 16.67 hairs/cm² is 89% below the previous visit's 150 (2025-01-15): check the value",)
    retire_device(ADMIN, device.id, url=clinic)
    with pytest.raises(NotFound, match="retired"):
        save_counted_density(CLINICIAN, photo, device.id, "vertex", found, size, url=clinic)
    assert [m.method for m in _measurements(clinic)] == ["typed"]
    again = add_device(ADMIN, "Scope again", *FIELD, url=clinic)
    found_again = closeup_count(CLINICIAN, made.mrn, photo, again.id, url=clinic).found
    assert found_again is not None
    saved = save_counted_density(CLINICIAN, photo, again.id, "vertex", found_again, size,
                                 removed=everything[2:], acknowledged=asked.value.warnings, url=clinic)
    assert (saved.count, saved.density_per_cm2) == (2, 16.67)


def test_a_patient_account_never_counts(clinic):
    made = make_closeup_patient(clinic)
    device = add_device(ADMIN, "Scope", *FIELD, url=clinic)
    screen = closeup_count(CLINICIAN, made.mrn, made.photos["month6_closeup"], device.id, url=clinic)
    assert screen.found is not None and screen.size is not None
    own = Actor("cleo", "patient", patient_id=made.patient_id)
    with pytest.raises(PermissionDenied):
        closeup_count(own, made.mrn, made.photos["month6_closeup"], device.id, url=clinic)
    assert _last_audit(clinic).action == "refused"
    with pytest.raises(PermissionDenied):
        save_counted_density(own, made.photos["month6_closeup"], device.id, "vertex", screen.found, screen.size,
                             url=clinic)
    assert (_last_audit(clinic).action, _last_audit(clinic).username) == ("refused", "cleo")
    assert [m.method for m in _measurements(clinic)] == ["typed"]


def test_the_report_marks_the_counted_point_and_says_so(clinic):
    """The PDF: the counted density's note under the site's heading (pdftotext), and each page as a PNG in
    test-artifacts/hair-count/ (pdftoppm) to look at: the diamond on the chart and its legend entry."""
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip("pdftotext/pdftoppm (poppler-utils) are not installed; make test installs them")
    made = make_closeup_patient(clinic)
    device = add_device(ADMIN, "Scope", *FIELD, url=clinic)
    screen = closeup_count(CLINICIAN, made.mrn, made.photos["month6_closeup"], device.id, url=clinic)
    assert screen.found is not None and screen.size is not None
    save_counted_density(CLINICIAN, made.photos["month6_closeup"], device.id, "vertex", screen.found, screen.size,
                         url=clinic)
    count = len(screen.found.marks)
    _name, pdf = progress_report_pdf(CLINICIAN, made.mrn, as_of=date(2025, 8, 1), url=clinic)
    folder = ARTIFACTS / "hair-count"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"report-{clinic.split(':')[0]}.pdf"
    path.write_bytes(pdf)
    text = " ".join(subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "Diamonds are assisted counts: hairs counted on a close-up photo" in text
    assert f"2025-07-15: assisted count ({count} hairs in 4×3 mm)." in text
    assert "assisted count (close-up)" in text  # the chart's legend entry
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(path), str(path.with_suffix(""))], check=True)
    assert list(folder.glob(f"{path.stem}-*.png"))
