"""Accounts: argon2 hashes, password policy, lock-out per account, throttling per address, idle
sign-out, and demo accounts only where the demo was loaded."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from tests.conftest import ROOT
from tracker import accounts
from tracker.access import Actor, command_line_actor
from tracker.accounts import create_user, sign_in, unlock_user
from tracker.database import transaction
from tracker.errors import PermissionDenied, ValidationError

CLI = command_line_actor("test")
GOOD = "correct horse battery"


def test_passwords_are_argon2_hashed_and_policy_enforced(clinic):
    create_user(CLI, username="Dr.Lee", password=GOOD, role="clinician", url=clinic)
    with transaction(clinic) as session:
        stored = session.scalar(select(models.User.password_hash).where(models.User.username == "dr.lee"))
    assert stored.startswith("$argon2id$") and GOOD not in stored
    for weak, reason in (("short", "at least 10"), ("password123", "too common"), ("qwertyuiop", "too common"),
                         ("dr.kim.smith", "too common")):
        with pytest.raises(ValidationError, match=reason):
            create_user(CLI, username="dr.kim.smith", password=weak, role="clinician", url=clinic)
    with pytest.raises(ValidationError, match="taken"):
        create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    with pytest.raises(PermissionDenied):
        create_user(Actor("dr.lee", "clinician"), username="x.y.z", password=GOOD, role="admin", url=clinic)


def test_account_locks_after_repeated_failures_until_an_admin_unlocks(clinic):
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for _ in range(accounts.LOCK_AFTER_FAILURES):
        with pytest.raises(PermissionDenied, match="Wrong username or password"):
            sign_in("dr.lee", "wrong password!", "10.1.1.1", url=clinic)
    with pytest.raises(PermissionDenied, match="locked"):
        sign_in("dr.lee", GOOD, "10.1.1.2", url=clinic)  # even the right password, from anywhere
    unlock_user(CLI, "dr.lee", url=clinic)
    assert sign_in("dr.lee", GOOD, "10.1.1.2", url=clinic).role == "clinician"


def test_unknown_user_and_wrong_password_get_the_same_answer(clinic):
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    with pytest.raises(PermissionDenied) as unknown:
        sign_in("nobody.here", GOOD, url=clinic)
    with pytest.raises(PermissionDenied) as wrong:
        sign_in("dr.lee", "not the password", url=clinic)
    assert str(unknown.value) == str(wrong.value)


def test_an_address_is_throttled_after_many_failures(clinic, monkeypatch):
    monkeypatch.setattr(accounts, "ADDRESS_FAILURE_LIMIT", 4)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for n in range(4):  # spraying different usernames from one address
        with pytest.raises(PermissionDenied):
            sign_in(f"guess{n}", "whatever123", "10.9.9.9", url=clinic)
    with pytest.raises(PermissionDenied, match="Too many failed sign-ins"):
        sign_in("dr.lee", GOOD, "10.9.9.9", url=clinic)
    assert sign_in("dr.lee", GOOD, "10.9.9.10", url=clinic).username == "dr.lee"  # others are not affected
    with transaction(clinic) as session:
        failures = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "sign_in_failed")).all()
    assert len(failures) == 5


def test_patient_account_links_to_exactly_one_record(clinic):
    from datetime import date

    with transaction(clinic) as session:
        session.add(models.Patient(mrn="P-1", full_name="Pat One", sex="male", birth_date=date(1980, 1, 1),
                                   condition="other"))
    create_user(CLI, username="pat.one", password=GOOD, role="patient", patient_mrn="P-1", url=clinic)
    with pytest.raises(ValidationError, match="already has an account"):
        create_user(CLI, username="pat.two", password=GOOD, role="patient", patient_mrn="P-1", url=clinic)
    with pytest.raises(ValidationError, match="linked"):
        create_user(CLI, username="pat.three", password=GOOD, role="patient", url=clinic)
    actor = sign_in("pat.one", GOOD, url=clinic)
    assert actor.role == "patient" and actor.patient_id is not None


def _app(actor: Actor | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if actor:
        at.session_state["actor"] = actor
    return at


def test_idle_session_ends_and_sign_out_ends_the_session(sqlite_clinic, monkeypatch):
    monkeypatch.setenv("TRACKER_IDLE_MINUTES", "1")
    at = _app(Actor("dr.lee", "clinician"))
    at.session_state["last_seen"] = time.time() - 120
    at.run()
    assert any(b.label == "Sign in" for b in at.button)
    assert any("inactivity" in i.value for i in at.info)
    assert "actor" not in at.session_state

    at = _app(Actor("dr.lee", "clinician"))
    at.run()
    assert not at.exception
    at.button(key="sign_out").click()
    at.run()
    assert "actor" not in at.session_state
    at.run()
    # whichever page the browser asks for next, it shows a sign-in prompt and nothing else
    assert any(b.label == "Sign in" for b in at.button) or [w.value for w in at.warning] == ["Please sign in."]
    assert not at.dataframe and not at.exception


def test_sign_in_page_signs_in_and_refuses_plainly(sqlite_clinic):
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician")
    at = _app(None)
    at.run()
    at.text_input(key="sign_in_username").input("dr.lee")
    at.text_input(key="sign_in_password").input("nope nope nope")
    at.button[0].click()
    at.run()
    assert any("Wrong username or password" in e.value for e in at.error)
    assert "actor" not in at.session_state
    at.text_input(key="sign_in_password").input(GOOD)
    at.button[0].click()
    at.run()
    assert at.session_state["actor"].username == "dr.lee"


def test_demo_accounts_exist_only_with_the_demo(sqlite_clinic):
    from datetime import date

    from tracker.demo import load_demo
    from tracker.demo_accounts import ensure_demo_accounts

    with transaction() as session:
        assert session.scalar(select(models.User.id)) is None  # a fresh installation has no accounts at all
    created = ensure_demo_accounts()  # without demo data: no patient account to link
    assert ("demo.patient", "patient", None) in created
    load_demo(today=date(2026, 3, 1), with_photos=False, limit=1)
    created = dict((name, password) for name, _, password in ensure_demo_accounts())
    assert created["demo.patient"] and sign_in("demo.patient", created["demo.patient"]).role == "patient"
    with transaction() as session:
        assert all(session.scalars(select(models.User.is_demo)))
