"""Account admin (``tracker.access.accounts``): an admin lifts a delay, the last enabled admin stays, a patient
account links to exactly one record, demo accounts exist only with the demo.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db import models
from tests.account_samples import CLI, GOOD, refused
from tracker.access.accounts import create_user, disable_user, unlock_user
from tracker.access.sign_in import LOCK_AFTER_FAILURES, REFUSED, session_is_current, sign_in
from tracker.database import transaction
from tracker.errors import ValidationError


def test_an_admin_lifts_a_delay(clinic):
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for _ in range(LOCK_AFTER_FAILURES):
        refused("dr.lee", "wrong password!", "10.1.1.1", url=clinic)
    assert refused("dr.lee", GOOD, url=clinic) == REFUSED
    unlock_user(CLI, "dr.lee", url=clinic)
    assert sign_in("dr.lee", GOOD, "10.1.1.2", url=clinic).role == "clinician"


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


def test_demo_accounts_exist_only_with_the_demo_and_their_passwords_are_shown_once(sqlite_clinic):
    import stat
    from datetime import date

    from tracker.access.demo_accounts import credentials_file, demo_accounts_banner, ensure_demo_accounts
    from tracker.operations.demo import load_demo

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


def test_an_account_gone_before_its_row_is_locked_is_not_found(clinic, monkeypatch):
    """Found by name, then removed by another transaction (the demo's reset deletes its accounts) before its
    row is locked: the admin is told it is not there, not shown a crash."""
    from tracker.access import accounts
    from tracker.errors import NotFound

    create_user(CLI, username="dr.gone", password=GOOD, role="clinician", url=clinic)
    monkeypatch.setattr(accounts, "_locked_user", lambda session, **where: None)
    with pytest.raises(NotFound, match="No account 'dr.gone'"):
        unlock_user(CLI, "dr.gone", url=clinic)
