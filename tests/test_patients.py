"""Patient services: the follow-up list, intake, the record, corrections with history, soft deletes.

Milestone dates below are worked by hand from the default protocol (windows 2–3, 5–7, 11–13 calendar
months after day 0; DESIGN.md §1) so that each filter case is unambiguous on TODAY.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, func, select

from db import models
from db.engine import engine_for
from tracker.access.actors import Actor
from tracker.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from tracker.operations.database import transaction
from tracker.records.history import soft_delete
from tracker.records.patients import (
    NewPatient,
    create_patient,
    list_patients,
    patient_record,
    protocol_names,
    update_patient,
)
from tracker.records.therapies import add_therapy, stop_therapy

TODAY = date(2025, 6, 1)
DR = Actor(username="dr.lee", role="clinician")
ADMIN = Actor(username="admin.kim", role="admin")


def new_patient(**overrides) -> NewPatient:
    values: dict[str, Any] = dict(mrn="RT-0001", full_name="Ana Souza", sex="female", birth_date=date(1980, 5, 17),
                  condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="II",
                  target_areas=["vertex", "frontal"], protocol=None, notes="")
    values.update(overrides)
    return NewPatient(**values)


def seed(url: str, mrn: str, name: str, *, sessions=(), visits=(), sex="male") -> int:
    """A patient with sessions (dates) and visits ((date, {site: density})), written directly."""
    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name=name, sex=sex, birth_date=date(1975, 1, 1),
                                 condition="androgenetic_alopecia", baseline_scale="norwood", baseline_stage="III",
                                 target_areas="vertex", created_by="test")
        session.add(patient)
        session.flush()
        for day in sessions:
            session.add(models.TreatmentSession(patient_id=patient.id, date=day, treatment="exosome",
                                                product="ExoHair", lot_number=f"LOT-{day:%m%d}", created_by="test"))
        for day, sites in visits:
            visit = models.Visit(patient_id=patient.id, date=day, created_by="test")
            session.add(visit)
            session.flush()
            for site, density in sites.items():
                session.add(models.DensityMeasurement(visit_id=visit.id, site=site, density_per_cm2=density,
                                                      created_by="test"))
        return patient.id


def patient_actor(patient_id: int) -> Actor:
    return Actor(username="patient.a", role="patient", patient_id=patient_id)


def count(url: str, model) -> int:
    with transaction(url) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


# --- New patient ------------------------------------------------------------------------------------

def test_create_patient_is_saved_and_audited(clinic):
    mrn = create_patient(DR, new_patient(mrn=" RT-0001 ", full_name="  Ana   Souza "), today=TODAY)
    assert mrn == "RT-0001"
    record = patient_record(DR, "RT-0001", today=TODAY)
    details = record.details
    assert (details.full_name, details.sex, details.birth_date, details.age) == ("Ana Souza", "female",
                                                                                 date(1980, 5, 17), 45)
    assert (details.baseline_scale, details.baseline_stage) == ("ludwig", "II")
    assert details.target_areas == ("vertex", "frontal")
    assert details.protocol == "Exosome (default)"
    assert details.version == 1
    with transaction(clinic) as session:
        patient = session.scalar(select(models.Patient))
        assert patient.created_by == "dr.lee"
        actions = [a for a, in session.execute(
            select(models.AuditEntry.action).where(models.AuditEntry.patient_id == patient.id))]
    assert actions == ["create", "view"]


def test_protocol_names_default_first(clinic):
    with transaction(clinic) as session:
        session.add(models.Protocol(name="A PRP course", band=[{"month": 0, "low": -10, "high": 5}], windows=[]))
    assert protocol_names(DR) == ["Exosome (default)", "A PRP course"]
    with pytest.raises(PermissionDenied):
        protocol_names(patient_actor(1))


def test_create_with_a_chosen_protocol_and_salt(clinic):
    with transaction(clinic) as session:
        session.add(models.Protocol(name="PRP", band=[{"month": 0, "low": -10, "high": 5}], windows=[]))
    create_patient(DR, new_patient(condition="alopecia_areata", baseline_scale=None, baseline_stage=42.5,
                                   protocol="PRP", target_areas="vertex, occipital"), today=TODAY)
    details = patient_record(DR, "RT-0001", today=TODAY).details
    assert (details.baseline_scale, details.baseline_stage, details.protocol) == ("salt", "42.5", "PRP")
    assert details.target_areas == ("vertex", "occipital")


def test_duplicate_mrn_is_refused_in_any_capitals(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    with pytest.raises(ValidationError) as refused:
        create_patient(DR, new_patient(mrn="rt-0001", full_name="Someone Else"), today=TODAY)
    assert "MRN rt-0001 is already used by another patient" in refused.value.problems[0]
    assert count(clinic, models.Patient) == 1


@pytest.mark.parametrize("overrides, message", [
    ({"full_name": "   "}, "full name is required"),
    ({"mrn": "RT 01"}, "may contain only letters, digits"),
    ({"mrn": ""}, "MRN is required"),
    ({"birth_date": date(2025, 6, 2)}, "is in the future"),
    ({"birth_date": None}, "birth date is required"),
    ({"birth_date": "1890-01-01"}, "more than 120 years ago"),
    ({"sex": ""}, "sex is required"),
    ({"condition": "baldness"}, "is not one of"),
    ({"baseline_scale": "norwood"}, "the Norwood–Hamilton scale does not fit androgenetic alopecia in a female"),
    ({"baseline_stage": "IV"}, "'IV' is not a Ludwig stage"),
    ({"baseline_stage": ""}, "baseline stage is required on the Ludwig scale"),
    ({"baseline_scale": None}, "baseline scale is required: Ludwig or Sinclair"),
    ({"condition": "alopecia_areata", "baseline_scale": "salt", "baseline_stage": "130"},
     "SALT score 130 is out of range"),
    ({"condition": "telogen_effluvium"}, "has no staging scale here"),
    ({"target_areas": []}, "choose at least one area"),
    ({"target_areas": "vertex, top of head"}, "may contain only letters"),
    ({"protocol": "Unknown course"}, "protocol 'Unknown course' does not exist"),
    ({"notes": "bad\x00byte"}, "control character"),
])
def test_bad_input_is_refused_and_nothing_written(clinic, overrides, message):
    with pytest.raises(ValidationError) as refused:
        create_patient(DR, new_patient(**overrides), today=TODAY)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems
    assert count(clinic, models.Patient) == 0


def test_every_problem_is_listed_at_once(clinic):
    with pytest.raises(ValidationError) as refused:
        create_patient(DR, new_patient(mrn="bad mrn", full_name="", birth_date=date(2030, 1, 1), target_areas=""),
                       today=TODAY)
    assert len(refused.value.problems) == 4


def test_norwood_for_men_and_any_scale_for_other_sex(clinic):
    create_patient(DR, new_patient(mrn="M1", sex="male", baseline_scale=None, baseline_stage="iii vertex"), today=TODAY)
    create_patient(DR, new_patient(mrn="O1", sex="other", baseline_scale="sinclair", baseline_stage="3"), today=TODAY)
    assert patient_record(DR, "M1", today=TODAY).details.baseline_stage == "III vertex"
    assert patient_record(DR, "O1", today=TODAY).details.baseline_scale == "sinclair"


@pytest.mark.parametrize("actor", [None, Actor(username="p", role="patient", patient_id=1), "dr.lee"])
def test_only_staff_create_patients(clinic, actor):
    with pytest.raises(PermissionDenied):
        create_patient(actor, new_patient(), today=TODAY)
    assert count(clinic, models.Patient) == 0


# --- Patient list -----------------------------------------------------------------------------------

@pytest.fixture
def follow_up(clinic):
    """Four patients whose follow-up state on TODAY (2025-06-01) is worked out by hand."""
    # Day 0 2025-03-05: early-response window 2025-05-05..06-05, target 06-05: due, within the week.
    seed(clinic, "DUE-1", "Bruno Due", sessions=[date(2025, 3, 5)], visits=[(date(2025, 3, 1), {"vertex": 150})])
    # Day 0 2025-01-10: early window closed 2025-04-10 without a visit: overdue; next window opens 06-10.
    seed(clinic, "LATE-1", "Carla Late", sessions=[date(2025, 1, 10)], visits=[(date(2025, 1, 5), {"vertex": 150})])
    # Day 0 2025-01-20: 2025-04-20 visit (month 3, band +5..+20) at -10: behind; next window opens 06-20.
    seed(clinic, "SLOW-1", "Dora Slow", sessions=[date(2025, 1, 20)],
         visits=[(date(2025, 1, 15), {"vertex": 150}), (date(2025, 4, 20), {"vertex": 140})])
    seed(clinic, "NEW-1", "Eli New")
    return clinic


def test_list_shows_next_milestone_status_and_due_date(follow_up):
    rows = {row.mrn: row for row in list_patients(DR, today=TODAY)}
    assert [r.full_name for r in list_patients(DR, today=TODAY)] == ["Bruno Due", "Carla Late", "Dora Slow", "Eli New"]
    due = rows["DUE-1"]
    assert (due.next_milestone, due.next_status, due.next_due) == ("early_response", "due", date(2025, 6, 5))
    assert (due.due_this_week, due.overdue, due.behind) == (True, False, False)
    assert due.status_text == "due now"
    assert due.day0 == date(2025, 3, 5)
    late = rows["LATE-1"]
    assert (late.next_milestone, late.next_status, late.next_due) == ("noticeable_growth", "upcoming",
                                                                      date(2025, 7, 10))
    assert (late.due_this_week, late.overdue, late.behind) == (False, True, False)
    assert late.status_text.startswith("overdue")
    slow = rows["SLOW-1"]
    assert (slow.due_this_week, slow.overdue, slow.behind) == (False, False, True)
    assert "behind" in slow.status_text
    assert rows["NEW-1"].status_text == "no treatment session yet"
    assert rows["NEW-1"].next_milestone is None


@pytest.mark.parametrize("filter, mrns", [
    (None, ["DUE-1", "LATE-1", "SLOW-1", "NEW-1"]),
    ("due_this_week", ["DUE-1"]),
    ("overdue", ["LATE-1"]),
    ("behind", ["SLOW-1"]),
])
def test_filters(follow_up, filter, mrns):
    assert [r.mrn for r in list_patients(DR, filter=filter, today=TODAY)] == mrns


@pytest.mark.parametrize("query, mrns", [
    ("carla", ["LATE-1"]),
    ("  SLOW ", ["SLOW-1"]),
    ("dora slow", ["SLOW-1"]),
    ("-1", ["DUE-1", "LATE-1", "SLOW-1", "NEW-1"]),
    ("due-1", ["DUE-1"]),
    ("%", []),
    ("_", []),
    ("nobody", []),
])
def test_search_by_name_or_mrn(follow_up, query, mrns):
    assert [r.mrn for r in list_patients(DR, query=query, today=TODAY)] == mrns


def test_search_and_filter_combine(follow_up):
    assert list_patients(DR, query="carla", filter="behind", today=TODAY) == []


def test_unknown_filter_refused(follow_up):
    with pytest.raises(ValidationError):
        list_patients(DR, filter="someday", today=TODAY)


@pytest.mark.parametrize("actor", [None, Actor(username="p", role="patient", patient_id=1)])
def test_list_is_staff_only(follow_up, actor):
    with pytest.raises(PermissionDenied):
        list_patients(actor, today=TODAY)


def test_list_uses_the_same_few_queries_for_many_patients(clinic):
    def statements_for_list() -> int:
        seen: list[str] = []
        engine = engine_for(clinic)

        def count_statement(_conn, _cursor, statement, *_args):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count_statement)
        try:
            list_patients(DR, today=TODAY)
        finally:
            event.remove(engine, "before_cursor_execute", count_statement)
        return len(seen)

    for n in range(3):
        seed(clinic, f"P{n}", f"Patient {n}", sessions=[date(2025, 1, 10)],
             visits=[(date(2025, 1, 5), {"vertex": 150})])
    few = statements_for_list()
    for n in range(3, 60):
        seed(clinic, f"P{n}", f"Patient {n}", sessions=[date(2025, 1, 10)],
             visits=[(date(2025, 1, 5), {"vertex": 150, "frontal": 120}), (date(2025, 4, 5), {"vertex": 160})])
    assert statements_for_list() == few
    assert len(list_patients(DR, today=TODAY)) == 60


def test_removed_patients_and_rows_are_left_out(follow_up):
    with transaction(follow_up) as session:
        session.scalar(select(models.Patient).where(models.Patient.mrn == "NEW-1")).deleted_at = date(2025, 5, 1)
        # Removing SLOW-1's 3-month visit leaves its early window missed: overdue, no longer behind.
        visit = session.scalar(select(models.Visit).where(models.Visit.date == date(2025, 4, 20)))
        visit.deleted_at = date(2025, 5, 1)
    rows = {row.mrn: row for row in list_patients(DR, today=TODAY)}
    assert "NEW-1" not in rows
    assert (rows["SLOW-1"].behind, rows["SLOW-1"].overdue) == (False, True)


# --- Patient record ---------------------------------------------------------------------------------

@pytest.fixture
def recorded(clinic):
    """A patient with a baseline visit (2 sites, 2 photos), an exosome session and a 3-month visit."""
    patient_id = seed(clinic, "RT-7", "Felix Record", sessions=[date(2025, 1, 10)],
                      visits=[(date(2025, 1, 10), {"vertex": 150, "frontal": 100}),
                              (date(2025, 4, 10), {"vertex": 170, "frontal": 95})])
    with transaction(clinic) as session:
        baseline = session.scalar(select(models.Visit).where(models.Visit.date == date(2025, 1, 10)))
        for view in ("vertex", "frontal"):
            session.add(models.Photo(visit_id=baseline.id, view=view, sha256=view * 4, original_key=f"o/{view}",
                                     display_key=f"d/{view}", thumbnail_key=f"t/{view}", media_type="image/jpeg",
                                     width=10, height=10, original_file_name=f"{view}.jpg", created_by="test"))
    return clinic, patient_id


def test_record_header_strip_and_timeline(recorded):
    url, _ = recorded
    record = patient_record(DR, "RT-7", today=TODAY)
    assert record.day0 == date(2025, 1, 10)
    assert record.details.age == 50
    strip = record.milestones
    assert [m.name for m in strip] == ["early_response", "noticeable_growth", "continued_improvement"]
    # 90 days = 2.957 months: band -10+0.957*15 = +4.35 to 5+0.957*15 = +19.35. Vertex +20 is ahead,
    # frontal -5 behind: the strip says behind.
    assert (strip[0].status, strip[0].window_start, strip[0].window_end) == ("behind", date(2025, 3, 10),
                                                                             date(2025, 4, 10))
    assert strip[0].site_notes == (
        "frontal: -5.0 hairs/cm² (-5%) on 2025-04-10, behind the expected range, expected +4 to +19",
        "vertex: +20.0 hairs/cm² (+13%) on 2025-04-10, ahead of the expected range, expected +4 to +19",
    )
    # Month 6 window 2025-06-10..08-10 opens after TODAY.
    assert (strip[1].status, strip[1].target, strip[1].overdue) == ("upcoming", date(2025, 7, 10), False)
    assert record.milestone_note is None
    timeline = record.timeline
    assert [(e.date, e.kind) for e in timeline] == [
        (date(2025, 1, 10), "visit"), (date(2025, 1, 10), "session"), (date(2025, 4, 10), "visit")]
    assert [(d.site, d.density) for d in timeline[0].densities] == [("frontal", 100), ("vertex", 150)]
    assert len(timeline[0].photos) == 2 and timeline[2].photos == ()
    assert (timeline[1].product, timeline[1].lot_number, timeline[1].title) == ("ExoHair", "LOT-0110",
                                                                                "Exosome session")


def test_record_of_a_new_patient_explains_the_empty_strip(clinic):
    seed(clinic, "NEW-1", "Eli New")
    record = patient_record(DR, "NEW-1", today=TODAY)
    assert record.milestones == () and record.day0 is None
    assert "No treatment session yet" in record.milestone_note


def test_patient_account_reaches_only_its_own_record(recorded):
    url, patient_id = recorded
    other_id = seed(url, "RT-8", "Gina Other")
    assert patient_record(patient_actor(patient_id), "RT-7", today=TODAY).details.mrn == "RT-7"
    with pytest.raises(PermissionDenied) as refused:
        patient_record(patient_actor(patient_id), "RT-8", today=TODAY)
    with pytest.raises(PermissionDenied) as unknown:
        patient_record(patient_actor(patient_id), "NO-SUCH", today=TODAY)
    assert str(refused.value) == str(unknown.value)  # a refusal does not confirm that an MRN exists
    assert patient_record(patient_actor(other_id), "RT-8", today=TODAY).details.full_name == "Gina Other"


def test_record_needs_an_actor_and_an_existing_patient(recorded):
    with pytest.raises(PermissionDenied):
        patient_record(None, "RT-7", today=TODAY)
    with pytest.raises(NotFound):
        patient_record(DR, "NO-SUCH", today=TODAY)


def test_viewing_a_record_is_audited(recorded):
    url, patient_id = recorded
    patient_record(DR, "RT-7", today=TODAY)
    with transaction(url) as session:
        entry = session.scalar(select(models.AuditEntry).order_by(models.AuditEntry.id.desc()))
    assert (entry.action, entry.patient_id, entry.username) == ("view", patient_id, "dr.lee")


# --- Corrections ------------------------------------------------------------------------------------

def changes_of(url: str) -> list[tuple]:
    with transaction(url) as session:
        return [(c.table_name, c.field, c.old_value, c.new_value, c.reason, c.changed_by)
                for c in session.scalars(select(models.ChangeRecord).order_by(models.ChangeRecord.id))]


def test_update_keeps_previous_values_who_and_why(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    version = update_patient(DR, "RT-0001", {"full_name": "Ana Souza Lima", "birth_date": "1980-05-18",
                                             "sex": "female", "notes": ""},
                             reason="typo at intake", expected_version=1, today=TODAY)
    assert version == 2
    assert changes_of(clinic) == [
        ("patient", "full_name", "Ana Souza", "Ana Souza Lima", "typo at intake", "dr.lee"),
        ("patient", "birth_date", "1980-05-17", "1980-05-18", "typo at intake", "dr.lee"),
    ]
    record = patient_record(DR, "RT-0001", today=TODAY)
    assert (record.details.full_name, record.details.birth_date, record.details.version) == (
        "Ana Souza Lima", date(1980, 5, 18), 2)
    assert [(h.field, h.old_value, h.new_value, h.reason, h.by) for h in record.history] == [
        ("full_name", "Ana Souza", "Ana Souza Lima", "typo at intake", "dr.lee"),
        ("birth_date", "1980-05-17", "1980-05-18", "typo at intake", "dr.lee"),
    ]


def test_stale_version_is_a_conflict_and_nothing_is_written(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    update_patient(ADMIN, "RT-0001", {"full_name": "Ana S."}, reason="short form", expected_version=1, today=TODAY)
    with pytest.raises(ConflictError) as conflict:
        update_patient(DR, "RT-0001", {"full_name": "Ana Souza Lima"}, reason="typo", expected_version=1, today=TODAY)
    assert "someone else changed this record since you opened it; reload and re-apply" in str(conflict.value).lower()
    assert patient_record(DR, "RT-0001", today=TODAY).details.full_name == "Ana S."
    assert len(changes_of(clinic)) == 1


@pytest.mark.parametrize("changes, reason, message", [
    ({"full_name": "Ana Lima"}, "  ", "A reason is required"),
    ({"full_name": ""}, "typo", "full name is required"),
    ({"birth_date": "2026-01-01"}, "typo", "is in the future"),
    ({"mrn": "RT 2"}, "typo", "may contain only letters"),
    ({"condition": "alopecia_areata"}, "diagnosis revised", "the Ludwig scale does not fit alopecia areata"),
    ({"sex": "male"}, "typo", "the Ludwig scale does not fit androgenetic alopecia in a male"),
    ({"full_name": "Ana Souza"}, "typo", "the values are the same as in the record"),
    ({"colour": "red"}, "typo", "'colour' is not a patient detail"),
    ({"protocol": "Nope"}, "typo", "protocol 'Nope' does not exist"),
    ({"birth_date": "2025-02-01"}, "typo",
     "first recorded visit or session 2025-01-05 is before the patient's birth date"),
])
def test_bad_corrections_are_refused(clinic, changes, reason, message):
    create_patient(DR, new_patient(), today=TODAY)
    with transaction(clinic) as session:
        patient = session.scalar(select(models.Patient))
        session.add(models.Visit(patient_id=patient.id, date=date(2025, 1, 5), created_by="test"))
    with pytest.raises(ValidationError) as refused:
        update_patient(DR, "RT-0001", changes, reason=reason, expected_version=1, today=TODAY)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems
    assert changes_of(clinic) == []
    assert patient_record(DR, "RT-0001", today=TODAY).details.version == 1


def test_diagnosis_change_with_its_new_stage(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    update_patient(DR, "RT-0001", {"condition": "alopecia_areata", "baseline_scale": "salt", "baseline_stage": "30"},
                   reason="diagnosis revised", expected_version=1, today=TODAY)
    assert [(f, old, new) for _, f, old, new, _, _ in changes_of(clinic)] == [
        ("condition", "androgenetic_alopecia", "alopecia_areata"),
        ("baseline_scale", "ludwig", "salt"),
        ("baseline_stage", "II", "30"),
    ]


def test_a_record_without_baseline_stage_can_have_its_name_corrected(clinic):
    """Imported records may lack a baseline stage; a form that sends the staging unchanged is not re-judged,
    while a real change of staging must be complete."""
    with transaction(clinic) as session:
        session.add(models.Patient(mrn="IMP-1", full_name="Imported Person", sex="male", birth_date=date(1970, 1, 1),
                                   condition="androgenetic_alopecia", created_by="cli:import"))
    form = {"full_name": "Imported Persson", "sex": "male", "condition": "androgenetic_alopecia",
            "baseline_scale": None, "baseline_stage": None}
    assert update_patient(DR, "IMP-1", form, reason="spelling", expected_version=1, today=TODAY) == 2
    with pytest.raises(ValidationError, match="baseline stage is required on the Norwood–Hamilton scale"):
        update_patient(DR, "IMP-1", {**form, "baseline_scale": "norwood"}, reason="staged", expected_version=2,
                       today=TODAY)
    update_patient(DR, "IMP-1", {**form, "baseline_stage": "V"}, reason="staged", expected_version=2, today=TODAY)
    assert patient_record(DR, "IMP-1", today=TODAY).details.baseline_stage == "V"


def test_mrn_correction_and_its_duplicate(clinic):
    create_patient(DR, new_patient(), today=TODAY)
    create_patient(DR, new_patient(mrn="RT-0002", full_name="Other"), today=TODAY)
    with pytest.raises(ValidationError, match="Nothing was saved") as refused:
        update_patient(DR, "RT-0001", {"mrn": "rt-0002"}, reason="typo", expected_version=1, today=TODAY)
    assert "already used by another patient" in refused.value.problems[0]
    update_patient(DR, "RT-0001", {"mrn": "RT-0003"}, reason="typo", expected_version=1, today=TODAY)
    assert patient_record(DR, "RT-0003", today=TODAY).details.full_name == "Ana Souza"


def test_corrections_are_staff_only(recorded):
    url, patient_id = recorded
    for call in (
        lambda a: update_patient(a, "RT-7", {"full_name": "X"}, reason="r", expected_version=1, today=TODAY),
        lambda a: add_therapy(a, "RT-7", "minoxidil", "5%", date(2025, 1, 1), today=TODAY),
        lambda a: stop_therapy(a, 1, date(2025, 2, 1), "r", today=TODAY),
        lambda a: soft_delete(a, "visit", 1, "r"),
    ):
        for actor in (None, patient_actor(patient_id)):
            with pytest.raises(PermissionDenied):
                call(actor)
    assert changes_of(url) == []
    assert count(url, models.ConcurrentTherapy) == 0


# --- Concurrent therapies ---------------------------------------------------------------------------

def test_add_and_stop_a_therapy(recorded):
    url, _ = recorded
    therapy_id = add_therapy(DR, "RT-7", "minoxidil", "5% foam twice daily", date(2024, 12, 1), today=TODAY)
    add_therapy(DR, "RT-7", "Viviscal", "", "2025-02-01", "2025-05-01", today=TODAY)
    therapies = patient_record(DR, "RT-7", today=TODAY).therapies
    assert [(t.name, t.dose, t.start, t.stop, t.active) for t in therapies] == [
        ("minoxidil", "5% foam twice daily", date(2024, 12, 1), None, True),
        ("Viviscal", "", date(2025, 2, 1), date(2025, 5, 1), False),
    ]
    stop_therapy(DR, therapy_id, date(2025, 5, 20), "scalp irritation", expected_version=1, today=TODAY)
    therapy = patient_record(DR, "RT-7", today=TODAY).therapies[0]
    assert (therapy.stop, therapy.active, therapy.version) == (date(2025, 5, 20), False, 2)
    assert changes_of(url) == [("concurrent_therapy", "stop", None, "2025-05-20", "scalp irritation", "dr.lee")]
    with pytest.raises(ConflictError):
        stop_therapy(DR, therapy_id, date(2025, 5, 21), "correction", expected_version=1, today=TODAY)


@pytest.mark.parametrize("args, message", [
    (("", "1 mg", date(2025, 1, 1), None), "therapy name is required"),
    (("finasteride", "1 mg", date(2025, 3, 1), date(2025, 2, 1)),
     "stop date 2025-02-01 is before the start date 2025-03-01"),
    (("finasteride", "1 mg", date(2025, 7, 1), None), "start date 2025-07-01 is in the future"),
    (("finasteride", "1 mg", None, None), "start date is required"),
    (("finasteride", "1 mg", "01/02/2025", None), "not written YYYY-MM-DD"),
    (("finasteride", "1 mg", date(1970, 1, 1), None), "before the patient's birth date"),
    (("finasteride", "x" * 121, date(2025, 1, 1), None), "dose is too long"),
])
def test_bad_therapies_are_refused(recorded, args, message):
    url, _ = recorded
    with pytest.raises(ValidationError) as refused:
        add_therapy(DR, "RT-7", *args, today=TODAY)
    assert any(message in problem for problem in refused.value.problems), refused.value.problems
    assert count(url, models.ConcurrentTherapy) == 0


def test_bad_stops_are_refused(recorded):
    url, _ = recorded
    therapy_id = add_therapy(DR, "RT-7", "finasteride", "1 mg", date(2025, 3, 1), today=TODAY)
    for stop, reason, message in ((date(2025, 2, 1), "ended", "is before the start date"),
                                  (date(2025, 3, 2), "", "A reason is required"),
                                  (date(2025, 7, 1), "ended", "is in the future")):
        with pytest.raises(ValidationError) as refused:
            stop_therapy(DR, therapy_id, stop, reason, today=TODAY)
        assert any(message in p for p in refused.value.problems), refused.value.problems
    with pytest.raises(NotFound):
        stop_therapy(DR, 9999, date(2025, 3, 2), "ended", today=TODAY)
    assert changes_of(url) == []


# --- Soft delete ------------------------------------------------------------------------------------

def test_removing_a_visit_keeps_it_in_history_with_its_reason(recorded):
    url, _ = recorded
    record = patient_record(DR, "RT-7", today=TODAY)
    baseline = record.timeline[0]
    soft_delete(DR, "visit", baseline.row_id, "entered on the wrong patient", expected_version=baseline.version)
    record = patient_record(DR, "RT-7", today=TODAY)
    assert [e.kind for e in record.timeline] == ["session", "visit"]
    # Without a baseline the 3-month visit can no longer be judged.
    assert record.milestones[0].status == "no_baseline"
    removed = [(h.what, h.old_value, h.reason, h.by) for h in record.history]
    assert ("Visit", "visit of 2025-01-10", "entered on the wrong patient", "dr.lee") in removed
    assert sum(1 for h in record.history if h.what == "Photo") == 2  # its photos went with it
    with transaction(url) as session:
        visit = session.get(models.Visit, baseline.row_id)
        assert (visit.deleted_by, visit.deleted_reason, visit.version) == ("dr.lee", "entered on the wrong patient", 2)
        measurements = session.scalars(select(models.DensityMeasurement).where(
            models.DensityMeasurement.visit_id == visit.id)).all()
        assert all(m.deleted_at is not None for m in measurements)
    with pytest.raises(ConflictError, match="already removed"):
        soft_delete(DR, "visit", baseline.row_id, "again")


@pytest.mark.parametrize("kind", ["session", "photo"])
def test_removing_a_session_or_photo(recorded, kind):
    url, _ = recorded
    record = patient_record(DR, "RT-7", today=TODAY)
    row_id = record.timeline[1].row_id if kind == "session" else record.timeline[0].photos[0].id
    soft_delete(DR, kind, row_id, "duplicate entry")
    record = patient_record(DR, "RT-7", today=TODAY)
    if kind == "session":
        assert record.day0 is None and [e.kind for e in record.timeline] == ["visit", "visit"]
    else:
        assert len(record.timeline[0].photos) == 1
    assert record.history[0].reason == "duplicate entry"


def test_removing_a_therapy(recorded):
    url, _ = recorded
    therapy_id = add_therapy(DR, "RT-7", "minoxidil", "5%", date(2025, 1, 1), today=TODAY)
    soft_delete(DR, "therapy", therapy_id, "never started", expected_version=1)
    record = patient_record(DR, "RT-7", today=TODAY)
    assert record.therapies == ()
    assert record.history[0].old_value == "minoxidil from 2025-01-01"


@pytest.mark.parametrize("kind, reason, error", [
    ("visit", "", ValidationError),
    ("patient", "why", ValidationError),
    ("visit", "why", ConflictError),  # stale version
])
def test_bad_removals_write_nothing(recorded, kind, reason, error):
    url, _ = recorded
    visit_id = patient_record(DR, "RT-7", today=TODAY).timeline[0].row_id
    with pytest.raises(error):
        soft_delete(DR, kind, visit_id, reason, expected_version=7)
    assert len(patient_record(DR, "RT-7", today=TODAY).timeline) == 3


def test_removing_what_does_not_exist(recorded):
    with pytest.raises(NotFound):
        soft_delete(DR, "photo", 9999, "gone")
