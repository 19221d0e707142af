"""The session check behind every patient download (``pages.private_media``), without a browser; the
browser attacks are in ``test_browser_media.py``."""

from __future__ import annotations

import time

import pytest

from pages.private_media import SessionEnded, data_uri, guarded, session_allows
from pages.workspace import ACTOR, LAST_SEEN
from tracker.access import Actor

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
    assert state[LAST_SEEN] == 0.0  # the next page run signs it out, with the idle message
    assert not session_allows(state, LEE)


def test_outside_a_page_run_nothing_is_made():
    made = []
    download = guarded(LEE, lambda: made.append(1) or b"data", "test file")  # no script context here
    with pytest.raises(SessionEnded):
        download()
    assert made == []


def test_data_uri_names_the_image_type():
    assert data_uri(b"\x89PNG\r\n").startswith("data:image/png;base64,")
    assert data_uri(b"\xff\xd8\xff\xe0").startswith("data:image/jpeg;base64,/9j/")
