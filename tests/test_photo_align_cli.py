"""``python -m tracker photo align BEFORE AFTER``, run as a person runs it: in a process of its own, with no
database configured (the data dir does not exist and is not created)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.alignment_samples import corner_error, known_pair
from tests.conftest import ROOT
from tracker.photos.alignment import ALIGNED_AT

SIZE = (640, 480)
ORIENTATION = 0x0112


def _photo_align(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TRACKER_STORE_URL")}
    environment["TRACKER_DATA_DIR"] = str(tmp_path / "no-data-dir")
    result = subprocess.run([sys.executable, "-m", "tracker", "photo", "align", *args], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "no-data-dir").exists()  # no database was made
    return result


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("pair")
    known = known_pair("vertex", 12, SIZE, 0)
    known.before.save(folder / "before.jpg", quality=90)
    known.after.save(folder / "after.png")
    return folder, known


def test_a_good_pair_prints_the_transform_onto_before(tmp_path, pair):
    folder, known = pair
    result = _photo_align(tmp_path, str(folder / "before.jpg"), str(folder / "after.png"), "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) == {"transform", "score", "aligned"}
    assert printed["aligned"] is True and ALIGNED_AT <= printed["score"] <= 1
    transform = np.array(printed["transform"])
    assert transform.shape == (3, 3) and transform[2].tolist() == [0.0, 0.0, 1.0]
    assert corner_error(known.truth, transform, SIZE) < 0.03


def test_without_json_one_line_for_a_person(tmp_path, pair):
    folder, known = pair
    result = _photo_align(tmp_path, str(folder / "before.jpg"), str(folder / "after.png"))
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("Aligned (score ") and "\n" not in line
    turned = re.search(r"turned (-?[0-9.]+)°, scaled ×([0-9.]+)", line)
    assert turned, line
    assert float(turned[1]) == pytest.approx(known.rotation, abs=0.5)
    assert float(turned[2]) == pytest.approx(known.scale, abs=0.01)


def test_photos_of_two_patients_are_not_aligned(tmp_path, pair):
    folder, _ = pair
    known_pair("vertex", 31, SIZE, 0).after.save(tmp_path / "someone-else.jpg")
    result = _photo_align(tmp_path, str(folder / "before.jpg"), str(tmp_path / "someone-else.jpg"), "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["aligned"] is False and printed["score"] < ALIGNED_AT
    human = _photo_align(tmp_path, str(folder / "before.jpg"), str(tmp_path / "someone-else.jpg"))
    assert human.stdout.startswith("Not aligned (score ") and "line them up" in human.stdout


def test_a_text_file_is_refused_with_the_intake_message(tmp_path, pair):
    folder, _ = pair
    notes = tmp_path / "notes.txt"
    notes.write_text("visit notes, not a photo\n")
    result = _photo_align(tmp_path, str(notes), str(folder / "after.png"), "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == ('error: The file "notes.txt" is not a photo in a format we can read. '
                             "Upload a JPEG, PNG, WebP or HEIC image.\n")


def test_a_cut_off_photo_and_a_missing_file_are_refused(tmp_path, pair):
    folder, _ = pair
    cut = tmp_path / "cut.jpg"
    cut.write_bytes((folder / "before.jpg").read_bytes()[:5000])
    result = _photo_align(tmp_path, str(folder / "before.jpg"), str(cut))
    assert result.returncode == 1 and "is an incomplete JPEG photo" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = _photo_align(tmp_path, str(tmp_path / "gone.jpg"), str(cut))
    assert missing.returncode == 1 and missing.stderr.startswith('error: There is no file "')


def test_an_exif_rotated_jpeg_is_aligned_in_its_upright_pixels(tmp_path, pair):
    # The camera stored AFTER turned a quarter (orientation 6: "turn 90° clockwise to show"): the file's raw
    # pixels are 480×640, upright 640×480. The transform must be in the upright pixels, so the known truth holds.
    folder, known = pair
    stored = known.after.transpose(Image.Transpose.ROTATE_90)  # a quarter anticlockwise, as the sensor saw it
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    stored.save(tmp_path / "turned.jpg", quality=92, exif=exif)
    assert Image.open(tmp_path / "turned.jpg").size == (480, 640)
    result = _photo_align(tmp_path, str(folder / "before.jpg"), str(tmp_path / "turned.jpg"), "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["aligned"] is True
    assert corner_error(known.truth, np.array(printed["transform"]), SIZE) < 0.03


def test_a_one_pixel_photo_is_not_aligned_and_says_why(tmp_path, pair):
    """OpenCV's descriptors fail on a photo of a few pixels (an exit 3 'unexpected error' once, and a crash of the
    visit form's photo check, which calls the same ``align``): 'not aligned', with the reason, and the identity."""
    folder, _ = pair
    Image.new("RGB", (1, 1), (200, 160, 140)).save(tmp_path / "dot.png")
    result = _photo_align(tmp_path, str(folder / "before.jpg"), str(tmp_path / "dot.png"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"transform": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
                                         "score": 0.0, "aligned": False}
    human = _photo_align(tmp_path, str(tmp_path / "dot.png"), str(folder / "after.png"))
    assert human.stdout.startswith("Not aligned (score 0.00 of 1): A photo is too small to line up (1×1 and ")


def test_a_device_or_a_folder_is_refused_without_reading_it(tmp_path, pair):
    """/dev/zero would be read forever (2.4 GB in 8 s once): anything but a plain file is refused unread."""
    folder, _ = pair
    device = _photo_align(tmp_path, "/dev/zero", str(folder / "after.png"))
    assert device.returncode == 1
    assert device.stderr == 'error: "/dev/zero" is not a plain file (a device or a pipe): give a photo file.\n'
    directory = _photo_align(tmp_path, str(folder), str(folder / "after.png"))
    assert directory.returncode == 1 and directory.stderr == f'error: "{folder}" is a folder, not a photo file.\n'
