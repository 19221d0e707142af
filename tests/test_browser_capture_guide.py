"""Browser test of the capture guide and the photo check (issue #14, "Capture guide" and "Quality at capture"), in
Chromium with its fake camera playing a video made here from a demo scalp photo.

The patient (written to the server's database and photo store directly): a baseline visit 90 days ago with a vertex
photo. On the visit form, the camera shows the live image with that photo over it (its display copy, inline); the
slider sets its opacity; "Take the photo" checks the frame at once and it is added to the visit, saved with what
the check measured. With the camera refused, the form says so and offers a plain upload, which is checked alike.
"""

from __future__ import annotations

import base64
import io
import re
from datetime import date, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFilter
from sqlalchemy import select

from tests.browser import (
    ARTIFACTS,
    camera_page,
    clinic_with_accounts,
    navigate,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)
from tracker.operations.demo_photos import draw_scalp_photo

USERNAME, PASSWORD = "dr.guide", "Capture-Guide-Journey-5531"
MRN, NAME = "RT-7401", "Gina Guide"
JOURNEY = "capture-guide"
SIZE = (960, 720)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    data_dir, env = clinic_with_accounts(tmp_path_factory, "browser-capture-guide", ("clinician", USERNAME, PASSWORD))
    seed(f"sqlite:///{data_dir / 'tracker.db'}", data_dir)
    with streamlit_server(data_dir) as base:
        yield base, data_dir


def seed(url: str, data_dir: Path) -> None:
    """The patient and a baseline visit 90 days ago with a vertex photo, stored as the visit form stores it."""
    from db import models
    from tracker.access.actors import Actor
    from tracker.database import transaction
    from tracker.photos.store import PhotoStore
    from tracker.records.visit_form import PhotoUpload, SiteEntry, VisitEntry
    from tracker.records.visits import log_visit
    from tracker.storage.blob_store import LocalDirectoryStore

    with transaction(url) as session:
        session.add(models.Patient(mrn=MRN, full_name=NAME, sex="female", birth_date=date(1984, 6, 9),
                                   condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="I",
                                   created_by="test"))
    baseline = PhotoUpload("vertex", "vertex-baseline.jpg", draw_scalp_photo(120, "vertex", 11, SIZE))
    log_visit(Actor(username="test", role="clinician"), MRN,
              VisitEntry(date=date.today() - timedelta(days=90), sites=[SiteEntry("vertex", 120)]), [baseline],
              url, store=PhotoStore(LocalDirectoryStore(data_dir / "photos")))


def y4m(photo: bytes, path: Path, frames: int = 10) -> Path:
    """``photo`` as a short Y4M video (4:2:0), which Chromium's fake camera plays in a loop."""
    rgb = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"))
    planes = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()
    height, width = rgb.shape[:2]
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + planes)
    return path


def display_copy(data_dir: Path, url: str) -> bytes:
    """The display copy of the baseline's vertex photo, as the photo store holds it."""
    from db import models
    from tracker.database import transaction

    with transaction(url) as session:
        key = session.scalars(select(models.Photo.display_key).where(models.Photo.view == "vertex")).first()
    assert key is not None
    return (data_dir / "photos" / key).read_bytes()


def saved_on(url: str, day: date) -> list[tuple[str, dict | None]]:
    """The photos of the visit of ``day``: view and what the capture check stored."""
    from db import models
    from tracker.database import transaction

    with transaction(url) as session:
        return [(row.view, row.quality) for row in session.scalars(
            select(models.Photo).join(models.Visit).where(models.Visit.date == day))]


def guide(page):
    return page.locator(".guide")


def camera_video() -> Path:
    """The camera's picture: the same vertex at this visit, held a little turned and off-centre (so that the
    overlay visibly does not sit on it yet)."""
    today = Image.open(io.BytesIO(draw_scalp_photo(125, "vertex", 11, SIZE, jitter=1)))
    held = today.rotate(6, resample=Image.Resampling.BICUBIC, translate=(40, 25), fillcolor=(52, 60, 70))
    buffer = io.BytesIO()
    held.save(buffer, "JPEG", quality=92)
    ARTIFACTS.mkdir(exist_ok=True)
    return y4m(buffer.getvalue(), ARTIFACTS / "capture-guide-camera.y4m")


def test_the_guide_lays_the_previous_photo_over_the_camera_and_the_photo_taken_is_checked_and_saved(clinic):
    from playwright.sync_api import expect

    base, data_dir = clinic
    url = f"sqlite:///{data_dir / 'tracker.db'}"
    with camera_page(camera_video(), allowed=True, viewport=(1400, 2600)) as page:
        sign_in(page, base, USERNAME, PASSWORD)
        navigate(page, f"/log_visit?mrn={MRN}")
        page.get_by_role("button", name="Save visit").wait_for()
        page.get_by_text("Take photos with this device's camera").click()
        page.get_by_role("combobox", name="View").click()
        page.get_by_role("option", name="Vertex", exact=True).click()
        take = page.get_by_role("button", name="Take the photo")
        expect(take).to_be_enabled(timeout=60_000)  # the camera has started
        wait_rendered(page)

        # The overlay is the previous visit's vertex photo (its display copy, inline), over the live camera image.
        overlay = guide(page).locator("img.overlay")
        # The previous photo arrives with the page run the view's choice starts, which may end after the camera
        # has started (a full run read an empty src once).
        expect(overlay).to_have_attribute("src", re.compile(r"^data:image/jpeg;base64,"), timeout=60_000)
        source = overlay.get_attribute("src") or ""
        assert source.startswith("data:image/jpeg;base64,")
        assert base64.b64decode(source.split(",", 1)[1]) == display_copy(data_dir, url)
        assert overlay.is_visible()
        assert guide(page).locator("video.live").evaluate("v => v.videoWidth") == SIZE[0]
        assert guide(page).locator("video.live").get_attribute("playsinline") is not None
        assert overlay.evaluate("e => getComputedStyle(e).opacity") == "0.5"
        guide(page).locator("input.fade").fill("80")
        assert overlay.evaluate("e => getComputedStyle(e).opacity") == "0.8"
        assert "Over the camera: the vertex photo of the visit of" in page.inner_text("body")
        shot(page, JOURNEY, "01-previous-photo-over-the-camera")

        # Taken: checked at once (the photo shown with what the check found), then added to the visit.
        take.click()
        page.get_by_text("The photo check found").first.wait_for(timeout=120_000)
        wait_rendered(page)
        shot(page, JOURNEY, "02-photo-taken-and-checked")
        add = page.get_by_role("button", name="Add this photo to the visit").or_(
            page.get_by_role("button", name="Keep this photo anyway"))
        add.click()
        page.get_by_text("Camera photos to save: camera-vertex-1.jpg").wait_for()
        page.get_by_role("button", name="Save visit").click()
        page.get_by_text(f"Visit of {date.today().isoformat()} saved.").wait_for(timeout=120_000)
        wait_rendered(page)
        assert "1 photo(s) stored." in page.inner_text("body")
        shot(page, JOURNEY, "03-saved-with-the-visit")

    (view, quality), = saved_on(url, date.today())
    assert view == "vertex" and quality is not None
    assert quality["width"] == SIZE[0] and quality["height"] == SIZE[1]
    assert quality["sharpness"] > 15 and quality["framing_score"] is not None
    assert quality["compared_with"] == (date.today() - timedelta(days=90)).isoformat()
    assert quality["kept_anyway"] == bool(quality["problems"])
    assert server_alarms(base) == []


def test_with_the_camera_refused_the_form_says_so_and_a_plain_upload_is_checked_instead(clinic):
    base, _data_dir = clinic
    blurred = Image.open(io.BytesIO(draw_scalp_photo(125, "occipital", 11, SIZE))).filter(ImageFilter.GaussianBlur(4))
    buffer = io.BytesIO()
    blurred.save(buffer, "JPEG")
    with camera_page(camera_video(), allowed=False, viewport=(1400, 2600)) as page:
        sign_in(page, base, USERNAME, PASSWORD)
        navigate(page, f"/log_visit?mrn={MRN}")
        page.get_by_role("button", name="Save visit").wait_for()
        page.get_by_text("Take photos with this device's camera").click()
        page.get_by_role("combobox", name="View").click()
        page.get_by_role("option", name="Occipital", exact=True).click()
        page.get_by_text("The browser was not allowed to use the camera. Upload the occipital photo instead:"
                         ).wait_for()
        wait_rendered(page)
        shot(page, JOURNEY, "04-camera-refused-upload-offered")
        box = page.get_by_test_id("stFileUploader").filter(has=page.get_by_text("Occipital photo", exact=True))
        box.locator("input[type=file]").set_input_files(
            files=[{"name": "occipital-blurred.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}])
        problems = page.get_by_test_id("stAlertContentWarning").filter(has_text="The photo check found problems")
        problems.wait_for(timeout=120_000)
        assert "out of focus: sharpness" in problems.inner_text()
        wait_rendered(page)
        shot(page, JOURNEY, "05-blurred-upload-checked")
        page.get_by_role("button", name="Keep this photo anyway").click()
        page.get_by_text("Camera photos to save: occipital-blurred.jpg").wait_for()
        # The guide's frame and controls are gone: only the upload is offered.
        assert not page.get_by_role("button", name="Take the photo").is_visible()
    assert server_alarms(base) == []


def test_an_uploaded_photo_with_problems_is_asked_about_before_saving_and_kept_shows_on_the_timeline(clinic):
    base, data_dir = clinic
    url = f"sqlite:///{data_dir / 'tracker.db'}"
    dark = Image.open(io.BytesIO(draw_scalp_photo(130, "frontal", 11, SIZE))).point(lambda value: value // 5)
    buffer = io.BytesIO()
    dark.save(buffer, "JPEG")
    with camera_page(camera_video(), allowed=True, viewport=(1400, 2600)) as page:
        sign_in(page, base, USERNAME, PASSWORD)
        navigate(page, f"/log_visit?mrn={MRN}")
        page.get_by_role("button", name="Save visit").wait_for()
        wait_rendered(page)
        # The day before (today's visit is the first test's): a visit of its own.
        day = date.today() - timedelta(days=1)
        page.get_by_role("textbox", name="Visit date (YYYY-MM-DD)").fill(day.isoformat())
        box = page.get_by_test_id("stFileUploader").filter(has=page.get_by_text("Frontal", exact=True))
        box.locator("input[type=file]").set_input_files(
            files=[{"name": "frontal-dark.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}])
        box.get_by_text("frontal-dark.jpg").wait_for()
        page.get_by_role("button", name="Save visit").click()
        asked = page.get_by_test_id("stAlertContentWarning").filter(has_text="The photo check found problems")
        asked.wait_for(timeout=120_000)
        wait_rendered(page)
        assert 'Frontal photo "frontal-dark.jpg": too dark: 100% of the middle of the photo is in the darkest ' \
               "shades (at most 50%)" in asked.inner_text()
        assert saved_on(url, day) == []  # nothing saved yet
        shot(page, JOURNEY, "06-form-asks-about-a-dark-photo")
        page.get_by_role("button", name="Keep these photos and save").click()
        page.get_by_text(f"Visit of {day.isoformat()} saved.").wait_for(timeout=120_000)
        wait_rendered(page)

        navigate(page, f"/photos?mrn={MRN}")
        page.get_by_text("Photo timeline").first.wait_for()
        wait_rendered(page)
        kept = page.get_by_text("Kept although: too dark: 100% of the middle of the photo is in the darkest shades")
        kept.first.wait_for()
        shot(page, JOURNEY, "07-timeline-shows-the-photo-kept-anyway")
    frontal = [quality for view, quality in saved_on(url, day) if view == "frontal"]
    assert len(frontal) == 1 and frontal[0] is not None
    assert frontal[0]["kept_anyway"] is True
    assert [problem["check"] for problem in frontal[0]["problems"]] == ["dark"]
    assert server_alarms(base) == []
