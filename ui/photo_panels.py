"""Drawing blocks for photos, shared by the photos page and the consult screen (drawing only).

The images come ready from ``tracker.photos.serving`` and ``tracker.photos.before_after``: thumbnails and display
copies as stored, and the before/after pair already aligned and fitted into one frame. Nothing here resizes, aligns
or blends: the swipe, fade and zoom of ``ui.compare_viewer`` run in the browser. Every image goes inline
(``private_media.image``, the viewer's ``data:`` URIs): a patient's photo never gets a ``/media/`` URL.
"""

from __future__ import annotations

import streamlit as st

from tracker.access.actors import Actor
from tracker.clinic_dates import show_date
from tracker.course.clinical import photo_view_for_site
from tracker.course.patient_wording import photo_date_words
from tracker.course.vocabulary import site_words
from tracker.photos.aligned_pairs import PairAlignment
from tracker.photos.before_after import BeforeAfter, ComparedPhoto, before_after
from tracker.photos.serving import photo_image
from tracker.photos.timeline import PhotoTimeline, view_label
from ui import private_media
from ui.compare_viewer import compare_viewer
from ui.messages import call, plain


@st.dialog("Photo", width="large")
def _enlarged(actor: Actor, photo_id: int, caption: str) -> None:
    data = call(photo_image, actor, photo_id, "display")
    if data is not None:
        private_media.image(data)
        st.caption(plain(caption))


def timeline_grid(actor: Actor, timeline: PhotoTimeline, thumbnails: dict[int, bytes],
                  key_prefix: str = "timeline") -> None:
    """One row per view, one column per visit; each thumbnail opens its display copy."""
    st.subheader("Photo timeline")
    if not timeline.rows:
        st.info("No photos have been recorded for this patient yet.")
        return
    widths = [1.2] + [2] * len(timeline.visits)
    heading = st.columns(widths)
    heading[0].markdown("**View**")
    for column, visit in zip(heading[1:], timeline.visits, strict=True):
        column.markdown(f"**{show_date(visit.date)}**")
    for row in timeline.rows:
        columns = st.columns(widths)
        columns[0].markdown(f"**{plain(row.label)}**")
        for column, visit, photo_id in zip(columns[1:], timeline.visits, row.cells, strict=True):
            with column:
                if photo_id is None:
                    st.caption("no photo")
                    continue
                thumbnail = thumbnails.get(photo_id)
                if thumbnail is None:
                    st.caption("file missing")
                    continue
                private_media.image(thumbnail)
                found = timeline.findings.get(photo_id)
                if found is not None:  # what the capture check found, in its own words (each with its value)
                    st.caption(("⚠️ Kept although: " if found.kept_anyway else "⚠️ Capture check: ")
                               + plain("; ".join(problem.split(";")[0] for problem in found.problems)))
                if st.button("Enlarge", key=f"{key_prefix}_open_{photo_id}", icon="🔍"):
                    _enlarged(actor, photo_id, f"{row.label}, visit of {show_date(visit.date)}")


# The framing check's finding in the patient's words (staff see each difference the check found).
_NOT_ALIKE = ("These two photos were not taken in quite the same way, so small differences may come from the photos "
              "rather than from the hair.")


def _side_caption(label: str, side: ComparedPhoto, patient: bool = False) -> str:
    """A photo's caption: for staff its date, month of the course and the densities measured that day; for the
    patient (their own photos page) the date and where it lies in the course, in plain words."""
    if patient:
        return f"{label}: {photo_date_words(side.date, side.months)}"
    parts = [f"{label}: {show_date(side.date)}"]
    if side.months is not None:
        parts.append(f"month {side.months:.1f} after the first session" if side.months >= 0
                     else "before the first session")
    parts += [f"{site_words(d.site)} {d.density_per_cm2:.0f} hairs/cm²" for d in side.densities]
    return " · ".join(parts)


def _caution(comparison: BeforeAfter, patient: bool) -> None:
    """Whether the two photos were taken alike: the patient reads one plain line, staff each difference found."""
    if comparison.caution and patient:
        st.caption(_NOT_ALIKE)
    elif comparison.caution:
        details = "\n".join(f"- {plain(w.what)}: {plain(w.detail)}" for w in comparison.framing_warnings)
        st.warning(f"{plain(comparison.caution)}\n\n{details}", icon="⚠️")


def _forget(*keys: str) -> None:
    for key in keys:
        st.session_state.pop(key, None)


def _alignment_note(alignment: PairAlignment | None, patient: bool) -> None:
    """How the later photo was lined up: the sentence, and for staff the turn and scale undone."""
    if alignment is None:
        return
    if not alignment.aligned:
        st.warning(plain(alignment.words), icon="📐")
    elif patient:
        st.caption("The later photo was lined up on the earlier one, so that the same spot of the scalp is in the "
                   "same place in both.")
    else:
        st.caption(plain(f"{alignment.words} It was turned {alignment.turned_degrees:+.1f}° and scaled "
                         f"×{alignment.scale:.2f} to match."))


def before_after_panel(actor: Actor, mrn: str | None, key_prefix: str) -> None:
    """The same view at two visits, the later photo lined up on the earlier one: side by side, then in the
    viewer (side by side, swipe or fade, zoomed and moved together).

    ``mrn`` is None for a patient account (its own photos). Widget keys carry ``key_prefix`` and the MRN,
    so choices made for one patient never carry over to another.
    """
    base = f"{key_prefix}_{mrn or 'own'}_before_after"
    patient = mrn is None  # a patient's own photos: plain captions, no framing-check details
    view_key, first_key, second_key = (f"{base}_{name}" for name in ("view", "first", "second"))
    st.subheader("Before and after")
    chosen = (st.session_state.get(view_key), st.session_state.get(first_key), st.session_state.get(second_key))
    comparison: BeforeAfter | None = call(before_after, actor, mrn, *chosen, aligned=True)
    if comparison is None:
        if chosen[1] is not None or chosen[2] is not None:
            _forget(first_key, second_key)  # a visit chosen earlier is gone: the next run starts from defaults
            st.button("Show the default comparison", key=f"{base}_reset")
        return
    if comparison.view is None:
        st.info("No photos have been recorded yet, so there is nothing to compare.")
        return

    st.selectbox("View", comparison.views, index=comparison.views.index(comparison.view), format_func=view_label,
                 key=view_key, on_change=_forget, args=(first_key, second_key))
    first, second = comparison.first, comparison.second
    if second is None:
        st.info(f"Only one visit has a {view_label(comparison.view).lower()} photo so far; a comparison needs two.")
        if first is not None:
            private_media.image(first.image)
            st.caption(plain(_side_caption("Only photo", first, patient)))
        return
    if first is None:
        raise RuntimeError("A before/after comparison with a second photo must have a first one.")

    dates = {visit.id: show_date(visit.date) for visit in comparison.visits}
    options = list(dates)
    picks = st.columns(2)
    picks[0].selectbox("Before", options, index=options.index(first.visit_id), format_func=dates.__getitem__,
                       key=first_key)
    picks[1].selectbox("After", options, index=options.index(second.visit_id), format_func=dates.__getitem__,
                       key=second_key)

    _caution(comparison, patient)
    _alignment_note(comparison.alignment, patient)

    sides = st.columns(2)
    for column, label, side in ((sides[0], "Before", first), (sides[1], "After", second)):
        with column:
            private_media.image(side.image)
            st.caption(plain(_side_caption(label, side, patient)))

    if comparison.frame is not None:
        st.markdown("**Compare closely**: swipe or fade between the two, zoom in and move around (both together).")
        compare_viewer(first.image, second.image, comparison.frame, f"Before · {show_date(first.date)}",
                       f"After · {show_date(second.date)}")


def site_pair(actor: Actor, mrn: str, site: str) -> None:
    """The consult screen's photos of one measured site, in the patient's words: the view that shows the site
    (``clinical.photo_view_for_site``), baseline against the latest visit (``before_after.default_pair``), side by
    side with their dates under them. No choices, no fade: the photos page has those. One audited
    ``before_after`` call, as the photos page makes."""
    wanted = photo_view_for_site(site)
    comparison: BeforeAfter | None = call(before_after, actor, mrn, wanted)
    if comparison is None:
        return
    if comparison.view is None:
        st.info("No photos have been taken yet.")
        return
    if wanted is not None and comparison.view != wanted:  # the service fell back to another view
        st.info(f"No {view_label(wanted).lower()} photos have been taken yet, so this area cannot be compared "
                "in photos.")
        return
    first, second = comparison.first, comparison.second
    if first is None or second is None:
        st.info(f"Only one visit has a {view_label(comparison.view).lower()} photo so far; a comparison needs two.")
        return
    st.markdown(f"**{plain(view_label(comparison.view))} photos: before and now**")
    sides = st.columns(2)
    for column, label, side in ((sides[0], "Before", first), (sides[1], "Now", second)):
        with column:
            private_media.image(side.image)
            st.caption(plain(f"{label}: {photo_date_words(side.date, side.months)}"))
    if comparison.framing_warnings:
        st.caption(_NOT_ALIKE)
