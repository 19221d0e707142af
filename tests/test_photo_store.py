"""store_photo and the consistency check, on SQLite and PostgreSQL (the ``clinic`` fixture).

Crashes are simulated for real: the ingest runs in a forked child process that dies (``os._exit``, no
cleanup, no rollback hooks) at a chosen step, exactly as a killed server would. The parent then checks
that the store and the database still agree, up to interrupted ingests that ``repair_interrupted``
removes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import photo_samples as samples
import pytest
from PIL import Image
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from db import models
from db.engine import normalize_url
from tracker.config import settings
from tracker.database import transaction
from tracker.errors import NotFound, ValidationError
from tracker.operations.consistency import check_store, repair_interrupted, run_check
from tracker.photos.store import PhotoKeys, photo_store, read_display, read_original, read_thumbnail, store_photo
from tracker.storage import ingest as ingest_module
from tracker.storage.blob_store import LocalDirectoryStore

NO_GRACE = timedelta(0)


def new_visit(url: str, mrn: str = "RT-0001") -> int:
    with transaction(url) as session:
        patient = models.Patient(
            mrn=mrn, full_name="Alex Example", sex="male", birth_date=date(1985, 4, 2),
            condition="androgenetic_alopecia", created_by="test",
        )
        session.add(patient)
        session.flush()
        visit = models.Visit(patient_id=patient.id, date=date(2025, 3, 4), created_by="test")
        session.add(visit)
        session.flush()
        return visit.id


def upload(url: str, visit_id: int, data: bytes, view: str = "vertex", name: str = "IMG_0001.JPG") -> models.Photo:
    with transaction(url) as session:
        return store_photo(session, visit_id=visit_id, view=view, data=data, file_name=name, actor="dr.lee")


def photo_rows(url: str) -> list[models.Photo]:
    with transaction(url) as session:
        return list(session.scalars(select(models.Photo).order_by(models.Photo.id)))


def report(url: str, **options):
    with transaction(url) as session:
        return check_store(session, photo_store(), **options)


def stored_files() -> list[str]:
    return list(photo_store().blobs.keys())


def photo_bytes(seed: int = 0) -> bytes:
    return samples.jpeg(
        samples.scene((640 + seed, 480)),
        exif=samples.exif_block(orientation=6, taken="2025:03:04 10:11:12", gps=True),
    )


# --- the ordinary path --------------------------------------------------------------------------------


def test_stored_photo_has_its_row_and_three_files(clinic):
    visit_id = new_visit(clinic)
    data = photo_bytes()
    photo = upload(clinic, visit_id, data)

    sha = hashlib.sha256(data).hexdigest()
    assert photo.id is not None and photo.sha256 == sha
    assert (photo.original_key, photo.display_key, photo.thumbnail_key) == (
        f"originals/{sha[:2]}/{sha}.jpg", f"display/{sha[:2]}/{sha}.jpg", f"thumbs/{sha[:2]}/{sha}.jpg",
    )
    (row,) = photo_rows(clinic)
    assert (row.view, row.media_type, row.width, row.height) == ("vertex", "image/jpeg", 480, 640)
    assert row.captured_at.replace(tzinfo=None) == datetime(2025, 3, 4, 10, 11, 12)
    assert (row.original_file_name, row.created_by) == ("IMG_0001.JPG", "dr.lee")
    assert sorted(stored_files()) == sorted([photo.original_key, photo.display_key, photo.thumbnail_key])

    assert read_original(row) == data
    assert Image.open(io.BytesIO(read_display(row))).size == (480, 640)
    assert Image.open(io.BytesIO(read_thumbnail(row))).size == (240, 320)
    assert b"GPS" not in read_display(row)
    assert report(clinic).ok


def test_png_whose_xmp_unpacks_past_pillows_limit_is_stored_with_its_metadata(clinic):
    # Photo-library exports carry XMP of several MiB; Pillow's 1 MiB bomb guard once had such photos
    # refused as "incomplete or damaged". Accepted now, and the original is the upload, byte for byte.
    data = samples.png_with_chunks(samples.scene((640, 480)), samples.xmp_itxt(3 * 1024 * 1024))
    photo = upload(clinic, new_visit(clinic), data, name="vertex export.png")

    sha = hashlib.sha256(data).hexdigest()
    (row,) = photo_rows(clinic)
    assert (row.sha256, row.original_key, row.media_type) == (sha, f"originals/{sha[:2]}/{sha}.png", "image/png")
    assert (row.width, row.height) == (640, 480)
    assert read_original(row) == data and photo.display_key == f"display/{sha[:2]}/{sha}.jpg"
    display = read_display(row)
    assert Image.open(io.BytesIO(display)).size == (640, 480) and b"xmpmeta" not in display
    assert report(clinic).ok


def test_files_live_under_the_data_directory(clinic):
    photo = upload(clinic, new_visit(clinic), photo_bytes())
    root = photo_store().blobs.root
    assert root == settings().data_dir / "photos"
    assert (root / photo.original_key).read_bytes() == read_original(photo)


def test_same_photo_twice_shares_files_with_separate_rows(clinic):
    first, second = new_visit(clinic, "RT-1"), new_visit(clinic, "RT-2")
    data = photo_bytes()
    a = upload(clinic, first, data, "vertex")
    b = upload(clinic, second, data, "vertex")
    c = upload(clinic, first, data, "frontal")
    assert len({a.id, b.id, c.id}) == 3
    assert a.original_key == b.original_key == c.original_key
    assert len(stored_files()) == 3
    assert report(clinic).ok


def test_duplicate_in_the_same_visit_and_view_is_a_clear_validation_error(clinic):
    visit_id = new_visit(clinic)
    data = photo_bytes()
    upload(clinic, visit_id, data)
    with pytest.raises(ValidationError, match="already attached to this visit as the Vertex view"):
        upload(clinic, visit_id, data)
    assert len(photo_rows(clinic)) == 1
    assert report(clinic).ok


def test_duplicate_of_a_removed_photo_is_explained(clinic):
    visit_id = new_visit(clinic)
    data = photo_bytes()
    upload(clinic, visit_id, data, "left_temporal")
    with transaction(clinic) as session:
        row = session.scalars(select(models.Photo)).one()
        row.deleted_at, row.deleted_by, row.deleted_reason = datetime.now(UTC), "dr.lee", "blurred"
    with pytest.raises(ValidationError, match="Left temporal view before and then removed"):
        upload(clinic, visit_id, data, "left_temporal")
    # The soft-deleted row is still the record: its files are neither missing nor orphans.
    assert report(clinic).ok


def test_unknown_view_and_missing_visit_are_refused(clinic):
    visit_id = new_visit(clinic)
    with pytest.raises(ValidationError, match="Unknown photo view 'crown'"):
        upload(clinic, visit_id, photo_bytes(), view="crown")
    with pytest.raises(NotFound):
        upload(clinic, visit_id + 999, photo_bytes())
    assert stored_files() == []


def test_refused_file_writes_nothing(clinic):
    visit_id = new_visit(clinic)
    with pytest.raises(ValidationError, match="PDF document"):
        upload(clinic, visit_id, samples.pdf(), name="scan.jpg")
    assert stored_files() == [] and photo_rows(clinic) == []


def test_rollback_removes_the_files_and_the_marker(clinic):
    visit_id = new_visit(clinic)
    with pytest.raises(RuntimeError), transaction(clinic) as session:
        store_photo(session, visit_id=visit_id, view="vertex", data=photo_bytes(), file_name=None, actor=None)
        assert len(stored_files()) == 4  # marker + three files, before the commit
        raise RuntimeError("a later step of the use case failed")
    assert stored_files() == [] and photo_rows(clinic) == []
    assert report(clinic, grace=NO_GRACE).ok


def test_rollback_keeps_files_another_visit_already_uses(clinic):
    first, second = new_visit(clinic, "RT-1"), new_visit(clinic, "RT-2")
    data = photo_bytes()
    kept = upload(clinic, first, data)
    with pytest.raises(RuntimeError), transaction(clinic) as session:
        store_photo(session, visit_id=second, view="vertex", data=data, file_name=None, actor=None)
        raise RuntimeError
    assert sorted(stored_files()) == sorted(PhotoKeys.for_photo(kept.sha256, "jpg"))
    assert report(clinic, grace=NO_GRACE).ok


def test_closing_the_session_without_commit_cleans_up(clinic):
    visit_id = new_visit(clinic)
    session = sessionmaker(create_engine(normalize_url(clinic)))()
    store_photo(session, visit_id=visit_id, view="vertex", data=photo_bytes(), file_name=None, actor=None)
    session.close()
    session.get_bind().dispose()
    assert stored_files() == []


def test_rolled_back_savepoint_cleans_up_even_when_the_outer_transaction_commits(clinic):
    visit_id = new_visit(clinic)
    with transaction(clinic) as session:
        kept = store_photo(session, visit_id=visit_id, view="frontal", data=photo_bytes(1), file_name=None, actor=None)
        savepoint = session.begin_nested()
        store_photo(session, visit_id=visit_id, view="vertex", data=photo_bytes(2), file_name=None, actor=None)
        savepoint.rollback()
    assert [row.view for row in photo_rows(clinic)] == ["frontal"]
    assert sorted(stored_files()) == sorted(PhotoKeys.for_photo(kept.sha256, "jpg"))
    assert report(clinic, grace=NO_GRACE).ok


def test_two_photos_in_one_transaction(clinic):
    visit_id = new_visit(clinic)
    with transaction(clinic) as session:
        for number, view in enumerate(("frontal", "vertex", "occipital")):
            store_photo(session, visit_id=visit_id, view=view, data=photo_bytes(number), file_name=None, actor=None)
    assert len(photo_rows(clinic)) == 3 and len(stored_files()) == 9
    assert report(clinic, grace=NO_GRACE).ok


# --- the consistency check finds every kind of disagreement ---------------------------------------------


def test_check_reports_missing_files_orphans_and_altered_originals(clinic):
    visit_id = new_visit(clinic)
    damaged = upload(clinic, visit_id, photo_bytes(1), "frontal")
    incomplete = upload(clinic, visit_id, photo_bytes(2), "vertex")
    store = photo_store()
    store.blobs.put(damaged.original_key, b"not the original any more")
    store.blobs.delete(incomplete.thumbnail_key)
    stray = "display/00/" + "0" * 64 + ".jpg"
    store.blobs.put(stray, b"left behind by hand")
    (store.blobs.root / "Copy of IMG 0001.JPG").write_bytes(b"dropped in by hand")

    result = report(clinic)
    assert not result.ok
    assert [(m.photo_id, m.role) for m in result.missing] == [(incomplete.id, "thumbnail")]
    assert [(h.photo_id, h.expected) for h in result.hash_mismatches] == [(damaged.id, damaged.sha256)]
    assert result.orphans == ("Copy of IMG 0001.JPG", stray)
    text = "\n".join(result.lines())
    assert "MISSING: photo" in text and "ALTERED" in text and "ORPHAN" in text and "PROBLEMS FOUND" in text

    # Repair touches only interrupted ingests: none of these.
    assert repair_interrupted() == []
    assert store.blobs.exists(stray)


def test_check_without_hashing_skips_altered_originals(clinic):
    photo = upload(clinic, new_visit(clinic), photo_bytes())
    photo_store().blobs.put(photo.original_key, b"changed")
    assert report(clinic, verify_hashes=False).ok


def test_recent_marker_is_an_upload_in_progress_not_a_problem(clinic):
    store = photo_store()
    sha = "ab" * 32
    keys = PhotoKeys.for_photo(sha, "jpg")
    store.begin_ingest(sha, keys, {})
    store.blobs.put(keys.original, b"half an ingest")
    result = report(clinic)
    assert result.ok and len(result.in_progress) == 1 and result.in_progress[0].files == (keys.original,)
    assert "IN PROGRESS" in "\n".join(result.lines())
    assert repair_interrupted(report(clinic)) == []

    later = datetime.now(UTC) + timedelta(hours=1)
    result = report(clinic, now=later)
    assert not result.ok and [item.files for item in result.interrupted] == [(keys.original,)]
    with transaction(clinic) as session:
        removed = repair_interrupted(store=store, session=session, now=later)
    assert keys.original in removed and stored_files() == []


def test_repair_spares_the_files_of_a_new_upload_of_the_same_photo(clinic):
    store = photo_store()
    sha = "cd" * 32
    keys = PhotoKeys.for_photo(sha, "jpg")
    crashed = store.begin_ingest(sha, keys, {})
    store.blobs.put(keys.original, b"left by a crash")
    stale_report = report(clinic, now=datetime.now(UTC) + timedelta(hours=1))
    assert [item.marker_key for item in stale_report.interrupted] == [crashed]

    store.begin_ingest(sha, keys, {})  # the clinician uploads the same photo again, right now
    assert repair_interrupted(stale_report) == [crashed]
    assert store.blobs.exists(keys.original)


def test_commit_restores_a_file_that_a_concurrent_rollback_removed(clinic):
    visit_id = new_visit(clinic)
    with transaction(clinic) as session:
        photo = store_photo(session, visit_id=visit_id, view="vertex", data=photo_bytes(), file_name=None, actor=None)
        # What a rolled-back upload of the same photo in another process could do at this moment.
        photo_store().blobs.delete(photo.display_key)
    assert photo_store().blobs.exists(photo.display_key)
    assert report(clinic, grace=NO_GRACE).ok


def test_stale_temporary_files_are_reported(clinic):
    root = photo_store().blobs.root
    (root / "display" / "12").mkdir(parents=True)
    leftover = root / "display" / "12" / ".unrelated.jpg.1234.partial"
    leftover.write_bytes(b"half")
    old = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    os.utime(leftover, (old, old))
    result = report(clinic)
    assert result.stale_temporaries == ("display/12/.unrelated.jpg.1234.partial",) and not result.ok
    assert "STALE TEMPORARY" in "\n".join(result.lines())
    assert repair_interrupted(result) == ["display/12/.unrelated.jpg.1234.partial"]
    assert not leftover.exists() and report(clinic).ok


def test_run_check_and_repair_use_the_configured_database_and_store(clinic):
    upload(clinic, new_visit(clinic), photo_bytes())
    result = run_check()
    assert result.ok and result.photos_checked == 1 and result.files_checked == 3
    assert repair_interrupted(result) == []
    assert result.lines()[-1] == "OK: the photo store and the database agree."


def test_check_command_grace_minutes(clinic):
    """``check`` leaves an upload of the last minutes alone; ``--grace-minutes 0`` (after a crash, app
    stopped) calls it interrupted and ``--repair`` removes it; a bad value is a plain usage error."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    store = photo_store()
    sha = "cd" * 32
    keys = PhotoKeys.for_photo(sha, "jpg")
    store.begin_ingest(sha, keys, {})
    store.blobs.put(keys.original, b"half an ingest")

    def check(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tracker", "check", *args], cwd=ROOT, env={**os.environ},
                              capture_output=True, text=True, timeout=120)

    waited = check()
    assert waited.returncode == 0 and "IN PROGRESS" in waited.stdout
    now = check("--grace-minutes", "0")
    assert now.returncode == 1 and "INTERRUPTED" in now.stdout
    repaired = check("--grace-minutes", "0", "--repair")
    assert repaired.returncode == 0 and "After repair:" in repaired.stdout
    assert not store.blobs.exists(keys.original)
    for bad in ("-1", "ten", "20000"):
        refused = check("--grace-minutes", bad)
        assert refused.returncode == 2 and "--grace-minutes" in refused.stderr and "Traceback" not in refused.stderr


def test_store_rejects_keys_outside_its_root(tmp_path):
    store = LocalDirectoryStore(tmp_path)
    for key in ("../escape.jpg", "/etc/passwd", "originals/../../x", "originals//x.jpg", "a\\..\\b", ""):
        with pytest.raises(ValueError):
            store.put(key, b"x")


# --- crashes at every step ----------------------------------------------------------------------------

CRASHED = 70


def _die() -> None:
    os._exit(CRASHED)


def _crash_after_put(prefix: str):
    """Die right after a complete write of the file under ``prefix``."""
    real_put = LocalDirectoryStore.put

    def put(self, key, data):
        real_put(self, key, data)
        if key.startswith(prefix):
            _die()

    mock.patch.object(LocalDirectoryStore, "put", put).start()  # never stopped: this process dies in it


def _crash_inside_put(prefix: str):
    """Die with the temporary file of ``prefix`` written but not yet renamed into place."""
    real_replace = os.replace

    def replace(source, target, *args, **kwargs):
        if os.fspath(target).replace(os.sep, "/").split("/photos/", 1)[-1].startswith(prefix):
            _die()
        return real_replace(source, target, *args, **kwargs)

    mock.patch.object(os, "replace", replace).start()  # never stopped: this process dies in it


def _crash_after_flush():
    event.listen(Session, "after_flush", lambda *_: _die())


def _crash_after_commit():
    ingest_module.settle = lambda ingest: _die()


def _crash_during_rollback_cleanup():
    """The use case fails after store_photo; the process dies after removing the first file."""
    real_delete = LocalDirectoryStore.delete

    def delete(self, key):
        real_delete(self, key)
        _die()

    LocalDirectoryStore.delete = delete
    return "fail after store_photo"


CRASH_POINTS = {
    "writing the marker": lambda: _crash_inside_put("pending/"),
    "after the marker": lambda: _crash_after_put("pending/"),
    "writing the original": lambda: _crash_inside_put("originals/"),
    "after the original": lambda: _crash_after_put("originals/"),
    "after the display copy": lambda: _crash_after_put("display/"),
    "after the thumbnail": lambda: _crash_after_put("thumbs/"),
    "after the row is flushed": _crash_after_flush,
    "after the commit, before the marker is removed": _crash_after_commit,
    "during rollback clean-up": _crash_during_rollback_cleanup,
}


def run_in_crashing_child(url: str, visit_id: int, data: bytes, crash_point: str) -> int:
    """Fork; the child ingests ``data`` and dies at ``crash_point``. Returns the child's exit code."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            plan = CRASH_POINTS[crash_point]()
            # A fresh engine: the parent's pooled connections must not be shared across the fork.
            session = sessionmaker(create_engine(normalize_url(url)), expire_on_commit=False)()
            with session.begin():
                store_photo(session, visit_id=visit_id, view="vertex", data=data, file_name="x.jpg", actor="t")
                if plan == "fail after store_photo":
                    raise RuntimeError("the use case failed after the photo was added")
            code = 0
        except BaseException:
            code = 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("crash_point", list(CRASH_POINTS))
def test_a_crash_at_any_step_leaves_only_explained_leftovers(clinic, crash_point):
    visit_id = new_visit(clinic)
    data = photo_bytes()
    # Another visit already uses a different photo: it must come through every crash untouched.
    bystander = upload(clinic, new_visit(clinic, "RT-9"), photo_bytes(7), "frontal")

    assert run_in_crashing_child(clinic, visit_id, data, crash_point) == CRASHED

    rows = photo_rows(clinic)
    store = photo_store()
    for row in rows:  # never a row without its files
        assert all(store.blobs.exists(key) for key in PhotoKeys.for_photo(row.sha256, "jpg"))
    result = report(clinic, grace=NO_GRACE)
    assert not (result.missing or result.orphans or result.hash_mismatches or result.stale_temporaries), result.lines()
    assert result.ok or result.interrupted

    # As ``python -m tracker check --repair`` does it: the report, then the repair of what it found.
    repair_interrupted(report(clinic, grace=NO_GRACE))
    assert report(clinic, grace=NO_GRACE).ok
    assert not list(store.blobs.partial_writes())
    committed = crash_point == "after the commit, before the marker is removed"
    expected_rows = [bystander.sha256] + ([hashlib.sha256(data).hexdigest()] if committed else [])
    assert [row.sha256 for row in photo_rows(clinic)] == expected_rows
    assert len(stored_files()) == 3 * len(expected_rows)
    # The photo can be uploaded again (or, if it committed, is refused as a duplicate, not broken).
    if committed:
        with pytest.raises(ValidationError, match="already attached"):
            upload(clinic, visit_id, data)
    else:
        upload(clinic, visit_id, data)
        assert report(clinic, grace=NO_GRACE).ok


def test_markers_say_what_an_ingest_was_doing(clinic):
    visit_id = new_visit(clinic)
    assert run_in_crashing_child(clinic, visit_id, photo_bytes(), "after the display copy") == CRASHED
    (marker,) = photo_store().markers()
    body = json.loads(photo_store().read(marker.key))
    assert body["visit_id"] == visit_id and body["view"] == "vertex" and len(body["keys"]) == 3
    (item,) = report(clinic, grace=NO_GRACE).interrupted
    assert set(item.files) == {body["keys"][0], body["keys"][1]}
    assert "INTERRUPTED" in "\n".join(report(clinic, grace=NO_GRACE).lines())
