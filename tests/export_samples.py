"""A small patient for the export tests, written directly (no service refuses its odd texts): a hostile string
in every text field, each a different formula or trick, so a test can find any of them that leaks as a formula.

RT-EX1 (female, born 1980-05-17, androgenetic alopecia, Ludwig II, vertex and frontal):
- baseline visit 2025-01-10: vertex 150.5 hairs/cm² counted on a vertex close-up, shaft 62.5 µm, terminal 80 %,
  anagen 85 %; frontal 120 typed; SALT 35.2 (vertex 40, posterior 30, left 35, right 30) and a Ludwig stage;
  global assessment −1, satisfaction 7; one photo.
- exosome session 2025-01-10: 4.5 mL of lot "@LOT-1", checklist; minoxidil from 2025-02-01 to 2025-06-30.
- a 2025-04-10 visit with vertex 170, then removed (reason given): left out of the sheets, listed in Removals.
- one correction of the full name.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from db import models
from tracker.database import transaction

HOSTILE = {
    "full_name": '=HYPERLINK("http://evil.example","click")',
    "notes": "@SUM(A1:A9)",
    "visit_notes": "+1",
    "capture": "=1+1",
    "stage": "#REF!",
    "product": "=cmd|' /C calc'!A0",
    "lot": "@LOT-1",
    "session_areas": "-2+3",
    "checklist_note": "-2+3",
    "adverse": "-bleeding",
    "session_notes": "\tTAB",
    "therapy": "=2+2",
    "dose": "+5 mg",
    "file_name": "=evil.jpg",
    "quality": "@bad",
    "reason": "=reason",
    "old_value": "-old",
    "changed_by": "@dr.lee",
    "removed_reason": "=removed",
    "removed_by": "+remover",
    "semicolon": "Souza;=1+1",
}
SHA = "ab" * 32
CREATED = datetime(2025, 1, 9, 8, 30, 0, tzinfo=UTC)


def hostile_patient(url: str, mrn: str = "RT-EX1") -> int:
    """Writes RT-EX1 as described above; returns its id."""
    with transaction(url) as session:
        patient = models.Patient(
            mrn=mrn, full_name=HOSTILE["full_name"], sex="female", birth_date=date(1980, 5, 17),
            condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="II",
            target_areas="vertex, frontal", notes=HOSTILE["notes"], created_by="test", created_at=CREATED)
        session.add(patient)
        session.flush()
        visit = models.Visit(patient_id=patient.id, date=date(2025, 1, 10), notes=HOSTILE["visit_notes"],
                             capture_conditions={"lighting": HOSTILE["capture"]}, global_assessment=-1,
                             satisfaction=7, created_by="test")
        session.add(visit)
        session.flush()
        photo = models.Photo(visit_id=visit.id, view="vertex", sha256=SHA, original_key="o/1", display_key="d/1",
                             thumbnail_key="t/1", media_type="image/jpeg", width=4032, height=3024,
                             captured_at=datetime(2025, 1, 10, 9, 15, 0, tzinfo=UTC),
                             original_file_name=HOSTILE["file_name"], quality={"problems": [HOSTILE["quality"]]},
                             created_by="test")
        session.add(photo)
        session.flush()
        removed_visit = models.Visit(
            patient_id=patient.id, date=date(2025, 4, 10), notes=HOSTILE["semicolon"], created_by="test",
            deleted_at=datetime(2025, 4, 11, 10, 0, 0, tzinfo=UTC), deleted_by=HOSTILE["removed_by"],
            deleted_reason=HOSTILE["removed_reason"])
        session.add_all([
            models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=150.5,
                                      shaft_diameter_um=62.5, terminal_pct=80.0, anagen_pct=85.0,
                                      method="counted", photo_id=photo.id, created_by="test"),
            models.DensityMeasurement(visit_id=visit.id, site="frontal", density_per_cm2=120.0, created_by="test"),
            models.ScaleScore(visit_id=visit.id, scale="salt", salt_score=35.2, salt_vertex_pct=40.0,
                              salt_posterior_pct=30.0, salt_left_pct=35.0, salt_right_pct=30.0, created_by="test"),
            models.ScaleScore(visit_id=visit.id, scale="ludwig", stage=HOSTILE["stage"], created_by="test"),
            models.TreatmentSession(patient_id=patient.id, date=date(2025, 1, 10), treatment="exosome",
                                    product=HOSTILE["product"], lot_number=HOSTILE["lot"], volume_ml=4.5,
                                    areas=HOSTILE["session_areas"], checklist={"note": HOSTILE["checklist_note"]},
                                    adverse_events=HOSTILE["adverse"], notes=HOSTILE["session_notes"],
                                    created_by="test"),
            models.ConcurrentTherapy(patient_id=patient.id, name=HOSTILE["therapy"], dose=HOSTILE["dose"],
                                     start=date(2025, 2, 1), stop=date(2025, 6, 30), created_by="test"),
            removed_visit,
            models.ChangeRecord(patient_id=patient.id, table_name="patient", row_id=patient.id, field="full_name",
                                old_value=HOSTILE["old_value"], new_value=HOSTILE["full_name"],
                                reason=HOSTILE["reason"], changed_by=HOSTILE["changed_by"],
                                changed_at=datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)),
        ])
        session.flush()
        session.add(models.DensityMeasurement(visit_id=removed_visit.id, site="vertex", density_per_cm2=170.0,
                                              created_by="test"))
        return patient.id
