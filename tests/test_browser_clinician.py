"""Browser journey (clinician), as in the product issue: sign in → register a patient → baseline visit with a
real JPEG and densities → exosome session with its lot → 3-month visit → the record shows the early-response
milestone ahead of the expected band; the command line reads the same status from the database.

Dates sit in the past (visits may not be in the future): baseline at today−81, the session (day 0) at
today−80, the "3-month" visit today, 80 days after day 0, inside the 2–3 calendar-month window.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.browser import (
    ROOT,
    browser_page,
    choose,
    clinic_with_accounts,
    dataframe_rows,
    navigate,
    open_menu,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    type_date,
    wait_rendered,
)

USERNAME, PASSWORD = "dr.test", "Follicle-Journey-7319"
MRN, NAME = "RT-7001", "Paulo Journey"
SITES = {"frontal": (150.0, 185.0), "vertex": (140.0, 175.0)}  # baseline, 3-month densities (hairs/cm²)
JOURNEY = "clinician"
RATINGS = "clinician-ratings"


def expected_early_status(baseline: float, later: float, days_after_day0: int) -> str:
    """Worked independently of ``tracker.course.milestones``: the default band (DESIGN.md §3) runs from
    −10…+5 at month 2 to +5…+20 at month 3, linearly in months of 30.4375 days; the noise is 10% of the
    baseline (DESIGN.md §2), and only beyond the band by more than the noise is ahead or behind."""
    months = days_after_day0 / 30.4375
    assert 2 <= months <= 3
    low, high = -10 + (months - 2) * 15, 5 + (months - 2) * 15
    noise = baseline * 0.10
    change = later - baseline
    if change > high + noise:
        return "ahead"
    return "behind" if change < low - noise else "on_track"


def scalp_jpeg(width: int = 1200, height: int = 900) -> bytes:
    """A scalp-like photo: skin tone with a few thousand dark hair strokes, saved as a real JPEG."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(7)
    image = Image.new("RGB", (width, height), (206, 168, 140))
    draw = ImageDraw.Draw(image)
    for _ in range(4000):
        x, y = rng.randrange(width), rng.randrange(height)
        shade = rng.randint(20, 60)
        draw.line((x, y, x + rng.randint(-8, 8), y + rng.randint(10, 26)), fill=(shade, shade - 10, shade - 15),
                  width=rng.choice((1, 2, 2, 3)))
    buffer = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(0.6)).save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    data_dir, env = clinic_with_accounts(tmp_path_factory, "browser-clinician", ("clinician", USERNAME, PASSWORD))
    with streamlit_server(data_dir) as base:
        yield base, env


def body_text(page) -> str:
    return page.inner_text("body")


def assert_no_error_box(page) -> None:
    errors = page.locator('[data-testid="stAlertContentError"], [data-testid="stException"]')
    assert errors.count() == 0, errors.all_inner_texts()


def fill_visit(page, visit_day: date, densities: dict[str, float]) -> None:
    page.get_by_role("button", name="Save visit").wait_for()
    wait_rendered(page)
    type_date(page, "Visit date", visit_day)
    for site, density in densities.items():
        box = page.get_by_role("textbox", name=f"{site.capitalize()}: density (hairs/cm²)", exact=True)
        box.fill(f"{density:g}")
        box.press("Tab")


def test_clinician_registers_logs_and_sees_early_response(clinic):
    base, env = clinic
    today = date.today()
    baseline_day, day0, three_months = today - timedelta(days=81), today - timedelta(days=80), today
    expected = expected_early_status(*SITES["frontal"], (three_months - day0).days)
    assert expected == expected_early_status(*SITES["vertex"], (three_months - day0).days) == "ahead"

    with browser_page(viewport=(1400, 2000)) as page:
        # 1. Sign in as the clinician created on the command line.
        sign_in(page, base, USERNAME, PASSWORD)
        page.get_by_text("No patients yet").wait_for()
        shot(page, JOURNEY, "01-signed-in")
        assert f"Signed in as {USERNAME} (clinician)" in body_text(page)

        # 2. New patient: diagnosis above the form, identity, staging, target areas, protocol.
        open_menu(page, "New patient")
        page.get_by_role("button", name="Register patient").wait_for()
        choose(page, "Sex", "male")
        choose(page, "Condition", "Androgenetic alopecia")
        page.get_by_role("textbox", name="MRN").fill(MRN)
        page.get_by_role("textbox", name="Full name").fill(NAME)
        type_date(page, "Birth date", date(1980, 3, 15))
        choose(page, "Baseline stage (Norwood–Hamilton)", "III")
        for area in SITES:
            choose(page, "Target areas to measure", area.capitalize())
        page.keyboard.press("Escape")
        page.get_by_role("listbox").wait_for(state="hidden")
        assert page.get_by_role("combobox", name="Protocol").input_value() == "Exosome (default)"
        shot(page, JOURNEY, "02-new-patient-filled")
        page.get_by_role("button", name="Register patient").click()
        page.get_by_text(f"Patient {MRN} registered.").wait_for()
        wait_rendered(page)
        assert_no_error_box(page)
        shot(page, JOURNEY, "03-patient-registered")

        page.get_by_role("button", name="Open the record").click()
        page.get_by_role("heading", name=NAME).wait_for()
        wait_rendered(page)
        record = body_text(page)
        assert f"MRN {MRN}" in record and "Norwood–Hamilton III" in record and "target areas: Frontal, Vertex" in record
        assert "no treatment session yet" in record
        shot(page, JOURNEY, "04-record-new")

        # 3. Baseline visit: densities for both target sites and a real JPEG for the frontal view.
        open_menu(page, "Log visit")
        page.get_by_role("heading", name=f"{NAME} · MRN {MRN}").wait_for()
        fill_visit(page, baseline_day, {site: values[0] for site, values in SITES.items()})
        frontal = page.get_by_test_id("stFileUploader").filter(has=page.get_by_text("Frontal", exact=True))
        frontal.locator("input[type=file]").set_input_files(
            files=[{"name": "frontal-baseline.jpg", "mimeType": "image/jpeg", "buffer": scalp_jpeg()}])
        frontal.get_by_text("frontal-baseline.jpg").wait_for()
        for check in ("Hair dry", "Same parting as last time", "Same camera distance", "Same lighting"):
            page.get_by_text(check, exact=True).click()
        page.get_by_role("textbox", name="Camera or device").fill("Dermoscope FotoFinder")
        shot(page, JOURNEY, "05-baseline-visit-filled")
        page.get_by_role("button", name="Save visit").click()
        page.get_by_text(f"Visit of {baseline_day.isoformat()} saved.").wait_for()
        wait_rendered(page)
        assert_no_error_box(page)
        saved = body_text(page)
        assert "1 photo(s) stored." in saved
        rows = dataframe_rows(page.get_by_test_id("stDataFrame").first)
        assert [(r["Site"], r["Density (hairs/cm²)"], r["Status"]) for r in rows] == [
            ("Frontal", "150", "Baseline recorded"), ("Vertex", "140", "Baseline recorded")]
        shot(page, JOURNEY, "06-baseline-visit-saved")

        # 4. Exosome session (day 0) with its lot number.
        open_menu(page, "Log treatment session")
        page.get_by_role("button", name="Save session").wait_for()
        wait_rendered(page)
        type_date(page, "Session date", day0)
        assert page.get_by_role("combobox", name="Treatment").input_value() == "Exosome"
        page.get_by_role("textbox", name="Product").fill("ExoHair serum")
        page.get_by_role("textbox", name="Lot / batch number (required for exosome)").fill("EXO-2024-117")
        page.get_by_role("textbox", name="Volume (ml)").fill("5")
        page.get_by_role("textbox", name="Areas treated").fill("frontal, vertex")
        shot(page, JOURNEY, "07-session-filled")
        page.get_by_role("button", name="Save session").click()
        page.get_by_text(f"Exosome session of {day0.isoformat()} saved, lot EXO-2024-117.").wait_for()
        wait_rendered(page)
        assert_no_error_box(page)
        shot(page, JOURNEY, "08-session-saved")

        # 5. The 3-month visit, 80 days after day 0.
        open_menu(page, "Log visit")
        page.get_by_role("heading", name=f"{NAME} · MRN {MRN}").wait_for()
        fill_visit(page, three_months, {site: values[1] for site, values in SITES.items()})
        shot(page, JOURNEY, "09-three-month-visit-filled")
        page.get_by_role("button", name="Save visit").click()
        page.get_by_text(f"Visit of {three_months.isoformat()} saved.").wait_for()
        wait_rendered(page)
        assert_no_error_box(page)
        saved = body_text(page)
        rows = dataframe_rows(page.get_by_test_id("stDataFrame").first, containing="Early response (2–3 months)")
        assert [(r["Site"], r["Milestone"], r["Change vs baseline (hairs/cm²)"], r["Status"]) for r in rows] == [
            ("Frontal", "Early response (2–3 months)", "+35.0 (+23%)", "Ahead: above the expected range"),
            ("Vertex", "Early response (2–3 months)", "+35.0 (+25%)", "Ahead: above the expected range"),
        ], rows
        shot(page, JOURNEY, "10-three-month-visit-saved")
        # The form starts afresh: nothing typed for the saved visit is left to be saved a second time.
        for site in SITES:
            box = page.get_by_role("textbox", name=f"{site.capitalize()}: density (hairs/cm²)", exact=True)
            assert box.input_value() == ""
        page.get_by_role("button", name="Save visit").click()
        wait_rendered(page)
        assert page.get_by_test_id("stAlertContentError").count() >= 1  # refused: nothing measured
        assert body_text(page).count(f"Visit of {three_months.isoformat()} saved.") <= 1

        # 6. The record: day 0, the timeline, and the early-response milestone ahead of the band.
        open_menu(page, "Patient record")
        page.get_by_role("heading", name=NAME).wait_for()
        page.get_by_text("Early response (2–3 months)").wait_for()
        wait_rendered(page)
        assert_no_error_box(page)
        record = body_text(page)
        assert f"day 0: {day0.isoformat()}" in record
        early = page.locator('[data-testid="stColumn"]').filter(has_text="Early response (2–3 months)").last
        early_text = early.inner_text()
        assert "above the expected range" in early_text, early_text
        # Each site in the progress cards' words, with the noise that makes it ahead.
        assert f"Frontal on {three_months.isoformat()}: +35 hairs/cm²" in early_text, early_text
        assert f"Vertex on {three_months.isoformat()}: +35 hairs/cm²" in early_text, early_text
        assert early_text.count("by more than the measurement noise") == 2, early_text
        timeline = [(r["Date"], r["Entry"], r["Density (hairs/cm²)"], r["Lot"])
                    for r in dataframe_rows(page.get_by_test_id("stDataFrame").first)]
        assert timeline == [
            (baseline_day.isoformat(), "Visit", "Frontal 150 · Vertex 140", ""),
            (day0.isoformat(), "Exosome session", "", "EXO-2024-117"),
            (three_months.isoformat(), "Visit", "Frontal 185 · Vertex 175", ""),
        ]
        shot(page, JOURNEY, "11-record-early-response")

    # 7. The database says the same, through the command line.
    report = json.loads(subprocess.run([sys.executable, "-m", "tracker", "progress", MRN, "--json"], cwd=ROOT,
                                       env=env, capture_output=True, text=True, timeout=120, check=True).stdout)
    assert report["day0"] == day0.isoformat()
    for site in report["sites"]:
        early = next(m for m in site["milestones"] if m["name"] == "early_response")
        assert early["status"] == expected, (site["site"], early)
        assert site["baseline"]["density"] == SITES[site["site"]][0]
    assert {site["site"] for site in report["sites"]} == set(SITES)

    # 8. The server's own output: no stack trace and no warning anywhere in the journey (every save, a refusal).
    assert server_alarms(base) == []


ROW_HEIGHT = 35  # st.dataframe's default row (and header) height, in CSS pixels


def click_row(page, grid, index: int) -> None:
    """Click the selection box of row ``index`` of an ``st.dataframe`` grid (a canvas), as a person would."""
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + ROW_HEIGHT * (index + 1) + ROW_HEIGHT / 2)
    wait_rendered(page)


def seed_follow_up(data_dir, mrn: str, name: str, days_since_day0: int) -> None:
    """A patient treated ``days_since_day0`` days ago, measured at baseline the day before, written to the
    server's database directly (the clinician journey above shows the forms)."""
    from tests.patient_samples import seed

    day0 = date.today() - timedelta(days=days_since_day0)
    seed(f"sqlite:///{data_dir / 'tracker.db'}", mrn, name, sessions=[day0],
         visits=[(day0 - timedelta(days=1), {"vertex": 150.0})])


def test_a_click_on_a_schedule_row_opens_that_patients_record(clinic):
    base, env = clinic
    data_dir = Path(env["TRACKER_DATA_DIR"])
    # 200 days: the 2–3 month window closed unvisited (overdue); 75 days: inside the 2–3 month window, its
    # target (3 months after day 0) 14–17 days away.
    seed_follow_up(data_dir, "RT-7201", "Olivia Overdue", 200)
    seed_follow_up(data_dir, "RT-7202", "Wanda Window", 75)
    with browser_page(viewport=(1600, 1400)) as page:
        sign_in(page, base, USERNAME, PASSWORD)
        open_menu(page, "Schedule")
        page.get_by_role("heading", name="Milestone follow-ups").wait_for()
        for label in ("All follow-ups", "Overdue", "Window open now", "Target date within 7 days",
                      "Upcoming (window opens within 14 days)"):
            page.get_by_test_id("stRadio").get_by_text(label, exact=True).wait_for()
        page.get_by_test_id("stRadio").get_by_text("Window open now", exact=True).click()
        wait_rendered(page)
        grid = page.get_by_test_id("stDataFrame").first
        rows = [r for r in dataframe_rows(grid) if r.get("MRN", "").startswith("RT-72")]
        assert [(r["MRN"], r["Status"]) for r in rows] == [("RT-7201", "Overdue"), ("RT-7202", "Window open")]
        assert {"Window opens", "Window closes", "Target date", "Last visit", "Latest change"} <= set(rows[0])
        shot(page, JOURNEY, "20-schedule-window-open")
        click_row(page, grid, [r["MRN"] for r in dataframe_rows(grid)].index("RT-7202"))
        page.get_by_role("heading", name="Wanda Window").wait_for()
        wait_rendered(page)
        assert_no_error_box(page)
        assert "MRN RT-7202" in body_text(page)
        shot(page, JOURNEY, "21-record-opened-from-schedule")
        # Back on the schedule, the click is not remembered: the schedule stays open.
        open_menu(page, "Schedule")
        page.get_by_role("heading", name="Milestone follow-ups").wait_for()
        wait_rendered(page)
        assert page.get_by_role("heading", name="Schedule").count() == 1

        # The patient list, filtered to the overdue: a click on the row opens that record too.
        open_menu(page, "Patients")
        page.get_by_role("heading", name="Patients").first.wait_for()
        # The filter's option, not the word in a Status cell of the grid (its hidden table holds the text too).
        page.get_by_test_id("stRadio").get_by_text("Overdue", exact=True).click()
        wait_rendered(page)
        grid = page.get_by_test_id("stDataFrame").first
        # The grid is redrawn after the run that filters it: wait for the row that must go before reading.
        grid.locator("tr", has_text="RT-7202").wait_for(state="detached")
        listed = [r["MRN"] for r in dataframe_rows(grid)]
        assert "RT-7201" in listed and "RT-7202" not in listed
        shot(page, JOURNEY, "22-patients-overdue")
        click_row(page, grid, listed.index("RT-7201"))
        page.get_by_role("heading", name="Olivia Overdue").wait_for()
        page.get_by_text("MRN RT-7201").first.wait_for()  # the heading is drawn first; the rest follows
        assert "MRN RT-7201" in body_text(page)
    assert server_alarms(base) == []


RATED, UNBASED = ("RT-7101", "Rita Rated"), ("RT-7102", "Noor Nobaseline")


def seed_rated_and_unbased(env: dict, today: date) -> None:
    """Rita: baseline 150 (today−200), session (today−199), 170 at today−110 rated +1 and 6/10. Noor: a session
    (today−200) and densities 140 and 152 from today−110 on, none before it: no baseline."""
    script = f"""
from datetime import date, timedelta
from db import models
from tracker.database import transaction
today = date.fromisoformat({today.isoformat()!r})
with transaction() as s:
    for mrn, name in ({RATED!r}, {UNBASED!r}):
        s.add(models.Patient(mrn=mrn, full_name=name, sex="female", birth_date=date(1984, 6, 1),
                             condition="androgenetic_alopecia", target_areas="vertex", created_by="test"))
    s.flush()
    ids = {{p.mrn: p.id for p in s.query(models.Patient)}}
    plan = [({RATED[0]!r}, 200, 150.0, None, None), ({RATED[0]!r}, 110, 170.0, 1, 6),
            ({UNBASED[0]!r}, 110, 140.0, None, None), ({UNBASED[0]!r}, 20, 152.0, None, None)]
    for mrn, ago, density, assessment, satisfaction in plan:
        visit = models.Visit(patient_id=ids[mrn], date=today - timedelta(days=ago), global_assessment=assessment,
                             satisfaction=satisfaction, created_by="test")
        s.add(visit)
        s.flush()
        s.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density, created_by="test"))
    for mrn, ago in (({RATED[0]!r}, 199), ({UNBASED[0]!r}, 200)):
        s.add(models.TreatmentSession(patient_id=ids[mrn], date=today - timedelta(days=ago), treatment="exosome",
                                      product="ExoHair", lot_number="EXO-9", created_by="test"))
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)


def chart_texts(page) -> list[str]:
    """Every text plotly drew in the page's charts (ticks, titles, labels on points, annotations)."""
    return page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot text')].map(t => t.textContent)")


def test_clinician_rates_a_visit_and_sees_it_charted_and_a_patient_without_baseline_gets_a_chart(clinic):
    base, env = clinic
    today = date.today()
    seed_rated_and_unbased(env, today)
    visit_day = today - timedelta(days=15)
    # Tall enough that the progress page (main chart and the secondary charts under it) fits one screenshot.
    with browser_page(viewport=(1400, 2600)) as page:
        sign_in(page, base, USERNAME, PASSWORD)

        # 1. A visit with the global photographic assessment and the patient's satisfaction.
        navigate(page, f"/log_visit?mrn={RATED[0]}")
        page.get_by_role("heading", name=f"{RATED[1]} · MRN {RATED[0]}").wait_for()
        fill_visit(page, visit_day, {"vertex": 185.0})
        choose(page, "Global photographic assessment (against the baseline photos)", "+2 Moderately increased")
        satisfaction = page.get_by_role("textbox", name="Patient satisfaction (0 = not at all, 10 = completely "
                                                          "satisfied)")
        satisfaction.fill("8")
        satisfaction.press("Tab")
        shot(page, RATINGS, "01-visit-with-ratings-filled")
        page.get_by_role("button", name="Save visit").click()
        page.get_by_text(f"Visit of {visit_day.isoformat()} saved.").wait_for()
        wait_rendered(page)
        assert_no_error_box(page)
        saved = body_text(page)
        assert "Global photographic assessment: +2 Moderately increased" in saved
        assert "Patient satisfaction: 8/10" in saved

        # 2. Progress: the change chart marks today and labels the band and each change; both ratings are charted.
        navigate(page, f"/progress?mrn={RATED[0]}")
        page.get_by_text("Other measurements").wait_for()
        wait_rendered(page)
        # The main chart, then the secondary ones (shaft diameter none here: assessment and satisfaction).
        page.locator(".js-plotly-plot").nth(2).wait_for(state="attached")
        assert_no_error_box(page)
        texts = chart_texts(page)
        # 170 − 150 and 185 − 150; the band's flat end (+15..+35 from month 12) is not reached at ~6 months.
        for expected in ("today", "+20", "+35", "±15 hairs/cm²: measurement noise",
                         "Global photographic assessment (−3 … +3)",
                         "Patient satisfaction (0–10)", "+2 Moderately increased", "−3 Greatly decreased"):
            assert expected in texts, expected
        assert any(t.startswith("expected high +") for t in texts), texts
        assert any(t.startswith("expected low +") for t in texts), texts
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        path = shot(page, RATINGS, "02-progress-with-ratings-charted")
        assert path.exists()

        # 3. The density chart of the same site: the measured densities, each labelled.
        page.get_by_text("Density (hairs/cm²)", exact=True).click()
        wait_rendered(page)
        texts = chart_texts(page)
        assert {"150", "170", "185", "baseline 150"} <= set(texts), texts

        # 4. The visit list on the record carries the ratings.
        navigate(page, f"/patient_record?mrn={RATED[0]}")
        page.get_by_role("heading", name=RATED[1]).wait_for()
        wait_rendered(page)
        rows = dataframe_rows(page.get_by_test_id("stDataFrame").first)
        assert [(r["Global assessment"], r["Satisfaction"]) for r in rows if r["Entry"] == "Visit"] == [
            ("", ""), ("+1 Slightly increased", "6/10"), ("+2 Moderately increased", "8/10")], rows

        # 5. No baseline: the measured densities are charted all the same, with today marked.
        navigate(page, f"/progress?mrn={UNBASED[0]}")
        page.locator(".js-plotly-plot").first.wait_for()
        wait_rendered(page)
        assert_no_error_box(page)
        assert "the change cannot be judged, so the measured density is shown" in body_text(page)
        texts = chart_texts(page)
        assert {"140", "152", "today", "density (hairs/cm²)"} <= set(texts), texts
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        shot(page, RATINGS, "03-progress-without-baseline")
    assert server_alarms(base) == []
