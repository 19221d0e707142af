"""FHIR R4 export: the demo clinic through ``python -m tracker fhir export`` (a Bundle and the Bulk Data NDJSON
files), every resource validated with ``fhir.resources.R4B``; values checked by hand against the records; access
checks and audit entries of the service on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import func, select

from db import models
from tests.backup_samples import TODAY, Installation, cli, no_traceback
from tests.patient_samples import seed
from tracker.access.actors import Actor, command_line_actor
from tracker.database import initialize, transaction
from tracker.errors import PermissionDenied
from tracker.exchange.fhir_codes import ICD10, METHOD_CODES, OBSERVATION_CODES, RESOURCE_TYPES, SITE_CODES, UCUM
from tracker.exchange.fhir_export import export_bundle, export_clinic
from tracker.operations.demo import load_demo
from tracker.operations.demo_plan import MRN_PREFIX, PATIENT_COUNT

ADMIN = command_line_actor("test")
MRNS = [f"{MRN_PREFIX}{n:04d}" for n in range(1, PATIENT_COUNT + 1)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The whole demo clinic (photos included) on SQLite, exported by the command line both ways: the Bulk Data
    folder and one Bundle of every patient. Returns (installation, bulk folder, bundle, the commands' results)."""
    folder = tmp_path_factory.mktemp("fhir_demo")
    where = Installation(folder / "data", f"sqlite:///{folder / 'data' / 'tracker.db'}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRACKER_DATA_DIR", str(where.data_dir))
        patch.setenv("DATABASE_URL", where.url)
        initialize(where.url)
        load_demo(where.url, today=TODAY)
    bulk = cli(where, "fhir", "export", "--all", str(folder / "bulk"))
    written = cli(where, "fhir", "export", *MRNS, "--out", str(folder / "clinic.json"))
    for result in (bulk, written):
        no_traceback(result)
        assert result.returncode == 0, result.stderr
    bundle = json.loads((folder / "clinic.json").read_text(encoding="utf-8"))
    return where, folder / "bulk", bundle, bulk, written


def _ndjson(folder: Path) -> dict[str, list[dict]]:
    return {kind: [json.loads(line) for line in (folder / f"{kind}.ndjson").read_text("utf-8").splitlines()]
            for kind in RESOURCE_TYPES}


def _table_counts(url: str) -> dict[str, int]:
    with transaction(url) as session:
        def count(model) -> int:
            return session.scalar(select(func.count()).select_from(model)) or 0

        rated = session.scalar(select(func.count()).where(models.Visit.global_assessment.is_not(None))) or 0
        satisfied = session.scalar(select(func.count()).where(models.Visit.satisfaction.is_not(None))) or 0
        return {"Patient": count(models.Patient), "Condition": count(models.Patient), "Encounter": count(models.Visit),
                "Observation": count(models.DensityMeasurement) + count(models.ScaleScore) + rated + satisfied,
                "Procedure": count(models.TreatmentSession), "MedicationStatement": count(models.ConcurrentTherapy),
                "Media": count(models.Photo)}


def test_every_resource_of_the_bulk_export_is_valid_fhir_r4(demo):
    where, bulk, _bundle, result, _ = demo
    resources = _ndjson(bulk)
    for kind, lines in resources.items():
        model = get_fhir_model_class(kind)
        for resource in lines:
            assert resource["resourceType"] == kind
            model.model_validate(resource)  # a resource that is not valid R4 fails the test here
    counts = {kind: len(lines) for kind, lines in resources.items()}
    assert counts == _table_counts(where.url)
    assert counts["Patient"] == PATIENT_COUNT and counts["Media"] > 0
    print("demo clinic FHIR bulk export, resources by type:", counts)
    assert result.stdout.splitlines()[0].startswith(f"FHIR R4 bulk export of {PATIENT_COUNT} patients written to ")
    assert "100%" in result.stderr  # the progress bar ends full
    # Each Media points to its display copy, written beside the files, a JPEG.
    for media in resources["Media"]:
        image = bulk / media["content"]["url"]
        assert image.read_bytes()[:2] == b"\xff\xd8", image
    assert oct(bulk.stat().st_mode & 0o777) == "0o700"
    assert oct((bulk / "Patient.ndjson").stat().st_mode & 0o777) == "0o600"


def test_the_bundle_of_every_demo_patient_is_valid_fhir_r4_and_holds_the_same_resources(demo):
    _where, bulk, bundle, _bulk_result, written = demo
    validated = Bundle.model_validate(bundle)
    assert validated.type == "collection" and len(validated.entry) == len(bundle["entry"])
    by_type = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
    assert by_type == Counter({kind: len(lines) for kind, lines in _ndjson(bulk).items()})
    assert written.stdout.startswith("FHIR R4 Bundle written to ")
    # The display copies are embedded: base64 of a JPEG.
    media = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Media"]
    assert all(base64.b64decode(m["content"]["data"])[:2] == b"\xff\xd8" for m in media)
    # Every reference points to a resource of the Bundle.
    ids = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    for entry in bundle["entry"]:
        for key in ("subject", "encounter"):
            if key in entry["resource"]:
                assert entry["resource"][key]["reference"] in ids


def test_exported_values_are_those_recorded(demo):
    where, bulk, _bundle, _, _ = demo
    resources = _ndjson(bulk)
    with transaction(where.url) as session:
        measurement, visit, patient = session.execute(
            select(models.DensityMeasurement, models.Visit, models.Patient)
            .join(models.Visit, models.Visit.id == models.DensityMeasurement.visit_id)
            .join(models.Patient, models.Patient.id == models.Visit.patient_id).order_by(models.DensityMeasurement.id)
        ).first()
        treatment = session.scalars(select(models.TreatmentSession).order_by(models.TreatmentSession.id)).first()
        areata = session.scalars(select(models.Patient).where(models.Patient.condition == "alopecia_areata")).first()
        observation = next(o for o in resources["Observation"] if o["id"] == f"density-{measurement.id}")
        assert observation["valueQuantity"] == {"value": measurement.density_per_cm2, "unit": "hairs/cm²",
                                                "system": UCUM, "code": "/cm2"}
        assert observation["code"]["coding"][0] == {"system": OBSERVATION_CODES, "code": "hair-density",
                                                    "display": "Hair density"}
        assert observation["bodySite"]["coding"][0]["code"] == measurement.site
        assert observation["bodySite"]["coding"][0]["system"] == SITE_CODES
        assert observation["method"]["coding"][0] == {"system": METHOD_CODES, "code": "typed",
                                                      "display": "Counted by the clinician and typed in"}
        assert observation["effectiveDateTime"] == visit.date.isoformat()
        assert observation["subject"] == {"reference": f"Patient/patient-{patient.id}"}
        procedure = next(p for p in resources["Procedure"] if p["id"] == f"session-{treatment.id}")
        assert procedure["contained"][0]["batch"] == {"lotNumber": treatment.lot_number}
        assert procedure["contained"][0]["code"] == {"text": treatment.product}
        assert procedure["usedReference"] == [{"reference": "#product"}]
        assert procedure["performedDateTime"] == treatment.date.isoformat()
        condition = next(c for c in resources["Condition"] if c["id"] == f"condition-{areata.id}")
        assert {"system": ICD10, "code": "L63.9", "display": "Alopecia areata, unspecified"} in \
            condition["code"]["coding"]
        identifier = next(p for p in resources["Patient"] if p["id"] == f"patient-{patient.id}")["identifier"][0]
        assert identifier["value"] == patient.mrn


def test_a_bundle_goes_to_standard_output_without_out(demo):
    where = demo[0]
    result = cli(where, "fhir", "export", "demo-0002")  # MRNs are found whatever their capitals
    assert result.returncode == 0, result.stderr
    bundle = Bundle.model_validate_json(result.stdout)
    patients = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Patient"]
    assert [p.identifier[0].value for p in patients] == ["DEMO-0002"]


def test_the_command_line_refuses_plainly(demo, tmp_path):
    where = demo[0]
    (tmp_path / "taken.json").write_text("{}")
    for args, words in (
        (("fhir", "export", "NOPE-1"), "error: No patient with MRN 'NOPE-1'."),
        (("fhir", "export", "DEMO-0001", "--out", str(tmp_path / "taken.json")), "already exists"),
        (("fhir", "export", "--all", str(demo[1])), "is not an empty folder"),
        (("fhir", "export"), "Name the patient to export"),
    ):
        result = cli(where, *args)
        no_traceback(result)
        assert result.returncode == 1 and words in result.stderr and len(result.stderr.splitlines()) == 1, args
    assert (tmp_path / "taken.json").read_text() == "{}"


# --- the service, on SQLite and PostgreSQL ------------------------------------------------------------------


def _patient_actor(url: str, mrn: str) -> Actor:
    with transaction(url) as session:
        patient_id = session.scalar(select(models.Patient.id).where(models.Patient.mrn == mrn))
    return Actor(username="pat", role="patient", patient_id=patient_id)


def _audit(url: str) -> list[tuple[object, ...]]:
    with transaction(url) as session:
        return [tuple(row) for row in session.execute(
            select(models.AuditEntry.username, models.AuditEntry.action, models.AuditEntry.patient_id,
                   models.AuditEntry.patient_count).order_by(models.AuditEntry.id))]


def test_a_patient_exports_only_their_own_record_and_every_export_is_audited(clinic, tmp_path):
    own = seed(clinic, "RT-1", "Ada Own", sessions=[date(2025, 1, 10)], visits=[(date(2025, 1, 10), {"vertex": 120})])
    other = seed(clinic, "RT-2", "Bo Other", sessions=[date(2025, 2, 10)], visits=[(date(2025, 2, 10), {"vertex": 90})])
    patient = _patient_actor(clinic, "RT-1")
    export = export_bundle(patient, ["RT-1"], clinic)
    Bundle.model_validate_json(export.data)
    assert export.counts["Patient"] == 1 and export.file_name.startswith("fhir-RT-1-")
    with pytest.raises(PermissionDenied):
        export_bundle(patient, ["RT-2"], clinic)
    with pytest.raises(PermissionDenied):
        export_clinic(patient, tmp_path / "bulk", url=clinic)
    with pytest.raises(PermissionDenied):
        export_clinic(Actor(username="doc", role="clinician"), tmp_path / "bulk", url=clinic)
    assert not (tmp_path / "bulk").exists()  # refused before anything was made
    two = export_bundle(Actor(username="doc", role="clinician"), ["RT-2", "RT-1"], clinic)
    assert two.counts["Patient"] == 2
    result = export_clinic(ADMIN, tmp_path / "bulk", url=clinic)
    assert result.counts["Patient"] == 2 and result.counts["Observation"] == 2
    trail = [entry for entry in _audit(clinic) if entry[1] in ("export", "refused")]
    assert trail == [("pat", "export", own, None), ("pat", "refused", own, None),
                     ("doc", "export", None, 2), (ADMIN.audit_name, "export", None, 2)]
    assert other != own


def test_a_counted_density_says_so_and_the_bulk_export_validates(clinic, tmp_path):
    seed(clinic, "RT-9", "Cy Counted", sessions=[date(2025, 1, 10)], visits=[(date(2025, 1, 10), {"vertex": 120})])
    with transaction(clinic) as session:
        visit = session.scalars(select(models.Visit)).one()
        photo = models.Photo(visit_id=visit.id, view="closeup", sha256="c" * 64, original_key="o/c", display_key="d/c",
                             thumbnail_key="t/c", media_type="image/jpeg", width=10, height=10, created_by="test")
        session.add(photo)
        session.flush()
        session.add(models.DensityMeasurement(visit_id=visit.id, site="crown", density_per_cm2=88.5, method="counted",
                                              photo_id=photo.id, shaft_diameter_um=61.0, created_by="test"))
        session.add(models.ScaleScore(visit_id=visit.id, scale="salt", salt_score=42.0, salt_vertex_pct=50.0,
                                      salt_posterior_pct=40.0, salt_left_pct=30.0, salt_right_pct=40.0))
        visit.global_assessment = 2
    result = export_clinic(ADMIN, tmp_path / "bulk", url=clinic)
    assert result.missing_files == 1 and "photo file(s) missing" in result.summary()
    resources = _ndjson(tmp_path / "bulk")
    for kind, lines in resources.items():
        for resource in lines:
            get_fhir_model_class(kind).model_validate(resource)
    counted = next(o for o in resources["Observation"] if o.get("method", {}).get("coding", [{}])[0].get("code")
                   == "counted")
    assert counted["valueQuantity"]["value"] == 88.5 and counted["derivedFrom"] == [
        {"reference": f"Media/photo-{photo.id}"}]
    assert counted["component"][0]["valueQuantity"] == {"value": 61.0, "unit": "µm", "system": UCUM, "code": "um"}
    salt = next(o for o in resources["Observation"] if o["code"]["coding"][0]["code"] == "salt-score")
    assert salt["valueQuantity"]["value"] == 42.0 and len(salt["component"]) == 4
    rating = next(o for o in resources["Observation"] if o["id"] == f"assessment-{visit.id}")
    assert rating["valueInteger"] == 2
    assert "url" not in resources["Media"][0]["content"]  # its file is missing from the store


def _exports(url: str) -> list[str]:
    with transaction(url) as session:
        return list(session.scalars(select(models.AuditEntry.detail).where(models.AuditEntry.action == "export")))


def test_export_destinations_are_checked_before_anything_is_built_or_made(sqlite_clinic, tmp_path):
    seed(sqlite_clinic, "RT-1", "Ada Own", sessions=[date(2025, 1, 10)], visits=[(date(2025, 1, 10), {"vertex": 120})])
    where = Installation(tmp_path / "data", sqlite_clinic)
    existing = tmp_path / "existing.json"
    existing.write_text("kept")
    refused = cli(where, "fhir", "export", "RT-1", "--out", str(existing))
    no_traceback(refused)
    assert (refused.returncode, refused.stderr) == (1, f"error: {existing} already exists: an export never replaces "
                                                       "a file; choose another name.\n")
    assert existing.read_text() == "kept" and _exports(sqlite_clinic) == []  # not built, not audited

    inside, link = tmp_path / "data" / "fhir", tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    for folder, message in ((inside, f"{inside} is inside the data dir ({tmp_path / 'data'}): patient data exported "
                                     "there would travel with every backup of the installation; choose a folder "
                                     "outside it."),
                            (link, f"{link} is a symbolic link: name a real new or empty folder for a FHIR export.")):
        result = cli(where, "fhir", "export", "--all", str(folder))
        no_traceback(result)
        assert (result.returncode, result.stderr) == (1, f"error: {message}\n")
    assert not inside.exists() and not (tmp_path / "elsewhere").exists() and _exports(sqlite_clinic) == []

    # A folder name need not be UTF-8: it is shown with \xNN, and its missing parents are made owner-only.
    strange = Path(os.fsdecode(bytes(tmp_path / "new") + b"/bulk-\xff"))
    written = cli(where, "fhir", "export", "--all", str(strange))
    no_traceback(written)
    assert written.returncode == 0, written.stderr
    assert f"patients written to {tmp_path / 'new'}/bulk-\\xff in" in written.stdout
    assert (strange / "Patient.ndjson").exists()
    assert [oct((tmp_path / "new").stat().st_mode & 0o777), oct(strange.stat().st_mode & 0o777)] == ["0o700"] * 2
    [detail] = _exports(sqlite_clinic)
    assert detail.startswith(f"FHIR R4 bulk export to {tmp_path / 'new'}/bulk-\\xff; 1 patient (sha256")
