"""Account admin: local accounts created (``create_user``, also by the command line and the demo), disabled,
enabled, unlocked, given a temporary password, and listed; the last enabled admin always stays.

Names and passwords follow ``tracker.access.credentials``; signing in is ``tracker.access.sign_in``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import ADMIN, PATIENT, ROLES, Actor, require_role
from tracker.access.credentials import _clean_username, _hasher, check_password_policy, normalize_username
from tracker.access.patient_lookup import with_mrn
from tracker.access.sign_in import _aware, _locked_user, _now
from tracker.database import reading, transaction
from tracker.errors import NotFound, ValidationError


@dataclass(frozen=True)
class AccountRow:
    """One account as the Accounts page and ``user list`` show it. ``delayed_until``: refused until then
    (UTC), or None; ``failed_attempts``: consecutive failures since the last right password."""

    username: str
    role: str
    patient_mrn: str | None
    demo: bool
    disabled: bool
    must_change_password: bool
    failed_attempts: int
    delayed_until: datetime | None
    last_sign_in: datetime | None


def create_user(
    actor: Actor, *, username: str, password: str, role: str, patient_mrn: str | None = None,
    is_demo: bool = False, url: str | None = None,
) -> str:
    """Create an account; only admins (or the command line) may. Returns the stored username."""
    require_role(actor, ADMIN)
    name = _clean_username(username, is_demo)
    if role not in ROLES:
        raise ValidationError(f"Role must be one of: {', '.join(ROLES)}.")
    if role == PATIENT and not patient_mrn:
        raise ValidationError("A patient account must be linked to a patient record (--patient MRN).")
    if role != PATIENT and patient_mrn:
        raise ValidationError("Only patient accounts are linked to a patient record.")
    check_password_policy(password, name)
    with transaction(url) as session:
        if session.scalar(select(models.User.id).where(models.User.username == name)):
            raise ValidationError(f"The username {name!r} is taken.")
        patient_id = None
        if patient_mrn:
            patient = session.scalar(with_mrn(select(models.Patient), models.Patient.mrn, patient_mrn))
            if patient is None:
                raise NotFound(f"No patient with MRN {patient_mrn.strip()!r}.")
            if session.scalar(select(models.User.id).where(models.User.patient_id == patient.id)):
                raise ValidationError(f"Patient {patient.mrn} already has an account.")
            patient_id = patient.id
        session.add(models.User(
            username=name, password_hash=_hasher.hash(password), role=role, patient_id=patient_id,
            is_demo=is_demo, created_by=actor.username,
        ))
        audit.record(session, actor, "account", patient_id=patient_id, detail=f"created {role} account {name}")
    return name


def keep_an_enabled_admin(session: Session, leaving: set[int]) -> None:
    """Refuse a change that would leave the clinic with no enabled admin (``leaving``: ids of the accounts
    the change disables or removes). Every admin row is locked first, in id order, so two admins disabling
    each other at the same moment cannot both succeed. Call it before locking any other account row."""
    admins = session.scalars(
        select(models.User).where(models.User.role == ADMIN).order_by(models.User.id)
        .with_for_update().execution_options(populate_existing=True)
    ).all()
    enabled = {admin.id for admin in admins if admin.disabled_at is None}
    if enabled and enabled <= leaving:
        raise ValidationError("This is the last enabled administrator account: create or enable another "
                              "administrator first (python -m tracker user add --role admin).")


def _target(session: Session, username: str) -> int:
    """The account an admin named: exactly as typed (lower case) first, so an account made before usernames
    were normalised can still be disabled, then in its normalised form."""
    user_id = None
    for name in dict.fromkeys(((username or "").strip().lower(), normalize_username(username))):
        user_id = user_id or session.scalar(select(models.User.id).where(models.User.username == name))
    if user_id is None:
        raise NotFound(f"No account {username!r}.")
    return user_id


def _locked_account(session: Session, user_id: int, username: str) -> models.User:
    """The account ``_target`` found, locked for this transaction (``username`` as the admin typed it)."""
    user = _locked_user(session, id=user_id)
    if user is None:  # removed since _target found it (removing the demo deletes its accounts)
        raise NotFound(f"No account {username!r}.")
    return user


def disable_user(actor: Actor, username: str, url: str | None = None) -> str:
    """An admin's hard lock: the account cannot sign in and its open sessions end at their next rerun."""
    require_role(actor, ADMIN)
    with transaction(url) as session:
        user_id = _target(session, username)
        keep_an_enabled_admin(session, leaving={user_id})
        user = _locked_account(session, user_id, username)
        if user.disabled_at is not None:
            raise ValidationError(f"The account {user.username!r} is already disabled.")
        user.disabled_at = _now()
        user.session_version += 1
        audit.record(session, actor, "account", patient_id=user.patient_id, detail=f"disabled {user.username}")
        return user.username


def enable_user(actor: Actor, username: str, url: str | None = None) -> str:
    require_role(actor, ADMIN)
    with transaction(url) as session:
        user = _locked_account(session, _target(session, username), username)
        if user.disabled_at is None:
            raise ValidationError(f"The account {user.username!r} is not disabled.")
        user.disabled_at = None
        audit.record(session, actor, "account", patient_id=user.patient_id, detail=f"enabled {user.username}")
        return user.username


def reset_password(actor: Actor, username: str, url: str | None = None) -> str:
    """Give an account a random temporary password (returned once, never stored in clear) that its user must
    replace at the next sign-in; its open sessions end and any throttling delay is lifted."""
    require_role(actor, ADMIN)
    temporary = secrets.token_urlsafe(12)
    with transaction(url) as session:
        user = _locked_account(session, _target(session, username), username)
        if actor.user_id is not None and actor.user_id == user.id:
            raise ValidationError("To change your own password use the Change password page (it asks for your "
                                  "current one).")
        user.password_hash = _hasher.hash(temporary)
        user.must_change_password = True
        user.session_version += 1
        user.failed_attempts = 0
        user.locked_until = user.locked_at = None
        audit.record(session, actor, "account", patient_id=user.patient_id,
                     detail=f"reset the password of {user.username} (to be changed at the next sign-in)")
    return temporary


def unlock_user(actor: Actor, username: str, url: str | None = None) -> None:
    """Lift an account's throttling delay and clear its count of failures."""
    require_role(actor, ADMIN)
    with transaction(url) as session:
        user = _locked_account(session, _target(session, username), username)
        user.locked_until = user.locked_at = None
        user.failed_attempts = 0
        audit.record(session, actor, "account", patient_id=user.patient_id, detail=f"unlocked {user.username}")


def list_users(actor: Actor, url: str | None = None) -> list[AccountRow]:
    """Every account (the Accounts page, ``user list``), audited as one view: it links accounts to patients."""
    require_role(actor, ADMIN)
    now = _now()
    with reading(url) as session:
        rows = session.execute(
            select(models.User, models.Patient.mrn)
            .outerjoin(models.Patient, models.Patient.id == models.User.patient_id)
            .order_by(models.User.username)
        ).all()
        audit.record(session, actor, "view", detail=f"accounts list: {len(rows)} shown")
        return [
            AccountRow(
                username=u.username, role=u.role, patient_mrn=mrn, demo=u.is_demo, disabled=u.disabled_at is not None,
                must_change_password=u.must_change_password, failed_attempts=u.failed_attempts,
                delayed_until=until if (until := _aware(u.locked_until)) and until > now else None,
                last_sign_in=_aware(u.last_sign_in_at),
            )
            for u, mrn in rows
        ]
