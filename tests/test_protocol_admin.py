"""Protocol administration: validation that lists everything, optimistic concurrency, audit, preview."""

from __future__ import annotations

import json
import math
from datetime import date

import pytest
from sqlalchemy import select

from db import models
from tracker.access.actors import Actor
from tracker.course.clinical import BandPoint
from tracker.database import transaction
from tracker.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from tracker.records.protocol_admin import (
    copy_protocol,
    get_protocol,
    list_protocols,
    preview_band,
    save_protocol,
)

DEFAULT = "Exosome (default)"
ADMIN = Actor(username="admin1", role="admin")
CLINICIAN = Actor(username="dr_a", role="clinician")
PATIENT = Actor(username="pat", role="patient", patient_id=1)

BAND = [{"month": 0, "low": -10, "high": 5}, {"month": 3, "low": 0, "high": 20}, {"month": 12, "low": 10, "high": 40}]
WINDOWS = [{"name": "early_response", "start_month": 2, "end_month": 3, "target_month": 3},
           {"name": "final", "start_month": 11, "end_month": 13, "target_month": 12}]


def stored(url, name):
    with transaction(url) as session:
        row = session.scalar(select(models.Protocol).where(models.Protocol.name == name))
        return None if row is None else (row.band, row.windows, row.evidence_note, row.version)


def audit_entries(url, action):
    with transaction(url) as session:
        return session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == action)).all()


def test_list_and_get_the_seeded_default(clinic):
    with transaction(clinic) as session:
        protocol_id = session.scalar(select(models.Protocol.id).where(models.Protocol.name == DEFAULT))
        for n, deleted in ((1, False), (2, False), (3, True)):
            session.add(models.Patient(mrn=f"M-{n}", full_name="x", sex="male", birth_date=date(1980, 1, 1),
                                       condition="other", protocol_id=protocol_id,
                                       deleted_at=models.utcnow() if deleted else None))
    salt, summary = list_protocols(CLINICIAN, url=clinic)  # by name: "Alopecia areata (SALT)" sorts first
    assert (salt.name, salt.outcome_measure, salt.patients) == ("Alopecia areata (SALT)", "salt", 0)
    assert (summary.name, summary.version, summary.patients, summary.outcome_measure) == (DEFAULT, 1, 2, "density")
    assert (summary.band_points, summary.windows) == (5, 3)
    detail = get_protocol(CLINICIAN, DEFAULT, url=clinic)
    assert detail.band[2] == BandPoint(3, 5, 20) and detail.windows[1].name == "noticeable_growth"
    # DESIGN.md §3, at its own points.
    assert [(p.month, p.low, p.high) for p in detail.preview] == [
        (0, -10, 5), (2, -10, 5), (3, 5, 20), (6, 10, 35), (12, 15, 35)]


def test_an_edit_is_saved_with_a_new_version_and_audited_before_and_after(clinic):
    saved = save_protocol(ADMIN, DEFAULT, BAND, WINDOWS, "  Based on our own series.  ", expected_version=1, url=clinic)
    assert saved.version == 2
    # Preview at 0, 2, 3, 6, 12: month 2 is 2/3 of the way to month 3; month 6 a third of the way 3→12.
    assert [(p.month, p.low, p.high) for p in saved.preview] == [
        (0, -10, 5), (2, -3.33, 15), (3, 0, 20), (6, 3.33, 26.67), (12, 10, 40)]
    assert stored(clinic, DEFAULT) == (BAND, WINDOWS, "Based on our own series.", 2)
    (entry,) = audit_entries(clinic, "update")
    detail = json.loads(entry.detail)
    assert entry.username == "admin1"
    assert detail["version"] == 2 and detail["after"]["band"] == BAND
    assert detail["before"]["band"][1] == {"month": 2, "low": -10, "high": 5}


def test_a_stale_edit_is_refused_and_changes_nothing(clinic):
    save_protocol(ADMIN, DEFAULT, BAND, WINDOWS, "first", expected_version=1, url=clinic)
    with pytest.raises(ConflictError, match="changed by someone else.*version 2.*Nothing was saved"):
        save_protocol(ADMIN, DEFAULT, BAND[:1], WINDOWS[:1], "second", expected_version=1, url=clinic)
    assert stored(clinic, DEFAULT) == (BAND, WINDOWS, "first", 2)
    assert len(audit_entries(clinic, "update")) == 1


def test_every_problem_is_listed_and_nothing_is_saved(clinic):
    band = [{"month": 0, "low": None, "high": 5}, {"month": "two", "low": 1, "high": 2}]
    windows = [{"name": "", "start_month": 2, "end_month": 3, "target_month": 3},
               {"name": "main", "start_month": 5.5, "end_month": 7, "target_month": 6},
               {"name": "MAIN", "start_month": -1, "end_month": 7, "target_month": 6}]
    with pytest.raises(ValidationError) as raised:
        save_protocol(ADMIN, DEFAULT, band, windows, "   ", expected_version=1, url=clinic)
    assert raised.value.problems == [
        "Band row 1: the low is missing.",
        "Band row 2: the month must be a number ('two' is not).",
        "Window row 1: the name is missing.",
        "Window row 2: the start month must be a whole number of months (5.5 is not).",
        "Window row 3: another window is already named 'MAIN'.",
        "Window row 3: the start month cannot be before day 0.",
        "The evidence note is required: say what the band and windows are based on.",
    ]
    assert stored(clinic, DEFAULT)[3] == 1
    assert audit_entries(clinic, "update") == []


@pytest.mark.parametrize("band, windows, problem", [
    ([{"month": 1, "low": 0, "high": 5}], WINDOWS, "The band must start at month 0 (day of the first session)."),
    ([{"month": 0, "low": 6, "high": 5}], WINDOWS, "At month 0 the band's low (6) is above its high (5)."),
    ([{"month": 0, "low": 0, "high": 5}, {"month": 0, "low": 1, "high": 5}], WINDOWS,
     "Two band points share the same month."),
    (BAND, [{"name": "w", "start_month": 2, "end_month": 3, "target_month": 4}],
     "Window w: the target month must lie inside the window (2–3)."),
    (BAND, [], "A protocol needs at least one milestone window."),
    ([], WINDOWS, "A protocol needs at least one band point."),
    ([{"month": 0, "low": -math.inf, "high": 5}], WINDOWS, "Band row 1: the low must be a finite number."),
])
def test_the_rules_of_tracker_protocols_apply(clinic, band, windows, problem):
    with pytest.raises(ValidationError) as raised:
        save_protocol(ADMIN, DEFAULT, band, windows, "note", expected_version=1, url=clinic)
    assert problem in raised.value.problems


def test_blank_rows_from_the_table_editor_are_ignored(clinic):
    nan = float("nan")
    band = BAND + [{"month": nan, "low": None, "high": ""}]
    windows = WINDOWS + [{"name": None, "start_month": nan, "end_month": nan, "target_month": nan}]
    saved = save_protocol(ADMIN, DEFAULT, band, windows, "note", expected_version=1, url=clinic)
    assert len(saved.band) == 3 and len(saved.windows) == 2


def test_a_new_protocol_is_created_and_its_name_must_be_free(clinic):
    created = save_protocol(ADMIN, "PRP monthly", BAND, WINDOWS, "PRP pooled data.", expected_version=None, url=clinic)
    assert (created.name, created.version, created.patients) == ("PRP monthly", 1, 0)
    assert [p.name for p in list_protocols(ADMIN, url=clinic)] == ["Alopecia areata (SALT)", DEFAULT, "PRP monthly"]
    with pytest.raises(ValidationError, match="already exists"):
        save_protocol(ADMIN, "prp MONTHLY", BAND, WINDOWS, "note", expected_version=None, url=clinic)
    (entry,) = audit_entries(clinic, "create")
    assert json.loads(entry.detail)["protocol"] == "PRP monthly"


def test_copy_starts_a_new_protocol_from_an_existing_one(clinic):
    copy = copy_protocol(ADMIN, DEFAULT, " Exosome v2 ", url=clinic)
    original = get_protocol(ADMIN, DEFAULT, url=clinic)
    assert copy.name == "Exosome v2" and copy.version == 1
    assert (copy.band, copy.windows, copy.evidence_note) == (original.band, original.windows, original.evidence_note)
    (entry,) = audit_entries(clinic, "create")
    assert json.loads(entry.detail)["copied_from"] == DEFAULT
    with pytest.raises(ValidationError):
        copy_protocol(ADMIN, DEFAULT, "", url=clinic)
    with pytest.raises(NotFound):
        copy_protocol(ADMIN, "No such protocol", "Another", url=clinic)


def test_unknown_protocol(clinic):
    with pytest.raises(NotFound):
        get_protocol(ADMIN, "Nope", url=clinic)
    with pytest.raises(NotFound):
        save_protocol(ADMIN, "Nope", BAND, WINDOWS, "note", expected_version=1, url=clinic)


def test_clinicians_read_but_may_not_change(clinic):
    with pytest.raises(PermissionDenied):
        save_protocol(CLINICIAN, DEFAULT, BAND, WINDOWS, "note", expected_version=1, url=clinic)
    with pytest.raises(PermissionDenied):
        copy_protocol(CLINICIAN, DEFAULT, "Mine", url=clinic)
    assert stored(clinic, DEFAULT)[3] == 1


@pytest.mark.parametrize("actor", [PATIENT, None])
def test_patients_and_anonymous_are_refused_everything(clinic, actor):
    for call in (lambda: list_protocols(actor, url=clinic), lambda: get_protocol(actor, DEFAULT, url=clinic),
                 lambda: save_protocol(actor, DEFAULT, BAND, WINDOWS, "n", expected_version=1, url=clinic),
                 lambda: copy_protocol(actor, DEFAULT, "x", url=clinic)):
        with pytest.raises(PermissionDenied):
            call()


def test_preview_of_unsaved_rows_lists_problems():
    with pytest.raises(ValidationError) as raised:
        preview_band([{"month": 0, "low": "a", "high": None}])
    assert raised.value.problems == ["Band row 1: the low must be a number ('a' is not).",
                                     "Band row 1: the high is missing."]
    assert preview_band([{"month": "0", "low": "-5,5", "high": 5}])[0].low == -5.5


def test_two_admins_saving_the_same_version_at_once_one_wins(clinic):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    start = Barrier(2)

    def save(note):
        start.wait()
        try:
            return save_protocol(ADMIN, DEFAULT, BAND, WINDOWS, note, expected_version=1, url=clinic).version
        except ConflictError:
            return "conflict"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(map(str, pool.map(save, ["first admin", "second admin"])))
    assert outcomes == ["2", "conflict"]
    assert stored(clinic, DEFAULT)[3] == 2
    assert len(audit_entries(clinic, "update")) == 1


def test_the_noise_is_saved_versioned_and_audited_with_the_band(clinic):
    assert get_protocol(CLINICIAN, DEFAULT, url=clinic).noise_pct == 10  # DESIGN.md §2 default
    saved = save_protocol(ADMIN, DEFAULT, BAND, WINDOWS, "note", expected_version=1, url=clinic, noise_pct="7,5")
    assert (saved.version, saved.noise_pct) == (2, 7.5)
    (entry,) = audit_entries(clinic, "update")
    detail = json.loads(entry.detail)
    assert (detail["before"]["noise_pct"], detail["after"]["noise_pct"]) == (10, 7.5)
    # An edit that does not name the noise keeps it; a stale edit of the noise alone is refused like any other.
    assert save_protocol(ADMIN, DEFAULT, BAND, WINDOWS, "note", expected_version=2, url=clinic).noise_pct == 7.5
    with pytest.raises(ConflictError):
        save_protocol(ADMIN, DEFAULT, BAND, WINDOWS, "note", expected_version=2, url=clinic, noise_pct=12)
    assert copy_protocol(ADMIN, DEFAULT, "Copy", url=clinic).noise_pct == 7.5
    assert {p.name: p.noise_pct for p in list_protocols(CLINICIAN, url=clinic)}[DEFAULT] == 7.5


@pytest.mark.parametrize("noise", [-1, 50.5, 1000, "ten", True, "1,5e1", "1_5", "1.234,5"])  # not read as 15 or 1.2345
def test_an_absurd_noise_is_refused_with_a_clear_message(clinic, noise):
    with pytest.raises(ValidationError, match="measurement noise must be") as refused:
        save_protocol(ADMIN, DEFAULT, BAND, WINDOWS, "note", expected_version=1, url=clinic, noise_pct=noise)
    assert "between 0 and 50%" in str(refused.value) or "number" in str(refused.value)
    assert stored(clinic, DEFAULT)[3] == 1  # nothing saved


@pytest.mark.parametrize("noise", [0, 50])
def test_the_noise_range_ends_are_accepted(clinic, noise):
    assert save_protocol(ADMIN, DEFAULT, BAND, WINDOWS, "note", expected_version=1, url=clinic,
                         noise_pct=noise).noise_pct == noise
