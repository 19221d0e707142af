"""A signed-in user's own password: checked again (``verify_password``, the consult screen's unlock) and changed
(``change_own_password``, which ends the account's other sessions).
"""

from __future__ import annotations

from db import models
from tracker.access import audit
from tracker.access.actors import ROLES, STAFF, Actor, require_role
from tracker.access.credentials import _hasher, _verifies, check_password_policy
from tracker.access.sign_in import SignedIn, _locked_user, checked_again
from tracker.database import transaction
from tracker.errors import PermissionDenied, ValidationError

WRONG_CURRENT_PASSWORD = "Your current password is not right; your password was not changed."


def verify_password(actor: Actor, password: str, url: str | None = None) -> bool:
    """Re-check the signed-in user's password (leaving consult mode). True for the account's right password.

    Counted as a sign-in attempt is (``sign_in``: claimed under the account's and the address's rows, checked,
    then settled): a wrong password counts against both, and while the account is delayed even the right one is
    refused. The consult screen's own count of wrong passwords lived in the page session, which a reload starts
    afresh, so a patient left with the screen could have guessed at the clinician's password without end. A
    right password clears the account's count; it is not a sign-in (no new session, no ``sign_in`` audit entry).

    Staff only (consult mode is theirs): unchecked, any caller could test guesses against any account.
    """
    require_role(actor, *STAFF)
    if actor.user_id is None:
        return False
    with transaction(url) as session:
        user = session.get(models.User, actor.user_id)
        name = user.username if user is not None else None
    return name is not None and checked_again(name, password, actor.address, url)


def change_own_password(actor: Actor, current_password: str, new_password: str,
                        url: str | None = None) -> SignedIn:
    """Every user changes their own password, giving the current one. Returns the actor to keep in the
    session: the account's other sessions end (the session version changes), this one goes on."""
    require_role(actor, *ROLES)
    if actor.user_id is None:
        raise PermissionDenied("Only an account signed in with a password can change it.")
    check_password_policy(new_password or "", actor.username)
    if new_password == current_password:
        raise ValidationError("The new password must differ from the current one.")
    with transaction(url) as session:
        user = _locked_user(session, id=actor.user_id)
        if user is None or user.disabled_at is not None or user.username != actor.username:
            raise PermissionDenied(WRONG_CURRENT_PASSWORD)
        if not _verifies(user.password_hash, current_password or ""):
            raise PermissionDenied(WRONG_CURRENT_PASSWORD)
        user.password_hash = _hasher.hash(new_password)
        user.must_change_password = False
        user.session_version += 1
        audit.record(session, actor, "account", patient_id=user.patient_id, detail="changed own password")
        return SignedIn(username=user.username, role=user.role, patient_id=user.patient_id, address=actor.address,
                        user_id=user.id, session_version=user.session_version, must_change_password=False)
