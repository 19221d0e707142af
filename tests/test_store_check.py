"""``python -m tracker check`` on a store too large to re-hash every time (issue #13): each run hashes the
originals added since the last one, a rotating sample of the older ones and those found altered before;
``--full`` hashes all. Run as a person runs it, in a process of its own, on SQLite and PostgreSQL.

The photos here are rows with files of a few bytes (the check hashes bytes; it never opens an image), so that a
store larger than one sample (``SAMPLE_MIN``) costs nothing to build.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date

from sqlalchemy import select

from db import models
from tests import forked_python
from tests.conftest import ROOT
from tracker.database import transaction
from tracker.operations.consistency import CHECK_STATE, SAMPLE_MIN
from tracker.photos.store import PhotoKeys, photo_store

OLDER = 120  # more than two samples of SAMPLE_MIN (50): a whole round of the sample takes three runs


def add_photos(url: str, count: int, first: int = 0) -> list[tuple[int, str]]:
    """``count`` photos of one new visit, each with its three files; their (id, original key), in id order."""
    store = photo_store().blobs
    with transaction(url) as session:
        patient = models.Patient(mrn=f"SC-{first:04d}", full_name="Store Check", sex="female",
                                 birth_date=date(1980, 1, 1), condition="androgenetic_alopecia", created_by="test")
        session.add(patient)
        session.flush()
        visit = models.Visit(patient_id=patient.id, date=date(2025, 1, 1), created_by="test")
        session.add(visit)
        session.flush()
        photos = []
        for number in range(first, first + count):
            data = f"photo {number}".encode()
            sha = hashlib.sha256(data).hexdigest()
            keys = PhotoKeys.for_photo(sha, "jpg")
            for key in keys:
                store.put(key, data)
            photo = models.Photo(visit_id=visit.id, view="vertex", sha256=sha, original_key=keys.original,
                                 display_key=keys.display, thumbnail_key=keys.thumbnail, media_type="image/jpeg",
                                 width=1, height=1, created_by="test")
            session.add(photo)
            photos.append(photo)
        session.flush()
        return [(photo.id, photo.original_key) for photo in photos]


def check(*options: str) -> tuple[int, list[str]]:
    done = forked_python.run(["-m", "tracker", "check", *options], cwd=ROOT, env={**os.environ}, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout.splitlines()


def coverage(lines: list[str]) -> str:
    """The photo store's line on hashes."""
    [line] = [line for line in lines if line.startswith("Photo store: hashes checked")]
    return line.removeprefix("Photo store: ")


def altered(lines: list[str]) -> list[int]:
    """The photos reported altered, in order."""
    return [int(match.group(1)) for line in lines if (match := re.match(r"ALTERED: the original of photo (\d+)", line))]


def corrupt(key: str) -> None:
    photo_store().blobs.put(key, b"bit rot")


def test_each_check_hashes_new_files_and_a_rotating_sample_that_covers_every_file(clinic):
    photos = add_photos(clinic, OLDER)
    ids = [photo_id for photo_id, _ in photos]
    code, lines = check()  # no state yet: every file is new
    assert code == 0 and coverage(lines) == (
        f"hashes checked: {OLDER} new, 0 of 0 older (sample), 0 mismatches; run with --full to check all.")

    # Photo 75 (the 75th) rots after that check; the sample runs 1st-50th, 51st-100th, 101st-120th and 1st-30th.
    victim_id, victim_key = photos[74]
    corrupt(victim_key)
    code, lines = check()
    assert code == 0 and altered(lines) == [], "the 75th is not in the first sample"
    assert coverage(lines) == (f"hashes checked: 0 new, {SAMPLE_MIN} of {OLDER} older (sample), 0 mismatches; "
                               "run with --full to check all.")
    code, lines = check()
    assert code == 1 and altered(lines) == [victim_id], "the second sample (51st to 100th) finds it"
    assert "ALTERED: the original of photo" in "\n".join(lines) and "PROBLEMS FOUND in the photo store" in lines[-1]
    assert coverage(lines).endswith(", 1 mismatch; run with --full to check all.")

    # The next sample (101st-120th, then 1st-30th) does not include it: it is hashed again all the same.
    code, lines = check()
    assert code == 1 and altered(lines) == [victim_id]
    assert coverage(lines) == (f"hashes checked: 0 new, {SAMPLE_MIN} of {OLDER} older (sample), 1 found altered "
                               "before, 1 mismatch; run with --full to check all.")
    with transaction(clinic) as session:
        state = session.get(models.MaintenanceState, CHECK_STATE["photos"])
        assert state is not None
        assert state.value == {"checked_until": ids[-1], "sample_after": ids[29], "recheck": [victim_id]}

    # Restored from backup: the next check (its sample, 31st-80th, holds it) finds it sound and stops re-hashing it.
    photo_store().blobs.put(victim_key, b"photo 74")
    code, lines = check()
    assert code == 0 and altered(lines) == []
    with transaction(clinic) as session:
        state = session.get(models.MaintenanceState, CHECK_STATE["photos"])
        assert state is not None and state.value["recheck"] == [] and state.value["sample_after"] == ids[79]


def test_files_added_since_the_last_check_are_hashed_on_the_next(clinic):
    add_photos(clinic, OLDER)
    assert check()[0] == 0
    new = add_photos(clinic, 3, first=OLDER)
    corrupt(new[1][1])
    code, lines = check()
    assert code == 1 and altered(lines) == [new[1][0]]
    assert coverage(lines) == (f"hashes checked: 3 new, {SAMPLE_MIN} of {OLDER} older (sample), 1 mismatch; "
                               "run with --full to check all.")


def test_full_hashes_every_file_and_the_sample_continues_where_it_stopped(clinic):
    photos = add_photos(clinic, OLDER)
    assert check()[0] == 0
    corrupt(photos[-1][1])  # the last one: far from the first samples
    code, lines = check("--full")
    assert code == 1 and altered(lines) == [photos[-1][0]]
    assert coverage(lines) == f"hashes checked: all {OLDER} (--full), 1 mismatch."
    code, lines = check()
    assert code == 1 and altered(lines) == [photos[-1][0]], "found by --full, hashed again until it matches"
    with transaction(clinic) as session:
        state = session.scalar(select(models.MaintenanceState.value).where(
            models.MaintenanceState.name == CHECK_STATE["photos"]))
    assert state is not None and state["sample_after"] == photos[SAMPLE_MIN - 1][0], "the sample started at the first"


def test_a_missing_file_is_reported_on_every_run_whatever_is_hashed(clinic):
    photos = add_photos(clinic, 3)
    assert check()[0] == 0
    photo_store().blobs.delete(photos[0][1])
    for _ in range(2):
        code, lines = check()
        assert code == 1
        assert f"MISSING: photo {photos[0][0]} has no original ({photos[0][1]}); restore it from backup." in lines
