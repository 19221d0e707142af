"""Signing in (``tracker.access.sign_in``): growing delays, never a lock-out; one answer at one cost for every
refusal; addresses delayed; failures folded in the audit trail; sessions that end (idle, sign-out, disabled).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from db import models
from tests.account_samples import CLI, GOOD, Clock, _app, audit_entries, refused, stored
from tracker.access import credentials
from tracker.access import sign_in as sign_in_module
from tracker.access.accounts import create_user, disable_user, enable_user
from tracker.access.actors import Actor
from tracker.access.credentials import _DUMMY_HASH
from tracker.access.sign_in import LOCK_AFTER_FAILURES, REFUSED, session_is_current, sign_in
from tracker.database import transaction
from tracker.errors import ValidationError


def test_failures_delay_the_account_with_growing_delays_never_for_good(clinic, monkeypatch):
    clock = Clock(monkeypatch)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for _ in range(LOCK_AFTER_FAILURES):
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


def test_every_refusal_says_the_same_and_costs_one_argon2_check(clinic, monkeypatch, figure):
    """Unknown name, wrong password, delayed account, disabled account: the same words, and each verifies
    exactly one hash with the accounts' argon2 parameters (the dummy one when the account's is not used)."""
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    create_user(CLI, username="dr.delayed", password=GOOD, role="clinician", url=clinic)
    create_user(CLI, username="dr.gone", password=GOOD, role="clinician", url=clinic)
    for _ in range(LOCK_AFTER_FAILURES):
        refused("dr.delayed", "wrong password!", url=clinic)
    disable_user(CLI, "dr.gone", url=clinic)
    parameters = stored(clinic, "dr.lee").password_hash.split("$")[3]
    checked: list[str] = []
    real_verify = credentials._hasher.verify

    class CountingHasher:
        def verify(self, password_hash, password):
            checked.append(password_hash)
            return real_verify(password_hash, password)

    monkeypatch.setattr(credentials, "_hasher", CountingHasher())
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
    assert _DUMMY_HASH in (checked[0], checked[2], checked[3])
    # Measured, not asserted (the machine's load decides): each refusal costs one argon2 check.
    figure(f"sign-in refusals ({clinic.split(':')[0]}), seconds each: "
           + ", ".join(f"{case} {value:.2f}" for case, value in seconds.items()))


def test_an_address_is_delayed_after_many_failures(clinic, monkeypatch):
    monkeypatch.setattr(sign_in_module, "ADDRESS_FAILURE_LIMIT", 4)
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
    for _ in range(LOCK_AFTER_FAILURES):
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
