"""Web sessions: a sign-in that survives a page reload, held by the browser as an HttpOnly cookie.

A Streamlit session lives as long as one websocket, so a reload (F5) used to sign the clinician out. The
server entry (``serve.py``) signs in over a plain HTTP form instead: ``open_session`` makes a row here and
hands back a random token, which the browser keeps as the ``rt_session`` cookie (HttpOnly, SameSite=Strict)
and sends with every request of the app, the websocket's included. The page script finds the actor again
with ``resume``; the ``/media/`` guard asks ``actor_for_token``.

- **Only a hash is stored.** The row holds the token's SHA-256: a copy of the table signs nobody in.
- **The server decides.** A token stands while its row is not revoked, its account is enabled and still has
  the session version it signed in with (a disable, a reset or a password change elsewhere ends it, as
  ``sign_in.session_is_current`` does for a page session), and it was seen within the idle limit.
  ``touch`` moves ``last_seen_at`` on, at most every ``touch_interval()`` so that reruns stay cheap.
- **One per browser.** The cookie is the browser's, so a second tab of the same browser is signed in too,
  and a sign-out in one tab ends the others at their first click once their next touch is due (within
  ``touch_interval()``); a reload ends them at once.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, update

from db import models
from tracker.access import audit
from tracker.access.actors import ROLES, Actor, require_role
from tracker.access.sign_in import SignedIn
from tracker.database import AnyRow, read_transaction, transaction
from tracker.errors import PermissionDenied

COOKIE = "rt_session"
# Reruns touch the row at most this often (and at least four times per idle limit, for short test limits).
TOUCH_EVERY_S = 30.0
# Rows of sessions ended (revoked or idle) this long ago are deleted at the next sign-in.
FORGET_AFTER = timedelta(days=30)

_row = models.Base.metadata.tables[models.WebSession.__tablename__]
_user = models.Base.metadata.tables[models.User.__tablename__]


def idle_limit_seconds() -> float:
    """A sign-in ends after this much inactivity (``TRACKER_IDLE_MINUTES``, default 15)."""
    return float(os.environ.get("TRACKER_IDLE_MINUTES", "15")) * 60


def touch_interval() -> float:
    return min(TOUCH_EVERY_S, idle_limit_seconds() / 4)


def token_hash(token: str) -> str:
    """What the table keeps of a token.

    >>> token_hash("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they are stored in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class Resumed:
    """A web session found standing: its actor (as ``sign_in.sign_in`` makes it, with the address of this
    request) and the patient whose consult screen was open in it, if any."""

    actor: SignedIn
    consult_mrn: str | None


_STANDING = (
    select(_row.c.id, _row.c.last_seen_at, _row.c.consult_mrn, _user.c.id.label("user_id"), _user.c.username,
           _user.c.role, _user.c.patient_id, _user.c.session_version, _user.c.must_change_password)
    .join(_user, _user.c.id == _row.c.user_id)
    .where(_row.c.revoked_at.is_(None), _user.c.disabled_at.is_(None),
           _user.c.session_version == _row.c.session_version)
)


def _standing(connection: Connection, token: str | None, now: datetime) -> AnyRow | None:
    """The row of a token that stands at ``now`` (see the module's docstring), or None."""
    if not token or len(token) > 200:
        return None
    row = connection.execute(_STANDING.where(_row.c.token_sha256 == token_hash(token))).first()
    if row is None or (now - _aware(row.last_seen_at)).total_seconds() > idle_limit_seconds():
        return None
    return row


def open_session(actor: SignedIn, url: str | None = None) -> str:
    """A new web session for an actor just signed in (``sign_in.sign_in``); returns its token, for the cookie
    only (it is not stored)."""
    require_role(actor, *ROLES)
    if not isinstance(actor, SignedIn) or actor.user_id is None:
        raise PermissionDenied("Only an account signed in with its password gets a web session.")
    token = secrets.token_urlsafe(32)
    now = _now()
    with transaction(url) as session:
        user = session.get(models.User, actor.user_id)
        # The actor must still be the account as it stands (not disabled, no newer password since the sign-in).
        if (user is None or user.disabled_at is not None or (user.username, user.role, user.session_version)
                != (actor.username, actor.role, actor.session_version)):
            raise PermissionDenied("Only an account signed in with its password gets a web session.")
        session.execute(_row.delete().where(_row.c.last_seen_at < now - FORGET_AFTER))
        session.add(models.WebSession(token_sha256=token_hash(token), user_id=actor.user_id,
                                      session_version=actor.session_version, created_at=now, last_seen_at=now))
    return token


def resume(token: str | None, address: str | None, url: str | None = None) -> Resumed | None:
    """The signed-in actor of a standing token (None for a missing, unknown, revoked, idle, disabled or
    changed one). Counts as activity: the session's idle time starts again."""
    now = _now()
    with read_transaction(url) as connection:
        row = _standing(connection, token, now)
        if row is None:
            return None
        connection.execute(update(_row).where(_row.c.id == row.id).values(last_seen_at=now))
    actor = SignedIn(username=row.username, role=row.role, patient_id=row.patient_id, address=address,
                     user_id=row.user_id, session_version=row.session_version,
                     must_change_password=row.must_change_password)
    return Resumed(actor, row.consult_mrn)


def actor_for_token(token: str | None, address: str | None = None, url: str | None = None) -> Actor | None:
    """The actor of a standing token, or None; reads only (the ``/media/`` guard asks on every fetch)."""
    with read_transaction(url) as connection:
        row = _standing(connection, token, _now())
    if row is None:
        return None
    return SignedIn(username=row.username, role=row.role, patient_id=row.patient_id, address=address,
                    user_id=row.user_id, session_version=row.session_version,
                    must_change_password=row.must_change_password)


def touch(token: str | None, actor: Actor, url: str | None = None) -> bool:
    """Activity in a page session signed in as ``actor`` with this token: ``last_seen_at`` moves on. Returns
    whether the web session still stands for ``actor`` (False: unknown, revoked, idle, or the account is
    disabled or has moved past ``actor``'s session version; sign out). Raises PermissionDenied for an actor
    that is nobody's, or when the token is another account's (the page session must end).

    An actor that carries the account's current session version while the row has an older one changed
    its own password in this session (``own_password.change_own_password``): the row follows it.
    """
    require_role(actor, *ROLES)
    now = _now()
    with read_transaction(url) as connection:
        row = connection.execute(
            select(_row.c.id, _row.c.user_id, _row.c.session_version, _row.c.last_seen_at, _row.c.revoked_at,
                   _user.c.disabled_at, _user.c.session_version.label("current"))
            .join(_user, _user.c.id == _row.c.user_id)
            .where(_row.c.token_sha256 == token_hash(token or ""))
        ).first()
        if row is not None and row.user_id != actor.user_id:
            # The browser's cookie is another account's (signed in as someone else in another tab): this page
            # session may not keep that one alive, and ends.
            raise PermissionDenied("This browser is signed in as another account now.")
        version = getattr(actor, "session_version", None)
        if (row is None or row.revoked_at is not None or row.disabled_at is not None
                or (now - _aware(row.last_seen_at)).total_seconds() > idle_limit_seconds()
                or row.current != (row.session_version if version is None else version)):
            return False
        connection.execute(update(_row).where(_row.c.id == row.id)
                           .values(last_seen_at=now, session_version=row.current))
    return True


def set_consult(token: str | None, mrn: str | None, url: str | None = None) -> bool:
    """Remember that this web session's consult screen is open for ``mrn`` (None: closed), so that a reload
    opens the consult screen again instead of the workspace. Returns whether the session was found."""
    with read_transaction(url) as connection:
        return connection.execute(update(_row).where(_row.c.token_sha256 == token_hash(token or ""))
                                  .values(consult_mrn=mrn)).rowcount > 0


def revoke(token: str | None, reason: str, address: str | None = None, url: str | None = None) -> bool:
    """End a web session for good (its cookie restores nothing any more) and audit the sign-out with
    ``reason``. Returns whether a standing session was ended (ending it twice records once)."""
    if not token:
        return False
    with read_transaction(url) as connection:
        row = connection.execute(
            select(_row.c.id, _user.c.username, _user.c.role, _user.c.patient_id, _user.c.id.label("user_id"))
            .join(_user, _user.c.id == _row.c.user_id)
            .where(_row.c.token_sha256 == token_hash(token), _row.c.revoked_at.is_(None))
        ).first()
        if row is None:
            return False
        connection.execute(update(_row).where(_row.c.id == row.id).values(revoked_at=_now(), consult_mrn=None))
        actor = Actor(username=row.username, role=row.role, patient_id=row.patient_id, address=address,
                      user_id=row.user_id)
        audit.record(connection, actor, "sign_out", patient_id=row.patient_id, detail=reason[:200])
    return True
