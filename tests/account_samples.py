"""Helpers shared by the account tests: the command line's actor, a good password, a clock moved by hand, a
refused sign-in's words, an account's stored row, the audit entries of one action, and a page run as an actor.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db import models
from tests.conftest import ROOT
from tracker.access import accounts
from tracker.access import sign_in as sign_in_module
from tracker.access.actors import Actor, command_line_actor
from tracker.access.sign_in import sign_in
from tracker.database import transaction
from tracker.errors import PermissionDenied

CLI = command_line_actor("test")
GOOD = "correct horse battery"


class Clock:
    """``_now`` moved by hand (delays last minutes), in every module that reads it: sign-in's throttle and the
    account admin's disable and list."""

    def __init__(self, monkeypatch):
        self.now = sign_in_module._now()
        for module in (sign_in_module, accounts):
            monkeypatch.setattr(module, "_now", lambda: self.now)

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


def _app(actor: Actor | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if actor:
        at.session_state["actor"] = actor
    return at
