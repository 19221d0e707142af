"""Browser journey (issue #12): a 3-month density typed 183 instead of 138 reads "Ahead"; the clinician corrects it on
the record with a reason, sees what changed and the new judgement, finds the history line, and the progress page
reads "On track".

Dates sit in the past: baseline at today−86 (130 hairs/cm² at the vertex), the session (day 0) at today−85, the
3-month visit at today−5, 80 days after day 0.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.browser import (
    browser_page,
    choose,
    clinic_with_accounts,
    dataframe_rows,
    open_menu,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)
from tracker.clinic_dates import show_date

USERNAME, PASSWORD = "dr.fix", "Follicle-Correction-4417"
MRN, NAME = "RT-8001", "Tomas Typo"
JOURNEY = "corrections"
BASELINE, TYPED, MEANT = 130.0, 183.0, 138.0


def early_status(baseline: float, later: float, days_after_day0: int) -> str:
    """Worked independently of the engine: the default band (DESIGN.md §3) runs from −10…+5 at month 2 to +5…+20
    at month 3, linearly in months of 30.4375 days; the noise is 10% of the baseline (DESIGN.md §2)."""
    months = days_after_day0 / 30.4375
    low, high = -10 + (months - 2) * 15, 5 + (months - 2) * 15
    change, noise = later - baseline, baseline * 0.10
    return "ahead" if change > high + noise else "behind" if change < low - noise else "on_track"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    data_dir, env = clinic_with_accounts(tmp_path_factory, "browser-corrections", ("clinician", USERNAME, PASSWORD))
    with streamlit_server(data_dir) as base:
        yield base, data_dir


def seed_typo(data_dir: Path, today: date) -> date:
    """The patient with the mistyped 3-month density, written to the server's database; returns that visit's date."""
    from tests.patient_samples import seed

    day0, visit = today - timedelta(days=85), today - timedelta(days=5)
    seed(f"sqlite:///{data_dir / 'tracker.db'}", MRN, NAME, sessions=[day0],
         visits=[(day0 - timedelta(days=1), {"vertex": BASELINE}), (visit, {"vertex": TYPED})])
    return visit


def test_a_mistyped_density_is_corrected_with_its_reason_and_the_progress_page_follows(clinic):
    base, data_dir = clinic
    visit = seed_typo(data_dir, date.today())
    # 80 days = 2.63 months: band −0.6 … +14.4, noise 13. Typed: +53, ahead; meant: +8, on track.
    assert (early_status(BASELINE, TYPED, 80), early_status(BASELINE, MEANT, 80)) == ("ahead", "on_track")
    with browser_page(viewport=(1400, 1800)) as page:
        sign_in(page, base, USERNAME, PASSWORD)
        page.get_by_role("heading", name="Patients").wait_for()
        choose(page, "Patient", f"{MRN} — {NAME}")
        open_menu(page, "Progress")
        page.get_by_text("Ahead · site Vertex").first.wait_for()
        shot(page, JOURNEY, "01-progress-reads-ahead")

        open_menu(page, "Patient record")
        page.get_by_role("heading", name=NAME).wait_for()
        page.get_by_text("Correct an entry").first.wait_for()
        wait_rendered(page)
        choose(page, "Entry to correct", f"Vertex density 183 hairs/cm² at the visit of {show_date(visit)}")
        density = page.get_by_role("textbox", name="Density (hairs/cm²)")
        assert density.input_value() == "183"  # pre-filled with what was recorded
        density.fill("138")
        page.get_by_role("textbox", name="Reason for the correction").fill("typed 183 for 138")
        shot(page, JOURNEY, "02-correction-form-filled")
        page.get_by_role("button", name="Save correction").click()
        page.get_by_text("Density (hairs/cm²): 183 → 138").first.wait_for()
        page.get_by_text("Early response (2–3 months), Vertex: now On track (was Ahead)").first.wait_for()
        wait_rendered(page)
        shot(page, JOURNEY, "03-saved-with-new-judgement")

        page.get_by_role("tab", name="History").click()
        grid = page.get_by_test_id("stDataFrame").last
        grid.wait_for()
        rows = dataframe_rows(grid)
        assert [(r["What"], r["Field"], r["Previous value"], r["New value"], r["Reason"], r["Who"]) for r in rows] == [
            (f"Density measurement (Vertex, visit of {show_date(visit)})", "Density (hairs/cm²)", "183", "138",
             "typed 183 for 138", USERNAME)]
        shot(page, JOURNEY, "04-history-line")

        open_menu(page, "Progress")
        page.get_by_text("On track · site Vertex").first.wait_for()
        wait_rendered(page)
        assert page.get_by_text("Ahead · site Vertex").count() == 0
        shot(page, JOURNEY, "05-progress-reads-on-track")
    assert server_alarms(base) == []


def test_an_unlikely_corrected_density_is_asked_about_and_saved_by_save_anyway(clinic):
    """Issue #12 review: a correction skipped the visit form's question. 138 corrected to "58,3" (a decimal comma):
    (58.3 − 130) / 130 = −55% from the previous visit's 130 → asked; nothing saved until "Save anyway"."""
    base, data_dir = clinic
    from tests.patient_samples import seed

    today = date.today()
    day0, visit = today - timedelta(days=85), today - timedelta(days=5)
    seed(f"sqlite:///{data_dir / 'tracker.db'}", "RT-8002", "Ula Unlikely", sessions=[day0],
         visits=[(day0 - timedelta(days=1), {"vertex": BASELINE}), (visit, {"vertex": MEANT})])
    with browser_page(viewport=(1400, 1800)) as page:
        sign_in(page, base, USERNAME, PASSWORD)
        page.get_by_role("heading", name="Patients").wait_for()
        choose(page, "Patient", "RT-8002 — Ula Unlikely")
        open_menu(page, "Patient record")
        page.get_by_role("heading", name="Ula Unlikely").wait_for()
        page.get_by_text("Correct an entry").first.wait_for()
        wait_rendered(page)
        choose(page, "Entry to correct", f"Vertex density 138 hairs/cm² at the visit of {show_date(visit)}")
        page.get_by_role("textbox", name="Density (hairs/cm²)").fill("58,3")
        page.get_by_role("textbox", name="Reason for the correction").fill("from the printout")
        page.get_by_role("button", name="Save correction").click()
        question = (f"Vertex density 58.3 hairs/cm² is 55% below the previous visit's 130 "
                    f"({show_date(day0 - timedelta(days=1))}): check the value")
        page.get_by_text(question).wait_for()
        wait_rendered(page)
        shot(page, JOURNEY, "06-unlikely-correction-asked")
        assert page.get_by_role("textbox", name="Density (hairs/cm²)").input_value() == "58,3"
        page.get_by_role("button", name="Save anyway").click()
        page.get_by_text("Density (hairs/cm²): 138 → 58.3").first.wait_for()
        wait_rendered(page)
        assert page.get_by_text(question).count() == 0
        shot(page, JOURNEY, "07-saved-anyway")
    assert server_alarms(base) == []
