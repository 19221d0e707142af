"""The command line with ``TRACKER_STORE_URL`` pointing at a bucket on a real Swift server (tests/swift_server.py):
the demo's photos and a batch document go to the bucket, ``check``, ``backup`` and ``restore`` (into an empty
bucket) work with it, an upload killed mid-way is found and repaired, and a setting that cannot work stops every
command with one line naming it."""

from __future__ import annotations

import json
import os
import signal
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from tests import forked_python
from tests.backup_samples import Installation, cli, no_traceback
from tests.conftest import ROOT

pytest_plugins = ["tests.swift_server"]  # the swift and s3_environment fixtures


def _installation(tmp_path: Path, name: str) -> Installation:
    data_dir = tmp_path / name
    return Installation(data_dir, f"sqlite:///{data_dir / 'tracker.db'}")


def _objects(environment: dict[str, str], url: str | None = None) -> dict[str, int]:
    """Every object under the store URL's prefix (``photos/…``, ``documents/…``) with its size."""
    bucket, _, prefix = (url or environment["TRACKER_STORE_URL"]).removeprefix("s3://").partition("/")
    client = boto3.client("s3", endpoint_url=environment["AWS_ENDPOINT_URL"])
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for entry in page.get("Contents", ()):
            found[entry["Key"].removeprefix(f"{prefix}/")] = entry["Size"]
    return found


def _uploads(environment: dict[str, str]) -> list[str]:
    bucket = environment["TRACKER_STORE_URL"].removeprefix("s3://").partition("/")[0]
    client = boto3.client("s3", endpoint_url=environment["AWS_ENDPOINT_URL"])
    return [upload["Key"] for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", ())]


def _checked(result) -> tuple[int, int]:
    """(photo records, photo files) from a clean ``check``'s report."""
    no_traceback(result)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK: the photo store and the database agree." in result.stdout
    assert "OK: the document store and the database agree." in result.stdout
    line = next(line for line in result.stdout.splitlines() if line.startswith("Photo store: checked"))
    words = line.split()
    return int(words[3]), int(words[7])


def test_demo_check_backup_and_restore_into_an_empty_bucket(s3_environment, swift, new_installation, tmp_path):
    """On SQLite and on PostgreSQL (a chain's servers share one PostgreSQL and one object store)."""
    clinic = new_installation("clinic")
    demo = cli(clinic, "demo", "--limit", "2")
    no_traceback(demo)
    assert demo.returncode == 0, demo.stderr

    photos, files = _checked(cli(clinic, "check"))
    assert photos > 0 and files == 3 * photos  # original, display copy, thumbnail
    stored = _objects(s3_environment)
    assert len([key for key in stored if key.startswith("photos/originals/")]) == photos
    assert len([key for key in stored if key.startswith("photos/")]) == files
    assert not [key for key in stored if key.startswith("photos/pending/")]  # every ingest settled
    assert not (clinic.data_dir / "photos").exists()  # nothing went to the local folder

    backup = cli(clinic, "backup", str(tmp_path / "backup"))
    no_traceback(backup)
    assert backup.returncode == 0, backup.stderr
    assert f"{files} files" in backup.stdout
    for key, size in stored.items():
        assert (tmp_path / "backup" / "files" / key).stat().st_size == size

    empty_bucket = f"s3://{swift.create_bucket()}/restored"
    elsewhere = new_installation("elsewhere")
    restored = cli(elsewhere, "restore", str(tmp_path / "backup"), TRACKER_STORE_URL=empty_bucket)
    no_traceback(restored)
    assert restored.returncode == 0, restored.stderr
    assert f"and {files} files from" in restored.stdout
    assert _objects(s3_environment, empty_bucket) == stored
    assert _checked(cli(elsewhere, "check", TRACKER_STORE_URL=empty_bucket)) == (photos, files)


# The child of the kill test: stores a photo whose original (random pixels, ~6 MB) goes up in two 5 MiB parts,
# and kills itself with SIGKILL when the second part is sent: the marker and the first part are written, the
# display copy and thumbnail not yet. Nothing runs after the kill, as when the server process is killed.
_KILLED_UPLOAD = """
import io, os, signal, sys
from PIL import Image
from sqlalchemy import select
from db import models
from tracker.database import transaction
from tracker.photos.store import store_photo
from tracker.storage import s3_store

real_put, real_call = s3_store.S3Store.put, s3_store.S3Store._call
def put(self, key, data):
    self.part_bytes = 5 * 1024 * 1024
    return real_put(self, key, data)
def call(self, operation, **arguments):
    if operation == "upload_part" and arguments["PartNumber"] == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_call(self, operation, **arguments)
s3_store.S3Store.put, s3_store.S3Store._call = put, call

pixels = Image.frombytes("RGB", (2000, 2000), os.urandom(2000 * 2000 * 3))
photo = io.BytesIO()
pixels.save(photo, "JPEG", quality=98)
assert photo.tell() > 5 * 1024 * 1024, photo.tell()
with transaction() as session:
    visit_id = session.scalars(select(models.Visit.id).order_by(models.Visit.id)).first()
    store_photo(session, visit_id=visit_id, view="vertex", data=photo.getvalue(), file_name="big.jpg", actor="test")
"""


def test_an_upload_killed_mid_multipart_is_found_by_check_and_repaired(s3_environment, tmp_path):
    clinic = _installation(tmp_path, "clinic")
    assert cli(clinic, "demo", "--limit", "1", "--no-photos").returncode == 0
    before = _objects(s3_environment)

    env = {**os.environ, "TRACKER_DATA_DIR": str(clinic.data_dir), "DATABASE_URL": clinic.url}
    child = forked_python.run(["-c", _KILLED_UPLOAD], cwd=ROOT, env=env, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr
    [marker] = [key for key in _objects(s3_environment) if key.startswith("photos/pending/")]
    assert len(_uploads(s3_environment)) == 1  # the original's incomplete multipart upload

    # Minutes later the upload is still "in progress": reported, nothing removed, and the check passes.
    in_progress = cli(clinic, "check")
    no_traceback(in_progress)
    assert in_progress.returncode == 0, in_progress.stdout
    assert len(_uploads(s3_environment)) == 1

    # The admin comes after the grace period (the marker's clock moved an hour back): interrupted, repaired.
    client = boto3.client("s3", endpoint_url=s3_environment["AWS_ENDPOINT_URL"])
    bucket, _, prefix = s3_environment["TRACKER_STORE_URL"].removeprefix("s3://").partition("/")
    body = json.loads(client.get_object(Bucket=bucket, Key=f"{prefix}/{marker}")["Body"].read())
    body["started_at"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    client.put_object(Bucket=bucket, Key=f"{prefix}/{marker}", Body=json.dumps(body).encode())
    found = cli(clinic, "check")
    assert found.returncode == 1 and "INTERRUPTED" in found.stdout, found.stdout
    repaired = cli(clinic, "check", "--repair")
    no_traceback(repaired)
    assert repaired.returncode == 0, repaired.stdout
    assert _uploads(s3_environment) == []
    assert _objects(s3_environment) == before


def _refused(tmp_path, **settings):
    result = cli(_installation(tmp_path, "clinic"), "check", **settings)
    no_traceback(result)
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()  # one line, for the admin
    return line


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://photos/clinic", "TRACKER_STORE_URL 'ftp://photos/clinic' is not a store this product knows"),
    ("photos", "TRACKER_STORE_URL 'photos' is not a store this product knows"),
    ("s3://", "TRACKER_STORE_URL 's3://' names no bucket"),
])
def test_a_store_url_this_product_cannot_use_stops_every_command(tmp_path, url, words):
    assert words in _refused(tmp_path, TRACKER_STORE_URL=url)


def test_an_endpoint_nobody_answers_on_stops_every_command(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    line = _refused(tmp_path, TRACKER_STORE_URL="s3://photos", AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
                    AWS_ACCESS_KEY_ID="someone", AWS_SECRET_ACCESS_KEY="secret", AWS_DEFAULT_REGION="us-east-1")
    assert "cannot be reached" in line and "AWS_ENDPOINT_URL" in line and "TRACKER_STORE_URL=s3://photos" in line


def test_a_malformed_endpoint_stops_every_command(tmp_path):
    line = _refused(tmp_path, TRACKER_STORE_URL="s3://photos", AWS_ENDPOINT_URL="htp:/nowhere",
                    AWS_ACCESS_KEY_ID="someone", AWS_SECRET_ACCESS_KEY="secret")
    assert "AWS_ENDPOINT_URL" in line and "htp:/nowhere" in line


def test_wrong_credentials_stop_every_command(s3_environment, tmp_path):
    line = _refused(tmp_path, AWS_SECRET_ACCESS_KEY="not the secret")
    assert "refused access" in line and "AWS_SECRET_ACCESS_KEY" in line


def test_no_credentials_stop_every_command(s3_environment, tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # no ~/.aws of the machine's, no instance metadata service to ask
    line = _refused(tmp_path, HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true")
    assert "No credentials" in line and "AWS_ACCESS_KEY_ID" in line


def test_a_bucket_that_does_not_exist_stops_every_command(s3_environment, tmp_path):
    line = _refused(tmp_path, TRACKER_STORE_URL="s3://no-such-bucket/clinic")
    assert "'no-such-bucket'" in line and "does not exist" in line and "TRACKER_STORE_URL" in line


def test_a_missing_bucket_stops_the_app_with_one_message(s3_environment, sqlite_clinic, monkeypatch, caplog):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tracker.access.actors import Actor
    from tracker.storage.s3_store import StoreUnavailable

    st.cache_resource.clear()  # the app checks its set-up once per server; this test is a new server
    monkeypatch.setenv("TRACKER_STORE_URL", "s3://no-such-bucket/clinic")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["actor"] = Actor("dr.lee", "clinician")
    at.run()
    assert not at.exception
    # A user sees no bucket, endpoint or variable name; the log has the administrator's line.
    assert [e.value for e in at.error] == [StoreUnavailable.app_message]
    assert not at.dataframe  # no page was drawn
    assert not [r for r in caplog.records if r.exc_info]
    [logged] = [r.getMessage() for r in caplog.records if "StoreUnavailable" in r.getMessage()]
    assert "The bucket 'no-such-bucket' of TRACKER_STORE_URL does not exist" in logged, logged
    st.cache_resource.clear()
