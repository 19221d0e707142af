"""Accounts: argon2 hashes, password policy, throttling delays per account and per address, one answer for
every refusal, folded audit entries, disable/enable, password resets and changes, the last admin, session
versions, idle sign-out, and demo accounts only where the demo was loaded."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from tests.conftest import ROOT
from tracker.access import accounts
from tracker.access.accounts import (
    REFUSED,
    change_own_password,
    create_user,
    disable_user,
    enable_user,
    reset_password,
    session_is_current,
    sign_in,
    unlock_user,
)
from tracker.access.actors import Actor, command_line_actor
from tracker.errors import PermissionDenied, ValidationError
from tracker.operations.database import transaction

CLI = command_line_actor("test")
GOOD = "correct horse battery"


class Clock:
    """``tracker.access.accounts._now`` moved by hand (delays last minutes)."""

    def __init__(self, monkeypatch):
        self.now = accounts._now()
        monkeypatch.setattr(accounts, "_now", lambda: self.now)

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def refused(username: str, password: str, address: str | None = None, url: str | None = None) -> str:
    with pytest.raises(PermissionDenied) as refusal:
        sign_in(username, password, address, url=url)
    return str(refusal.value)


def stored(url: str, username: str) -> models.User:
    with transaction(url) as session:
        return session.scalars(select(models.User).where(models.User.username == username)).one()


def audit_entries(url: str, action: str) -> list[models.AuditEntry]:
    with transaction(url) as session:
        return list(session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == action)
                                    .order_by(models.AuditEntry.id)))


def test_passwords_are_argon2_hashed_and_policy_enforced(clinic):
    create_user(CLI, username="Dr.Lee", password=GOOD, role="clinician", url=clinic)
    stored_hash = stored(clinic, "dr.lee").password_hash
    assert stored_hash.startswith("$argon2id$") and GOOD not in stored_hash
    for weak, reason in (("short", "at least 10"), ("password123", "too common"), ("qwertyuiop", "too common"),
                         ("dr.kim.smith", "too common"), ("x" * (accounts.PASSWORD_MAX + 1), "at most")):
        with pytest.raises(ValidationError, match=reason):
            create_user(CLI, username="dr.kim.smith", password=weak, role="clinician", url=clinic)
    with pytest.raises(ValidationError, match="taken"):
        create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    with pytest.raises(PermissionDenied):
        create_user(Actor("dr.lee", "clinician"), username="x.y.z", password=GOOD, role="admin", url=clinic)


def test_failures_delay_the_account_with_growing_delays_never_for_good(clinic, monkeypatch):
    clock = Clock(monkeypatch)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for _ in range(accounts.LOCK_AFTER_FAILURES):
        assert refused("dr.lee", "wrong password!", "10.1.1.1", url=clinic) == REFUSED
    user = stored(clinic, "dr.lee")
    assert user.failed_attempts == 5 and user.disabled_at is None
    # Inside the first delay (1 minute) even the right password, from anywhere, is refused, unchecked.
    assert refused("dr.lee", GOOD, "10.1.1.2", url=clinic) == REFUSED
    clock.advance(seconds=61)
    assert refused("dr.lee", "wrong again!!", "10.1.1.1", url=clinic) == REFUSED  # 6th failure: 2 minutes
    clock.advance(seconds=61)
    assert refused("dr.lee", GOOD, "10.1.1.2", url=clinic) == REFUSED
    clock.advance(seconds=60)
    assert sign_in("dr.lee", GOOD, "10.1.1.2", url=clinic).role == "clinician"  # the delay ended by itself
    user = stored(clinic, "dr.lee")
    assert user.failed_attempts == 0 and user.locked_until is None
    with transaction(clinic) as session:
        outcomes = list(session.scalars(select(models.SignInAttempt.outcome).order_by(models.SignInAttempt.id)))
    assert outcomes == ["wrong_password"] * 5 + ["account_delayed", "wrong_password", "account_delayed",
                                                 "right_password"]


def test_an_admin_lifts_a_delay(clinic):
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for _ in range(accounts.LOCK_AFTER_FAILURES):
        refused("dr.lee", "wrong password!", "10.1.1.1", url=clinic)
    assert refused("dr.lee", GOOD, url=clinic) == REFUSED
    unlock_user(CLI, "dr.lee", url=clinic)
    assert sign_in("dr.lee", GOOD, "10.1.1.2", url=clinic).role == "clinician"


def test_every_refusal_says_the_same_and_costs_one_argon2_check(clinic, monkeypatch, figure):
    """Unknown name, wrong password, delayed account, disabled account: the same words, and each verifies
    exactly one hash with the accounts' argon2 parameters (the dummy one when the account's is not used)."""
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    create_user(CLI, username="dr.delayed", password=GOOD, role="clinician", url=clinic)
    create_user(CLI, username="dr.gone", password=GOOD, role="clinician", url=clinic)
    for _ in range(accounts.LOCK_AFTER_FAILURES):
        refused("dr.delayed", "wrong password!", url=clinic)
    disable_user(CLI, "dr.gone", url=clinic)
    parameters = stored(clinic, "dr.lee").password_hash.split("$")[3]
    checked: list[str] = []
    real_verify = accounts._hasher.verify

    class CountingHasher:
        def verify(self, password_hash, password):
            checked.append(password_hash)
            return real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "_hasher", CountingHasher())
    answers, seconds = {}, {}
    for case, (name, password) in {"unknown": ("nobody.here", GOOD), "wrong": ("dr.lee", "not the password"),
                                   "delayed": ("dr.delayed", GOOD), "disabled": ("dr.gone", GOOD)}.items():
        before = len(checked)
        started = time.perf_counter()
        answers[case] = refused(name, password, url=clinic)
        seconds[case] = time.perf_counter() - started
        assert len(checked) == before + 1, case
        assert checked[-1].split("$")[3] == parameters, case
    assert set(answers.values()) == {REFUSED}
    assert checked[1] == stored(clinic, "dr.lee").password_hash  # only the wrong guess used the real hash
    assert accounts._DUMMY_HASH in (checked[0], checked[2], checked[3])
    # Measured, not asserted (the machine's load decides): each refusal costs one argon2 check.
    figure(f"sign-in refusals ({clinic.split(':')[0]}), seconds each: "
           + ", ".join(f"{case} {value:.2f}" for case, value in seconds.items()))


def test_an_address_is_delayed_after_many_failures(clinic, monkeypatch):
    monkeypatch.setattr(accounts, "ADDRESS_FAILURE_LIMIT", 4)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for n in range(4):  # spraying different usernames from one address
        refused(f"guess{n}", "whatever123", "10.9.9.9", url=clinic)
    assert refused("dr.lee", GOOD, "10.9.9.9", url=clinic) == REFUSED
    assert sign_in("dr.lee", GOOD, "10.9.9.10", url=clinic).username == "dr.lee"  # others are not affected
    assert stored(clinic, "dr.lee").failed_attempts == 0  # the address's delay is not the account's failure
    assert len(audit_entries(clinic, "sign_in_failed")) == 5  # five username/address pairs


def test_failed_attempts_fold_into_one_audit_entry_a_minute(clinic, monkeypatch):
    clock = Clock(monkeypatch)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for _ in range(accounts.LOCK_AFTER_FAILURES):
        refused("dr.lee", "wrong password!", "10.2.2.2", url=clinic)
        clock.advance(seconds=5)
    for _ in range(2):  # the account is delayed now: still refused, still counted in the fold
        refused("dr.lee", GOOD, "10.2.2.2", url=clinic)
        clock.advance(seconds=5)
    assert [e.detail for e in audit_entries(clinic, "sign_in_failed")] == ["×1 from address 10.2.2.2"]
    clock.advance(seconds=30)
    refused("dr.lee", GOOD, "10.2.2.2", url=clinic)
    entries = audit_entries(clinic, "sign_in_failed")
    assert len(entries) == 2 and entries[1].detail.startswith("×7 from address 10.2.2.2 since ")
    assert {e.username for e in entries} == {"dr.lee"}
    with transaction(clinic) as session:
        assert len(session.scalars(select(models.SignInAttempt)).all()) == 8  # every attempt kept


def test_disabled_accounts_cannot_sign_in_and_their_sessions_end(clinic):
    create_user(CLI, username="boss", password=GOOD, role="admin", url=clinic)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    session_actor = sign_in("dr.lee", GOOD, url=clinic)
    assert session_is_current(session_actor)
    disable_user(CLI, "dr.lee", url=clinic)
    assert not session_is_current(session_actor)
    assert refused("dr.lee", GOOD, url=clinic) == REFUSED
    with pytest.raises(ValidationError, match="already disabled"):
        disable_user(CLI, "dr.lee", url=clinic)
    enable_user(CLI, "dr.lee", url=clinic)
    assert not session_is_current(session_actor)  # a re-enabled account signs in afresh
    assert session_is_current(sign_in("dr.lee", GOOD, url=clinic))
    details = [e.detail for e in audit_entries(clinic, "account")]
    assert "disabled dr.lee" in details and "enabled dr.lee" in details


def test_the_last_enabled_admin_cannot_be_disabled(clinic):
    create_user(CLI, username="boss", password=GOOD, role="admin", url=clinic)
    with pytest.raises(ValidationError, match="last enabled administrator"):
        disable_user(CLI, "boss", url=clinic)
    create_user(CLI, username="deputy", password=GOOD, role="admin", url=clinic)
    boss = sign_in("boss", GOOD, url=clinic)
    disable_user(boss, "boss", url=clinic)  # an admin may disable themselves while another admin remains
    assert not session_is_current(boss)
    with pytest.raises(ValidationError, match="last enabled administrator"):
        disable_user(CLI, "deputy", url=clinic)


def test_reset_password_forces_a_change_and_the_change_needs_the_old_one(clinic):
    create_user(CLI, username="boss", password=GOOD, role="admin", url=clinic)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for _ in range(accounts.LOCK_AFTER_FAILURES):
        refused("dr.lee", "wrong password!", url=clinic)
    before = sign_in("boss", GOOD, url=clinic)
    with pytest.raises(ValidationError, match="Change password"):
        reset_password(before, "boss", url=clinic)  # not one's own: that is Change password
    temporary = reset_password(before, "dr.lee", url=clinic)
    assert len(temporary) >= accounts.MIN_PASSWORD_LENGTH
    assert refused("dr.lee", GOOD, url=clinic) == REFUSED  # the old password is gone
    signed_in = sign_in("dr.lee", temporary, url=clinic)  # the reset also lifted the delay
    assert signed_in.must_change_password
    with pytest.raises(PermissionDenied, match="current password is not right"):
        change_own_password(signed_in, "not the temporary", "a brand new phrase", url=clinic)
    with pytest.raises(ValidationError, match="too common"):
        change_own_password(signed_in, temporary, "password123", url=clinic)
    with pytest.raises(ValidationError, match="differ"):
        change_own_password(signed_in, temporary, temporary, url=clinic)
    other_session = sign_in("dr.lee", temporary, url=clinic)
    changed = change_own_password(signed_in, temporary, "a brand new phrase", url=clinic)
    assert not changed.must_change_password and session_is_current(changed)
    assert not session_is_current(signed_in) and not session_is_current(other_session)
    assert not sign_in("dr.lee", "a brand new phrase", url=clinic).must_change_password
    with pytest.raises(PermissionDenied):
        change_own_password(CLI, GOOD, "a brand new phrase")  # the command line has no password to change
    details = [e.detail for e in audit_entries(clinic, "account")]
    assert "reset the password of dr.lee (to be changed at the next sign-in)" in details
    assert "changed own password" in details


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
    assert [e.value for e in at.error] == [REFUSED]
    assert "actor" not in at.session_state
    at.text_input(key="sign_in_password").input(GOOD)
    at.button[0].click()
    at.run()
    assert at.session_state["actor"].username == "dr.lee"


def test_a_disabled_signed_in_user_is_signed_out_at_the_next_rerun(sqlite_clinic):
    create_user(CLI, username="boss", password=GOOD, role="admin")
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician")
    at = _app(sign_in("dr.lee", GOOD))
    at.run()
    assert not at.exception and any("Signed in as" in c.value for c in at.sidebar.caption)
    disable_user(sign_in("boss", GOOD), "dr.lee")
    at.run()
    assert "actor" not in at.session_state
    # AppTest reruns the page it was on, which now only asks to sign in; the sign-in page says why.
    assert [w.value for w in at.warning] == ["Please sign in."] and not at.dataframe and not at.exception
    assert "disabled or given a new password" in at.session_state["signed_out_reason"]


def test_after_a_reset_only_the_password_page_works_until_the_change(sqlite_clinic):
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician")
    temporary = reset_password(CLI, "dr.lee")
    at = _app(sign_in("dr.lee", temporary))
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Change password"]
    assert any("temporary password" in i.value for i in at.info)
    for page in ("patients.py", "progress.py", "accounts.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"pages/{page}")
    at.text_input(key="pw_form_current").input(temporary)
    at.text_input(key="pw_form_new").input("my own long phrase")
    at.text_input(key="pw_form_again").input("my own long phrase")
    [submit] = [b for b in at.button if b.label == "Change password"]
    submit.click().run()
    assert not at.exception
    assert any("Your password is changed" in s.value for s in at.success)
    assert not at.session_state["actor"].must_change_password
    at.switch_page("pages/patients.py").run()  # the workspace is back
    assert not at.exception and "Patients" in [t.value for t in at.title]
    assert sign_in("dr.lee", "my own long phrase").username == "dr.lee"


def test_change_password_page_refuses_plainly(sqlite_clinic):
    create_user(CLI, username="pat.lee", password=GOOD, role="clinician")
    at = _app(sign_in("pat.lee", GOOD))
    at.run()
    at.switch_page("pages/change_password.py").run()
    assert not at.exception
    at.text_input(key="pw_form_current").input("not my password")
    at.text_input(key="pw_form_new").input("my own long phrase")
    at.text_input(key="pw_form_again").input("my own long phrase")
    [submit] = [b for b in at.button if b.label == "Change password"]
    submit.click().run()
    assert [e.value for e in at.error] == [accounts.WRONG_CURRENT_PASSWORD]
    at.text_input(key="pw_form_current").input(GOOD)
    at.text_input(key="pw_form_new").input("my own long phrase")
    at.text_input(key="pw_form_again").input("my own long phrasE")
    [submit] = [b for b in at.button if b.label == "Change password"]
    submit.click().run()
    assert any("differ" in e.value for e in at.error)
    assert sign_in("pat.lee", GOOD).username == "pat.lee"  # unchanged


def test_demo_accounts_exist_only_with_the_demo_and_their_passwords_are_shown_once(sqlite_clinic):
    import stat
    from datetime import date

    from tracker.operations.demo import load_demo
    from tracker.operations.demo_accounts import credentials_file, demo_accounts_banner, ensure_demo_accounts

    with transaction() as session:
        assert session.scalar(select(models.User.id)) is None  # a fresh installation has no accounts at all
    created = ensure_demo_accounts()  # without demo data: no patient account to link
    assert [name for name, _, _ in created] == ["demo.admin", "demo.clinician"]
    load_demo(today=date(2026, 3, 1), with_photos=False, limit=1)
    created = ensure_demo_accounts()
    assert [name for name, _, _ in created] == ["demo.patient"]
    assert sign_in("demo.patient", created[0][2]).role == "patient"
    banner = demo_accounts_banner(created)
    assert created[0][2] in banner and "remove-demo" in banner
    assert ensure_demo_accounts() == []  # nothing new: no password printed again
    again = demo_accounts_banner([])
    assert str(credentials_file()) in again and "demo-" not in again.replace("demo-accounts", "")
    assert stat.S_IMODE(credentials_file().stat().st_mode) == 0o600
    saved = credentials_file().read_text()
    assert all(name in saved for name in ("demo.admin", "demo.clinician", "demo.patient"))
    with transaction() as session:
        assert all(session.scalars(select(models.User.is_demo)))


def test_control_characters_are_refused_by_the_one_password_policy_on_every_path(clinic):
    for bad in ("long enough phrase 42\r", "long enough\x00phrase", "long\tenough phrase", "long enough\x85phrase",
                "long enough \ud800 phrase"):
        with pytest.raises(ValidationError, match="control characters"):
            create_user(CLI, username="dr.kim", password=bad, role="clinician", url=clinic)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    actor = sign_in("dr.lee", GOOD, url=clinic)
    with pytest.raises(ValidationError, match="control characters"):
        change_own_password(actor, GOOD, GOOD + "\r", url=clinic)
    # A password no policy allows is checked, and refused, like any other (no encoding error).
    assert refused("dr.lee", "correct horse \udc80battery", url=clinic) == REFUSED
    assert sign_in("dr.lee", GOOD, url=clinic).username == "dr.lee"


def test_usernames_are_normalised_ascii_and_not_reserved(clinic):
    assert accounts.normalize_username(" Ｄｒ．Ｌｅｅ ") == "dr.lee"
    for name in ("bоss", "ßoss", "bo ss", "@@@", "_boss", "ab", "x" * 81, "demo.clinician", "DEMO", "system"):
        with pytest.raises(ValidationError):
            create_user(CLI, username=name, password=GOOD, role="admin", url=clinic)
    assert create_user(CLI, username="Ｄｒ．Ｌｅｅ@clinic-1_a", password=GOOD, role="admin", url=clinic) \
        == "dr.lee@clinic-1_a"
    assert sign_in("DR.LEE@CLINIC-1_A", GOOD, url=clinic).username == "dr.lee@clinic-1_a"
