"""Browser: a clinician opens before/after for a demo patient and sees the later photo lined up on the earlier one;
in the viewer the swipe and fade move, and zoom and pan keep both photos in step, with nothing sent to the server
(no websocket message, so no script run). Screenshots in test-artifacts/alignment/.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.browser import (
    browser_page,
    load_demo_clinic,
    navigate,
    require_chromium,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)
from ui.compare_viewer import TITLE

JOURNEY = "alignment"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-alignment") / "data"
    passwords = load_demo_clinic(data_dir, limit=2)
    with streamlit_server(data_dir) as base:
        yield base, passwords, data_dir


def _patient_with_photos(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "tracker.db") as db:
        return db.execute("SELECT p.mrn FROM photo ph JOIN visit v ON ph.visit_id = v.id JOIN patient p ON "
                          "v.patient_id = p.id GROUP BY p.mrn ORDER BY count(DISTINCT v.id) DESC, p.mrn "
                          "LIMIT 1").fetchone()[0]


def _transforms(frame, selector: str) -> list[str]:
    return frame.locator(selector).evaluate_all("imgs => imgs.map(i => i.style.transform)")


def _fits(frame, viewer, panes: str) -> None:
    """The iframe has grown or shrunk to show the whole of ``panes`` (its height follows its content)."""
    for _ in range(20):
        outer, inner = frame.bounding_box(), viewer.locator(panes).bounding_box()
        # both boxes in the page's coordinates: the panes lie inside the frame, with no large empty space left
        bottom, frame_bottom = inner["y"] + inner["height"], outer["y"] + outer["height"]
        if outer["y"] <= inner["y"] and bottom <= frame_bottom + 1 and frame_bottom - bottom < 120:
            return
        frame.page.wait_for_timeout(250)
    raise AssertionError(f"the viewer's frame ({outer}) does not fit {panes} ({inner})")


def _scale(transform: str) -> float:
    found = re.search(r"scale\(([0-9.]+)\)", transform)
    assert found, transform
    return float(found[1])


def test_the_aligned_pair_swipes_fades_and_zooms_in_step_without_a_server_round_trip(server):
    base, passwords, data_dir = server
    mrn = _patient_with_photos(data_dir)
    with browser_page(viewport=(1400, 1900)) as page:
        sent: list[str] = []
        page.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append("frame")))
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        navigate(page, f"/photos?mrn={mrn}", timeout=120_000)
        page.get_by_text("Compare closely").wait_for(timeout=120_000)
        wait_rendered(page)
        body = page.inner_text("body")
        assert "The later photo was lined up on the earlier one: good alignment" in body, body[-2000:]
        page.get_by_text("Before and after").first.scroll_into_view_if_needed()
        shot(page, JOURNEY, "01-aligned-pair")

        frame = page.locator(f'iframe[title="{TITLE}"]')
        viewer = frame.content_frame
        viewer.locator("#pane-before img").wait_for()
        _fits(frame, viewer, "#side")
        sources = viewer.locator("img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src').slice(0, 23))")
        assert sources and all(src == "data:image/jpeg;base64," for src in sources)  # inline: no URL to fetch
        page.wait_for_timeout(1500)
        quiet = len(sent)

        # zoom with the wheel over the BEFORE half, then drag the AFTER half: both photos follow together
        viewer.locator("#pane-before").hover(position={"x": 150, "y": 100})
        page.mouse.wheel(0, -600)
        page.wait_for_timeout(300)
        side = _transforms(viewer, "#side img")
        assert len(side) == 2 and side[0] == side[1] and _scale(side[0]) > 2, side
        after_box = viewer.locator("#pane-after").bounding_box()
        page.mouse.move(after_box["x"] + 300, after_box["y"] + 200)
        page.mouse.down()
        page.mouse.move(after_box["x"] + 220, after_box["y"] + 150, steps=5)
        page.mouse.up()
        panned = _transforms(viewer, "#side img")
        assert panned[0] == panned[1] and panned != side, (side, panned)
        shot(page, JOURNEY, "02-zoomed-in-step")

        # swipe: the AFTER layer is cut at the slider's position, and the stack keeps the same zoom and pan
        viewer.get_by_label("Swipe", exact=True).check()
        slider = viewer.locator("#swipe")
        slider.fill("20")
        clip = viewer.locator("#top").evaluate("top => top.style.clipPath")
        assert clip == "inset(0px 0px 0px 20%)", clip
        slider.focus()
        for _ in range(15):
            page.keyboard.press("ArrowRight")
        assert viewer.locator("#top").evaluate("top => top.style.clipPath") == "inset(0px 0px 0px 35%)"
        stacked = _transforms(viewer, "#stack img")
        assert stacked == [panned[0], panned[0]]
        _fits(frame, viewer, "#stack")
        frame.screenshot(path=str(shot(page, JOURNEY, "03-swipe-at-35").with_name("03b-viewer-swipe.png")))

        # fade: the AFTER layer's opacity follows the slider
        viewer.get_by_label("Fade", exact=True).check()
        viewer.locator("#fade").fill("70")
        assert viewer.locator("#top").evaluate("top => top.style.opacity") == "0.7"
        viewer.locator("#zoom-reset").click()
        assert _scale(_transforms(viewer, "#stack img")[0]) == 1
        shot(page, JOURNEY, "04-fade-at-70")
        frame.screenshot(path=str(shot(page, JOURNEY, "04-fade-at-70").with_name("04b-viewer-fade.png")))

        page.wait_for_timeout(1500)
        assert len(sent) == quiet, "the viewer sent messages to the server (a rerun)"
        assert server_alarms(base) == []
