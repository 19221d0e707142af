"""Signing in to a local account, throttled per account and per address; whether a signed-in session still stands.

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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, overload

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.access.credentials import _DUMMY_HASH, _verifies, normalize_username
from tracker.database import read_transaction, transaction
from tracker.errors import PermissionDenied

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
# What became of an attempt (SignInAttempt.outcome). Only the first two had the password checked against
# the account's hash; every other one against the dummy hash.
Outcome = Literal[
    "right_password",  # the account's password was checked and right
    "wrong_password",  # the account's password was checked and wrong
    "unknown_account",  # no such username
    "disabled",  # the account is disabled by an admin
    "account_delayed",  # refused unchecked: the account is in a throttling delay
    "address_delayed",  # refused unchecked: the address is in a throttling delay
    "changed",  # right, but the account was disabled or given a new password while it was checked
]
CHECKED: tuple[Outcome, ...] = ("right_password", "wrong_password")


@dataclass(frozen=True)
class SignedIn(Actor):
    """An actor who signed in with a password: the account's session version at that moment (an older one
    ends the session) and whether an admin's reset requires a new password before anything else."""

    session_version: int = 0
    must_change_password: bool = False


def throttle_delay(failures: int, free: int, first: timedelta, cap: timedelta) -> timedelta | None:
    """How long sign-ins are refused after ``failures`` consecutive failures: none before ``free``, then
    ``first``, doubled for every further failure, at most ``cap``.

    >>> [throttle_delay(n, 5, timedelta(minutes=1), timedelta(minutes=15)) for n in (4, 5, 6, 8, 9, 400)]
    [None, datetime.timedelta(seconds=60), datetime.timedelta(seconds=120), datetime.timedelta(seconds=480), \
datetime.timedelta(seconds=900), datetime.timedelta(seconds=900)]
    """
    if failures < free:
        return None
    doublings = min(failures - free, 30)
    return min(first * (1 << doublings), cap)


def _now() -> datetime:
    return datetime.now(UTC)


@overload
def _aware(moment: datetime) -> datetime: ...
@overload
def _aware(moment: None) -> None: ...
@overload
def _aware(moment: datetime | None) -> datetime | None: ...
def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; they are stored in UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@dataclass(frozen=True)
class _Claim:
    """What the counting transaction decided: ``outcome`` None means the guess was counted against the
    account and its password is checked against ``password_hash``."""

    outcome: Outcome | None
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


def checked_again(username: str, password: str, address: str | None = None, url: str | None = None) -> bool:
    """A signed-in user's password checked again (``own_password.verify_password``): True for the right one.
    Claimed, checked and settled as a sign-in attempt is, so a wrong one counts against the account and the
    address, and a delayed account's is refused unchecked; but no sign-in (the account's last sign-in stays)."""
    name = normalize_username(username)[:80]
    with transaction(url) as session:
        claim = _claim(session, name, address, _now())
    correct = _verifies(claim.password_hash, password or "")
    with transaction(url) as session:
        return _settle(session, name, address, _now(), claim, correct, signs_in=False) is not None


def _throttle_row(session: Session, address: str | None) -> models.AddressThrottle:
    """The address's throttle row, made if missing and locked for this transaction."""
    key = (address or "")[:80]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(models.AddressThrottle).values(address=key, failures=0).on_conflict_do_nothing())
    return session.execute(  # the insert above made the row if it was missing: exactly one
        select(models.AddressThrottle).where(models.AddressThrottle.address == key)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def _locked_user(session: Session, **where: object) -> models.User | None:
    """The account whose columns equal ``where`` (e.g. ``id=3``), locked for this transaction, or None."""
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
            correct: bool, signs_in: bool = True) -> models.User | None:
    """Record the attempt's outcome; for a right password clear the account's count and return the user.
    ``signs_in``: False for a password checked again in a session (``verify_password``), which is no new
    sign-in (the account's last sign-in stays)."""
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
        if user is None:  # cannot happen: "right_password" is decided above only for a locked account
            raise RuntimeError("A right password was settled without its account.")
        user.failed_attempts = 0
        user.locked_until = user.locked_at = None
        if signs_in:
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
