"""The ``BlobStore`` promises, on both implementations: the local folder and an S3 bucket on a real Swift server
(tests/swift_server.py). What the ingest, the check, backup and restore rely on must hold on both."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from tracker.storage.blob_store import BlobStore, LocalDirectoryStore
from tracker.storage.configured import blob_store
from tracker.storage.ingest import sha256_of_key
from tracker.storage.s3_store import S3Store

pytest_plugins = ["tests.swift_server"]  # the swift and s3_environment fixtures

SHA = hashlib.sha256(b"photo").hexdigest()
MIN_PART_BYTES = 5 * 1024 * 1024  # Swift's (and S3's) smallest part but the last: the tests' part size


def _s3_store(page_size: int = 1000) -> S3Store:
    store = blob_store("photos")
    assert isinstance(store, S3Store)
    store.part_bytes, store.page_size = MIN_PART_BYTES, page_size
    return store


@pytest.fixture(params=["local", "s3"])
def blobs(request, tmp_path, monkeypatch) -> BlobStore:
    """A new, empty store: a folder, or the photos area of a new bucket (parts of 5 MiB, Swift's minimum)."""
    if request.param == "local":
        monkeypatch.setenv("TRACKER_DATA_DIR", str(tmp_path / "data"))
        store = blob_store("photos")
        assert isinstance(store, LocalDirectoryStore)
        return store
    request.getfixturevalue("s3_environment")
    return _s3_store()


def test_a_blob_comes_back_byte_for_byte_and_a_new_put_replaces_it_whole(blobs):
    key = f"originals/{SHA[:2]}/{SHA}.jpg"
    blobs.put(key, b"first version")
    assert blobs.get(key) == b"first version"
    blobs.put(key, b"second")
    assert blobs.get(key) == b"second"
    assert blobs.exists(key)


def test_a_missing_blob_is_a_key_error_and_does_not_exist(blobs):
    with pytest.raises(KeyError):
        blobs.get("display/00/nothing.jpg")
    assert not blobs.exists("display/00/nothing.jpg")


def test_delete_removes_and_deleting_again_is_not_an_error(blobs):
    blobs.put("thumbs/ab/x.jpg", b"t")
    blobs.delete("thumbs/ab/x.jpg")
    assert not blobs.exists("thumbs/ab/x.jpg")
    blobs.delete("thumbs/ab/x.jpg")  # a repair retried after a crash deletes again
    with pytest.raises(KeyError):
        blobs.get("thumbs/ab/x.jpg")


def test_keys_lists_every_blob_under_a_prefix_in_key_order(blobs):
    names = ["thumbs/cd/2.jpg", "originals/ab/1.jpg", "originals/cd/3.jpg", "display/ab/1.jpg", "pending/a.json"]
    for name in names:
        blobs.put(name, name.encode())
    assert list(blobs.keys()) == sorted(names)
    assert list(blobs.keys("originals/")) == ["originals/ab/1.jpg", "originals/cd/3.jpg"]
    assert list(blobs.keys("pending/")) == ["pending/a.json"]
    assert list(blobs.keys("nothing/")) == []


@pytest.mark.usefixtures("s3_environment")
def test_keys_and_partial_writes_page_through_long_listings():
    # ListObjectsV2 answers at most 1,000 keys a page: the store must ask for the next pages. Pages of two
    # keys show it without writing thousands of objects.
    store = _s3_store(page_size=2)
    names = sorted(f"thumbs/{n % 3}/{n:02d}.jpg" for n in range(7))
    for name in names:
        store.put(name, b"")
    assert list(store.keys("thumbs/")) == names
    for n in range(3):
        _interrupt_a_write(store, f"originals/ab/{n}.jpg")
    assert sorted(p.name.split("?")[0] for p in store.partial_writes()) == [f"originals/ab/{n}.jpg" for n in range(3)]


def test_a_blob_larger_than_a_part_comes_back_whole_and_leaves_no_partial_write(blobs):
    data = bytes(range(256)) * (2 * MIN_PART_BYTES // 256 + 1000)  # two full parts and a short last one
    blobs.put(f"originals/{SHA[:2]}/{SHA}.tif", data)
    assert hashlib.sha256(blobs.get(f"originals/{SHA[:2]}/{SHA}.tif")).digest() == hashlib.sha256(data).digest()
    assert list(blobs.partial_writes()) == []


def test_a_key_that_could_leave_the_store_is_refused(blobs):
    for key in ("../escape.jpg", "/absolute.jpg", "a//b.jpg", "a/./b", "", "a\\b", "a\x00b"):
        with pytest.raises(ValueError, match="not a valid store key"):
            blobs.put(key, b"x")


def test_the_photos_and_the_documents_of_one_store_url_do_not_see_each_other(blobs):
    documents = blob_store("documents")
    blobs.put("originals/ab/1.jpg", b"photo")
    documents.put("originals/ab/1.pdf", b"document")
    assert list(blobs.keys()) == ["originals/ab/1.jpg"]
    assert list(documents.keys()) == ["originals/ab/1.pdf"]


def _interrupt_a_write(blobs: BlobStore, key: str) -> None:
    """What a process that dies mid-write leaves: a temporary file, or an incomplete multipart upload."""
    if isinstance(blobs, LocalDirectoryStore):
        target = blobs.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        (target.parent / f".{target.name}.0000.partial").write_bytes(b"half a photo")
        return
    assert isinstance(blobs, S3Store)
    name = blobs.prefix + key
    upload = blobs.client.create_multipart_upload(Bucket=blobs.bucket, Key=name)["UploadId"]
    blobs.client.upload_part(Bucket=blobs.bucket, Key=name, UploadId=upload, PartNumber=1, Body=b"x" * MIN_PART_BYTES)


def test_an_interrupted_write_is_a_partial_write_until_discarded_and_never_a_blob(blobs):
    key = f"originals/{SHA[:2]}/{SHA}.jpg"
    _interrupt_a_write(blobs, key)
    assert list(blobs.keys()) == []
    assert not blobs.exists(key)
    [partial] = blobs.partial_writes()
    assert sha256_of_key(partial.name) == SHA  # the consistency check matches it to its upload by this
    assert abs(partial.started_at - datetime.now(UTC)) < timedelta(minutes=5)
    blobs.discard_partial(partial.name)
    assert list(blobs.partial_writes()) == []
    blobs.put(key, b"the whole photo")  # the key is free for the next upload
    assert blobs.get(key) == b"the whole photo"


def test_discarding_something_that_is_not_a_partial_write_is_refused(blobs):
    blobs.put("originals/ab/1.jpg", b"keep me")
    with pytest.raises(ValueError, match="not a partial write"):
        blobs.discard_partial("originals/ab/1.jpg")
    assert blobs.get("originals/ab/1.jpg") == b"keep me"


@pytest.mark.usefixtures("s3_environment")
def test_a_multipart_put_that_fails_midway_is_aborted_and_leaves_nothing(monkeypatch):
    store = _s3_store()
    real_upload_part = store.client.upload_part
    calls = []

    def failing_second_part(**arguments):
        calls.append(arguments["PartNumber"])
        if arguments["PartNumber"] == 2:
            raise ConnectionResetError("the network went away")
        return real_upload_part(**arguments)

    monkeypatch.setattr(store.client, "upload_part", failing_second_part)
    with pytest.raises(ConnectionResetError):
        store.put("originals/ab/big.tif", b"x" * (2 * MIN_PART_BYTES + 1))
    assert calls == [1, 2]
    assert list(store.partial_writes()) == []
    assert not store.exists("originals/ab/big.tif")


def test_without_swift_the_object_store_tests_say_what_is_missing(monkeypatch):
    import tests.swift_server as swift_server

    monkeypatch.setattr(swift_server, "_program", lambda name: None if name == "swift-object-server" else name)
    assert swift_server.why_unavailable() == (
        "OpenStack Swift is not installed: swift-object-server not found. `make swift` installs Debian's "
        "swift-proxy swift-object swift-container swift-account (as root or with sudo).")
