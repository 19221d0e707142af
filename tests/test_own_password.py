"""One's own password (``tracker.access.own_password``): after a reset only the change is possible, and the change
needs the current password; the page refuses plainly.
"""

from __future__ import annotations

import pytest

from tests.account_samples import CLI, GOOD, Clock, _app, audit_entries, refused, stored
from tracker.access.accounts import create_user, reset_password
from tracker.access.credentials import MIN_PASSWORD_LENGTH
from tracker.access.own_password import WRONG_CURRENT_PASSWORD, change_own_password, verify_password
from tracker.access.sign_in import LOCK_AFTER_FAILURES, REFUSED, session_is_current, sign_in
from tracker.errors import PermissionDenied, ValidationError


def test_reset_password_forces_a_change_and_the_change_needs_the_old_one(clinic):
    create_user(CLI, username="boss", password=GOOD, role="admin", url=clinic)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    for _ in range(LOCK_AFTER_FAILURES):
        refused("dr.lee", "wrong password!", url=clinic)
    before = sign_in("boss", GOOD, url=clinic)
    with pytest.raises(ValidationError, match="Change password"):
        reset_password(before, "boss", url=clinic)  # not one's own: that is Change password
    temporary = reset_password(before, "dr.lee", url=clinic)
    assert len(temporary) >= MIN_PASSWORD_LENGTH
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
    assert [e.value for e in at.error] == [WRONG_CURRENT_PASSWORD]
    at.text_input(key="pw_form_current").input(GOOD)
    at.text_input(key="pw_form_new").input("my own long phrase")
    at.text_input(key="pw_form_again").input("my own long phrasE")
    [submit] = [b for b in at.button if b.label == "Change password"]
    submit.click().run()
    assert any("differ" in e.value for e in at.error)
    assert sign_in("pat.lee", GOOD).username == "pat.lee"  # unchanged


def test_wrong_passwords_on_the_consult_screen_count_against_the_account(clinic, monkeypatch):
    """Found by review: the consult screen counted wrong passwords in its page session only, which a reload
    starts afresh, so a patient left with the screen could guess at the clinician's password without end. They
    now count against the account (and the address) as wrong sign-ins do; a right one clears the count and is no
    new sign-in."""
    clock = Clock(monkeypatch)
    create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    staff = sign_in("dr.lee", GOOD, "10.0.0.9", url=clinic)
    signed_in_at = stored(clinic, "dr.lee").last_sign_in_at
    assert verify_password(staff, "a wrong guess!", url=clinic) is False
    clock.advance(seconds=5)
    assert verify_password(staff, GOOD, url=clinic) is True
    user = stored(clinic, "dr.lee")
    assert user.failed_attempts == 0 and user.last_sign_in_at == signed_in_at
    for _ in range(LOCK_AFTER_FAILURES):  # a fresh page session each time (a reload) changes nothing here
        assert verify_password(staff, "a wrong guess!", url=clinic) is False
    assert stored(clinic, "dr.lee").failed_attempts == LOCK_AFTER_FAILURES
    assert verify_password(staff, GOOD, url=clinic) is False  # delayed: not even checked
    assert refused("dr.lee", GOOD, "10.0.0.7", url=clinic) == REFUSED  # nor at the sign-in page
    assert len(audit_entries(clinic, "sign_in_failed")) >= 1
    clock.advance(seconds=61)
    assert verify_password(staff, GOOD, url=clinic) is True  # the delay ended by itself
    assert stored(clinic, "dr.lee").failed_attempts == 0
