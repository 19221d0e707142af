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
    """One form's session keys, all starting with ``prefix``: each file's check, by view and upload id (a file is
    checked once however often the page reruns); the files kept anyway; the problems being asked about and the
    files they are about; and what the checks were made for (patient and visit date). Each form has its own, so
    that a question asked in one form is never shown in the other."""

    prefix: str

    @property
    def checked(self) -> str:
        return f"{self.prefix}_checked"

    @property
    def kept(self) -> str:
        return f"{self.prefix}_kept"

    @property
    def asked(self) -> str:
        return f"{self.prefix}_asked"

    @property
    def asked_for(self) -> str:
        return f"{self.prefix}_asked_for"

    @property
    def context(self) -> str:
        return f"{self.prefix}_context"

    def forget(self) -> None:
        """Drop the form's checks, kept files and question (after its photos were saved, or made for another
        patient or visit)."""
        for key in (self.checked, self.kept, self.asked, self.asked_for, self.context):
            st.session_state.pop(key, None)


# The visit form's keys are "visit_" keys, blanked with a fresh form.
VISIT_FORM = CheckKeys("visit_quality")
ADDED_PHOTOS = CheckKeys("added_photos_quality")


def check_context(mrn: str, visit_date: date | str) -> tuple[str, str]:
    """What a form's checks hold for: the patient and the visit's date (typed, or the visit's own)."""
    return mrn, str(visit_date)


@dataclass(frozen=True)
class FormPhoto:
    """A photo chosen in the form's uploader for ``view``: ``file_id`` is Streamlit's id of that upload."""

    view: str
    file_id: str
    file_name: str
    data: bytes


def question(keys: CheckKeys, context: tuple[str, str]) -> bool:
    """Inside the form: the photo check's problems, and "Keep these photos and save"; returns whether pressed.
    Nothing is shown when the question was asked for another patient or visit date (``context``): its answer
    would keep photos nobody was asked about."""
    asked: list[str] | None = st.session_state.get(keys.asked)
    if not asked or st.session_state.get(keys.context) != context:
        return False
    st.warning("**The photo check found problems** (nothing was saved):\n\n"
               + "\n".join(f"- {plain(problem)}" for problem in asked)
               + "\n\nReplace a photo above with a better one, or keep the photos as they are.")
    return st.form_submit_button("Keep these photos and save")


def checked(actor: Actor, mrn: str, photos: Sequence[FormPhoto], visit_date: date | str,
            keep: bool, keys: CheckKeys) -> list[PhotoUpload] | None:
    """The form's photos with their checks, ready to save; None when a check found problems not yet kept (they
    are then asked about: ``keys.asked``) or the check itself could not run (its message is shown). ``keep``: "Keep
    these photos and save" was pressed, so the photos that question was about are kept as they are; a photo
    chosen since, or moved to another view, is checked and asked about first. Checks made for another patient or
    visit date are dropped (the framing is compared with the visit before the date)."""
    context = check_context(mrn, visit_date)
    if st.session_state.get(keys.context) != context:
        keys.forget()
        st.session_state[keys.context] = context
        keep = False  # the question answered was about another patient or visit
    done: dict[tuple[str, str], PhotoCheck] = st.session_state.setdefault(keys.checked, {})
    kept: set[tuple[str, str]] = st.session_state.setdefault(keys.kept, set())
    if keep:
        kept.update(st.session_state.get(keys.asked_for, set()))
    todo = [photo for photo in photos if (photo.view, photo.file_id) not in done]
    if todo:
        with st.spinner("Checking the photos…"):
            found = call(check_photos, actor, mrn, [PhotoUpload(p.view, p.file_name, p.data) for p in todo],
                         before=visit_date)
        if found is None:
            return None
        done.update({(photo.view, photo.file_id): check for photo, check in zip(todo, found, strict=True)})
    asking = [photo for photo in photos if (photo.view, photo.file_id) not in kept
              and done[(photo.view, photo.file_id)].quality is not None and done[(photo.view, photo.file_id)].problems]
    if asking:
        st.session_state[keys.asked] = [problem for photo in asking for problem in done[(photo.view, photo.file_id)]
                                        .problems]
        st.session_state[keys.asked_for] = {(photo.view, photo.file_id) for photo in asking}
        return None
    st.session_state.pop(keys.asked, None)
    st.session_state.pop(keys.asked_for, None)
    return [PhotoUpload(photo.view, photo.file_name, photo.data,
                        quality=done[(photo.view, photo.file_id)].record(kept=(photo.view, photo.file_id) in kept))
            for photo in photos]
