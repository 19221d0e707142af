"""Local accounts: argon2 password hashes, sign-in with throttling and lock-out, and account admin.

Throttling (Trust issue): an account locks after ``LOCK_AFTER_FAILURES`` consecutive failures until an
admin unlocks it; an address that fails ``ADDRESS_FAILURE_LIMIT`` times inside ``ADDRESS_WINDOW`` is
refused until the window passes. A refusal never says whether the username exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from tracker import audit
from tracker.access import ADMIN, PATIENT, ROLES, STAFF, Actor, require_role
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied, ValidationError

MIN_PASSWORD_LENGTH = 10
LOCK_AFTER_FAILURES = 5
ADDRESS_FAILURE_LIMIT = 20
ADDRESS_WINDOW = timedelta(minutes=15)
WRONG_CREDENTIALS = "Wrong username or password."

_hasher = PasswordHasher()
# Verifying against a real hash for unknown usernames keeps the timing the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(
        line.strip().lower() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    )


def check_password_policy(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    lowered = password.lower()
    if lowered in common_passwords() or (username and lowered == username.lower()):
        raise ValidationError("This password is too common or too easy to guess; choose another.")


def _clean_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not (3 <= len(name) <= 80) or not all(c.isalnum() or c in "._-@" for c in name):
        raise ValidationError("A username has 3–80 letters, digits or . _ - @ characters.")
    return name


def create_user(
    actor: Actor, *, username: str, password: str, role: str, patient_mrn: str | None = None,
    is_demo: bool = False, url: str | None = None,
) -> str:
    """Create an account; only admins (or the command line) may. Returns the stored username."""
    require_role(actor, ADMIN)
    name = _clean_username(username)
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
            patient = session.scalar(select(models.Patient).where(models.Patient.mrn == patient_mrn.strip()))
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


def sign_in(username: str, password: str, address: str | None = None, url: str | None = None) -> Actor:
    """The acting user for a correct password; raises PermissionDenied with a plain reason otherwise.

    A refused attempt is still committed (with its audit entry) before the refusal is raised, so that
    throttling and lock-out count it.
    """
    name = (username or "").strip().lower()[:80]
    now = datetime.now(timezone.utc)
    refusal: PermissionDenied | None = None
    with transaction(url) as session:
        if address and _address_failures(session, address, now) >= ADDRESS_FAILURE_LIMIT:
            refusal = PermissionDenied("Too many failed sign-ins from this device. Wait 15 minutes and try again.")
            audit.record(session, None, "sign_in_failed", username=name, detail=f"address {address} throttled")
        else:
            user = session.scalar(select(models.User).where(models.User.username == name))
            try:
                correct = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
            except (VerificationError, InvalidHashError):
                correct = False
            if user is not None and user.locked_at is not None:
                refusal = PermissionDenied(
                    "This account is locked after repeated failed sign-ins. Ask an administrator to unlock it."
                )
            elif not correct or user is None or user.disabled_at is not None:
                refusal = PermissionDenied(WRONG_CREDENTIALS)
                if user is not None:
                    user.failed_attempts += 1
                    if user.failed_attempts >= LOCK_AFTER_FAILURES:
                        user.locked_at = now
            session.add(models.SignInAttempt(username=name, address=address, succeeded=refusal is None))
            if refusal is not None:
                audit.record(session, None, "sign_in_failed", username=name,
                             detail=f"address {address}" if address else "")
            else:
                user.failed_attempts = 0
                user.last_sign_in_at = now
                actor = Actor(username=user.username, role=user.role, patient_id=user.patient_id,
                              address=address, user_id=user.id)
                audit.record(session, actor, "sign_in", patient_id=user.patient_id)
    if refusal is not None:
        raise refusal
    return actor


def _address_failures(session: Session, address: str, now: datetime) -> int:
    return session.scalar(
        select(func.count(models.SignInAttempt.id)).where(
            models.SignInAttempt.address == address,
            models.SignInAttempt.succeeded.is_(False),
            models.SignInAttempt.at >= now - ADDRESS_WINDOW,
        )
    ) or 0


def unlock_user(actor: Actor, username: str, url: str | None = None) -> None:
    require_role(actor, ADMIN)
    with transaction(url) as session:
        user = session.scalar(select(models.User).where(models.User.username == username.strip().lower()))
        if user is None:
            raise NotFound(f"No account {username!r}.")
        user.locked_at = None
        user.failed_attempts = 0
        audit.record(session, actor, "account", patient_id=user.patient_id, detail=f"unlocked {user.username}")


def verify_password(actor: Actor, password: str, url: str | None = None) -> bool:
    """Re-check the signed-in user's password (leaving consult mode) without counting as a sign-in.

    Staff only (consult mode is theirs): unchecked, any caller could test guesses against any account.
    """
    require_role(actor, *STAFF)
    with transaction(url) as session:
        user = session.get(models.User, actor.user_id) if actor.user_id else None
        if user is None:
            return False
        try:
            return _hasher.verify(user.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            return False


def list_users(actor: Actor, url: str | None = None) -> list[dict]:
    require_role(actor, ADMIN)
    with transaction(url) as session:
        rows = session.execute(
            select(models.User, models.Patient.mrn).outerjoin(models.Patient, models.Patient.id == models.User.patient_id)
            .order_by(models.User.username)
        ).all()
        return [
            {"username": u.username, "role": u.role, "patient": mrn, "demo": u.is_demo,
             "locked": u.locked_at is not None, "last_sign_in": u.last_sign_in_at}
            for u, mrn in rows
        ]
