"""``python -m tracker photo count``, run as a script runs it, and the file intake behind it (count_upload)."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT
from tracker.errors import ValidationError
from tracker.operations.demo_closeups import FollicularUnit, Shaft, draw_closeup, draw_units
from tracker.photos.hair_count import count_hairs, count_upload
from tracker.photos.intake import prepare_photo

FIELD = (10.0, 7.5)  # mm over 1280 × 960 pixels: 0.75 cm²


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "tracker", "photo", "count", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def _jpeg(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, **options)
    return buffer.getvalue()


def test_count_json_on_a_close_up_needs_no_database(tmp_path):
    drawn = draw_closeup(150, seed=21)
    photo = tmp_path / "closeup.jpg"
    photo.write_bytes(_jpeg(drawn.image))
    data_dir = tmp_path / "data"
    result = _cli(data_dir, str(photo), "--field-mm", "10", "7.5", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) == {"count", "density_per_cm2", "terminal", "vellus"}
    # Hairs/cm² is the count over 0.75 cm²; within 25% of the 112 hairs drawn (the bench measures the error).
    assert printed["density_per_cm2"] == pytest.approx(printed["count"] / 0.75, abs=0.05)
    assert 0.75 * drawn.count <= printed["count"] <= 1.1 * drawn.count
    assert printed["terminal"] + printed["vellus"] == printed["count"]
    assert not data_dir.exists() or not any(data_dir.iterdir())  # no database was made


def test_count_in_words_and_a_field_across_the_other_way(tmp_path):
    unit = FollicularUnit(5.0, 3.5, (Shaft(20, 1.0, 70), Shaft(35, 1.0, 60), Shaft(50, 0.9, 25)))
    photo = tmp_path / "unit.png"
    draw_units([unit]).image.save(photo)
    result = _cli(tmp_path / "data", str(photo), "--field-mm", "7.5", "10")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3 hairs in 10 × 7.5 mm (0.75 cm²): 4.0 hairs/cm²; terminal 2, vellus 1."


@pytest.mark.parametrize(
    ("content", "field", "code", "message"),
    [
        (b"%PDF-1.7 consent form", ("10", "7.5"), 1, 'The file "closeup.jpg" is a PDF document, not a photo.'),
        (b"", ("10", "7.5"), 1, 'The file "closeup.jpg" is empty (0 bytes).'),
        (None, ("0", "7.5"), 1, "A field of view of 0 × 7.5 mm is not possible"),
        (None, ("10", "10"), 1, "does not have the photo's shape (1280×960 pixels)"),
        (None, ("ten", "7.5"), 2, "'ten' is not a size in mm"),
        # Once an exit 3 "unexpected error (ValueError)": the working copy shrank to 0 pixels.
        (None, ("0.001", "0.00075"), 1, "A field of view of 0.001 × 0.00075 mm is not possible: each side must be "
                                        "at least 1 and at most 100 mm."),
        (None, ("1_0", "7.5"), 2, "'1_0' is not a size in mm"),  # float() reads it as 10
        # 15 mm over 1280 pixels: 11.7 µm per pixel, coarser than the 10 a count is given at.
        (None, ("15", "11.25"), 1, "error: The photo is 1280×960 pixels for a field of 15 × 11.25 mm: 11.7 µm per "
                                   "pixel, too coarse to see hair shafts (at most 10 µm per pixel, e.g. 1500 pixels "
                                   "across). Upload the close-up at its full size, or check the device's field size."),
    ],
)
def test_refusals_are_one_plain_line(tmp_path, content, field, code, message):
    photo = tmp_path / "closeup.jpg"
    photo.write_bytes(_jpeg(draw_units([]).image) if content is None else content)
    result = _cli(tmp_path / "data", str(photo), "--field-mm", *field, "--json")
    assert result.returncode == code and result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr
    if code == 1:  # the command's one line only (not the intake's log line too)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


COVERED = ("The hairs cover most of the field, so the skin between them cannot be seen: clip the hair short over the "
           "site (trichoscopic counts are made on clipped hair) and take the close-up again.")


def test_unclipped_hair_covering_the_field_is_refused_not_counted_0(tmp_path):
    # Units every 0.8 mm with two shafts 5 mm long (312 hairs/cm², unclipped): shafts cover about half the field,
    # the skin's noise was measured on hair and the count came out 0, printed as if the scalp were bare.
    units = [FollicularUnit(0.4 + 0.8 * i + 0.2 * (j % 2), 0.4 + 0.8 * j, (Shaft(30, 5.0, 70), Shaft(40, 5.0, 60)))
             for i in range(13) for j in range(10)]
    photo = tmp_path / "unclipped.jpg"
    photo.write_bytes(_jpeg(draw_units(units).image))
    result = _cli(tmp_path / "data", str(photo), "--field-mm", "10", "7.5", "--json")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"error: {COVERED}\n")


def test_a_missing_file_is_named(tmp_path):
    result = _cli(tmp_path / "data", str(tmp_path / "nowhere.jpg"), "--field-mm", "10", "7.5")
    assert result.returncode == 1
    assert result.stderr == f'error: There is no file "{tmp_path / "nowhere.jpg"}".\n'


def test_exif_orientation_is_applied_before_counting():
    # Stored turned a quarter (960 × 1280) with EXIF orientation 6 ("turn 90° clockwise to view"): counted
    # upright, the root of the hair at (3 mm, 2 mm) is at pixel (384, 256) of the 1280 × 960 view.
    upright = draw_units([FollicularUnit(3.0, 2.0, (Shaft(30, 1.0, 70),))]).image
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = _jpeg(upright.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes())
    found = count_upload(stored, FIELD, "turned.jpg")
    assert found.field_mm == FIELD and found.count == 1
    assert math.hypot(found.marks[0].x - 384, found.marks[0].y - 256) <= 10


def test_count_upload_counts_the_display_copy_the_app_keeps():
    drawn = draw_closeup(80, seed=22)
    data = _jpeg(drawn.image)
    display = Image.open(io.BytesIO(prepare_photo(data).display_jpeg)).convert("RGB")
    assert count_upload(data, FIELD).marks == count_hairs(display, FIELD).marks
    with pytest.raises(ValidationError, match="is a PDF document"):
        count_upload(b"%PDF-1.4", FIELD)
