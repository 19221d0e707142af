"""Usernames and passwords (``tracker.access.credentials``): argon2 hashes, one password policy on every path,
usernames normalised to ASCII and never a reserved name.
"""

from __future__ import annotations

import pytest

from tests.account_samples import CLI, GOOD, refused, stored
from tracker.access.accounts import create_user
from tracker.access.actors import Actor
from tracker.access.credentials import PASSWORD_MAX, normalize_username
from tracker.access.own_password import change_own_password
from tracker.access.sign_in import REFUSED, sign_in
from tracker.errors import PermissionDenied, ValidationError


def test_passwords_are_argon2_hashed_and_policy_enforced(clinic):
    create_user(CLI, username="Dr.Lee", password=GOOD, role="clinician", url=clinic)
    stored_hash = stored(clinic, "dr.lee").password_hash
    assert stored_hash.startswith("$argon2id$") and GOOD not in stored_hash
    for weak, reason in (("short", "at least 10"), ("password123", "too common"), ("qwertyuiop", "too common"),
                         ("dr.kim.smith", "too common"), ("x" * (PASSWORD_MAX + 1), "at most")):
        with pytest.raises(ValidationError, match=reason):
            create_user(CLI, username="dr.kim.smith", password=weak, role="clinician", url=clinic)
    with pytest.raises(ValidationError, match="taken"):
        create_user(CLI, username="dr.lee", password=GOOD, role="clinician", url=clinic)
    with pytest.raises(PermissionDenied):
        create_user(Actor("dr.lee", "clinician"), username="x.y.z", password=GOOD, role="admin", url=clinic)


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
    assert normalize_username(" Ｄｒ．Ｌｅｅ ") == "dr.lee"
    for name in ("bоss", "ßoss", "bo ss", "@@@", "_boss", "ab", "x" * 81, "demo.clinician", "DEMO", "system"):
        with pytest.raises(ValidationError):
            create_user(CLI, username=name, password=GOOD, role="admin", url=clinic)
    assert create_user(CLI, username="Ｄｒ．Ｌｅｅ@clinic-1_a", password=GOOD, role="admin", url=clinic) \
        == "dr.lee@clinic-1_a"
    assert sign_in("DR.LEE@CLINIC-1_A", GOOD, url=clinic).username == "dr.lee@clinic-1_a"
