"""Hair count (clinicians, admins): count the hairs on a close-up of a visit. The detections are drawn over the
photo; the clinician adds marks by clicking where a hair emerges and removes a wrong one by clicking it; the count,
hairs/cm² and the terminal/vellus split follow each click; saving stores the density of one site at that visit,
marked as an assisted count.
"""

import streamlit as st

from tracker.clinic_dates import show_date
from tracker.course.vocabulary import site_words
from tracker.errors import NeedsConfirmation
from tracker.photos.hair_count import HairCount, recount
from tracker.records.closeup_count import Closeup, CountScreen, closeup_count
from tracker.records.counted_density import CountSaved, save_counted_density
from ui.hair_marks import marked_closeup
from ui.messages import call, plain
from ui.signed_in import require_actor
from ui.workspace import selected_mrn

DETECTED, ASKED, FLASH, ROUND, OTHER = "count_detected", "count_asked", "count_flash", "count_round", "another site…"

actor = require_actor()
mrn = selected_mrn()
if mrn is None:
    st.info("Choose a patient first.")
    st.page_link("pages/patients.py", label="Go to the patient list")
    st.stop()

listing = call(closeup_count, actor, mrn)
if listing is None:
    st.stop()
st.header(plain(f"Hair count · {listing.full_name}"))
st.caption(plain(f"MRN {listing.mrn} · the count is made on the photo's display copy; the original is kept unaltered"))
if not listing.closeups:
    st.info("This patient has no close-up (trichoscopy) photo yet. Add one to a visit (Log visit, or the patient "
            "record's timeline), then count it here.")
    st.stop()
if not listing.devices:
    st.warning("No capture device is set up: an administrator adds the clinic's devices, with their field of view "
               "in mm, on the Capture devices page.")
    st.stop()


def _closeup_label(closeup: Closeup) -> str:
    measured = ", ".join(site_words(s) for s in closeup.measured_sites)
    return f"Visit of {show_date(closeup.date)}" + (f" (measured: {measured})" if measured else "")


left, right = st.columns(2)
photo = left.selectbox("Close-up", listing.closeups, format_func=_closeup_label, key="count_photo")
device = right.selectbox("Device it was taken with", listing.devices, format_func=lambda d: d.label,
                         key="count_device")
if photo is None or device is None:
    st.stop()

wanted = (listing.mrn, photo.photo_id, device.id)
cached = st.session_state.get(DETECTED)
if cached is None or cached[0] != wanted:  # detection takes a moment: once per photo and device, not per click
    detected = call(closeup_count, actor, mrn, photo.photo_id, device.id)
    if detected is None:
        st.stop()
    st.session_state[DETECTED] = (wanted, detected)
    st.session_state.pop(ASKED, None)
screen: CountScreen = st.session_state[DETECTED][1]
found, image, size = screen.found, screen.image, screen.size
assert found is not None and image is not None and size is not None  # both chosen: closeup_count detected

st.caption("Circles are the hairs found (yellow: terminal, blue: vellus, green: width not measurable). Click where "
           "a hair emerges to add a mark (pink square); click a mark to remove it (a grey cross; click it again to "
           "bring it back). A hair counts once, where it leaves the scalp inside the frame.")
summary = st.container()  # the figures above the photo, so that each click's effect is seen where one clicks
# A new key after each save: the component (which keeps its marks in the browser) starts afresh.
key = f"count_marks_{photo.photo_id}_{device.id}_{st.session_state.get(ROUND, 0)}"
added, removed = marked_closeup(key, image, size, found)
counted = recount(found, added, removed)
columns = summary.columns(4)
columns[0].metric("Hairs counted", counted.count)
columns[1].metric("Density (hairs/cm²)", f"{counted.density_per_cm2:.1f}",
                  help=f"{counted.count} hairs over {found.field_mm[0]:g}×{found.field_mm[1]:g} mm")
columns[2].metric("Terminal", counted.terminal if counted.terminal is not None else "–",
                  help="Wider than 40 µm. Not told when the photo is too coarse, or once a mark is added by hand.")
columns[3].metric("Vellus", counted.vellus if counted.vellus is not None else "–")
summary.caption(plain(f"{len(found.marks)} found · {len(removed)} removed · {len(added)} added"))

choices = [*listing.sites, OTHER]
site_choice = st.selectbox("Site", choices, format_func=lambda s: s if s == OTHER else site_words(s), key="count_site")
site = st.text_input("Site name", key="count_site_other", max_chars=60,
                     help="For example vertex or left_temporal.") if site_choice == OTHER else site_choice
asked = st.session_state.get(ASKED)
anyway = False
if asked:
    st.warning(plain(" ".join(asked)))
    anyway = st.checkbox("I have checked: save anyway", key="count_anyway")


def _save(counted_on: HairCount, pixels: tuple[int, int], acknowledged: tuple[str, ...]) -> CountSaved | None:
    """Save; an unlikely value is asked about (kept for the question above the button), nothing saved."""
    try:
        return save_counted_density(actor, photo.photo_id, device.id, site or "", counted_on, pixels, added,
                                    removed, acknowledged=acknowledged)
    except NeedsConfirmation as question:
        st.session_state[ASKED] = question.warnings
        return None


if st.button("Save the count", type="primary", key="count_save"):
    saved = call(_save, found, size, tuple(asked) if anyway and asked else ())
    if saved is None and st.session_state.get(ASKED) and st.session_state[ASKED] != asked:
        st.rerun()
    if saved is not None:
        for stale in (DETECTED, ASKED, key, "count_anyway"):
            st.session_state.pop(stale, None)
        st.session_state[ROUND] = st.session_state.get(ROUND, 0) + 1
        st.session_state[FLASH] = plain(
            f"Saved: {site_words(saved.site)}, {saved.count} hairs, {saved.density_per_cm2:g} hairs/cm² "
            f"(assisted count) at the visit of {show_date(photo.date)}.")
        st.rerun()
if FLASH in st.session_state:  # by the button, where the clinician is looking after saving
    st.success(st.session_state.pop(FLASH))
st.page_link("pages/progress.py", label="See the progress chart")
