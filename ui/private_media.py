"""Patient photos and files, delivered only to the signed-in session that shows them.

Streamlit serves ``st.image`` bytes and download data at ``/media/<hash>`` to any client that has the URL:
no cookie is asked for, and the file stays there while the page is open, also after its session has idled
out or signed out. Patient content therefore does not take that route as it stands:

- ``image``: the JPEG goes inline, as a ``data:`` URI inside the page's own websocket message, so no URL
  exists for it at all (``st.image`` passes a ``data:`` URI through untouched);
- ``download_button``: the file is made only when the button is clicked, by a callable that first checks
  that the session which drew the button is still signed in, as the same person, and not idle. Streamlit
  runs that callable on a worker thread without a script context (``st.session_state`` there is a
  process-wide stand-in, not the clinician's), so the session's own state is captured when the button is
  drawn and read at click time. The made file is then served once more from ``/media/``: it is dropped
  from Streamlit's store a few seconds later (``DOWNLOAD_LIFETIME_S``), long enough for the browser's
  fetch, instead of lingering until later page runs clean it up.

Served by ``serve.py``, ``/media/`` also answers 403 to any request without a standing sign-in cookie, so a
made file's URL is of no use to anyone but a signed-in browser during those seconds.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from tracker.access.actors import Actor
from tracker.access.sign_in import session_is_current
from tracker.database import database_busy
from tracker.errors import TrackerError
from ui.signed_in import ACTOR, LAST_SEEN, idle_limit_seconds

log = logging.getLogger("regrowth")

DOWNLOAD_LIFETIME_S = 10.0  # the browser fetches a made file at once (well within this, also on a busy server)


class DownloadRefused(RuntimeError):
    """A download that was not made, for a reason already logged in one line."""


class SessionEnded(DownloadRefused):
    """A download was asked for by a session that is signed out, idle, or signed in as someone else."""


class _QuietRefusals(logging.Filter):
    """Streamlit logs any exception of a deferred download with its stack trace. A refusal is normal use
    (an idle session, a busy database) and was logged in one line already: its record is dropped here."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:  # Streamlit wraps the callable's exception (MediaFileStorageError from ours)
            if isinstance(error, DownloadRefused):
                return False
            error = error.__cause__ or error.__context__
        return True


logging.getLogger("streamlit.runtime.backend_operation_handler").addFilter(_QuietRefusals())


def data_uri(image: bytes) -> str:
    """The image bytes (JPEG, or PNG) as a ``data:`` URI.

    >>> data_uri(b"\\xff\\xd8\\xff")
    'data:image/jpeg;base64,/9j/'
    """
    mime = "image/png" if image.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"


def image(data: bytes) -> None:
    """A patient image, full width of its column, with no ``/media/`` URL."""
    st.image(data_uri(data), width="stretch")


def session_allows(state: Any, actor: Actor, now: float | None = None) -> bool:
    """Whether ``state`` (one session's state) is still signed in as ``actor`` and not idle.

    Only reads: this runs on Streamlit's worker thread, where writing session state logs a "missing
    ScriptRunContext" warning. An idle session is signed out by its next page run
    (``signed_in.current_actor`` finds the same idle time), with the usual message.
    """
    now = time.time() if now is None else now
    # ``state`` is Streamlit's SafeSessionState, which has ``in`` and ``[]`` but no ``.get()``.
    if ACTOR not in state or state[ACTOR] != actor or LAST_SEEN not in state:
        return False
    last_seen = state[LAST_SEEN]
    return isinstance(last_seen, (int, float)) and now - last_seen <= idle_limit_seconds()


def guarded(actor: Actor, produce: Callable[[], bytes], what: str) -> Callable[[], bytes]:
    """``produce`` wrapped so that it runs only while the calling session allows it (see ``session_allows``).

    Call this while the page is drawn: it captures that session's state. Refusals and failures raise (the
    browser then gets no file); a clinician-facing reason cannot be shown from the worker thread (the browser
    says the download failed), and the next page run shows the sign-in page when the session has ended.
    """
    ctx = get_script_run_ctx()
    state = ctx.session_state if ctx is not None else None

    def run() -> bytes:
        if state is None or not session_allows(state, actor):
            log.warning("%s refused: the session that showed it is signed out or idle", what)
            raise SessionEnded(f"{what}: the session has ended")
        try:
            # The click runs no page (``download_button``), so the page's own check of the account (disabled,
            # password reset, signed out elsewhere) has not run since the button was drawn: it runs here.
            if not session_is_current(actor):
                log.warning("%s refused: the account was disabled or signed out since the page was shown", what)
                raise SessionEnded(f"{what}: the session has ended")
            data = produce()
        except TrackerError as error:
            log.warning("%s refused: %s", what, error)
            raise DownloadRefused(f"{what}: {error}") from None
        except DownloadRefused:
            raise  # said in one line above
        except Exception as error:
            if database_busy(error):
                log.warning("%s not made: the database is busy (%s)", what, type(error).__name__)
                raise DownloadRefused(f"{what}: the database is busy") from None
            log.exception("%s failed", what)  # not normal use: the stack trace is for the administrator
            raise RuntimeError(f"{what} failed; nothing was made") from None
        _expire_made_files()
        return data

    return run


def download_button(actor: Actor, label: str, produce: Callable[[], bytes], *, what: str, file_name: str,
                    mime: str, key: str, **options: Any) -> None:
    """A download whose file is made at click time, for this signed-in session only (see ``guarded``).

    The click does not run the page again (``on_click="ignore"``). A page run started by the click would
    register a new file id for the button and drop the one the browser is asking for as soon as that run,
    or any other session's run, ends: on a busy server the download then failed with "Deferred file ...
    not found". A session found ended gets no file (the browser says the download failed) and is shown the
    sign-in page at its next click.
    """
    st.download_button(label, data=guarded(actor, produce, what), file_name=file_name, mime=mime, key=key,
                       on_click="ignore", **options)


def _expire_made_files() -> None:
    """Soon after a file is made, drop every file no session shows any more from Streamlit's store.

    Streamlit keeps a made download until two later page runs have passed (the first marks it, the second
    deletes it); a clinician who downloads and walks away would leave the file fetchable. The two passes
    are run here after ``DOWNLOAD_LIFETIME_S``, through the manager's public clean-up, which keeps
    everything a session still shows.
    """
    from streamlit import runtime

    if not runtime.exists():
        return
    manager = runtime.get_instance().media_file_mgr

    def clean() -> None:
        manager.remove_orphaned_files()
        manager.remove_orphaned_files()

    timer = threading.Timer(DOWNLOAD_LIFETIME_S, clean)
    timer.daemon = True
    timer.start()
