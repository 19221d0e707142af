"""The capture guide on the visit form: the device's camera with the previous visit's photo of the same view laid
over it, semi-transparent (opacity adjustable), so that distance, angle and parting can be matched; "Take the
photo" hands the frame to the form like an upload, after the photo check (``tracker.records.capture_checks``).

A Streamlit custom component (``st.components.v2``: its HTML, CSS and JavaScript are the static files in
``ui/capture_guide_files/``, sent with the page; nothing is built with npm, nothing is fetched from elsewhere). The
camera is the rear one where there is one (``facingMode: environment``), plays inline on a phone or tablet
(``playsinline``), and the controls are large enough for a thumb. Where no camera can be used (none, permission
refused, or a page not served over HTTPS or from localhost: browsers give the camera to secure pages only) the
guide says why and a plain upload takes its place.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import streamlit as st

from tracker.access.actors import Actor
from tracker.clinic_dates import show_date
from tracker.course.clinical import SCALP_VIEWS
from tracker.course.vocabulary import view_words
from tracker.records.capture_checks import PhotoCheck, PreviousPhoto, check_photos, previous_photo
from tracker.records.visit_form import PhotoUpload
from ui import private_media
from ui.messages import call, plain
from ui.visit_photos import PHOTO_TYPES

_FILES = Path(__file__).resolve().parent / "capture_guide_files"
_GUIDE = st.components.v2.component(
    "regrowth_capture_guide",
    html=(_FILES / "guide.html").read_text(encoding="utf-8"),
    css=(_FILES / "guide.css").read_text(encoding="utf-8"),
    js=(_FILES / "guide.js").read_text(encoding="utf-8"),
)
# Session keys (the visit form's "visit_" keys, blanked with a fresh form): the previous photos read per view, the
# photo taken and checked but not yet added, and the last uploaded fallback file already checked.
_PREVIOUS, _PENDING, _UPLOADED = "visit_guide_previous", "visit_camera_pending", "visit_camera_uploaded"
# Why the component found no camera ("refused: …"), in the words the form shows before the plain upload.
_NO_CAMERA = {
    "refused": "The browser was not allowed to use the camera",
    "insecure": "The camera works only on a page served over HTTPS (or opened on this computer)",
    "unsupported": "This browser gives no access to a camera",
    "missing": "No camera was found on this device",
    "failed": "The camera could not be started",
}


def _event(result: Any, name: str) -> Any:
    return getattr(result, name, None) if result is not None else None


def _nothing() -> None:
    """The component's events are read from its result; nothing needs doing when they change."""


def jpeg_of(data_url: object) -> bytes | None:
    """The bytes of a ``data:image/jpeg;base64,…`` URL sent by the guide; None for anything else.

    >>> jpeg_of("data:image/jpeg;base64,/9j/"), jpeg_of("data:text/html;base64,PGI+"), jpeg_of(None)
    (b'\\xff\\xd8\\xff', None, None)
    """
    prefix = "data:image/jpeg;base64,"
    if not isinstance(data_url, str) or not data_url.startswith(prefix):
        return None
    try:
        return base64.b64decode(data_url[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        return None


def _previous(actor: Actor, mrn: str, view: str) -> PreviousPhoto | None:
    """The view's previous photo, read (and audited) once per form and view rather than on every rerun."""
    read: dict[tuple[str, str], PreviousPhoto | None] = st.session_state.setdefault(_PREVIOUS, {})
    if (mrn, view) not in read:
        read[(mrn, view)] = call(previous_photo, actor, mrn, view)
    return read[(mrn, view)]


def _guide(previous: PreviousPhoto | None, key: str, note: str) -> tuple[bytes | None, str | None]:
    """Draw the guide (``note``: what it says under the camera about the last photo taken, '' for its own words);
    returns the photo just taken (JPEG bytes, or None) and the camera's state ("on", or why there is none; None
    until the browser has answered)."""
    overlay = None
    caption = ""
    if previous is not None:
        overlay = "data:image/jpeg;base64," + base64.b64encode(previous.display_jpeg).decode("ascii")
        caption = f"{view_words(previous.view)} photo of the visit of {show_date(previous.visit_date)}"
    result = _GUIDE(key=key, data={"overlay": overlay, "caption": caption, "note": note},
                    on_captured_change=_nothing, on_camera_change=_nothing)
    camera = _event(result, "camera")
    return jpeg_of(_event(result, "captured")), camera if isinstance(camera, str) else None


def _check(actor: Actor, mrn: str, upload: PhotoUpload, before: str) -> None:
    """Check the photo just taken or chosen; shown (with the guide's note) on the next run."""
    with st.spinner("Checking the photo…"):
        checks = call(check_photos, actor, mrn, [upload], before=before)
    if checks:
        st.session_state[_PENDING] = (upload, checks[0])
        st.rerun()


def _fallback(camera: str, view: str, key: str) -> tuple[str, bytes] | None:
    """Where there is no camera: why, and a plain upload for the view; the file newly chosen, if any."""
    reason = _NO_CAMERA.get(camera.split(":", 1)[0], "The camera could not be used")
    st.info(f"{reason}. Upload the {view_words(view).lower()} photo instead:")
    chosen = st.file_uploader(f"{view_words(view)} photo", type=PHOTO_TYPES, key=key)
    if chosen is None or st.session_state.get(_UPLOADED) == chosen.file_id:
        return None
    st.session_state[_UPLOADED] = chosen.file_id
    return chosen.name, chosen.getvalue()


def _pending(shots: list[PhotoUpload]) -> None:
    """The photo just taken and what its check found: add it (or keep it anyway), or take it again."""
    pending: tuple[PhotoUpload, PhotoCheck] | None = st.session_state.get(_PENDING)
    if pending is None:
        return
    upload, check = pending
    photo_column, _rest = st.columns(2)
    with photo_column:
        private_media.image(upload.data)
    problems = check.problems
    if problems:
        st.warning("**The photo check found problems:**\n\n" + "\n".join(f"- {plain(p)}" for p in problems))
    else:
        st.success("The photo check found nothing wrong with this photo.")
    add_column, retake_column = st.columns(2)
    usable = check.quality is not None
    label = "Keep this photo anyway" if problems else "Add this photo to the visit"
    if usable and add_column.button(label, key="visit_camera_add", type="primary"):
        shots.append(PhotoUpload(upload.view, upload.file_name, upload.data,
                                 quality=check.record(kept=bool(problems))))
        st.session_state.pop(_PENDING, None)
        st.rerun()
    if retake_column.button("Take it again", key="visit_camera_retake"):
        st.session_state.pop(_PENDING, None)
        st.rerun()


def camera_section(actor: Actor, mrn: str, shots: list[PhotoUpload], round_: int, visit_date: str) -> None:
    """Camera photos for the visit, one view at a time, each checked when taken and added to ``shots`` (saved
    with the form). ``visit_date``: the form's date as typed (the previous photo is from an earlier visit)."""
    if not st.toggle("Take photos with this device's camera", key="visit_use_camera"):
        return
    view = st.selectbox("View", SCALP_VIEWS, format_func=view_words, key="visit_camera_view")
    previous = _previous(actor, mrn, view)
    if previous is None:
        st.caption(f"No earlier {view_words(view).lower()} photo of this patient to lay over the camera.")
    else:
        st.caption(plain(f"Over the camera: the {view_words(view).lower()} photo of the visit of "
                         f"{show_date(previous.visit_date)}. Match its distance, angle and parting; the slider "
                         "sets how strongly it shows."))
    note = ""
    if st.session_state.get(_PENDING) is not None:
        note = "Photo taken: what the check found is below. Add it to the visit, or take it again."
    elif shots:
        note = f"{len(shots)} photo(s) added to the visit. Take the next one, or save the visit."
    taken, camera = _guide(previous, f"visit_guide_{round_}_{view}", note)
    number = len(shots) + 1
    if taken is not None:
        _check(actor, mrn, PhotoUpload(view, f"camera-{view}-{number}.jpg", taken), visit_date)
    elif camera is not None and camera != "on":
        chosen = _fallback(camera, view, key=f"visit_camera_file_{round_}_{number}")
        if chosen is not None:
            _check(actor, mrn, PhotoUpload(view, chosen[0], chosen[1]), visit_date)
    _pending(shots)
    if shots:
        st.caption("Camera photos to save: " + ", ".join(plain(shot.file_name) for shot in shots))
        if st.button("Discard the camera photos", key="visit_camera_discard"):
            shots.clear()
            st.rerun()
