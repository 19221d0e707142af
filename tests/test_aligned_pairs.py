"""Aligned before/after pairs through the before/after service (``before_after(..., aligned=True)``): the later
photo lands on the earlier one, the aligned copy is derived data kept in the ``derived`` store area and reused,
a pair that does not match is shown as taken, and ``python -m tracker check`` does not take the copies for
orphans. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import os
from datetime import date

import numpy as np
import pytest
from PIL import Image, ImageFilter
from sqlalchemy import update

from db import models
from tests import forked_python
from tests.alignment_samples import known_pair
from tests.conftest import ROOT
from tests.scalp_samples import CLINICIAN, mean_difference, opened
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import PermissionDenied
from tracker.photos import aligned_pairs
from tracker.photos.aligned_pairs import GOOD_AT, pair_key
from tracker.photos.alignment import ALIGNED_AT
from tracker.photos.before_after import before_after
from tracker.storage.configured import blob_store

SIZE = (640, 480)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def _patient_with_pair(url: str, mrn: str, before: Image.Image, after: Image.Image) -> tuple[int, str, str]:
    """A patient with a vertex photo at two visits (2025-01-15, 2025-07-15); (patient id, their SHA-256s)."""
    from tracker.photos.store import store_photo

    with transaction(url) as session:
        patient = models.Patient(mrn=mrn, full_name="Ada Example", sex="female", birth_date=date(1980, 5, 1),
                                 condition="androgenetic_alopecia")
        session.add(patient)
        session.flush()
        shas = []
        for day, image in ((date(2025, 1, 15), before), (date(2025, 7, 15), after)):
            visit = models.Visit(patient_id=patient.id, date=day)
            session.add(visit)
            session.flush()
            photo = store_photo(session, visit_id=visit.id, view="vertex", data=_jpeg(image), file_name="v.jpg",
                                actor="test")
            shas.append(photo.sha256)
        return patient.id, shas[0], shas[1]


def _detail_correlation(first: Image.Image, second: Image.Image) -> float:
    """Correlation of the two photos' fine detail (each minus its blur) inside the frame, away from the edges
    a turned and shifted photo may not cover: about 1 where strands and marks coincide, about 0 where they do
    not, whatever the lighting."""
    inside = (first.width // 8, first.height // 8, first.width * 7 // 8, first.height * 7 // 8)

    def detail(image: Image.Image) -> np.ndarray:
        grey = image.convert("L").crop(inside)
        values = np.asarray(grey, np.float64) - np.asarray(grey.filter(ImageFilter.GaussianBlur(4)), np.float64)
        return values - values.mean()

    a, b = detail(first), detail(second)
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_the_later_photo_is_shown_lined_up_on_the_earlier_and_kept_as_derived_data(clinic, monkeypatch):
    pair = known_pair("vertex", 21, SIZE, 0)
    _, first_sha, second_sha = _patient_with_pair(clinic, "P-1", pair.before, pair.after)

    as_taken = before_after(CLINICIAN, "P-1", "vertex", url=clinic)
    lined_up = before_after(CLINICIAN, "P-1", "vertex", url=clinic, aligned=True)
    assert as_taken.alignment is None
    alignment = lined_up.alignment
    assert alignment is not None and alignment.aligned and alignment.score >= GOOD_AT
    assert alignment.words.startswith("The later photo was lined up on the earlier one: good alignment")
    # the turn and scale found undo those the pair was made with (AFTER turned by −rotation, scaled 1/scale)
    assert alignment.turned_degrees == pytest.approx(pair.rotation, abs=0.5)
    assert alignment.scale == pytest.approx(pair.scale, abs=0.01)
    # the earlier photo is untouched; the later one now sits on it: far closer to it than as taken
    assert opened(lined_up.first.image).size == opened(as_taken.first.image).size
    assert mean_difference(opened(lined_up.first.image), opened(as_taken.first.image)) < 1
    raw = _detail_correlation(opened(as_taken.first.image), opened(as_taken.second.image))
    aligned = _detail_correlation(opened(lined_up.first.image), opened(lined_up.second.image))
    assert aligned > 0.5 and raw < 0.25, (aligned, raw)

    # derived data under both photos' hashes and the method's version, beside (never over) the photo files
    derived = blob_store("derived")
    assert derived.exists(pair_key(first_sha, second_sha, "jpg"))
    stored = json.loads(derived.get(pair_key(first_sha, second_sha, "json")))
    assert stored["aligned"] is True and stored["score"] == alignment.score

    # reused: a second view does not align again
    def no_second_alignment(*_args):
        raise AssertionError("aligned again")

    with monkeypatch.context() as patched:
        patched.setattr(aligned_pairs, "align", no_second_alignment)
        again = before_after(CLINICIAN, "P-1", "vertex", url=clinic, aligned=True)
    assert again.alignment == alignment and again.second.image == lined_up.second.image

    # a damaged derived file is computed again, not trusted
    derived.put(pair_key(first_sha, second_sha, "json"), b"{not json")
    repaired = before_after(CLINICIAN, "P-1", "vertex", url=clinic, aligned=True)
    assert repaired.alignment == alignment
    assert json.loads(derived.get(pair_key(first_sha, second_sha, "json")))["score"] == alignment.score


def test_the_order_of_the_choices_does_not_change_which_photo_is_moved(clinic):
    pair = known_pair("occipital", 22, SIZE, 1)
    _patient_with_pair(clinic, "P-1", pair.before, pair.after)
    ordered = before_after(CLINICIAN, "P-1", "vertex", url=clinic, aligned=True)
    first_id, second_id = ordered.first.visit_id, ordered.second.visit_id
    swapped = before_after(CLINICIAN, "P-1", "vertex", second_id, first_id, url=clinic, aligned=True)
    as_taken = before_after(CLINICIAN, "P-1", "vertex", second_id, first_id, url=clinic)
    # the later visit (now on the left) is the one lined up; the earlier (right) stays as taken
    assert swapped.second.image == as_taken.second.image
    assert swapped.first.image == ordered.second.image
    assert swapped.alignment == ordered.alignment


def test_photos_that_do_not_match_are_shown_as_taken_and_said_so(clinic):
    mine, someone_else = known_pair("vertex", 23, SIZE, 0), known_pair("frontal", 24, SIZE, 0)
    _patient_with_pair(clinic, "P-1", mine.before, someone_else.after)
    lined_up = before_after(CLINICIAN, "P-1", "vertex", url=clinic, aligned=True)
    as_taken = before_after(CLINICIAN, "P-1", "vertex", url=clinic)
    alignment = lined_up.alignment
    assert alignment is not None and not alignment.aligned and alignment.score < ALIGNED_AT
    assert alignment.words.startswith("The photos could not be lined up reliably, so both are shown as taken.")
    assert lined_up.second.image == as_taken.second.image


def test_a_patient_account_cannot_have_another_patients_pair_aligned(clinic):
    pair = known_pair("vertex", 25, SIZE, 0)
    _patient_with_pair(clinic, "P-1", pair.before, pair.after)
    own_id, _, _ = _patient_with_pair(clinic, "P-2", pair.after, pair.before)
    with pytest.raises(PermissionDenied):
        before_after(Actor("bea", "patient", patient_id=own_id), "P-1", "vertex", url=clinic, aligned=True)
    assert not any(blob_store("derived").keys())  # nothing was aligned for the refused request


def test_the_store_check_does_not_report_aligned_copies_as_orphans(clinic):
    pair = known_pair("frontal", 26, SIZE, 0)
    _, first_sha, second_sha = _patient_with_pair(clinic, "P-1", pair.before, pair.after)
    assert before_after(CLINICIAN, "P-1", "vertex", url=clinic, aligned=True).alignment.aligned
    assert blob_store("derived").exists(pair_key(first_sha, second_sha, "jpg"))
    done = forked_python.run(["-m", "tracker", "check"], cwd=ROOT, env={**os.environ}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "orphan" not in done.stdout.lower() and "derived" not in done.stdout, done.stdout
    assert "aligned/" not in done.stdout


def test_the_store_check_removes_aligned_copies_no_photo_on_record_can_use(clinic):
    """Issue #14 review: derived copies were never removed. A copy of a photo no longer on record (as after a
    restore of an earlier state) or of an earlier method version goes at the next ``check``, through the command
    line; the copies of pairs on record stay, also of a removed photo (its files stay too)."""
    pair = known_pair("frontal", 26, SIZE, 0)
    _, first_sha, second_sha = _patient_with_pair(clinic, "P-1", pair.before, pair.after)
    assert before_after(CLINICIAN, "P-1", "vertex", url=clinic, aligned=True).alignment.aligned
    derived = blob_store("derived")
    kept = {pair_key(first_sha, second_sha, "jpg"), pair_key(first_sha, second_sha, "json")}
    gone_photo = "ee" * 32  # a photo the installation no longer holds
    planted = {pair_key(first_sha, gone_photo, "jpg"), pair_key(gone_photo, second_sha, "json"),
               f"aligned/similarity-akaze-0/{first_sha[:2]}/{first_sha}-{second_sha}.jpg"}
    for key in planted:
        derived.put(key, b"a copy of a patient photo")
    with transaction(clinic) as session:  # a removed photo keeps its files, and so its pairs' copies
        session.execute(update(models.Photo).where(models.Photo.sha256 == second_sha)
                        .values(deleted_at=models.utcnow(), deleted_reason="test"))
    done = forked_python.run(["-m", "tracker", "check"], cwd=ROOT, env={**os.environ}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("Removed 3 aligned before/after file(s) of photos no longer on record or of an earlier alignment "
            "method") in done.stdout, done.stdout
    assert set(derived.keys("aligned/")) == kept
    again = forked_python.run(["-m", "tracker", "check"], cwd=ROOT, env={**os.environ}, timeout=300)
    assert "aligned before/after" not in again.stdout and set(derived.keys("aligned/")) == kept


def test_a_derived_area_that_cannot_be_listed_does_not_spoil_the_check(clinic, monkeypatch):
    """Issue #14 review: an object store that refused listing ``derived/`` made ``check`` print one error and
    lose its whole report. The report stands, and says in one line that the copies were not tidied."""
    from tracker.operations.consistency import run_check

    class Refusing:
        def keys(self, prefix: str = ""):
            raise PermissionError("AccessDenied on derived/")

    pair = known_pair("frontal", 26, SIZE, 0)
    _patient_with_pair(clinic, "P-1", pair.before, pair.after)
    monkeypatch.setattr(aligned_pairs, "blob_store", lambda area: Refusing())
    report = run_check(clinic)
    assert report.ok and report.aligned_removed == 0
    lines = report.lines()
    assert ("Aligned before/after copies were not tidied this time (PermissionError: AccessDenied on derived/); "
            "they are derived data, nothing is lost.") in lines
    assert lines[-1] == "OK: the photo store and the database agree."
