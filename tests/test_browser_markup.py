"""Browser journey: typed text never becomes markup, on any page, in the chart or in the PDF.

One patient whose every free-text field is a small piece of HTML and markdown, each tagged with its field
(``<a href="https://example.org">x-lot</a> **b** <b>c</b>``): name, visit and session notes, adverse events,
product, lot, therapy and dose, and a protocol whose name, milestone window names and evidence note are the
same. Each page (patient list, record, progress and its chart, consult mode, photos, lot lookup, schedule,
log visit with a site of that name, protocols) must show every field it draws literally: no link, no bold,
nothing in the chart's SVG made of it. The PDF report is read back with ``pdftotext``. The count of hostile
strings found literally on each page is reported as a figure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.browser import (
    ROOT,
    browser_page,
    choose,
    dialogs_seen,
    navigate,
    open_menu,
    require_chromium,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)
from ui.messages import WORD_JOINER

CLINICIAN, CLINICIAN_PASSWORD = "dr.markup", "Markup-Journey-5521"
ADMIN, ADMIN_PASSWORD = "admin.markup", "Markup-Admin-7710"
MRN = "MK-0001"
JOURNEY = "markup"
FIELDS = ("name", "visit-note", "session-note", "adverse", "product", "lot", "therapy", "dose", "protocol",
          "w1", "w2", "w3", "evidence")
HOSTILE = {field: f'<a href="https://example.org">x-{field}</a> **b** <b>c</b>' for field in FIELDS}
SITE = HOSTILE["name"].replace("x-name", "x-site")

# Through the services, as the command line does: the protocol, the patient, two visits with photos, an
# exosome session, a therapy; then the PDF report, written to argv[3].
SEED = """
import io, json, sys
from datetime import date, timedelta
from PIL import Image
from tracker.access.actors import command_line_actor
from tracker.records.patient_intake import NewPatient, create_patient
from tracker.records.protocol_admin import copy_protocol, save_protocol
from tracker.exchange.progress_report import progress_report_pdf
from tracker.records.therapies import add_therapy
from tracker.records.treatment_sessions import SessionEntry, log_session
from tracker.records.visit_form import PhotoUpload, SiteEntry, VisitEntry
from tracker.records.visits import log_visit

h, mrn, pdf_path = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
actor = command_line_actor("browser-test")
today = date.today()
copy = copy_protocol(actor, "Exosome (default)", h["protocol"])
save_protocol(actor, copy.name, [{"month": p.month, "low": p.low, "high": p.high} for p in copy.band],
              [{"name": h[f"w{i}"], "start_month": w.start_month, "end_month": w.end_month,
                "target_month": w.target_month} for i, w in enumerate(copy.windows, start=1)],
              h["evidence"], expected_version=copy.version)
create_patient(actor, NewPatient(mrn=mrn, full_name=h["name"], sex="female", birth_date="1975-06-01",
                                 condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="II",
                                 target_areas="vertex", protocol=h["protocol"]))

def jpeg(colour):
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buffer, "JPEG")
    return buffer.getvalue()

log_visit(actor, mrn, VisitEntry(date=today - timedelta(days=100), sites=[SiteEntry("vertex", 120)],
                                 notes=h["visit-note"]), [PhotoUpload("vertex", "before.jpg", jpeg("#8a5a44"))])
log_session(actor, mrn, SessionEntry(date=today - timedelta(days=95), treatment="exosome", product=h["product"],
                                     lot_number=h["lot"], notes=h["session-note"], adverse_events=h["adverse"]))
log_visit(actor, mrn, VisitEntry(date=today - timedelta(days=3), sites=[SiteEntry("vertex", 140)],
                                 notes=h["visit-note"]), [PhotoUpload("vertex", "after.jpg", jpeg("#7a4a34"))])
add_therapy(actor, mrn, h["therapy"], h["dose"], today - timedelta(days=90))
with open(pdf_path, "wb") as out:
    out.write(progress_report_pdf(actor, mrn, today)[1])
"""

# Every text the page shows: visible text, table cells (drawn on a canvas, read from its accessible table),
# text boxes' values, and the text of the chart's SVG.
PAGE_TEXTS = """() => [
  document.body.innerText,
  ...[...document.querySelectorAll('[data-testid="stDataFrame"] td, [data-testid="stDataFrame"] th')]
      .map(c => c.textContent),
  ...[...document.querySelectorAll('textarea, input')].map(i => i.value),
  ...[...document.querySelectorAll('.js-plotly-plot text')].map(t => t.textContent),
].join('\\n')"""
# What markup made of the hostile text would leave in the page: links to example.org (anywhere, the chart
# included), bold "b" or "c", any link inside a chart, bold or linked text in the chart's SVG.
MARKUP = """() => ({
  links: document.querySelectorAll('a[href*="example.org"]').length,
  chartLinks: document.querySelectorAll('.js-plotly-plot a').length,
  bold: [...document.querySelectorAll('strong, b')].filter(e => ['b', 'c'].includes(e.textContent.trim())).length,
  chartBold: [...document.querySelectorAll('.js-plotly-plot tspan')]
      .filter(t => /bold/.test(t.getAttribute('style') || '') && ['b', 'c'].includes(t.textContent.trim())).length,
  charts: document.querySelectorAll('.js-plotly-plot').length,
})"""


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    require_chromium()
    folder = tmp_path_factory.mktemp("browser-markup")
    data_dir = folder / "data"
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)

    def run(*args: str, stdin: str | None = None) -> str:
        return subprocess.run([sys.executable, *args], input=stdin, cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300, check=True).stdout

    run("-m", "tracker", "init")
    for role, username, password in (("clinician", CLINICIAN, CLINICIAN_PASSWORD), ("admin", ADMIN, ADMIN_PASSWORD)):
        run("-m", "tracker", "user", "add", "--role", role, "--username", username, "--password-stdin",
            stdin=password + "\n")
    pdf = folder / "report.pdf"
    run("-c", SEED, json.dumps(HOSTILE), MRN, str(pdf))
    with streamlit_server(data_dir) as base:
        yield base, pdf


class Pages:
    """Checks one page at a time and keeps the count of hostile strings found literally on each."""

    def __init__(self, page, figure):
        self.page, self.figure, self.found = page, figure, {}

    def check(self, step: str, expected: set[str], charts: int = 0, tables: int = 0) -> None:
        wait_rendered(self.page)
        # A grid draws its accessible table (read here: the grid itself is a canvas) a moment after the page.
        self.page.wait_for_function(
            "n => [...document.querySelectorAll('[data-testid=\"stDataFrame\"]')]"
            ".filter(f => f.querySelectorAll('td').length > 1).length >= n", arg=tables, timeout=30_000)
        self.page.wait_for_timeout(500)
        text = self.page.evaluate(PAGE_TEXTS).replace(WORD_JOINER, "")  # the joiner is invisible
        found = {field for field, value in HOSTILE.items() if value in text}
        if SITE in text or SITE.lower().replace(" ", "_") in text:
            found.add("site")
        if not expected <= found:
            shot(self.page, JOURNEY, step + "-failed")
            (ROOT / "test-artifacts" / JOURNEY / f"{step}-failed.txt").write_text(text)
        assert expected <= found, (step, sorted(expected - found), text[:3000])
        markup = self.page.evaluate(MARKUP)
        if markup["links"]:
            shot(self.page, JOURNEY, step + "-failed")
            (ROOT / "test-artifacts" / JOURNEY / f"{step}-links.txt").write_text("\n\n".join(self.page.evaluate(
                "() => [...document.querySelectorAll('a[href*=\"example.org\"]')]"
                ".map(a => a.closest('[data-testid]').outerHTML.slice(0, 1500))")))
        assert markup == {"links": 0, "chartLinks": 0, "bold": 0, "chartBold": 0, "charts": markup["charts"]}, step
        assert markup["charts"] >= charts, (step, markup)
        assert dialogs_seen(self.page) == []
        shot(self.page, JOURNEY, step)
        self.found[step] = found


def test_hostile_text_is_literal_on_every_page_chart_and_pdf(clinic, figure):
    base, pdf = clinic
    with browser_page(viewport=(2600, 2200)) as page:
        pages = Pages(page, figure)
        sign_in(page, base, CLINICIAN, CLINICIAN_PASSWORD)

        # Patients list: name and the next milestone (a window name) in the table.
        page.get_by_role("textbox", name="Search by name or MRN").fill(MRN)
        page.keyboard.press("Enter")
        page.get_by_text("Showing 1–1 of 1", exact=True).wait_for()
        pages.check("01-patients", {"name", "w2"}, tables=1)
        choose(page, "Patient", f"{MRN} — {HOSTILE['name']}")

        # Record: header, milestone strip, timeline; then the therapies tab.
        navigate(page, f"/patient_record?mrn={MRN}")
        page.get_by_role("heading", name=re.compile("x-name")).wait_for()
        pages.check("02-record", {"name", "protocol", "w1", "w2", "w3", "visit-note", "session-note", "adverse",
                                  "product", "lot"}, tables=1)
        page.get_by_role("tab", name="Concurrent therapies").click()
        page.get_by_test_id("stDataFrame").filter(has_text="Taking now").first.wait_for()
        pages.check("03-record-therapies", {"therapy", "dose"}, tables=1)

        # Progress: header, chart (therapy bar, product's active span, windows), cards, evidence note.
        open_menu(page, "Progress")
        page.get_by_role("heading", name=re.compile("x-name")).wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        pages.check("04-progress", {"name", "protocol", "w1", "w2", "w3", "therapy", "dose", "product",
                                    "evidence"}, charts=1)
        # The session marker's hover text (product, lot) is drawn only on hover: the figure's data holds
        # them escaped, so that plotly draws them as the characters.
        hover = page.evaluate("() => JSON.stringify([...document.querySelectorAll('.js-plotly-plot')]"
                              ".map(p => (p.data || []).map(t => t.customdata || null)))")
        assert "&lt;a href=\\\"https://example.org\\\"&gt;x-lot&lt;/a&gt; **b** &lt;b&gt;c&lt;/b&gt;" in hover
        assert "<a href" not in hover
        # And drawn on hover: the session marker's label shows the product and lot as typed, and no link.
        hovered = ""
        for point in page.locator(".js-plotly-plot").first.locator(".scatterlayer path.point").all():
            point.hover(force=True)
            page.wait_for_timeout(300)
            hovered = page.locator(".js-plotly-plot .hoverlayer").first.text_content() or ""
            if "x-lot" in hovered:
                break
        assert HOSTILE["lot"] in hovered and HOSTILE["product"] in hovered, hovered
        assert page.locator(".js-plotly-plot .hoverlayer a").count() == 0
        shot(page, JOURNEY, "04-progress-hover")

        # Consult mode: the same, large; then back with the password.
        page.get_by_role("button", name="Consult mode: show this to the patient").click()
        page.get_by_text("Clinician: end the consult").wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        pages.check("05-consult", {"name", "w1", "therapy", "dose", "product"}, charts=1)
        page.get_by_text("Clinician: end the consult").click()
        page.get_by_label("Your password").fill(CLINICIAN_PASSWORD)
        page.get_by_role("button", name="Back to the workspace").click()
        page.get_by_test_id("stSidebarNav").wait_for()

        # Photos: the header.
        open_menu(page, "Photos")
        page.get_by_role("heading", name=re.compile("x-name")).wait_for()
        pages.check("06-photos", {"name"})

        # Lot lookup: the searched lot echoed, the table's name, product and lot.
        open_menu(page, "Lot lookup")
        page.get_by_role("textbox", name="Lot number").fill(HOSTILE["lot"])
        page.get_by_role("button", name="Look up").click()
        page.get_by_text(f"Searched lot number (exact): {HOSTILE['lot']}", exact=True).wait_for()
        pages.check("07-lot-lookup", {"name", "product", "lot"}, tables=1)

        # Schedule: the repeat-session window is open; the next milestone within 90 days.
        open_menu(page, "Schedule")
        choose(page, "Look ahead", "90 days")
        pages.check("08-schedule", {"name"}, tables=1)

        # Log visit: a site typed with markup is a label shown literally, then refused by name.
        open_menu(page, "Log visit")
        page.get_by_role("heading", name=re.compile(f"x-name.* · MRN {MRN}")).wait_for()
        page.get_by_text("Add a measured site").click()
        page.get_by_role("textbox", name="Site name (for example frontal or left_temporal)").fill(SITE)
        page.get_by_role("button", name="Add site").click()
        density = page.get_by_role("textbox", name=re.compile(r"x-site.*: density"))
        density.wait_for()
        density.fill("150")
        page.get_by_role("button", name="Save visit").click()
        page.get_by_test_id("stAlertContentError").first.wait_for()
        pages.check("09-log-visit-site", {"name", "site"})
        assert "may contain only letters, digits" in page.get_by_test_id("stAlertContentError").first.inner_text()

    with browser_page(viewport=(2600, 2200)) as page:
        pages_admin = Pages(page, figure)
        sign_in(page, base, ADMIN, ADMIN_PASSWORD)
        open_menu(page, "Protocols")
        choose(page, "Protocol to view or edit", HOSTILE["protocol"])
        page.get_by_role("textbox", name="Evidence note (required)").wait_for()
        pages_admin.check("10-protocols", {"protocol", "evidence"})
        assert page.get_by_role("textbox", name="Evidence note (required)").input_value() == HOSTILE["evidence"]
        pages.found.update(pages_admin.found)

    # The PDF: every field it prints, as typed (pdftotext in content order; line breaks and spaces ignored: cells wrap).
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; make test installs it")
    text = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    squeezed = re.sub(r"\s+", "", text)
    in_pdf = {field for field, value in HOSTILE.items() if re.sub(r"\s+", "", value) in squeezed}
    assert {"name", "product", "lot", "therapy", "dose", "evidence", "protocol"} <= in_pdf, sorted(in_pdf)
    assert "&lt;" not in text and "&amp;" not in text  # not escaped twice: the PDF prints the characters
    pages.found["11-pdf"] = in_pdf

    assert server_alarms(base) == []
    for step, found in pages.found.items():
        figure(f"markup, {step}: {len(found)} hostile strings shown literally ({', '.join(sorted(found))})")
    figure(f"markup: {sum(map(len, pages.found.values()))} hostile strings checked on {len(pages.found)} "
           "pages/PDF: 0 links, 0 bold, 0 elements in the charts made of them")
