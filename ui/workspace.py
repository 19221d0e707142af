"""What every page shares: the signed-in actor, the selected patient, and showing errors plainly.

Only plain values live in ``st.session_state`` (the ``Actor`` dataclass, an MRN string): never ORM
objects. Tests sign in by setting ``st.session_state["actor"]`` to an ``Actor`` before running a page.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from datetime import date
from typing import Any, Callable, TypeVar

import streamlit as st

from tracker.access.actors import Actor
from tracker.operations.database import database_busy
from tracker.errors import TrackerError

log = logging.getLogger("regrowth")
T = TypeVar("T")

ACTOR, LAST_SEEN, MRN = "actor", "last_seen", "mrn"
BUSY = "The database is busy; nothing was lost. Try again in a moment."


def idle_limit_seconds() -> float:
    """Sessions end after this much inactivity (``TRACKER_IDLE_MINUTES``, default 15)."""
    from tracker.access.web_sessions import idle_limit_seconds as limit

    return limit()


WEB = "web_session"  # what this page session last told its web session: {"touched", "version", "consult"}


def session_cookie() -> str | None:
    """The ``rt_session`` cookie the browser sent when this page session opened (``serve.py`` sets it)."""
    from tracker.access.web_sessions import COOKIE

    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:  # no request behind this run (AppTest)
        return None
    return token if isinstance(token, str) and token else None


def _resume_web_session(now: float) -> Actor | None:
    """After a reload: the actor of the browser's standing sign-in cookie, signed in again here (with its
    consult screen, if one was open), or None."""
    from tracker.access.web_sessions import resume

    token = session_cookie()
    if token is None:
        return None
    resumed = call(resume, token, client_address())
    if resumed is None:
        return None
    st.session_state[ACTOR] = resumed.actor
    st.session_state[LAST_SEEN] = now
    if resumed.consult_mrn:
        st.session_state["consult"] = True
        st.session_state["consult_mrn"] = resumed.consult_mrn
    st.session_state[WEB] = {"touched": now, "version": resumed.actor.session_version,
                             "consult": resumed.consult_mrn}
    return resumed.actor


def _touch(token: str, actor: Actor) -> bool:
    """``web_sessions.touch``, where a cookie that is now another account's ends this page session too."""
    from tracker.access import web_sessions
    from tracker.errors import PermissionDenied

    try:
        return web_sessions.touch(token, actor)
    except PermissionDenied:
        return False


def _keep_web_session(actor: Actor, now: float) -> bool:
    """Tell the browser's web session that this page session is active (at most every
    ``web_sessions.touch_interval()``), and which consult screen is open. False: it has ended (signed out in
    another tab, or idle); this page session ends too."""
    from tracker.access import web_sessions
    token = session_cookie()
    if token is None:
        return True  # signed in on this page only (no cookie): nothing to keep
    known = st.session_state.get(WEB) or {}
    version = getattr(actor, "session_version", None)
    if now - known.get("touched", 0.0) >= web_sessions.touch_interval() or version != known.get("version"):
        standing = call(_touch, token, actor)
        if standing is False:
            return False
        if standing:
            known = {**known, "touched": now, "version": version}
    consult = st.session_state.get("consult_mrn") if st.session_state.get("consult") else None
    if consult != known.get("consult") and call(web_sessions.set_consult, token, consult) is not None:
        known = {**known, "consult": consult}
    st.session_state[WEB] = known
    return True


def keep_cookie_alive() -> None:
    """Have the browser renew (or, once the session has ended, drop) its sign-in cookie: the page's clicks
    travel over the websocket, which cannot set a cookie, so a CSS image asks ``/auth/keep-alive`` each
    time the web session is touched (style only: it takes no room on the page)."""
    from ui.sign_in_form import KEEP_ALIVE

    if session_cookie() is None:
        return
    touched = (st.session_state.get(WEB) or {}).get("touched")
    mark = f"{touched:.0f}" if isinstance(touched, float) else "out"
    st.html(f'<style>body {{background-image: url("{KEEP_ALIVE}?at={mark}");}}</style>')


def client_address() -> str | None:
    try:
        address = st.context.ip_address
    except Exception:  # some proxies and test harnesses have no address
        return None
    return address if isinstance(address, str) else None


def current_actor() -> Actor | None:
    """The signed-in actor, or None; ends the session once it has been idle too long, or once its account
    was disabled, removed or given a new password (one primary-key read per run: ``session_is_current``)."""
    from tracker.access.accounts import session_is_current

    actor = st.session_state.get(ACTOR)
    now = time.time()
    if not isinstance(actor, Actor):
        actor = _resume_web_session(now)
        if actor is None:
            return None
    last_seen = st.session_state.get(LAST_SEEN, now)
    if now - last_seen > idle_limit_seconds():
        sign_out(reason="Your session ended after a period of inactivity. Please sign in again.")
        return None
    current = call(session_is_current, actor)  # None: not known now (a busy database), and already said
    if current is None:
        st.stop()
    if not current:
        # Its web session (if any) refuses the old session version already; not revoked here, since a
        # password changed in another tab of this browser carries the shared cookie on.
        sign_out(reason="You are signed out: your account was disabled or given a new password. "
                        "Please sign in again, or ask an administrator.", revoke=False)
        return None
    if not _keep_web_session(actor, now):
        sign_out(reason="You are signed out. Please sign in again.", revoke=False)
        return None
    st.session_state[LAST_SEEN] = now
    return actor


def require_actor() -> Actor:
    """The signed-in actor, allowed on the calling page; otherwise the page stops here.

    ``app.py`` registers only the pages a role may use, but Streamlit can still run a page script
    directly (its ``pages/`` folder convention), so each page checks again against the same table.
    In consult mode only the consult screen may run.
    """
    from ui.registry import is_consult_page, roles_for

    actor = current_actor()
    if actor is None:
        st.warning("Please sign in.")
        st.stop()
    page_file = sys._getframe(1).f_globals.get("__file__", "")
    if actor.role not in roles_for(page_file):
        st.error("This page is not available to your account.")
        st.stop()
    if st.session_state.get("consult") and not is_consult_page(page_file):
        st.error("The consult screen is open: end the consult first.")
        st.stop()
    return actor


def sign_out(reason: str | None = None, revoke: bool = True) -> None:
    """End this page session; with ``revoke``, also the browser's web session, so that its cookie signs
    nobody in again (a reload, another tab, a copied cookie)."""
    if revoke and session_cookie() is not None:
        from tracker.access.web_sessions import revoke as revoke_web_session

        call(revoke_web_session, session_cookie(), reason or "signed out", client_address())
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.query_params.clear()
    if reason:
        st.session_state["signed_out_reason"] = reason


def selected_mrn() -> str | None:
    """The patient the clinician is working on: from the URL (?mrn=) or the session."""
    mrn = st.query_params.get(MRN) or st.session_state.get(MRN)
    return mrn.strip() if isinstance(mrn, str) and mrn.strip() else None


def select_patient(mrn: str) -> None:
    st.session_state[MRN] = mrn
    st.query_params[MRN] = mrn


def blank_form(prefix: str, keep: tuple[str, ...] = (), choices: tuple[str, ...] = ()) -> None:
    """Empty every widget whose key starts with ``prefix`` (except ``keep``), for a fresh form.

    Values are overwritten rather than deleted: a deleted key lets the browser send its old value back
    with the next submit, so a form that looks fresh could save the previous visit again. Keys starting
    with one of ``choices`` (select boxes, whose blank is not a valid option) are dropped instead.
    """
    for key in [k for k in st.session_state if str(k).startswith(prefix) and k not in keep]:
        value = st.session_state[key]
        if any(str(key).startswith(choice) for choice in choices):
            blank = _DROP
        elif isinstance(value, bool):
            blank = False
        elif isinstance(value, str):
            blank = ""
        elif isinstance(value, date):
            blank = date.today()
        elif isinstance(value, (int, float)) or value is None:
            blank = None
        else:
            blank = _DROP
        if blank is _DROP:
            del st.session_state[key]
        else:
            st.session_state[key] = blank  # (buttons may not be assigned: name them in ``keep``)


_DROP = object()


def offer_another_patient(key: str) -> None:
    """After a patient could not be opened: a way back to choosing one; the page stops here."""
    if st.button("Choose another patient", key=f"pick_{key}_other"):
        st.session_state.pop(MRN, None)
        st.query_params.pop(MRN, None)
        st.rerun()
    st.stop()


_ALWAYS = re.compile(r"([\\`*_\[\]<>|~$])")  # inline markup, links, HTML tags, tables, maths
_ENTITY = re.compile(r"&(?=#?\w+;)")  # &lt; and friends
_SHORTCODE = re.compile(r":(?=[\w/+-]+:|//)|(?<=www)\.")  # :smile: icon codes; http:// and www. autolinks
_LINE_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])", re.M)  # headings, quotes, lists, rules
# Links to bare URLs, www. addresses and e-mail addresses, and :smile: codes, are found in the text after the
# markdown has been read (backslashes already gone): an invisible word joiner (U+2060) breaks each pattern.
_TEXT_PATTERNS = re.compile(r"(?<=:)(?=//|[\w/+-]+:)|(?<=www)(?=\\\.)|(?=@)")
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    r"""User-typed text made safe for Streamlit markdown: shown literally, never as markup or HTML.

    >>> print(plain("<img src=x onerror=alert(1)>"))
    \<img src=x onerror=alert(1)\>
    >>> print(plain("MRN rt-0100: [click](javascript:x) *bold*"))
    MRN rt-0100: \[click\](javascript:x) \*bold\*
    >>> print(plain("# 1. :smile: http://x.org www.x.org a@b.org").replace(WORD_JOINER, "¦"))
    \# 1. \:¦smile: http\:¦//x.org www¦\.x.org a¦@b.org
    """
    text = _ALWAYS.sub(r"\\\1", str(text))
    text = _ENTITY.sub(r"\\&", text)
    text = _SHORTCODE.sub(lambda m: "\\" + m.group(0), text)
    text = _TEXT_PATTERNS.sub(WORD_JOINER, text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def show_error(error: TrackerError) -> None:
    """The message and every listed problem, shown as plain text (they may quote what was typed)."""
    message = str(error)
    problems = [p for p in (getattr(error, "problems", None) or []) if p and p != message]
    text = plain(message)
    if problems:
        text += "\n\n" + "\n".join(f"- {plain(p)}" for p in problems)
    st.error(text)


def call(service: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one service; a user error is shown as a message, a busy database as "try again" (one log line,
    no traceback: another writer held the lock too long), anything else as a plain apology.

    Returns None when the call failed (and nothing was saved: services run in one transaction).
    """
    try:
        return service(*args, **kwargs)
    except TrackerError as error:
        show_error(error)
    except Exception as error:  # never a traceback in front of a clinician; the server log keeps it
        busy = database_busy(error)
        if busy is not None:
            log.warning("database busy in %s: %s", getattr(service, "__name__", service), busy)
            st.error(BUSY)
            return None
        log.exception("unexpected error in %s", getattr(service, "__name__", service))
        st.error("Something went wrong and nothing was saved. Please try again; if it persists, tell your administrator.")
    return None


def choose_patient(actor: Actor, purpose: str, key: str) -> None:
    """A search-and-pick box for pages that need a patient first; selects it and reruns, else stops."""
    from tracker.records.validation import SEARCH_MAX
    from tracker.records.patient_search import find_patients

    st.info(f"Choose the patient whose {purpose} you are logging.")
    query = st.text_input("Find a patient by MRN or name", key=f"pick_{key}_query", max_chars=SEARCH_MAX)
    choices = call(find_patients, actor, query) or []
    if not choices:
        st.write("No patient matches.")
        st.stop()
    picked = st.selectbox(
        "Patient", choices, key=f"pick_{key}_patient",
        format_func=lambda c: f"{c.full_name} · MRN {c.mrn} · born {c.birth_date.isoformat()}",
    )
    if st.button(f"Log a {purpose} for this patient", key=f"pick_{key}_go", type="primary"):
        select_patient(picked.mrn)
        st.rerun()
    st.stop()
