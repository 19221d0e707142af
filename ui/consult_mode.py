"""Consult mode: one patient's progress on a large screen, with nothing about anyone else.

No menu, no sidebar, no patient list or search: leaving asks for the clinician's password, so a screen
left with the patient cannot be turned to other records. Drawn by the progress page when the session is
in consult mode (``app.py`` then registers that page alone, without a menu).

It is made for the conversation (issue #11): in the patient's words (no MRN, protocol, studies or photo-record
checks), one area of the scalp at a time, chosen above: that area's one sentence, its chart and its photos
before and now, side by side in larger type; then what comes next and the glossary.
"""

import plotly.graph_objects as go
import streamlit as st

from tracker.access.actors import Actor
from tracker.access.credentials import PASSWORD_MAX
from tracker.access.own_password import verify_password
from tracker.course.patient_wording import EXPECTATION_LINE
from tracker.course.salt import SALT_SITE
from tracker.course.vocabulary import site_words, status_words
from tracker.course.wording import PATIENT
from tracker.progress.chart_data import SiteChart
from tracker.progress.page_data import progress_page
from tracker.progress.view import ProgressView, headline_card
from ui import photo_panels
from ui import progress_panels as panels
from ui.charts import density_figure, site_figure
from ui.messages import call, plain
from ui.salt_chart import salt_figure
from ui.signed_in import sign_out
from ui.workspace import select_patient

REFUSED = "consult_refused"  # the last password given on the consult screen was wrong: said until the next try
# After several wrong passwords the account waits before it checks another, as at sign-in (``verify_password``).
CONSULT_REFUSED = ("That password is not right, or the account is waiting a while after wrong passwords. "
                   "The consult screen stays open.")


def start(mrn: str) -> None:
    """The "Consult mode" button's callback (before the next run, so the whole next run is the consult screen)."""
    st.session_state["consult"] = True
    st.session_state["consult_mrn"] = mrn
    st.session_state.pop("consult_failures", None)
    st.session_state.pop(REFUSED, None)


def show(actor: Actor) -> None:
    # Static styling only (no user data): larger type, and the sidebar (with its menu) removed.
    st.markdown(
        """<style>
        [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none;}
        .stMainBlockContainer {padding-top: 2.5rem;}
        .stMainBlockContainer p, .stMainBlockContainer li {font-size: 1.35rem;}
        .stMainBlockContainer [data-testid="stCaptionContainer"] p {font-size: 1.15rem;}
        </style>""",
        unsafe_allow_html=True,
    )
    page = call(progress_page, actor, st.session_state.get("consult_mrn"))
    if page is not None:
        _conversation(actor, page.view)

    st.divider()
    refused = bool(st.session_state.get(REFUSED))
    with st.expander("Clinician: end the consult", expanded=refused):
        with st.form("end_consult", clear_on_submit=True):
            st.text_input("Your password", type="password", key="consult_password", max_chars=PASSWORD_MAX)
            st.form_submit_button("Back to the workspace", on_click=_leave, args=(actor,))
        if refused:
            st.error(CONSULT_REFUSED)


def _leave(actor: Actor) -> None:
    """The form's callback. It runs before the next script run, and what it decides is kept in the session: a
    click read only inside a run was lost when that run was cut short by another request (the message never
    came, on a busy server)."""
    verified = call(verify_password, actor, st.session_state.get("consult_password") or "")
    if verified is not None:  # None: not checked (busy), already said; the last answer stands
        st.session_state.pop(REFUSED, None)
    if verified:
        for key in ("consult", "consult_failures"):
            st.session_state.pop(key, None)
        mrn = st.session_state.pop("consult_mrn", None)
        if mrn:  # back to this patient, even if another record's URL was typed during the consult
            select_patient(mrn)
    elif verified is not None:
        failures = st.session_state.get("consult_failures", 0) + 1
        st.session_state["consult_failures"] = failures
        if failures >= 5:
            # Guessing at the clinician's password ends the session altogether.
            sign_out(reason="Signed out after repeated wrong passwords on the consult screen.")
        else:
            st.session_state[REFUSED] = True


def _conversation(actor: Actor, view: ProgressView) -> None:
    """The patient's progress, one area at a time, in the patient's words."""
    panels.header(view, PATIENT)
    sites = view.chart.sites
    if view.salt is not None:  # alopecia areata on a SALT protocol: the SALT course is the conversation
        _salt_area(actor, view)
    elif not sites:
        st.info("No hair counts have been recorded yet.")
        panels.next_steps(view, PATIENT)
    else:
        codes = [site.site for site in sites]
        chosen = codes[0]
        if len(codes) > 1:
            # One area at a time: nothing to scroll past, and one audited photo read per run.
            # The buttons' labels are markdown: a site typed at a visit is shown literally (``plain``).
            picked = st.segmented_control("Area of the scalp", codes, default=codes[0],
                                          format_func=lambda code: plain(site_words(code)),
                                          key=f"consult_site_{view.mrn}")
            chosen = picked if picked in codes else codes[0]
        _area(actor, view, next(site for site in sites if site.site == chosen))
    panels.words_explained(view)


def _area(actor: Actor, view: ProgressView, site: SiteChart) -> None:
    """One area: its sentence, then its chart beside its photos."""
    card = headline_card(view.cards, site.site)
    if card is not None:
        words = status_words(card.status)
        with st.container(border=True):
            st.markdown(f"{words.badge} **{plain(site_words(site.site))}: {words.label}.** {plain(card.plain)}")
    chart, photos = st.columns([1.15, 1])
    with chart:
        if site.baseline_density is None:
            # No count before the first treatment (or no treatment yet): the counts themselves, no change.
            _large_chart(density_figure(view.chart, site, large=True), f"consult_{site.site}")
            st.caption("There was no hair count before the first treatment, so these are the counts as measured; "
                       "the change from the start cannot be drawn.")
        else:
            _large_chart(site_figure(view.chart, site, large=True), f"consult_{site.site}")
            st.caption(f"The shaded band is the expected range. {EXPECTATION_LINE}")
    with photos:
        photo_panels.site_pair(actor, view.mrn, site.site)
        # Beside the chart, not below it: the whole conversation fits on about one screen.
        panels.next_steps(view, PATIENT)


def _large_chart(figure: go.Figure, key: str) -> None:
    """A consult chart: Streamlit's chart theme sets its own (small) type, so the large figure keeps its own, on
    white, without plotly's tool bar over the legend."""
    figure.update_layout(template="plotly_white", font_family="Source Sans Pro, sans-serif")
    if "yaxis2" in figure.layout and figure.layout.yaxis2.title.text:  # the density charts' bars of treatments
        figure.update_layout(yaxis2_title_font_size=14)  # the bars' short axis: a long title would not fit
    st.plotly_chart(figure, key=key, theme=None, config={"displaylogo": False, "displayModeBar": False})


def _salt_area(actor: Actor, view: ProgressView) -> None:
    """A SALT course: its latest sentence, the SALT chart beside the photos (the clinic's usual view)."""
    salt = view.salt
    if salt is None:
        return
    card = headline_card(view.cards, SALT_SITE)
    if card is not None:
        words = status_words(card.status)
        with st.container(border=True):
            st.markdown(f"{words.badge} **{words.label}.** {plain(card.plain)}")
    chart, photos = st.columns([1.15, 1])
    with chart:
        _large_chart(salt_figure(salt, large=True), "consult_salt")
        st.caption("The SALT score is the share of the scalp without hair (0–100): lower is better. "
                   f"{EXPECTATION_LINE}")
    with photos:
        photo_panels.site_pair(actor, view.mrn, SALT_SITE)
        panels.next_steps(view, PATIENT)
