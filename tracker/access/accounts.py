"""Local accounts: argon2 password hashes, sign-in throttled per account and per address, and account admin.

Sign-in (Trust issue):

- **Claimed, then checked.** A guess is counted before its password is verified: one short transaction locks
  the client address's throttle row and the account's row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
  ``BEGIN IMMEDIATE`` holds the write lock, ``db/engine.py``), counts the guess as a failure and starts a
  delay when the count reaches the limit. The slow argon2 check runs after that transaction, and a second one
  settles the outcome (a right password clears the account's count). Parallel guesses therefore queue on the
  row: at most ``LOCK_AFTER_FAILURES`` of them are checked before the account refuses.
- **Delays, not lock-out.** After ``LOCK_AFTER_FAILURES`` consecutive failures an account refuses sign-ins
  for ``ACCOUNT_DELAY``, doubled for every further failure up to ``ACCOUNT_DELAY_CAP``; an address the same
  after ``ADDRESS_FAILURE_LIMIT`` failures (forgotten after ``ADDRESS_MEMORY`` without one). Attempts refused
  during a delay are not checked and do not lengthen it. So a visitor can delay an account, never shut it
  for good: the only hard lock is an admin's ``disable_user``.
- **One answer.** Every refusal has the same words (``REFUSED``) and the same cost: the password is always
  verified against an argon2 hash, the account's own when the guess was claimed, otherwise a dummy one with
  the same parameters (unknown name, delayed or disabled account, delayed address).
- **Folded audit.** Every attempt is a ``SignInAttempt`` row; the audit trail gets at most one
  ``sign_in_failed`` entry per username and address a minute, counting the failures since the previous one.

Sessions: a signed-in user is a ``SignedIn`` actor carrying the account's ``session_version``; disabling the
account or giving it a new password changes that version, and ``session_is_current`` (run by the pages on
every rerun) then ends the older sessions.
"""

from __future__ import annotations

import secrets
import string
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import ADMIN, PATIENT, ROLES, STAFF, Actor, require_role
from tracker.operations.database import read_transaction, transaction
from tracker.errors import NotFound, PermissionDenied, ValidationError

MIN_PASSWORD_LENGTH = 10
# The longest password accepted (the forms' max_chars too). Hashing cost grows with length, so a sign-in
# hashes at most one character more than this: a longer password can never be right anyway.
PASSWORD_MAX = 256
# Throttling. Five free guesses per account are enough for typing mistakes; the delays make guessing slow
# (15 minutes a guess at the cap) without letting a visitor keep the real user out for long.
LOCK_AFTER_FAILURES = 5
ACCOUNT_DELAY = timedelta(minutes=1)
ACCOUNT_DELAY_CAP = timedelta(minutes=15)
# An address gets more (a clinic's staff may share one behind a router), with a longer cap.
ADDRESS_FAILURE_LIMIT = 20
ADDRESS_DELAY = timedelta(minutes=1)
ADDRESS_DELAY_CAP = timedelta(minutes=60)
ADDRESS_MEMORY = timedelta(hours=24)
AUDIT_FOLD = timedelta(minutes=1)

REFUSED = "Wrong username or password, or this account cannot sign in right now."
WRONG_CURRENT_PASSWORD = "Your current password is not right; your password was not changed."
# What became of an attempt (SignInAttempt.outcome). Only the first two had the password checked against
# the account's hash; every other one against the dummy hash.
OUTCOMES = {
    "right_password": "the account's password was checked and right",
    "wrong_password": "the account's password was checked and wrong",
    "unknown_account": "no such username",
    "disabled": "the account is disabled by an admin",
    "account_delayed": "refused unchecked: the account is in a throttling delay",
    "address_delayed": "refused unchecked: the address is in a throttling delay",
    "changed": "right, but the account was disabled or given a new password while it was checked",
}
CHECKED = ("right_password", "wrong_password")

_hasher = PasswordHasher()
# Verifying against a hash with the same parameters keeps every refusal as slow as a checked guess.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


@dataclass(frozen=True)
class SignedIn(Actor):
    """An actor who signed in with a password: the account's session version at that moment (an older one
    ends the session) and whether an admin's reset requires a new password before anything else."""

    session_version: int = 0
    must_change_password: bool = False


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


def throttle_delay(failures: int, free: int, first: timedelta, cap: timedelta) -> timedelta | None:
    """How long sign-ins are refused after ``failures`` consecutive failures: none before ``free``, then
    ``first``, doubled for every further failure, at most ``cap``.

    >>> [throttle_delay(n, 5, timedelta(minutes=1), timedelta(minutes=15)) for n in (4, 5, 6, 8, 9, 400)]
    [None, datetime.timedelta(seconds=60), datetime.timedelta(seconds=120), datetime.timedelta(seconds=480), \
datetime.timedelta(seconds=900), datetime.timedelta(seconds=900)]
    """
    if failures < free:
        return None
    return min(first * 2 ** min(failures - free, 30), cap)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(
        line.strip().lower() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    )


def check_password_policy(password: str, username: str = "") -> None:
    """The one password policy of every path (create, change, the command line): length, no control
    characters (a CR, NUL or tab pasted or piped along could never be typed into a browser's password
    field), nor common passwords."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
        raise ValidationError("The password may not contain control characters (line breaks, tabs, NUL…).")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > PASSWORD_MAX:
        raise ValidationError(f"The password may have at most {PASSWORD_MAX} characters.")
    lowered = password.lower()
    if lowered in common_passwords() or (username and lowered == username.lower()):
        raise ValidationError("This password is too common or too easy to guess; choose another.")


USERNAME_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "._-@")
USERNAME_RULE = ("A username has 3–80 characters: letters a–z, digits and . _ - @, beginning with a letter or a "
                 "digit.")
# Names that the demo clinic and the set-up write as authors (``created_by``, the audit trail): an account of
# that name would pass for them. The demo accounts' own names are added (``reserved_usernames``).
AUTHOR_NAMES = frozenset({"demo", "system"})


def normalize_username(username: str | None) -> str:
    """A username as typed (sign-in, creation, every admin command) the way it is stored: NFKC, so that
    full-width or other compatibility forms ('ＢＯＳＳ') are their plain letters ('boss'), trimmed, lower case.

    >>> normalize_username(" ＢＯＳＳ ")
    'boss'
    """
    return unicodedata.normalize("NFKC", username or "").strip().lower()


def reserved_usernames() -> frozenset[str]:
    from tracker.operations.demo_accounts import DEMO_ACCOUNTS  # it builds on this module

    return AUTHOR_NAMES | {name for name, _, _ in DEMO_ACCOUNTS}


def _clean_username(username: str, is_demo: bool = False) -> str:
    """The stored form of a new account's username; refuses look-alikes: only ASCII letters, digits and
    ``. _ - @`` after normalising ('bоss' with a Cyrillic о is refused, not a second 'boss'), and never a
    name reserved for the demo accounts or the authors of demo and set-up rows."""
    name = normalize_username(username)
    if not (3 <= len(name) <= 80) or not set(name) <= USERNAME_CHARACTERS or not name[0].isalnum():
        raise ValidationError(USERNAME_RULE)
    if not is_demo and name in reserved_usernames():
        raise ValidationError(f"The username {name!r} is reserved (demo accounts and demo data); choose another.")
    return name


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; they are stored in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def _verifies(password_hash: str, password: str) -> bool:
    try:
        # Bytes, so that a string no policy allows (a lone surrogate) is checked, and refused, like any other.
        return _hasher.verify(password_hash, password[:PASSWORD_MAX + 1].encode("utf-8", "surrogatepass"))
    except (VerificationError, InvalidHashError):
        return False


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


# --- sign-in -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    """What the counting transaction decided: ``outcome`` None means the guess was counted against the
    account and its password is checked against ``password_hash``."""

    outcome: str | None
    user_id: int | None
    password_hash: str


def sign_in(username: str, password: str, address: str | None = None, url: str | None = None) -> SignedIn:
    """The signed-in user for a right password; raises PermissionDenied(REFUSED) otherwise.

    The attempt is counted and committed before the password is checked, and its outcome after; a refusal
    is raised only once both are committed.
    """
    name = normalize_username(username)[:80]  # as create_user stored it: 'ＢＯＳＳ' signs in as 'boss'
    with transaction(url) as session:
        claim = _claim(session, name, address, _now())
    correct = _verifies(claim.password_hash, password or "")
    with transaction(url) as session:
        user = _settle(session, name, address, _now(), claim, correct)
        if user is None:
            actor = None
        else:
            actor = SignedIn(username=user.username, role=user.role, patient_id=user.patient_id, address=address,
                             user_id=user.id, session_version=user.session_version,
                             must_change_password=user.must_change_password)
            audit.record(session, actor, "sign_in", patient_id=user.patient_id)
    if actor is None:
        raise PermissionDenied(REFUSED)
    return actor


def _throttle_row(session: Session, address: str | None) -> models.AddressThrottle:
    """The address's throttle row, made if missing and locked for this transaction."""
    key = (address or "")[:80]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(models.AddressThrottle).values(address=key, failures=0).on_conflict_do_nothing())
    return session.scalar(
        select(models.AddressThrottle).where(models.AddressThrottle.address == key)
        .with_for_update().execution_options(populate_existing=True)
    )


def _locked_user(session: Session, **where) -> models.User | None:
    query = select(models.User).with_for_update().execution_options(populate_existing=True)
    for column, value in where.items():
        query = query.where(getattr(models.User, column) == value)
    return session.scalar(query)


def _claim(session: Session, name: str, address: str | None, now: datetime) -> _Claim:
    """Count the attempt (under row locks) and decide whether its password is checked."""
    throttle = _throttle_row(session, address)
    if (_aware(throttle.locked_until) or now) > now:
        return _Claim("address_delayed", None, _DUMMY_HASH)
    user = _locked_user(session, username=name)
    if user is not None and (_aware(user.locked_until) or now) > now:
        return _Claim("account_delayed", user.id, _DUMMY_HASH)
    # From here on the attempt is a failure unless its password turns out right.
    if throttle.last_failure_at is not None and now - _aware(throttle.last_failure_at) > ADDRESS_MEMORY:
        throttle.failures = 0
    throttle.failures += 1
    throttle.last_failure_at = now
    delay = throttle_delay(throttle.failures, ADDRESS_FAILURE_LIMIT, ADDRESS_DELAY, ADDRESS_DELAY_CAP)
    throttle.locked_until = now + delay if delay else None
    if user is None:
        return _Claim("unknown_account", None, _DUMMY_HASH)
    if user.disabled_at is not None:
        return _Claim("disabled", user.id, _DUMMY_HASH)
    user.failed_attempts += 1
    delay = throttle_delay(user.failed_attempts, LOCK_AFTER_FAILURES, ACCOUNT_DELAY, ACCOUNT_DELAY_CAP)
    if delay:
        user.locked_until = now + delay
        user.locked_at = user.locked_at or now
    return _Claim(None, user.id, user.password_hash)


def _settle(session: Session, name: str, address: str | None, now: datetime, claim: _Claim,
            correct: bool) -> models.User | None:
    """Record the attempt's outcome; for a right password clear the account's count and return the user."""
    throttle = _throttle_row(session, address)  # the same lock order as _claim: address, then account
    user = _locked_user(session, id=claim.user_id) if claim.user_id is not None else None
    outcome = claim.outcome
    if outcome is None:
        if not correct:
            outcome = "wrong_password"
        elif user is None or user.disabled_at is not None or user.password_hash != claim.password_hash:
            outcome = "changed"
        else:
            outcome = "right_password"
    attempt = models.SignInAttempt(at=now, username=name, address=address, succeeded=outcome == "right_password",
                                   outcome=outcome)
    if outcome == "right_password":
        user.failed_attempts = 0
        user.locked_until = user.locked_at = None
        user.last_sign_in_at = now
        throttle.failures = max(throttle.failures - 1, 0)  # the claim counted it as a failure
        session.add(attempt)
        return user
    attempt.audited = _audit_failure(session, name, address, now)
    session.add(attempt)
    return None


def _audit_failure(session: Session, name: str, address: str | None, now: datetime) -> bool:
    """Write the folded ``sign_in_failed`` entry unless this username and address had one in the last
    minute; it counts this failure and those since the previous entry. Runs under the address row's lock,
    so two attempts cannot both decide to write."""
    pair = (models.SignInAttempt.username == name, models.SignInAttempt.address.is_not_distinct_from(address))
    last = _aware(session.scalar(select(func.max(models.SignInAttempt.at)).where(
        *pair, models.SignInAttempt.audited.is_(True))))
    if last is not None and now - last < AUDIT_FOLD:
        return False
    since = [models.SignInAttempt.succeeded.is_(False)] + ([models.SignInAttempt.at > last] if last else [])
    earlier, first = session.execute(
        select(func.count(models.SignInAttempt.id), func.min(models.SignInAttempt.at)).where(*pair, *since)
    ).one()
    detail = f"×{earlier + 1} from address {address or 'unknown'}"
    if earlier:
        detail += f" since {_aware(first):%Y-%m-%d %H:%M:%S} UTC"
    audit.record(session, None, "sign_in_failed", username=name, detail=detail)
    return True


def session_is_current(signed_in: Actor) -> bool:
    """Whether a page session's actor still stands: its account exists, is enabled and has the session
    version it signed in with. One primary-key read; pages run it on every rerun (``current_actor``).

    Actors that did not come from ``sign_in`` (the command line, tests) carry no account and stand.
    This answers about the session itself and grants nothing, so it checks no role.
    """
    if signed_in.user_id is None:
        return True
    user = models.User.__table__
    with read_transaction() as connection:
        row = connection.execute(
            select(user.c.disabled_at, user.c.session_version).where(user.c.id == signed_in.user_id)
        ).first()
    if row is None or row.disabled_at is not None:
        return False
    version = getattr(signed_in, "session_version", None)
    return version is None or version == row.session_version


def verify_password(actor: Actor, password: str, url: str | None = None) -> bool:
    """Re-check the signed-in user's password (leaving consult mode) without counting as a sign-in.

    Staff only (consult mode is theirs): unchecked, any caller could test guesses against any account.
    """
    require_role(actor, *STAFF)
    with transaction(url) as session:
        user = session.get(models.User, actor.user_id) if actor.user_id else None
        if user is None:
            return False
        return _verifies(user.password_hash, password or "")


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


# --- account admin -----------------------------------------------------------------------------------------


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


def disable_user(actor: Actor, username: str, url: str | None = None) -> str:
    """An admin's hard lock: the account cannot sign in and its open sessions end at their next rerun."""
    require_role(actor, ADMIN)
    with transaction(url) as session:
        user_id = _target(session, username)
        keep_an_enabled_admin(session, leaving={user_id})
        user = _locked_user(session, id=user_id)
        if user.disabled_at is not None:
            raise ValidationError(f"The account {user.username!r} is already disabled.")
        user.disabled_at = _now()
        user.session_version += 1
        audit.record(session, actor, "account", patient_id=user.patient_id, detail=f"disabled {user.username}")
        return user.username


def enable_user(actor: Actor, username: str, url: str | None = None) -> str:
    require_role(actor, ADMIN)
    with transaction(url) as session:
        user = _locked_user(session, id=_target(session, username))
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
        user = _locked_user(session, id=_target(session, username))
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
        user = _locked_user(session, id=_target(session, username))
        user.locked_until = user.locked_at = None
        user.failed_attempts = 0
        audit.record(session, actor, "account", patient_id=user.patient_id, detail=f"unlocked {user.username}")


def list_users(actor: Actor, url: str | None = None) -> list[AccountRow]:
    """Every account (the Accounts page, ``user list``), audited as one view: it links accounts to patients."""
    require_role(actor, ADMIN)
    now = _now()
    with transaction(url) as session:
        rows = session.execute(
            select(models.User, models.Patient.mrn).outerjoin(models.Patient, models.Patient.id == models.User.patient_id)
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

