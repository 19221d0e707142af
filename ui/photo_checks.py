"""The photo check for uploaded files, in the visit form and in "Add photos to a visit" on the record: each photo is
checked once (``tracker.records.capture_checks``) when the form is saved, before anything is stored; when a check
finds problems, nothing is saved and the form says what is wrong in plain words. The clinician replaces the photo
with a better one (a new file is checked afresh) or keeps the photos as they are ("Keep these photos and save"); the
check's result goes with each photo to the save.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import streamlit as st

from tracker.access.actors import Actor
from tracker.records.capture_checks import PhotoCheck, check_photos
from tracker.records.visit_form import PhotoUpload
from ui.messages import call, plain


@dataclass(frozen=True)
class CheckKeys:
    """One form's session keys: each file's check, by view and upload id (a file is checked once however often
    the page reruns); the files kept anyway; the problems being asked about. Each form has its own, so that a
    question asked in one form is never shown in the other."""

    checked: str
    kept: str
    asked: str

    def forget(self) -> None:
        """Drop the form's checks, kept files and question (after its photos were saved)."""
        for key in (self.checked, self.kept, self.asked):
            st.session_state.pop(key, None)


# The visit form's keys are "visit_" keys, blanked with a fresh form.
VISIT_FORM = CheckKeys("visit_quality_checked", "visit_quality_kept", "visit_quality_asked")
ADDED_PHOTOS = CheckKeys("added_photos_quality_checked", "added_photos_quality_kept", "added_photos_quality_asked")


@dataclass(frozen=True)
class FormPhoto:
    """A photo chosen in the form's uploader for ``view``: ``file_id`` is Streamlit's id of that upload."""

    view: str
    file_id: str
    file_name: str
    data: bytes


def question(keys: CheckKeys = VISIT_FORM) -> bool:
    """Inside the form: the photo check's problems, and "Keep these photos and save"; returns whether pressed."""
    asked: list[str] | None = st.session_state.get(keys.asked)
    if not asked:
        return False
    st.warning("**The photo check found problems** (nothing was saved):\n\n"
               + "\n".join(f"- {plain(problem)}" for problem in asked)
               + "\n\nReplace a photo above with a better one, or keep the photos as they are.")
    return st.form_submit_button("Keep these photos and save")


def checked(actor: Actor, mrn: str, photos: Sequence[FormPhoto], visit_date: date | str,
            keep: bool, keys: CheckKeys = VISIT_FORM) -> list[PhotoUpload] | None:
    """The form's photos with their checks, ready to save; None when a check found problems not yet kept (they
    are then asked about: ``keys.asked``) or the check itself could not run (its message is shown). ``keep``: "Keep
    these photos and save" was pressed, so every photo asked about is kept as it is."""
    done: dict[tuple[str, str], PhotoCheck] = st.session_state.setdefault(keys.checked, {})
    kept: set[tuple[str, str]] = st.session_state.setdefault(keys.kept, set())
    if keep:
        kept.update((photo.view, photo.file_id) for photo in photos)
    todo = [photo for photo in photos if (photo.view, photo.file_id) not in done]
    if todo:
        with st.spinner("Checking the photos…"):
            found = call(check_photos, actor, mrn, [PhotoUpload(p.view, p.file_name, p.data) for p in todo],
                         before=visit_date)
        if found is None:
            return None
        done.update({(photo.view, photo.file_id): check for photo, check in zip(todo, found, strict=True)})
    open_problems = [problem for photo in photos if (photo.view, photo.file_id) not in kept
                     and done[(photo.view, photo.file_id)].quality is not None
                     for problem in done[(photo.view, photo.file_id)].problems]
    if open_problems:
        st.session_state[keys.asked] = open_problems
        return None
    st.session_state.pop(keys.asked, None)
    return [PhotoUpload(photo.view, photo.file_name, photo.data,
                        quality=done[(photo.view, photo.file_id)].record(kept=(photo.view, photo.file_id) in kept))
            for photo in photos]
