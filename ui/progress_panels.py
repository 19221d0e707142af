"""Drawing blocks shared by the progress page and the consult screen (drawing only, no arithmetic).

``audience`` says who the page speaks to (``tracker.course.wording``): staff get the MRN, the protocol, the
evidence note with its studies and the photo record's coverage; the patient (their own view, the consult screen)
gets plain sentences, one line about what the range means and a glossary instead.
"""

from __future__ import annotations

import streamlit as st

from tracker.course.patient_wording import EXPECTATION_LINE, glossary
from tracker.course.vocabulary import condition_words, site_words, status_words
from tracker.course.wording import PATIENT, STAFF, Audience, long_date
from tracker.photos.coverage import PhotoCoverage
from tracker.progress.view import ProgressView
from ui.charts import secondary_figure, site_figure
from ui.messages import plain


def header(view: ProgressView, audience: Audience = STAFF) -> None:
    st.header(plain(view.full_name))
    day0 = view.progress.day0
    if audience == PATIENT:  # no MRN, no protocol name: the patient knows who they are
        st.caption(f"First treatment session: {long_date(day0)}" if day0 else "No treatment session yet")
        return
    started = day0.strftime("%d %b %Y") if day0 else "no treatment session yet"
    st.caption(plain(f"MRN {view.mrn} · {view.age} years · {condition_words(view.condition).lower()} · "
                     f"first session {started} · protocol {view.protocol_name}"))


def charts(view: ProgressView, *, large: bool = False, key: str = "progress") -> None:
    if view.progress.day0 is None:
        st.info("No treatment session has been recorded yet, so there is no course to chart.")
        return
    percent = st.toggle("Show change in %", key=f"{key}_percent")
    for site in view.chart.sites:
        st.subheader(plain(f"Site: {site_words(site.site)}"))
        if site.baseline_density is None:
            st.warning("No baseline measurement before the first session: change from baseline cannot be drawn.")
        else:
            st.caption(f"Baseline {site.baseline_density:.0f} hairs/cm²")
        st.plotly_chart(site_figure(view.chart, site, percent=percent, large=large), key=f"{key}_{site.site}",
                        config={"displaylogo": False})


def milestone_cards(view: ProgressView, audience: Audience = STAFF) -> None:
    if not view.cards:
        return
    st.subheader("Milestones")
    for site in view.chart.sites:
        cards = [c for c in view.cards if c.site == site.site]
        columns = st.columns(len(cards) or 1)
        # No cards for a site still gives one (empty) column, so the lengths may differ then.
        for column, card in zip(columns, cards, strict=False):
            words = status_words(card.status)
            with column.container(border=True):
                where = (f"{site_words(site.site)} area" if audience == PATIENT
                         else f"site {site_words(site.site)}")
                st.markdown(f"**{words.badge} {words.label}** · {plain(where)}")
                st.write(plain(card.plain if audience == PATIENT else card.sentence))
    if audience == PATIENT:
        st.info(EXPECTATION_LINE, icon="ℹ️")
    elif view.evidence_note and "exosome" in view.treatments:
        st.info(f"About the evidence: {plain(view.evidence_note)}", icon="ℹ️")


def secondary(view: ProgressView) -> None:
    if not view.secondary:
        return
    st.subheader("Other measurements")
    columns = st.columns(2)
    for index, series in enumerate(view.secondary):
        columns[index % 2].plotly_chart(secondary_figure(series), key=f"secondary_{index}",
                                        config={"displaylogo": False})


def next_steps(view: ProgressView, audience: Audience = STAFF) -> None:
    steps = view.patient_steps if audience == PATIENT else view.next_steps
    if not steps:
        return
    st.subheader("What comes next")
    for step in steps:
        st.markdown(f"**{step.topic}.** {plain(step.text)}")


def words_explained(view: ProgressView) -> None:
    """The patient's glossary: hairs/cm², baseline, expected range and measurement noise in plain words."""
    with st.expander("What the words mean", icon="📖"):
        for entry in glossary(view.chart.no_change_pct):
            st.markdown(f"**{plain(entry.term)}**: {plain(entry.meaning)}")


def photo_record(coverage: PhotoCoverage, *, link_to_photos: bool = True) -> None:
    """Which views have been photographed, when, and which the latest photographed visit lacks (staff only:
    a check of the record's quality, not something the patient needs to act on)."""
    st.subheader("Photo record")
    if not coverage.photo_count:
        st.info("No photos have been recorded yet.")
        return
    st.caption(f"{coverage.photo_count} photos at {coverage.visits_with_photos} visits")
    st.dataframe(
        [{"View": v.label, "Visits with a photo": v.visits,
          "First": long_date(v.first) if v.first else "—", "Latest": long_date(v.latest) if v.latest else "—"}
         for v in coverage.views],
        hide_index=True, width="stretch",
    )
    if coverage.missing_at_latest and coverage.latest_visit:
        st.info(f"The latest visit with photos ({long_date(coverage.latest_visit)}) has none of: "
                f"{', '.join(coverage.missing_at_latest)}. Before/after comparisons need the same view at both visits.",
                icon="📷")
    if link_to_photos:
        st.page_link("pages/photos.py", label="Open the photo timeline and before/after", icon="🖼️")
