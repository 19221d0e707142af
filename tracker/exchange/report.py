"""The progress report's layout: ``render_report`` lays the PDF out from plain data
(``tracker.exchange.report_content``), outside any transaction; the service is
``tracker.exchange.progress_report.progress_report_pdf``.

The report holds: clinic and patient header; a chart per measured site (``tracker.exchange.report_chart``, vector
drawing, no browser); the milestone table; a before/after pair per photographed view (display copies,
fitted into the same frame, pair chosen as ``tracker.photos.before_after`` chooses it); sessions with product, lot
and volume; concurrent therapies; the evidence note for exosome courses; when and by whom it was
generated, and page numbers. Where scored, the visits' global photographic assessment and satisfaction
follow the charts.

The document itself (pages, running header and footer, fonts for every name) is ``tracker.exchange.report_pdf``.
User-typed text (names, lots, notes) is only ever printed as text.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager

from fpdf.fonts import FontFace
from fpdf.table import Table
from PIL import Image

from tracker.clinic_dates import show_date
from tracker.course.calendar_months import age_on
from tracker.course.milestones import MilestoneResult
from tracker.course.salt import score_text
from tracker.course.vocabulary import (
    STATUS_WORDS,
    MilestoneStatus,
    assessment_words,
    condition_words,
    milestone_words,
    site_words,
    status_words,
    treatment_words,
)
from tracker.course.wording import judgement, signed
from tracker.exchange.report_chart import chart_height, draw_site_chart
from tracker.exchange.report_content import PhotoPair, PhotoShot, ReportContent, SessionLine, TherapyLine
from tracker.exchange.report_marks import counted_note
from tracker.exchange.report_pdf import MUTED, PAGE_MARGIN, RULE, WIDTH, ReportPDF
from tracker.photos.framing import fit_pair
from tracker.photos.timeline import view_label
from tracker.progress.salt_chart import SaltChart
from tracker.progress.view import ProgressView

log = logging.getLogger(__name__)

# The statuses judged against the band with the noise; the others are about dates or a missing baseline.
JUDGED = (MilestoneStatus.AHEAD, MilestoneStatus.ON_TRACK, MilestoneStatus.BEHIND)

# Long side of each photo in the PDF: 1000 px over an 86 mm box is about 300 dpi, sharp in print, and
# keeps a report with six photographed views to a few megabytes.
PHOTO_LONG_SIDE = 1000
PHOTO_QUALITY = 85

_PLOT_HEIGHT = 58.0
_TEAL = (31, 84, 104)
_INK = (35, 35, 35)


# --- the layout ---------------------------------------------------------------------------------------


def render_report(content: ReportContent) -> bytes:
    """The PDF bytes for ``content`` (pure: no database, no network)."""
    view = content.view
    generated = f"{show_date(content.generated_at.date())}, {content.generated_at:%H:%M %Z}".strip()
    by = f" by {content.generated_by[:40]}" if content.generated_by else ""
    pdf = ReportPDF(
        running_title=f"{content.clinic}  ·  Progress report  ·  {view.full_name} (MRN {view.mrn})",
        footer_note=f"Generated {generated}{by}  ·  Confidential: patient health information",
    )
    pdf.set_title(f"Progress report – {view.full_name}")
    pdf.set_author(content.clinic)
    pdf.set_creator("Regrowth Tracker")
    pdf.set_creation_date(content.generated_at)
    pdf.add_page()
    _title_block(pdf, content, generated)
    _summary(pdf, view)
    _progress(pdf, view)
    _ratings(pdf, view)
    _evidence(pdf, view)  # next to the charts whose expected band it qualifies
    _photos(pdf, content.photo_pairs)
    _sessions(pdf, content.sessions)
    _therapies(pdf, content.therapies)
    return bytes(pdf.output())


def _heading(pdf: ReportPDF, text: str, keep_with: float = 20.0) -> None:
    if pdf.will_page_break(10 + keep_with):
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(pdf.family, "B", 12)
    pdf.set_text_color(*_TEAL)
    pdf.cell(WIDTH, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.3)
    pdf.line(PAGE_MARGIN, pdf.get_y(), 210 - PAGE_MARGIN, pdf.get_y())
    pdf.ln(2)
    pdf.set_text_color(*_INK)


def _paragraph(pdf: ReportPDF, text: str, size: float = 9, style: str = "",
               colour: tuple[int, int, int] = _INK) -> None:
    pdf.set_font(pdf.family, style, size)
    pdf.set_text_color(*colour)
    pdf.multi_cell(WIDTH, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")


def _title_block(pdf: ReportPDF, content: ReportContent, generated: str) -> None:
    view = content.view
    pdf.set_y(13)
    pdf.set_font(pdf.family, "B", 13)
    pdf.set_text_color(*_TEAL)
    pdf.multi_cell(WIDTH - 62, 6, content.clinic, align="L", new_x="LMARGIN", new_y="NEXT")
    bottom = pdf.get_y()
    pdf.set_xy(210 - PAGE_MARGIN - 62, 13)
    pdf.set_font(pdf.family, "B", 10)
    pdf.set_text_color(*_INK)
    pdf.cell(62, 6, "Hair regrowth progress report", align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font(pdf.family, "", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(62, 4.5, f"As of {show_date(content.as_of)}", align="R", new_x="LEFT", new_y="NEXT")
    pdf.cell(62, 4.5, f"Generated {generated}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(bottom, pdf.get_y()) + 1.5)
    pdf.set_draw_color(*_TEAL)
    pdf.set_line_width(0.6)
    pdf.line(PAGE_MARGIN, pdf.get_y(), 210 - PAGE_MARGIN, pdf.get_y())
    pdf.ln(4)
    pdf.set_font(pdf.family, "B", 16)
    pdf.set_text_color(*_INK)
    pdf.multi_cell(WIDTH, 8, view.full_name, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    day0 = show_date(view.progress.day0) if view.progress.day0 else "no treatment session yet"
    details = (
        ("MRN", view.mrn),
        ("Date of birth", f"{show_date(content.birth_date)} ({age_on(content.birth_date, content.as_of)} years)"),
        ("Sex", view.sex),
        ("Condition", condition_words(view.condition)),
        ("Protocol", view.protocol_name),
        ("First session (day 0)", day0),
        ("Treatments", ", ".join(treatment_words(t) for t in view.treatments) or "none recorded"),
        ("Measured sites", ", ".join(site_words(s.site) for s in view.progress.sites) or "none yet"),
    )
    label = FontFace(family=pdf.family, emphasis="", size_pt=8, color=MUTED)
    value = FontFace(family=pdf.family, emphasis="B", size_pt=9, color=_INK)
    pdf.set_font(pdf.family, "", 9)
    with pdf.table(col_widths=(32, 58, 32, 58), borders_layout="NONE", first_row_as_headings=False,
                   text_align="LEFT", line_height=4.6, padding=(0.8, 1, 0.8, 0), cell_fill_color=(244, 247, 248),
                   cell_fill_mode="ALL", width=WIDTH) as table:
        for index in range(0, len(details), 2):
            row = table.row()
            for key, text in details[index:index + 2]:
                row.cell(key, style=label)
                row.cell(text, style=value)
    pdf.ln(2)


def _summary(pdf: ReportPDF, view: ProgressView) -> None:
    if not view.cards:
        return
    _heading(pdf, "Milestones at a glance", keep_with=12)
    sites = list(dict.fromkeys(card.site for card in view.cards))
    for site in sites:
        if len(sites) > 1:
            pdf.set_font(pdf.family, "B", 9)
            pdf.set_text_color(*_TEAL)
            pdf.cell(WIDTH, 5, f"Site: {site_words(site)}", new_x="LMARGIN", new_y="NEXT")
        for card in (c for c in view.cards if c.site == site):
            pdf.set_fill_color(*status_words(card.status).rgb)
            pdf.circle(PAGE_MARGIN + 1.5, pdf.get_y() + 2.3, 1.1, style="F")
            pdf.set_x(PAGE_MARGIN + 4.5)
            pdf.set_font(pdf.family, "", 9)
            pdf.set_text_color(*_INK)
            pdf.multi_cell(WIDTH - 4.5, 4.6, card.sentence, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.6)
        pdf.ln(0.8)


def _progress(pdf: ReportPDF, view: ProgressView) -> None:
    chart = view.chart
    if view.salt is not None:  # a SALT protocol (alopecia areata): the SALT course, not density
        _salt_progress(pdf, view.salt)
        return
    if not chart.sites:
        _heading(pdf, "Progress against the expected course", keep_with=10)
        _paragraph(pdf, "No density measurement has been recorded yet." if view.progress.day0 else
                   "No treatment session has been recorded yet and no density measured, so there is nothing to chart.",
                   colour=MUTED)
        return
    # build_chart draws one chart per site of the progress, in its order.
    for site_chart, site_progress in zip(chart.sites, view.progress.sites, strict=True):
        _heading(pdf, f"Progress: {site_words(site_chart.site)}", keep_with=chart_height(chart, _PLOT_HEIGHT) + 10)
        baseline = site_chart.baseline_density
        if view.progress.day0 is None:
            note = ("No treatment session yet: the density measured so far (hairs/cm²). The change from baseline "
                    "is charted from the first session (day 0).")
        elif baseline is not None and site_progress.baseline:
            note = (f"Baseline {baseline:.0f} hairs/cm² on {show_date(site_progress.baseline.date)}. Change from "
                    "baseline against the expected range of the protocol "
                    f"(a guide, never a promised outcome).")
        else:
            note = ("No baseline measurement on or before the first session: the change cannot be judged, so the "
                    "measured density (hairs/cm²) is shown.")
        _paragraph(pdf, note + counted_note(site_chart.points), size=8, colour=MUTED)
        bottom = draw_site_chart(pdf, chart, site_chart, PAGE_MARGIN, pdf.get_y() + 1, WIDTH,
                                 plot_height=_PLOT_HEIGHT, font=pdf.family, absolute=baseline is None)
        pdf.set_y(bottom + 3)
        # The table follows its chart; when the page is full it starts the next one under its own title.
        if site_progress.milestones and pdf.will_page_break(_table_height(site_progress.milestones)):
            pdf.add_page()
            _heading(pdf, f"Milestones: {site_words(site_chart.site)}", keep_with=0)
        _milestone_table(pdf, site_progress.milestones)


def _salt_progress(pdf: ReportPDF, salt: SaltChart) -> None:
    """A SALT course: baseline, then one row per milestone with score, improvement, endpoints and status."""
    course = salt.course
    _heading(pdf, "Progress: SALT score (alopecia areata)", keep_with=10 + 20 * len(course.milestones))
    if course.baseline:
        note = (f"Baseline SALT {score_text(course.baseline.density)} on {show_date(course.baseline.date)} "
                "(0–100, lower is better). Improvement = (baseline − score) / baseline. The expected range is the "
                "clinic's own: there is no established exosome evidence for SALT.")
    else:
        note = "No SALT score on or before the first session: the improvement cannot be judged."
    _paragraph(pdf, note, size=8, colour=MUTED)
    if not course.milestones:
        return
    headings = ("Milestone", "Window", "Visit", "SALT", "Improved", "Expected", "Endpoints reached", "Status")
    with _milestone_grid(pdf, (27, 28, 18, 10, 19, 17, 28, 33),
                         ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "CENTER", "LEFT", "LEFT")) as table:
        table.row(headings)
        for milestone in course.milestones:
            m = milestone.result
            row = table.row()
            row.cell(milestone_words(m.name).replace(" (", "\n("))
            row.cell(_window(m))
            row.cell(show_date(m.visit_date) if m.visit_date else "–")
            row.cell(score_text(m.density) if m.density is not None else "–")
            row.cell(f"{m.change:+.0f}%".replace("-", "−") if m.change is not None else "–")
            row.cell(f"{m.expected_low:+.0f} to {m.expected_high:+.0f}%".replace("-", "−")
                     if m.expected_low is not None and m.expected_high is not None else "–")
            reached = milestone.endpoints.reached() if milestone.endpoints else ()
            row.cell(", ".join(reached) if reached else ("none" if milestone.endpoints else "–"))
            words = status_words(m.status)
            row.cell(words.label, style=FontFace(family=pdf.family, emphasis="B", size_pt=7.5, color=words.rgb))
    pdf.ln(1)
    _paragraph(pdf, "Improvement and expected range in % of the baseline SALT score; ahead or behind only beyond "
                    "the range by more than the measurement noise (percentage points). Endpoints: SALT ≤ 20 = "
                    "response; SALT50/75/90 = 50/75/90% improvement from baseline.", size=6.5, colour=MUTED)


def _ratings(pdf: ReportPDF, view: ProgressView) -> None:
    """The global photographic assessment (−3 … +3) and the patient's satisfaction (0–10) at each visit."""
    if not view.ratings:
        return
    _heading(pdf, "Global photographic assessment and satisfaction", keep_with=8 + 5 * len(view.ratings))
    rows = [(show_date(r.date), assessment_words(r.global_assessment) if r.global_assessment is not None else "–",
             f"{r.satisfaction}/10" if r.satisfaction is not None else "–") for r in view.ratings]
    _simple_table(pdf, ("Visit", "Global photographic assessment", "Patient satisfaction"), (30, 90, 60), rows,
                  ("LEFT", "LEFT", "LEFT"))
    pdf.ln(1)
    _paragraph(pdf, "Assessment of the standardised photos against the baseline photos, from −3 (greatly decreased) "
                    "to +3 (greatly increased); satisfaction as the patient rated it, 0 (not at all) to 10 "
                    "(completely).", size=6.5, colour=MUTED)


def _table_height(milestones: tuple[MilestoneResult, ...]) -> float:
    """A generous estimate of the milestone table's height with its caption (rows of two to six lines: the status
    column says why each milestone is judged so)."""
    return 10 + 20 * len(milestones) + 5


def _window(m: MilestoneResult) -> str:
    return f"{show_date(m.window_start)} – {show_date(m.window_end)}"


def _status_words(m: MilestoneResult) -> str:
    """The status column: the word and, for a judged milestone, why it is judged so (the cards' words).

    >>> from datetime import date
    >>> from tracker.course.milestones import MilestoneResult
    >>> _status_words(MilestoneResult("x", date(2025, 6, 15), date(2025, 8, 15), date(2025, 7, 15), "on_track",
    ...                               date(2025, 7, 15), 150.0, 6.0, 0.0, 0.0, 10.0, 35.0, 15.0))
    'On track: the difference is within the measurement noise (±15), so this is consistent with the expected course.'
    """
    words = status_words(m.status)
    if m.status in JUDGED and m.change is not None and m.expected_low is not None and m.expected_high is not None:
        return f"{words.label}: {judgement(m, 'the expected range')}."
    return words.explained + "."


def _milestone_grid(pdf: ReportPDF, widths: tuple[float, ...],
                    align: tuple[str, ...]) -> AbstractContextManager[Table]:
    """The striped 7.5 pt table the milestone rows (density and SALT) are printed in; widths in mm."""
    pdf.set_font(pdf.family, "", 7.5)
    pdf.set_fill_color(255, 255, 255)  # fpdf2 fills the unstriped rows with the current fill colour
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    heading_style = FontFace(family=pdf.family, emphasis="B", size_pt=7.5, color=(255, 255, 255), fill_color=_TEAL)
    return pdf.table(col_widths=widths, headings_style=heading_style, line_height=3.6, text_align=align,
                     borders_layout="HORIZONTAL_LINES", cell_fill_color=(246, 248, 249), cell_fill_mode="ROWS",
                     padding=(1.2, 1.2), width=WIDTH, v_align="MIDDLE")


def _milestone_table(pdf: ReportPDF, milestones: tuple[MilestoneResult, ...]) -> None:
    if not milestones:
        return
    headings = ("Milestone", "Window", "Visit", "Density", "Change", "Change\n%", "Expected", "Status")
    with _milestone_grid(pdf, (29, 31, 19.5, 14.5, 14.5, 14, 18, 39.5),
                         ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "CENTER", "LEFT")) as table:
        table.row(headings)
        for m in milestones:
            row = table.row()
            row.cell(milestone_words(m.name).replace(" (", "\n("))
            row.cell(_window(m))
            row.cell(show_date(m.visit_date) if m.visit_date else "–")
            row.cell(f"{m.density:.0f}" if m.density is not None else "–")
            row.cell(signed(m.change) if m.change is not None else "–")
            row.cell(f"{m.change_pct:+.0f}%" if m.change_pct is not None else "–")
            expected = (f"{signed(m.expected_low)} to {signed(m.expected_high)}"
                        if m.expected_low is not None and m.expected_high is not None else "–")
            row.cell(expected)
            colour = status_words(m.status).rgb
            row.cell(_status_words(m), style=FontFace(family=pdf.family, emphasis="B", size_pt=7.5, color=colour))
    pdf.ln(1)
    _paragraph(pdf, "Density, change, expected range and measurement noise in hairs/cm²; change % of the baseline "
                    "density. Ahead or behind only beyond the expected range by more than the noise.",
               size=6.5, colour=MUTED)


def _fitted(pair: PhotoPair) -> tuple[bytes | None, bytes | None]:
    """Both photos of a pair fitted into one frame (same size, letterboxed), as JPEG bytes."""
    def open_image(shot: PhotoShot | None) -> Image.Image | None:
        if shot is None or shot.image is None:
            return None
        try:
            with Image.open(io.BytesIO(shot.image)) as image:
                return image.convert("RGB")
        except Exception:  # a damaged display copy prints as "photo unavailable", never stops the report
            log.warning("could not decode a display copy for the report (%s)", pair.view)
            return None

    first, second = open_image(pair.before), open_image(pair.after)
    reference = first or second
    if reference is None:
        return None, None
    fitted = fit_pair(reference, second or reference, long_side=PHOTO_LONG_SIDE)
    if first is not None and second is not None:
        return _jpeg(fitted[0]), _jpeg(fitted[1])
    only = _jpeg(fitted[0])
    return (only, None) if first is not None else (None, only)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=PHOTO_QUALITY)
    return out.getvalue()


def _photos(pdf: ReportPDF, pairs: tuple[PhotoPair, ...]) -> None:
    box_w, box_h, gap = 87.0, 65.25, 6.0
    if not pairs:
        _heading(pdf, "Before and after photos", keep_with=10)
        _paragraph(pdf, "No photos have been recorded yet.", colour=MUTED)
        return
    block = 7 + box_h + 10
    _heading(pdf, "Before and after photos", keep_with=block + 8)
    _paragraph(pdf, "The first photo of each view is the baseline (the latest before the first session, else the "
                    "first taken); the second is the latest. Both are display copies fitted into the same frame.",
               size=8, colour=MUTED)
    pdf.ln(1)
    for pair in pairs:
        caution_height = 5 if pair.caution else 0
        if pdf.will_page_break(block + caution_height):
            pdf.add_page()
        pdf.set_font(pdf.family, "B", 10)
        pdf.set_text_color(*_TEAL)
        pdf.cell(WIDTH, 6, view_label(pair.view), new_x="LMARGIN", new_y="NEXT")
        if pair.caution:
            _paragraph(pdf, pair.caution, size=7.5, colour=STATUS_WORDS[MilestoneStatus.BEHIND].rgb)
        top = pdf.get_y() + 0.5
        before_image, after_image = _fitted(pair)
        shots = [(pair.before, before_image, "Before")]
        if pair.after is not None:
            shots.append((pair.after, after_image, "After"))
        for index, (shot, image, word) in enumerate(shots):
            x = PAGE_MARGIN + index * (box_w + gap)
            _photo_box(pdf, x, top, box_w, box_h, image)
            word = word if pair.after is not None else "Photo"
            when = f"{word}: {show_date(shot.date)}"
            if shot.months is not None:
                when += " (baseline)" if word == "Before" and shot.months <= 0 else f" (month {shot.months:g})"
            pdf.set_xy(x, top + box_h + 0.8)
            pdf.set_font(pdf.family, "", 8)
            pdf.set_text_color(*_INK)
            pdf.cell(box_w, 4.5, when, align="C")
        if pair.after is None:
            pdf.set_xy(PAGE_MARGIN + box_w + gap, top + box_h / 2 - 5)
            _only_one = "Only one visit has a photo of this view so far: the comparison starts at the next one."
            pdf.set_font(pdf.family, "", 8)
            pdf.set_text_color(*MUTED)
            pdf.multi_cell(box_w, 4.2, _only_one, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(top + box_h + 7)


def _photo_box(pdf: ReportPDF, x: float, y: float, w: float, h: float, image: bytes | None) -> None:
    if image is not None:
        pdf.image(io.BytesIO(image), x=x, y=y, w=w, h=h, keep_aspect_ratio=True)
    else:
        pdf.set_fill_color(240, 240, 240)
        pdf.rect(x, y, w, h, style="F")
        pdf.set_font(pdf.family, "", 8)
        pdf.set_text_color(*MUTED)
        pdf.set_xy(x, y + h / 2 - 2)
        pdf.cell(w, 4, "Photo file unavailable", align="C")
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.rect(x, y, w, h)


def _simple_table(pdf: ReportPDF, headings: tuple[str, ...], widths: tuple[float, ...],
                  rows: Sequence[tuple[str, ...]], align: tuple[str, ...]) -> None:
    pdf.set_font(pdf.family, "", 8)
    pdf.set_fill_color(255, 255, 255)  # fpdf2 fills the unstriped rows with the current fill colour
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    heading_style = FontFace(family=pdf.family, emphasis="B", size_pt=8, color=(255, 255, 255), fill_color=_TEAL)
    with pdf.table(col_widths=widths, headings_style=heading_style, line_height=4.2, text_align=align,
                   borders_layout="HORIZONTAL_LINES", cell_fill_color=(246, 248, 249), cell_fill_mode="ROWS",
                   padding=(1.2, 1.2), width=WIDTH) as table:
        table.row(headings)
        for values in rows:
            table.row(values)


def _sessions(pdf: ReportPDF, sessions: tuple[SessionLine, ...]) -> None:
    _heading(pdf, "Treatment sessions", keep_with=18)
    if not sessions:
        _paragraph(pdf, "No treatment session has been recorded.", colour=MUTED)
        return
    rows = [(show_date(s.date), treatment_words(s.treatment),
             s.product or "–", s.lot_number or "–", f"{s.volume_ml:g}" if s.volume_ml is not None else "–",
             s.areas or "–") for s in sessions]
    _simple_table(pdf, ("Date", "Treatment", "Product", "Lot number", "Volume (ml)", "Areas treated"),
                  (22, 21, 41, 38, 23, 35), rows, ("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "LEFT"))


def _therapies(pdf: ReportPDF, therapies: tuple[TherapyLine, ...]) -> None:
    _heading(pdf, "Concurrent therapies", keep_with=14)
    if not therapies:
        _paragraph(pdf, "None recorded.", colour=MUTED)
        return
    rows = [(t.name, t.dose or "–", show_date(t.start), show_date(t.stop) if t.stop else "ongoing")
            for t in therapies]
    _simple_table(pdf, ("Therapy", "Dose", "Started", "Stopped"), (55, 61, 32, 32), rows,
                  ("LEFT", "LEFT", "LEFT", "LEFT"))


def _evidence(pdf: ReportPDF, view: ProgressView) -> None:
    if not (view.evidence_note and "exosome" in view.treatments):
        return
    pdf.ln(4)
    pdf.set_font(pdf.family, "", 8.5)
    lines = pdf.multi_cell(WIDTH - 8, 4.3, view.evidence_note, align="L", dry_run=True, output="LINES")
    if not isinstance(lines, list):  # fpdf2 returns the list of lines for output="LINES"
        raise TypeError(f"fpdf2's multi_cell(output='LINES') returned {type(lines).__name__}, not a list of lines.")
    height = 6 + len(lines) * 4.3 + 4
    if pdf.will_page_break(height):
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_fill_color(235, 243, 247)
    pdf.set_draw_color(*_TEAL)
    pdf.rect(PAGE_MARGIN, top, WIDTH, height, style="F")
    pdf.set_line_width(0.8)
    pdf.line(PAGE_MARGIN, top, PAGE_MARGIN, top + height)
    pdf.set_line_width(0.2)
    pdf.set_xy(PAGE_MARGIN + 4, top + 2)
    pdf.set_font(pdf.family, "B", 9)
    pdf.set_text_color(*_TEAL)
    pdf.cell(WIDTH - 8, 5, "About the evidence for exosome treatment", new_x="LEFT", new_y="NEXT")
    pdf.set_font(pdf.family, "", 8.5)
    pdf.set_text_color(*_INK)
    pdf.multi_cell(WIDTH - 8, 4.3, view.evidence_note, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(top + height)
