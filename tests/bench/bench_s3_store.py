"""Photo files in an object store against the local folder: put and get of 100 display-sized photos, and
``check`` and ``backup`` of the demo clinic, each on a real Swift server (tests/swift_server.py) and on the
folder under the data dir.

Run: ``.venv/bin/python tests/bench/bench_s3_store.py [--no-clinic]``. A script, not a test: timings vary by
machine and load and are printed, never asserted. Without Swift installed (``make swift``) it says so and
prints nothing else. The commands run as an admin runs them (``python -m tracker …`` in a process of their own),
so their figures include Python's start-up and the store check every command makes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from photo_samples import noise_photo  # noqa: E402 (after the sys.path line)

from tests.swift_server import SwiftServer, why_unavailable  # noqa: E402 (after the sys.path line)
from tracker.photos.intake import prepare_photo  # noqa: E402 (after the sys.path line)

PHOTOS = 100


def display_photo() -> bytes:
    """The display copy the app makes of a 12-megapixel camera-like photo (2048 px, as pages show it)."""
    return prepare_photo(noise_photo(), max_bytes=64 * 1024 * 1024, max_pixels=100_000_000).display_jpeg


def put_and_get(environment: dict[str, str]) -> tuple[float, float, float]:
    """Seconds to put, then get PHOTOS display photos through the configured store one at a time, then eight at
    a time (as a backup fetches them)."""
    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        from tracker.storage.configured import blob_store

        store = blob_store("photos")
        photo = display_photo()
        photos = [photo + n.to_bytes(2, "big") for n in range(PHOTOS)]  # bytes after a JPEG's end are ignored
        keys = [f"display/{n % 256:02x}/{n:064x}.jpg" for n in range(PHOTOS)]
        started = time.perf_counter()
        for key, data in zip(keys, photos, strict=True):
            store.put(key, data)
        put = time.perf_counter() - started
        started = time.perf_counter()
        for key, data in zip(keys, photos, strict=True):
            assert store.get(key) == data
        get = time.perf_counter() - started
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(store.get, keys)) == photos
        return put, get, time.perf_counter() - started
    finally:
        os.environ.clear()
        os.environ.update(saved)


def command(environment: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, env={**os.environ, **environment},
                   check=True, capture_output=True)
    return time.perf_counter() - started


def clinic(environment: dict[str, str]) -> dict[str, float]:
    """The demo clinic loaded through the store, then ``check`` and ``backup`` of it (seconds each)."""
    return {
        "demo": command(environment, "demo"),
        "check": command(environment, "check"),
        "backup": command(environment, "backup", environment["TRACKER_DATA_DIR"] + "-backup"),
    }


def main() -> int:
    reason = why_unavailable()
    if reason:
        print(f"bench_s3_store: skipped. {reason}")
        return 0
    with_clinic = "--no-clinic" not in sys.argv
    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    (work / "swift").mkdir()
    server = SwiftServer(work / "swift").start()
    try:
        def local(name: str) -> dict[str, str]:
            return {"TRACKER_DATA_DIR": str(work / name), "TRACKER_STORE_URL": "",
                    "DATABASE_URL": f"sqlite:///{work / name / 'tracker.db'}"}

        bucket = server.create_bucket()

        def s3(name: str) -> dict[str, str]:  # a data dir of its own, and a prefix of its own in one bucket
            return {**local(name), **server.environment(bucket, prefix=name)}

        size = len(display_photo())
        print(f"{PHOTOS} display copies ({size / 1024:.0f} KB each; Swift on this machine, one replica):")
        for name, environment in (("local folder", local("files")), ("Swift S3 API", s3("files"))):
            put, get, get_8 = put_and_get(environment)
            print(f"  {name:13} put {put:6.2f} s ({put / PHOTOS * 1000:5.1f} ms each), "
                  f"get {get:6.2f} s ({get / PHOTOS * 1000:5.1f} ms each), get eight at a time {get_8:6.2f} s")
        if with_clinic:
            print("The demo clinic (python -m tracker …, seconds, SQLite):")
            for name, environment in (("local folder", local("clinic-local")), ("Swift S3 API", s3("clinic-s3"))):
                figures = clinic(environment)
                print(f"  {name:13} " + ", ".join(f"{step} {seconds:6.1f} s" for step, seconds in figures.items()))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
