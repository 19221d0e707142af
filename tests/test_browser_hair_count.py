"""The assisted hair count in a real browser (Chromium, ``streamlit run serve.py``): an admin adds a capture device
on the Capture devices page; a clinician opens the patient's close-up on the Hair count page, removes one detection
and adds a hair by clicking on the photo, sees the count and hairs/cm² follow, saves, and the progress chart shows
the counted point as a diamond with its legend entry. Screenshots in test-artifacts/hair-count/.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from tests.browser import (
    ROOT,
    browser_page,
    clinic_with_accounts,
    navigate,
    open_menu,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)

JOURNEY = "hair-count"
ADMIN_PASSWORD, CLINICIAN_PASSWORD = "Admin-passphrase-2025", "Clinician-passphrase-2025"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir, env = clinic_with_accounts(tmp_path_factory, "browser-hair-count",
                                         ("admin", "kim.admin", ADMIN_PASSWORD),
                                         ("clinician", "dr.lee", CLINICIAN_PASSWORD))
    # The patient with two close-ups of 24 hairs (tests/closeup_samples.py), written as the app's own store does.
    subprocess.run([sys.executable, "-c", "import sys; from tests.closeup_samples import make_closeup_patient; "
                    "make_closeup_patient(sys.argv[1])", f"sqlite:///{data_dir / 'tracker.db'}"],
                   cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=120)
    with streamlit_server(data_dir) as base:
        yield base, data_dir


def query(data_dir, sql: str) -> list[tuple]:
    with sqlite3.connect(data_dir / "tracker.db") as db:
        return db.execute(sql).fetchall()


def expect_metric(page, label: str, value: str) -> None:
    """Wait (up to 30 s) until the metric ``label`` shows ``value``: a click's rerun may still be on its way."""
    from playwright.sync_api import expect

    box = page.get_by_test_id("stMetric").filter(has_text=label)
    expect(box.get_by_test_id("stMetricValue")).to_have_text(value, timeout=30_000)


def expect_count(locator, count: int) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_count(count, timeout=30_000)


def free_spot(marks: list[tuple[float, float]], size: tuple[int, int], reach: float) -> tuple[float, float]:
    """A point of the photo farther than ``reach`` px from every mark (where a click adds a hair)."""
    for y in range(40, size[1] - 40, 20):
        for x in range(40, size[0] - 40, 20):
            if all((x - mx) ** 2 + (y - my) ** 2 > (3 * reach) ** 2 for mx, my in marks):
                return float(x), float(y)
    raise AssertionError("no free spot on the close-up")


def click_image_point(page, svg, point: tuple[float, float], size: tuple[int, int]) -> None:
    box = svg.locator("image").bounding_box()  # the photo itself, wherever the frame places it
    assert box is not None
    page.mouse.click(box["x"] + point[0] * box["width"] / size[0], box["y"] + point[1] * box["height"] / size[1])
    wait_rendered(page)


def test_admin_adds_a_device_and_a_clinician_counts_a_closeup(server):
    base, data_dir = server
    with browser_page() as page:
        sign_in(page, base, "kim.admin", ADMIN_PASSWORD)
        open_menu(page, "Capture devices")
        page.get_by_text("No device yet").wait_for()
        page.get_by_role("textbox", name="Name").fill("Trichoscope, room 2")
        page.get_by_role("textbox", name="Field width (mm)").fill("4")
        page.get_by_role("textbox", name="Field height (mm)").fill("3,0")
        page.get_by_role("button", name="Add device").click()
        wait_rendered(page)
        page.get_by_text("Trichoscope, room 2 (4×3 mm) is added.").wait_for()
        shot(page, JOURNEY, "01 admin added a device")
    assert query(data_dir, "SELECT name, field_width_mm, field_height_mm FROM capture_device") == [
        ("Trichoscope, room 2", 4.0, 3.0)]

    with browser_page() as page:
        sign_in(page, base, "dr.lee", CLINICIAN_PASSWORD)
        navigate(page, "/hair_count?mrn=CU-1")
        page.get_by_text("Hair count · Cleo Closeup").wait_for()
        svg = page.locator("svg[role=img]")
        svg.wait_for()
        circles = svg.locator("circle[data-mark=detected]")
        expect_count(circles, 24)  # the 24 hairs drawn, each found once
        expect_metric(page, "Hairs counted", "24")
        expect_metric(page, "Density (hairs/cm²)", "200.0")  # 24 hairs / 0.12 cm²
        shot(page, JOURNEY, "02 detections drawn")

        size = (800, 600)
        marks = [(float(c.get_attribute("cx") or 0), float(c.get_attribute("cy") or 0))
                 for c in circles.all()]
        reach = float(circles.first.get_attribute("r") or 0)
        click_image_point(page, svg, marks[0], size)  # remove the first detection
        expect_count(page.locator("svg[role=img] path[data-mark=removed]"), 1)
        expect_metric(page, "Hairs counted", "23")
        page.get_by_text("24 found · 1 removed · 0 added").wait_for()
        spot = free_spot(marks, size, reach)
        click_image_point(page, svg, spot, size)  # add a hair where none was found
        expect_count(page.locator("svg[role=img] rect[data-mark=added]"), 1)
        expect_metric(page, "Hairs counted", "24")
        page.get_by_text("24 found · 1 removed · 1 added").wait_for()
        shot(page, JOURNEY, "03 one removed one added")
        svg.screenshot(path=str(shot(page, JOURNEY, "03 one removed one added").with_name("03b-the-marks.png")))

        page.get_by_role("button", name="Save the count").click()
        wait_rendered(page)
        page.get_by_text("Saved: Vertex, 24 hairs, 200 hairs/cm² (assisted count)").wait_for()
        page.get_by_text("24 found · 0 removed · 0 added").wait_for()  # a fresh count: the corrections are saved
        expect_count(page.locator("svg[role=img] rect[data-mark=added]"), 0)
        shot(page, JOURNEY, "04 saved")

        navigate(page, "/progress?mrn=CU-1")
        chart = page.locator(".js-plotly-plot").first
        chart.wait_for()
        chart.get_by_text("assisted count (close-up)").first.wait_for()
        diamonds = chart.locator("path.point[d*='L']")  # plotly draws a circle with arcs, a diamond with lines
        assert diamonds.count() >= 1
        chart.scroll_into_view_if_needed()
        shot(page, JOURNEY, "05 progress chart with the counted point")
        chart.screenshot(path=str(shot(page, JOURNEY, "05 progress chart").with_name("05b-the-chart.png")))

    rows = query(data_dir, "SELECT site, method, density_per_cm2, photo_id, count_detail FROM density_measurement "
                           "WHERE method = 'counted'")
    assert len(rows) == 1
    site, method, density, photo_id, detail_text = rows[0]
    detail = json.loads(detail_text)
    assert (site, method, density, detail["count"], detail["removed"], len(detail["added"])) == (
        "vertex", "counted", 200.0, 24, [0], 1)
    assert detail["added"][0] == pytest.approx(list(spot), abs=1.0)  # where the click landed, in photo pixels
    assert detail["device"] == "Trichoscope, room 2" and detail["image"]["photo_id"] == photo_id
    assert server_alarms(base) == []
