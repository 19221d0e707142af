"""Drawing blocks shared by the progress page and the consult screen (drawing only, no arithmetic).

``audience`` says who the page speaks to (``tracker.course.wording``): staff get the MRN, the protocol, the
evidence note with its studies and the photo record's coverage; the patient (their own view, the consult screen)
gets plain sentences, one line about what the range means and a glossary instead.
"""

from __future__ import annotations

import streamlit as st

from tracker.clinic_dates import show_date
from tracker.course.patient_wording import EXPECTATION_LINE, glossary
from tracker.course.salt import score_text
from tracker.course.vocabulary import condition_words, site_words, status_words
from tracker.course.wording import PATIENT, STAFF, Audience
from tracker.photos.coverage import PhotoCoverage
from tracker.progress.salt_chart import SaltChart
from tracker.progress.view import ProgressView
from ui.charts import density_figure, secondary_figure, site_figure
from ui.messages import plain
from ui.salt_chart import salt_density_figure, salt_figure


def header(view: ProgressView, audience: Audience = STAFF) -> None:
    st.header(plain(view.full_name))
    day0 = view.progress.day0
    if audience == PATIENT:  # no MRN, no protocol name: the patient knows who they are
        st.caption(f"First treatment session: {show_date(day0)}" if day0 else "No treatment session yet")
        return
    started = show_date(day0) if day0 else "no treatment session yet"
    st.caption(plain(f"MRN {view.mrn} · {view.age} years · {condition_words(view.condition).lower()} · "
                     f"first session {started} · protocol {view.protocol_name}"))


CHANGE_CHART, DENSITY_CHART = "Change from baseline", "Density (hairs/cm²)"


def charts(view: ProgressView, *, large: bool = False, key: str = "progress") -> None:
    """Per site, the change from baseline (the main chart when the site has a baseline; % toggle) or the
    absolute density (always offered; the only chart for a site without a baseline or before any session)."""
    if view.salt is not None:  # a SALT protocol (alopecia areata): the SALT chart first, density secondary
        salt_charts(view.salt, large=large, key=key)
        return
    chart = view.chart
    if not chart.sites:
        st.info("No density has been measured yet, so there is nothing to chart: record a visit with a density.")
        return
    with_baseline = any(site.baseline_density is not None for site in chart.sites)
    shown = DENSITY_CHART
    percent = False
    if with_baseline:
        choice_col, toggle_col = st.columns([3, 2])
        with choice_col:
            shown = st.segmented_control("Chart", (CHANGE_CHART, DENSITY_CHART), default=CHANGE_CHART,
                                         key=f"{key}_chart", label_visibility="collapsed") or CHANGE_CHART
        if shown == CHANGE_CHART:
            with toggle_col:
                percent = st.toggle("Show change in %", key=f"{key}_percent")
    if view.progress.day0 is None:
        st.caption("No treatment session yet: the densities measured so far, in months since the first "
                   "measurement. The change from baseline is charted from the first session (day 0).")
    for site in chart.sites:
        st.subheader(plain(f"Site: {site_words(site.site)}"))
        if site.baseline_density is not None:
            st.caption(f"Baseline {site.baseline_density:.0f} hairs/cm²")
        elif view.progress.day0 is not None:
            st.caption("No baseline measurement before the first session: the change cannot be judged, so the "
                       "measured density is shown.")
        if shown == CHANGE_CHART and site.baseline_density is not None:
            figure = site_figure(chart, site, percent=percent, large=large)
        else:
            figure = density_figure(chart, site, large=large)
        st.plotly_chart(figure, key=f"{key}_{site.site}", config={"displaylogo": False})


def salt_charts(salt: SaltChart, *, large: bool = False, key: str = "progress") -> None:
    """The SALT course's chart, then the density measurements under "Density (secondary)"."""
    st.subheader("SALT score")
    if salt.baseline_score is None:
        st.warning("No SALT score before the first session: the improvement from baseline cannot be drawn.")
    else:
        st.caption(f"Baseline SALT {score_text(salt.baseline_score)} · lower is better · the shaded range is the "
                   "clinic's own (no established exosome evidence for SALT)")
    st.plotly_chart(salt_figure(salt, large=large), key=f"{key}_salt", config={"displaylogo": False})
    if salt.density:
        with st.expander("Density (secondary)"):
            st.caption("Density as measured, hairs/cm²; this protocol judges the SALT score, so no band is drawn.")
            st.plotly_chart(salt_density_figure(salt), key=f"{key}_salt_density", config={"displaylogo": False})


def milestone_cards(view: ProgressView, audience: Audience = STAFF) -> None:
    if not view.cards:
        return
    st.subheader("Milestones")
    # A SALT course has no density chart sites: its cards are about the one site "scalp".
    sites = [chart.site for chart in view.chart.sites] or list(dict.fromkeys(c.site for c in view.cards))
    for site in sites:
        cards = [c for c in view.cards if c.site == site]
        columns = st.columns(len(cards) or 1)
        # No cards for a site still gives one (empty) column, so the lengths may differ then.
        for column, card in zip(columns, cards, strict=False):
            words = status_words(card.status)
            with column.container(border=True):
                where = f"{site_words(site)} area" if audience == PATIENT else f"site {site_words(site)}"
                st.markdown(f"**{words.badge} {words.label}** · {plain(where)}")
                st.write(plain(card.plain if audience == PATIENT else card.sentence))
    if audience == PATIENT:
        st.info(EXPECTATION_LINE, icon="ℹ️")
    elif view.evidence_note and ("exosome" in view.treatments or view.salt is not None):
        st.info(f"About the evidence: {plain(view.evidence_note)}", icon="ℹ️")


def secondary(view: ProgressView) -> None:
    if not view.secondary:
        return
    st.subheader("Other measurements")
    columns = st.columns(2)
    for index, series in enumerate(view.secondary):
        columns[index % 2].plotly_chart(secondary_figure(series, today=view.progress.as_of),
                                        key=f"secondary_{series.code or index}", config={"displaylogo": False})


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
        for entry in glossary(view.chart.no_change_pct, salt=view.salt is not None):
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
          "First": show_date(v.first) if v.first else "—", "Latest": show_date(v.latest) if v.latest else "—"}
         for v in coverage.views],
        hide_index=True, width="stretch",
    )
    if coverage.missing_at_latest and coverage.latest_visit:
        st.info(f"The latest visit with photos ({show_date(coverage.latest_visit)}) has none of: "
                f"{', '.join(coverage.missing_at_latest)}. Before/after comparisons need the same view at both visits.",
                icon="📷")
    if link_to_photos:
        st.page_link("pages/photos.py", label="Open the photo timeline and before/after", icon="🖼️")
