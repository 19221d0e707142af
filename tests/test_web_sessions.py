"""Web sessions (the sign-in cookie's server side), on SQLite and PostgreSQL: only the token's hash is kept;
a token stands until it is revoked, idle, or its account is disabled or given a new password; a password
changed by the session itself carries it on; the consult screen is remembered; removing an account removes
its sessions. Plus the page side, with AppTest: a page session with no actor resumes from the cookie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from db import models
from tracker.access import web_sessions
from tracker.access.accounts import create_user, disable_user, enable_user, reset_password
from tracker.access.actors import command_line_actor
from tracker.access.own_password import change_own_password
from tracker.access.sign_in import sign_in
from tracker.database import transaction
from tracker.errors import PermissionDenied

CLI = command_line_actor("test")
GOOD, NEWER = "correct horse battery", "another horse battery"


def _signed_in(name: str = "dr.lee", role: str = "clinician"):
    create_user(CLI, username=name, password=GOOD, role=role)
    return sign_in(name, GOOD, address="10.0.0.5")


def _age(token: str, seconds: float) -> None:
    with transaction() as session:
        session.execute(update(models.WebSession)
                        .where(models.WebSession.token_sha256 == web_sessions.token_hash(token))
                        .values(last_seen_at=datetime.now(UTC) - timedelta(seconds=seconds)))


def test_a_token_stands_and_only_its_hash_is_kept(clinic):
    actor = _signed_in()
    token = web_sessions.open_session(actor)
    with transaction() as session:
        rows = session.scalars(select(models.WebSession)).all()
    assert [r.token_sha256 for r in rows] == [web_sessions.token_hash(token)] and token not in rows[0].token_sha256
    resumed = web_sessions.resume(token, "10.0.0.9")
    assert resumed.actor.username == "dr.lee" and resumed.actor.address == "10.0.0.9"
    assert resumed.actor.session_version == actor.session_version and resumed.consult_mrn is None
    assert web_sessions.actor_for_token(token).user_id == actor.user_id
    for other in (None, "", "x" * 500, token + "x", token[:-1]):
        assert web_sessions.resume(other, None) is None and web_sessions.actor_for_token(other) is None


def test_revoked_and_idle_tokens_restore_nothing(clinic, monkeypatch):
    monkeypatch.setenv("TRACKER_IDLE_MINUTES", "1")
    actor = _signed_in()
    idle, revoked = web_sessions.open_session(actor), web_sessions.open_session(actor)
    _age(idle, 61)
    assert web_sessions.actor_for_token(idle) is None and web_sessions.resume(idle, None) is None
    assert not web_sessions.touch(idle, actor)
    assert web_sessions.revoke(revoked, "signed out") and not web_sessions.revoke(revoked, "signed out")
    assert web_sessions.actor_for_token(revoked) is None and not web_sessions.touch(revoked, actor)
    with transaction() as session:
        outs = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "sign_out")).all()
    assert [(e.username, e.detail) for e in outs] == [("dr.lee", "signed out")]  # once, not twice


def test_touch_moves_the_idle_clock_on(clinic, monkeypatch):
    monkeypatch.setenv("TRACKER_IDLE_MINUTES", "1")
    actor = _signed_in()
    token = web_sessions.open_session(actor)
    _age(token, 50)
    assert web_sessions.touch(token, actor)
    with transaction() as session:
        seen = session.scalar(select(models.WebSession.last_seen_at))
    seen = seen.replace(tzinfo=UTC) if seen.tzinfo is None else seen
    assert datetime.now(UTC) - seen < timedelta(seconds=10)
    assert web_sessions.actor_for_token(token) is not None
    assert web_sessions.touch_interval() == 15.0


def test_disable_reset_and_password_change_elsewhere_end_the_token(clinic):
    create_user(CLI, username="boss", password=GOOD, role="admin")
    actor = _signed_in()
    token = web_sessions.open_session(actor)
    disable_user(CLI, "dr.lee")
    assert web_sessions.actor_for_token(token) is None
    enable_user(CLI, "dr.lee")
    assert web_sessions.actor_for_token(token) is None  # enabled again: the old version still ends it

    actor = sign_in("dr.lee", GOOD)
    token = web_sessions.open_session(actor)
    reset_password(CLI, "dr.lee")
    assert web_sessions.resume(token, None) is None and not web_sessions.touch(token, actor)


def test_a_password_changed_in_this_session_carries_its_token_on(clinic):
    actor = _signed_in()
    mine, other = web_sessions.open_session(actor), web_sessions.open_session(actor)
    changed = change_own_password(actor, GOOD, NEWER)
    assert web_sessions.actor_for_token(mine) is None  # until this session touches it with its new actor
    assert web_sessions.touch(mine, changed)
    assert web_sessions.resume(mine, None).actor.session_version == changed.session_version
    assert web_sessions.actor_for_token(other) is None
    assert not web_sessions.touch(other, actor)  # the old actor cannot carry a token on


def test_a_token_is_touched_only_by_its_own_account(clinic):
    actor = _signed_in()
    intruder = _signed_in("dr.other")
    token = web_sessions.open_session(actor)
    with pytest.raises(PermissionDenied):
        web_sessions.touch(token, intruder)
    assert web_sessions.touch(token, actor)  # its own account's still stands


def test_the_consult_screen_is_remembered_and_forgotten_on_revoke(clinic):
    actor = _signed_in()
    token = web_sessions.open_session(actor)
    assert web_sessions.set_consult(token, "P-001")
    assert web_sessions.resume(token, None).consult_mrn == "P-001"
    assert web_sessions.set_consult(token, None)
    assert web_sessions.resume(token, None).consult_mrn is None
    assert not web_sessions.set_consult("no-such-token", "P-001")


def test_removing_an_account_removes_its_sessions(clinic):
    actor = _signed_in()
    web_sessions.open_session(actor)
    with transaction() as session:
        session.execute(models.User.__table__.delete().where(models.User.id == actor.user_id))
    with transaction() as session:
        assert session.scalars(select(models.WebSession)).all() == []


def test_old_rows_are_forgotten_at_the_next_sign_in(clinic):
    actor = _signed_in()
    old = web_sessions.open_session(actor)
    _age(old, web_sessions.FORGET_AFTER.total_seconds() + 60)
    web_sessions.open_session(actor)
    with transaction() as session:
        assert len(session.scalars(select(models.WebSession)).all()) == 1


def test_a_page_session_resumes_from_the_cookie(sqlite_clinic, monkeypatch):
    """AppTest has no request behind it: the cookie is handed to the page the way st.context would."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT
    from ui import signed_in

    actor = _signed_in()
    token = web_sessions.open_session(actor)
    web_sessions.set_consult(token, "P-404")
    monkeypatch.setattr(signed_in, "session_cookie", lambda: token)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.session_state["actor"].username == "dr.lee" and at.session_state["consult_mrn"] == "P-404"

    web_sessions.revoke(token, "signed out")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert "actor" not in at.session_state and any(b.label == "Sign in" for b in at.button)
