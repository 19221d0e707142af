"""FHIR R4 import through ``python -m tracker fhir import``: the demo clinic exported, imported into a new
installation, and ``progress --json`` the same for every patient (SQLite and PostgreSQL); Bundles from elsewhere,
broken files and other FHIR versions refused with plain messages, nothing imported.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from db import models
from tests.backup_samples import Installation, cli, no_traceback
from tracker.database import transaction
from tracker.exchange import fhir_codes as codes
from tracker.operations.demo_plan import MRN_PREFIX, PATIENT_COUNT

MRNS = [f"{MRN_PREFIX}{n:04d}" for n in range(1, PATIENT_COUNT + 1)]
AS_OF = "2026-11-30"


def _ok(result) -> str:
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    return str(result.stdout)


def _progress(where: Installation, mrn: str) -> dict:
    return json.loads(_ok(cli(where, "progress", mrn, "--json", "--as-of", AS_OF)))


def _patients(where: Installation) -> int:
    with transaction(where.url) as session:
        return session.scalar(select(func.count()).select_from(models.Patient)) or 0


def _records(where: Installation) -> dict[str, list[tuple]]:
    """What the import carries, by MRN and date, in a comparable order (ids differ between installations)."""
    p, v, m, s, t, c = (models.Patient, models.Visit, models.DensityMeasurement, models.ScaleScore,
                        models.TreatmentSession, models.ConcurrentTherapy)
    queries = {
        "patients": select(p.mrn, p.full_name, p.sex, p.birth_date, p.condition, p.baseline_scale, p.baseline_stage,
                           p.target_areas),
        "visits": select(p.mrn, v.date, v.global_assessment, v.satisfaction).join(v),
        "densities": select(p.mrn, v.date, m.site, m.density_per_cm2, m.shaft_diameter_um, m.terminal_pct,
                            m.anagen_pct, m.method).join(v, v.patient_id == p.id).join(m),
        "scales": select(p.mrn, v.date, s.scale, s.stage, s.salt_score, s.salt_vertex_pct, s.salt_posterior_pct,
                         s.salt_left_pct, s.salt_right_pct).join(v, v.patient_id == p.id).join(s),
        "sessions": select(p.mrn, t.date, t.treatment, t.product, t.lot_number, t.volume_ml, t.areas,
                           t.adverse_events, t.notes).join(t),
        "therapies": select(p.mrn, c.name, c.dose, c.start, c.stop).join(c),
    }
    with transaction(where.url) as session:
        return {name: sorted(tuple(row) for row in session.execute(query)) for name, query in queries.items()}


def test_the_demo_clinic_survives_export_and_import_into_a_new_installation(new_installation, tmp_path):
    source, target = new_installation("source"), new_installation("target")
    _ok(cli(source, "demo", "--no-photos"))
    _ok(cli(source, "fhir", "export", *MRNS, "--out", str(tmp_path / "clinic.json")))
    _ok(cli(target, "init"))
    imported = _ok(cli(target, "fhir", "import", str(tmp_path / "clinic.json")))
    assert imported.splitlines()[0] == "FHIR import complete."
    assert f"{PATIENT_COUNT} patients" in imported and "protocols added: PRP (standard)" in imported
    assert _records(target) == _records(source)
    reports = {mrn: _progress(target, mrn) for mrn in MRNS}
    different = [mrn for mrn in MRNS if _progress(source, mrn) != reports[mrn]]
    assert different == [], different
    # Something was compared: the demo clinic has milestones judged on densities and on SALT scores.
    reports = list(reports.values())
    assert any(m["status"] in ("ahead", "on_track", "behind") for r in reports for s in r["sites"]
               for m in s["milestones"])
    assert any("salt" in r for r in reports)
    # Importing the same Bundle again changes nothing: every patient is already recorded.
    again = cli(target, "fhir", "import", str(tmp_path / "clinic.json"))
    no_traceback(again)
    assert again.returncode == 1 and f"error: {PATIENT_COUNT} problems found" in again.stderr
    assert "MRN DEMO-0001 is already recorded in this installation" in again.stderr
    assert _patients(target) == PATIENT_COUNT


def test_photos_are_counted_not_imported_and_the_record_comes_back(recorded, tmp_path, new_installation):
    url, _patient_id = recorded
    source = Installation(tmp_path / "data", url)
    _ok(cli(source, "fhir", "export", "RT-7", "--out", str(tmp_path / "rt7.json")))
    target = new_installation("target")
    _ok(cli(target, "init"))
    imported = _ok(cli(target, "fhir", "import", str(tmp_path / "rt7.json")))
    assert imported.splitlines() == [
        "FHIR import complete.",
        "  1 patients, 2 visits, 4 density measurements, 0 scale scores, 1 treatment sessions, 0 concurrent therapies",
        "  2 photos not imported: a Bundle holds display copies, not the originals (they stay in the exporting "
        "installation)",
    ]
    with transaction(target.url) as session:
        patient = session.scalars(select(models.Patient)).one()
        densities = sorted(session.execute(select(models.Visit.date, models.DensityMeasurement.site,
                                                  models.DensityMeasurement.density_per_cm2)
                                           .join(models.Visit)).all())
        lot = session.scalar(select(models.TreatmentSession.lot_number))
        entry = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "import")).one()
    assert (patient.mrn, patient.full_name, patient.condition, patient.baseline_scale, patient.baseline_stage,
            patient.target_areas, patient.created_by) == ("RT-7", "Felix Record", "androgenetic_alopecia", "norwood",
                                                          "III", "vertex", "cli:fhir import")
    assert densities == [(date(2025, 1, 10), "frontal", 100.0), (date(2025, 1, 10), "vertex", 150.0),
                         (date(2025, 4, 10), "frontal", 95.0), (date(2025, 4, 10), "vertex", 170.0)]
    assert lot == "LOT-0110" and entry.patient_count == 1


def _foreign_bundle() -> dict:
    """A Bundle another system wrote: LOINC and SNOMED CT codes, a resource type this product never exports."""
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-01-01",
                      "name": [{"text": "Eve Elsewhere"}],
                      "identifier": [{"system": "https://hospital.example/mrn", "value": "H-1"}]}},
        {"resource": {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"}}},
        {"resource": {"resourceType": "Observation", "id": "o1", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
                      "subject": {"reference": "Patient/p1"}}},
    ]}


def test_bundles_from_elsewhere_and_broken_files_are_refused_plainly(sqlite_clinic, tmp_path):
    where = Installation(tmp_path / "data", sqlite_clinic)
    ours = tmp_path / "ours.json"
    foreign = dict(_foreign_bundle())
    # One of our own resources with a code this product never writes.
    foreign["entry"] = [*foreign["entry"], {"resource": {
        "resourceType": "Procedure", "id": "s1", "status": "completed", "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "119954001"}]}}}]
    ours.write_text(json.dumps(foreign))
    result = cli(where, "fhir", "import", str(ours))
    no_traceback(result)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: 4 problems found in the Bundle(s); nothing was imported.",
        "  - ours.json, Patient/p1: no MRN of this product (an identifier of system "
        "https://regrowth-tracker.example/fhir/mrn)",
        "  - ours.json, Observation/o1: unknown code: http://loinc.org|8302-2 (this product imports only its own "
        "codes)",
        "  - ours.json, Procedure/s1: unknown code: http://snomed.info/sct|119954001 (this product imports only its "
        "own codes)",
        "  - ours.json, AllergyIntolerance/a1: AllergyIntolerance is not a resource type this product exports (it "
        "imports only its own Bundles)",
    ]
    # With our MRN identifier the patient is read, and each unknown code is named on its resource's line.
    foreign["entry"][0]["resource"]["identifier"] = [{"system": "https://regrowth-tracker.example/fhir/mrn",
                                                      "value": "H-1"}]
    foreign["entry"].append({"resource": {
        "resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "68225006"}]}}})
    ours.write_text(json.dumps(foreign))
    problems = cli(where, "fhir", "import", str(ours)).stderr.splitlines()
    assert problems[0] == "error: 5 problems found in the Bundle(s); nothing was imported."
    assert "  - ours.json, Observation/o1: its encounter '' is no visit of this patient in this Bundle" not in problems
    assert ("  - ours.json, Condition/c1: unknown condition: http://snomed.info/sct|68225006 (this product imports "
            "only its own codes and ICD-10 L63, L64, L65.0, L66)") in problems
    assert ("  - ours.json, Procedure/s1: unknown code: http://snomed.info/sct|119954001 (this product imports only "
            "its own codes)" in problems)
    assert "  - ours.json, Patient/p1: no Condition for this patient" in problems
    assert _patients(where) == 0

    r5 = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Encounter", "id": "e1", "status": "completed",
        "class": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}]}]}}]}
    files = {"broken.json": '{"resourceType": "Bundle", "entry": [', "patient.json": json.dumps(
        {"resourceType": "Patient", "id": "p"}), "list.json": "[1, 2]", "r5.json": json.dumps(r5),
        "invalid.json": json.dumps({"resourceType": "Bundle", "type": "collection", "entry": "nope"})}
    expected = {
        "broken.json": "error: broken.json is not a JSON file (Expecting value: line 1 column 38 (char 37)); "
                       "nothing was imported.",
        "patient.json": "error: patient.json is not a FHIR Bundle (it holds a Patient); nothing was imported.",
        "list.json": "error: list.json is not a FHIR Bundle (it holds no FHIR resource); nothing was imported.",
        "r5.json": "error: r5.json is a FHIR R5 Bundle: this product reads FHIR R4 (4.0.1) only; nothing was "
                   "imported.",
        "invalid.json": "error: invalid.json is not a valid FHIR R4 Bundle (entry: Input should be a valid list); "
                        "nothing was imported.",
        "missing.json": f"error: {tmp_path / 'missing.json'} could not be read: No such file or directory; nothing "
                        "was imported.",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for name, message in expected.items():
        result = cli(where, "fhir", "import", str(tmp_path / name))
        no_traceback(result)
        assert (result.returncode, result.stderr.splitlines()) == (1, [message]), name
    assert _patients(where) == 0


# --- Small Bundles written by hand: what an attacker (or a broken exporter) could send -------------------------

REF = {"reference": "Patient/patient-1"}


def _bundle(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _patient(mrn: str = "FX-1", id_: str = "patient-1") -> dict:
    return {"resourceType": "Patient", "id": id_, "gender": "male", "birthDate": "1980-01-01",
            "name": [{"text": "Finn Fix"}], "identifier": [{"system": codes.MRN_SYSTEM, "value": mrn}]}


def _condition(stage: str | None = None) -> dict:
    condition: dict[str, Any] = {"resourceType": "Condition", "id": "condition-1", "subject": REF,
                 "code": codes.concept(codes.CONDITION_CODES, "androgenetic_alopecia")}
    if stage is not None:
        condition["stage"] = [{"type": codes.concept(codes.SCALE_CODES, "norwood"), "summary": {"text": stage}}]
    return condition


def _encounter(id_: str, day: str) -> dict:
    return {"resourceType": "Encounter", "id": id_, "status": "finished", "subject": REF,
            "class": codes.coding(codes.ENCOUNTER_CLASS, "AMB"), "period": {"start": day}}


def _observation(id_: str, encounter: str, code: str, **values) -> dict:
    return {"resourceType": "Observation", "id": id_, "status": "final", "subject": REF,
            "encounter": {"reference": f"Encounter/{encounter}"},
            "code": codes.concept(codes.OBSERVATION_CODES, code), **values}


def _density(id_: str, encounter: str, site: str, value: float) -> dict:
    return _observation(id_, encounter, codes.DENSITY, valueQuantity=codes.quantity(value, "/cm2"),
                        bodySite=codes.concept(codes.SITE_CODES, site), method=codes.concept(codes.METHOD_CODES,
                                                                                             "typed"))


def _session(id_: str, day: str, notes: str) -> dict:
    return {"resourceType": "Procedure", "id": id_, "status": "completed", "subject": REF,
            "code": codes.concept(codes.TREATMENT_CODES, "prp"), "performedDateTime": day, "note": [{"text": notes}]}


def _therapy(id_: str, name: str, start: str, end: str | None = None) -> dict:
    period = {"start": start, **({"end": end} if end else {})}
    return {"resourceType": "MedicationStatement", "id": id_, "status": "active", "subject": REF,
            "medicationCodeableConcept": {"text": name}, "effectivePeriod": period}


def _refused(where: Installation, path, *lines: str) -> None:
    """The import of ``path`` is refused with exactly ``lines`` on standard error, and nothing was imported."""
    result = cli(where, "fhir", "import", str(path))
    no_traceback(result)
    assert result.stderr.splitlines() == list(lines)
    assert result.returncode == 1


def _file(tmp_path, name: str, bundle: dict):
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return path


def test_an_mrn_differing_only_in_capitals_is_no_second_patient(clinic, tmp_path):
    where = Installation(tmp_path / "data", clinic)
    # Two encounters of one day are one visit (as the spreadsheet import's rows of one MRN and date); a NUL byte
    # pasted into a note is dropped, as the session form drops it.
    first = _file(tmp_path, "first.json", _bundle(
        _patient("FX-1"), _condition("IIIa"), _encounter("visit-1", "2025-01-10"), _encounter("visit-2", "2025-01-10"),
        _density("density-1", "visit-1", "vertex", 150), _density("density-2", "visit-2", "frontal", 90),
        _session("session-1", "2025-01-10", "rechecked\x00")))
    assert "1 patients, 1 visits, 2 density measurements" in _ok(cli(where, "fhir", "import", str(first)))
    with transaction(clinic) as session:
        assert session.scalar(select(models.TreatmentSession.notes)) == "rechecked"
        assert session.scalar(select(models.Patient.baseline_stage)) == "IIIA"
        assert session.scalar(select(func.count()).select_from(models.DensityMeasurement)) == 2
    _refused(where, _file(tmp_path, "again.json", _bundle(_patient("fx-1"), _condition())),
             "error: again.json, Patient/patient-1: MRN fx-1 is already recorded in this installation as FX-1 (an "
             "import never changes a record); nothing was imported.")
    assert _patients(where) == 1


def test_texts_stages_dates_and_repeats_are_checked_as_the_forms_check_them(sqlite_clinic, tmp_path):
    where = Installation(tmp_path / "data", sqlite_clinic)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    bundle = _bundle(
        _patient(), _condition("I" * 100_029),
        _encounter("visit-1", "2025-01-10"), _encounter("visit-2", "2025-01-10"), _encounter("visit-3", tomorrow),
        _density("density-1", "visit-1", "vertex", 150), _density("density-2", "visit-2", "vertex", 160),
        _observation("stage-1", "visit-1", "norwood-hamilton-stage", valueString="VIII"),
        _session("session-1", "1979-12-31", "x"), _session("session-2", "2025-01-10", "n" * 5_000_000),
        _therapy("therapy-1", "M" * 2_000_000, "2025-01-01"), _therapy("therapy-2", "Mino\x1bxidil", "2025-01-01"),
        _therapy("therapy-3", "Finasteride", "2025-02-01", "2025-01-01"))
    _refused(where, _file(tmp_path, "bad.json", bundle),
             "error: 10 problems found in the Bundle(s); nothing was imported.",
             "  - bad.json, Condition/condition-1: stage is too long: at most 20 characters (it has 100,029)",
             f"  - bad.json, Encounter/visit-3: visit date {tomorrow} is in the future (today is "
             f"{date.today().isoformat()})",
             "  - bad.json, Observation/density-2: site 'vertex' is measured twice at the visit of 2025-01-10; a "
             "visit holds one density per site",
             "  - bad.json, Observation/stage-1: Norwood–Hamilton stage 'VIII' is not one of I, II, IIA, III, IIIA, "
             "III vertex, IV, IVA, V, VA, VI, VII",
             "  - bad.json, Procedure/session-1: session date 1979-12-31 is before the patient's birth date "
             "1980-01-01",
             "  - bad.json, Procedure/session-2: notes is too long: at most 10,000 characters (it has 5,000,000)",
             "  - bad.json, MedicationStatement/therapy-1: medication is too long: at most 120 characters (it has "
             "2,000,000)",
             "  - bad.json, MedicationStatement/therapy-2: medication contains a control character (a tab, line "
             "break or similar)",
             "  - bad.json, MedicationStatement/therapy-3: stop date 2025-01-01 is before the start date 2025-02-01",
             "  - bad.json, Patient/patient-1: no Condition for this patient")
    assert _patients(where) == 0


def test_a_resource_id_given_twice_is_refused_not_overwritten(sqlite_clinic, tmp_path):
    where = Installation(tmp_path / "data", sqlite_clinic)
    bundle = _bundle(_patient("FX-1"), _patient("FX-2"), _condition(), _encounter("visit-1", "2025-01-10"),
                     _encounter("visit-1", "2025-02-10"), _density("density-1", "visit-1", "vertex", 150))
    _refused(where, _file(tmp_path, "twice.json", bundle),
             "error: 2 problems found in the Bundle(s); nothing was imported.",
             "  - twice.json, Patient/patient-1: resource id Patient/patient-1 appears twice in this Bundle",
             "  - twice.json, Encounter/visit-1: resource id Encounter/visit-1 appears twice in this Bundle")
    assert _patients(where) == 0


def test_what_used_to_crash_is_one_plain_line(sqlite_clinic, tmp_path):
    where = Installation(tmp_path / "data", sqlite_clinic)
    salt = _observation("salt-1", "visit-1", codes.SALT, valueQuantity=codes.quantity(20, "%"), component=[
        {"code": codes.concept(codes.OBSERVATION_CODES, codes.DENSITY), "valueQuantity": codes.quantity(5, "%")}])
    _refused(where, _file(tmp_path, "salt.json", _bundle(_patient(), _condition(), _encounter("visit-1", "2025-01-10"),
                                                         salt)),
             "error: salt.json, Observation/salt-1: unknown component hair-density of a SALT score (one of "
             "salt-vertex-loss, salt-posterior-loss, salt-left-side-loss, salt-right-side-loss); nothing was "
             "imported.")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    _refused(where, deep, "error: deep.json is nested deeper than any FHIR Bundle this product writes; nothing was "
                          "imported.")
    protocol = _patient()
    protocol["extension"] = [{"url": codes.PROTOCOL_EXTENSION, "extension": [
        {"url": "name", "valueString": "Deep"}, {"url": "definition", "valueString": "[" * 200_000}]}]
    result = cli(where, "fhir", "import", str(_file(tmp_path, "protocol.json", _bundle(protocol, _condition()))))
    no_traceback(result)
    assert result.returncode == 1 and result.stderr.splitlines()[:2] == [
        "error: 2 problems found in the Bundle(s); nothing was imported.",
        "  - protocol.json, Patient/patient-1: protocol 'Deep': its definition is not this product's (maximum "
        "recursion depth exceeded while decoding a JSON array from a unicode string)"]
    assert _patients(where) == 0


def test_a_bundle_larger_than_twice_the_upload_limit_is_refused_before_it_is_read(sqlite_clinic, tmp_path):
    where = Installation(tmp_path / "data", sqlite_clinic)
    big = tmp_path / "big.json"
    big.write_text(json.dumps(_bundle(_patient(), _condition())) + " " * int(2.1 * 2**20))
    result = cli(where, "fhir", "import", str(big), TRACKER_MAX_UPLOAD_MB="1")
    no_traceback(result)
    assert (result.returncode, result.stderr.splitlines()) == (1, [
        "error: big.json is 2.1 MB, more than the 2 MB a FHIR import reads (2 × TRACKER_MAX_UPLOAD_MB); export "
        "fewer patients per Bundle and import the files together; nothing was imported."])
    assert "1 patients" in _ok(cli(where, "fhir", "import", str(big), TRACKER_MAX_UPLOAD_MB="2"))
