"""AppTest: a refusal is shown once, in plain words, with each further problem listed once."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _shown(message: str, problems: list[str] | None) -> str:
    def script(message: str, problems: list[str] | None) -> None:
        from tracker.errors import ValidationError
        from ui.messages import show_error

        show_error(ValidationError(message, problems))

    at = AppTest.from_function(script, args=(message, problems), default_timeout=30).run()
    assert not at.exception
    (error,) = at.error
    return str(error.value).replace("\\", "")


def test_a_single_problem_that_ends_the_message_is_not_repeated_as_a_bullet():
    # "The session was not saved: volume …" then "- volume …" again, before.
    problem = "volume '1.234,5' is not a number (millilitres)"
    assert _shown(f"The session was not saved: {problem}", [problem]) == f"The session was not saved: {problem}"


def test_several_problems_are_each_listed_once():
    shown = _shown("The visit was not saved. Please correct the following:", ["density at vertex is required",
                                                                            "visit date is required"])
    assert shown == ("The visit was not saved. Please correct the following:\n\n- density at vertex is required\n"
                     "- visit date is required")


def test_an_unavailable_photo_store_is_shown_plainly_and_its_details_logged(caplog):
    """A store failure named for an administrator (bucket, endpoint, variables) reaches a user as one plain
    line, through ``call`` as any service's refusal; the detailed line is in the log."""
    def script() -> None:
        from tracker.storage.s3_store import StoreUnavailable
        from ui.messages import call

        def save_photo() -> None:
            raise StoreUnavailable("The object store (s3://photos/ at http://10.0.0.9:9000) refused access to "
                                   "bucket 'photos' (AccessDenied): check AWS_ACCESS_KEY_ID")

        call(save_photo)

    at = AppTest.from_function(script, default_timeout=30).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Photos are unavailable right now; nothing was saved. Try again later; "
                                           "if it persists, tell your administrator (the server log says what "
                                           "to check)."]
    assert any("AWS_ACCESS_KEY_ID" in r.getMessage() and "10.0.0.9" in r.getMessage() for r in caplog.records)
