"""The session check behind every patient download (``ui.private_media``), without a browser; the
browser attacks are in ``test_browser_media.py``."""

from __future__ import annotations

import time

import pytest

from tracker.access.actors import Actor
from ui.private_media import SessionEnded, data_uri, guarded, session_allows
from ui.signed_in import ACTOR, LAST_SEEN

LEE = Actor("dr.lee", "clinician")


def test_a_signed_in_active_session_allows_the_download():
    assert session_allows({ACTOR: LEE, LAST_SEEN: time.time() - 5}, LEE)


@pytest.mark.parametrize("state", [
    {},  # signed out (sign_out empties the session)
    {"signed_out_reason": "You are signed out."},
    {ACTOR: Actor("dr.kim", "clinician"), LAST_SEEN: time.time()},  # someone else signed in since
    {ACTOR: LEE},  # no activity on record
])
def test_a_signed_out_or_other_session_refuses(state):
    assert not session_allows(state, LEE)


def test_an_idle_session_refuses_and_is_left_to_sign_out(monkeypatch):
    monkeypatch.setenv("TRACKER_IDLE_MINUTES", "1")
    state = {ACTOR: LEE, LAST_SEEN: time.time() - 61}
    assert not session_allows(state, LEE)
    assert state[LAST_SEEN] < time.time() - 60  # only read: the page run the click starts signs it out


def test_outside_a_page_run_nothing_is_made():
    made = []
    download = guarded(LEE, lambda: made.append(1) or b"data", "test file")  # no script context here
    with pytest.raises(SessionEnded):
        download()
    assert made == []


def test_data_uri_names_the_image_type():
    assert data_uri(b"\x89PNG\r\n").startswith("data:image/png;base64,")
    assert data_uri(b"\xff\xd8\xff\xe0").startswith("data:image/jpeg;base64,/9j/")


def test_a_refused_download_is_one_log_line_without_a_stack_trace(caplog):
    """Streamlit logs a deferred download's exception with its stack; a refusal is normal use, so only the
    one-line reason stays (``_QuietRefusals``)."""
    import logging

    streamlit_log = logging.getLogger("streamlit.runtime.backend_operation_handler")
    download = guarded(LEE, lambda: b"data", "progress report")
    with caplog.at_level(logging.INFO):
        try:
            try:
                download()
            except SessionEnded as refusal:  # as MediaFileManager.execute_deferred wraps it
                raise RuntimeError(f"Callable execution failed: {refusal}") from refusal
        except RuntimeError:
            streamlit_log.exception("Error executing deferred callable for file_id %s", "x")  # as Streamlit does
        try:
            raise RuntimeError("a real fault")
        except RuntimeError:
            streamlit_log.exception("Error executing deferred callable for file_id %s", "y")
    messages = [(record.name, record.getMessage(), record.exc_info is not None) for record in caplog.records]
    assert ("regrowth", "progress report refused: the session that showed it is signed out or idle", False) \
        in messages
    assert not any("file_id x" in message for _, message, _ in messages)
    assert any("file_id y" in message and trace for _, message, trace in messages)  # real faults keep their stack


def test_a_download_clicked_after_the_account_was_disabled_is_not_made(sqlite_clinic, monkeypatch, caplog):
    """Issue #14 review: a click no longer runs the page, so the page's own account check did not run before
    the file was made; a disabled account's open page could still have exports made (and audited) in its name."""
    import logging
    from types import SimpleNamespace

    import ui.private_media as private_media
    from tracker.access.accounts import create_user, disable_user
    from tracker.access.actors import command_line_actor
    from tracker.access.sign_in import sign_in

    admin = command_line_actor("test")
    create_user(admin, username="dr.lee", password="Lee-passphrase-2026", role="clinician", url=sqlite_clinic)
    lee = sign_in("dr.lee", "Lee-passphrase-2026", url=sqlite_clinic)
    page = SimpleNamespace(session_state={ACTOR: lee, LAST_SEEN: time.time()})
    monkeypatch.setattr(private_media, "get_script_run_ctx", lambda: page)
    made: list[int] = []
    download = guarded(lee, lambda: made.append(1) or b"data", "lot CSV")
    assert download() == b"data" and made == [1]  # the control: an account that stands gets its file
    disable_user(admin, "dr.lee", url=sqlite_clinic)
    with caplog.at_level(logging.INFO), pytest.raises(SessionEnded):
        download()
    assert made == [1]
    assert [(r.getMessage(), r.exc_info) for r in caplog.records if r.name == "regrowth"] == [
        ("lot CSV refused: the account was disabled or signed out since the page was shown", None)]
