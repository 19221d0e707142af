"""Photo files in an object store against the local folder: put and get of 100 display-sized photos, and
``check`` and ``backup`` of the demo clinic, each on a real Swift server (tests/swift_server.py) and on the
folder under the data dir.

Run: ``.venv/bin/python tests/bench/bench_s3_store.py [--no-clinic]``. A script, not a test: timings vary by
machine and load and are printed, never asserted. Without Swift installed (``make swift``) it says so and
prints nothing else. The commands run as an admin runs them (``python -m tracker …`` in a process of their own),
so their figures include Python's start-up and the store check every command makes.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from PIL import Image  # noqa: E402 (after the sys.path line)

from tests.swift_server import SwiftServer, why_unavailable  # noqa: E402 (after the sys.path line)

PHOTOS = 100


def display_photo(seed: int) -> bytes:
    """A 2048 × 1536 JPEG of noise-free gradients plus a seed pattern: the size of a display copy (~0.3 MB)."""
    image = Image.linear_gradient("L").resize((2048, 1536)).convert("RGB")
    image.putpixel((seed % 2048, seed // 2048), (seed % 256, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def put_and_get(environment: dict[str, str]) -> tuple[float, float, int]:
    """Seconds to put, then get, PHOTOS display photos through the configured store; bytes each."""
    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        from tracker.storage.configured import blob_store

        store = blob_store("photos")
        photos = [display_photo(n) for n in range(PHOTOS)]
        keys = [f"display/{n % 256:02x}/{n:064x}.jpg" for n in range(PHOTOS)]
        started = time.perf_counter()
        for key, data in zip(keys, photos, strict=True):
            store.put(key, data)
        put = time.perf_counter() - started
        started = time.perf_counter()
        for key, data in zip(keys, photos, strict=True):
            assert store.get(key) == data
        return put, time.perf_counter() - started, len(photos[0])
    finally:
        os.environ.clear()
        os.environ.update(saved)


def command(environment: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, env={**os.environ, **environment},
                   check=True, capture_output=True)
    return time.perf_counter() - started


def clinic(environment: dict[str, str], folder: Path) -> dict[str, float]:
    """The demo clinic loaded through the store, then ``check`` and ``backup`` of it (seconds each)."""
    return {
        "demo": command(environment, "demo"),
        "check": command(environment, "check"),
        "backup": command(environment, "backup", str(folder / "backup")),
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
        local = {"TRACKER_DATA_DIR": str(work / "local"), "TRACKER_STORE_URL": "",
                 "DATABASE_URL": f"sqlite:///{work / 'local' / 'tracker.db'}"}
        s3 = {**server.environment(server.create_bucket(), prefix="bench"), "TRACKER_DATA_DIR": str(work / "s3"),
              "DATABASE_URL": f"sqlite:///{work / 's3' / 'tracker.db'}"}
        print(f"{PHOTOS} display-sized photos, put then get, one at a time (Swift on this machine, one replica):")
        for name, environment in (("local folder", local), ("Swift S3 API", s3)):
            put, get, size = put_and_get(environment)
            print(f"  {name:13} put {put:6.2f} s ({put / PHOTOS * 1000:5.1f} ms each), "
                  f"get {get:6.2f} s ({get / PHOTOS * 1000:5.1f} ms each); {size / 1024:.0f} KB a photo")
        if with_clinic:
            print("The demo clinic (python -m tracker …, seconds, SQLite):")
            for name, environment in (("local folder", local), ("Swift S3 API", s3)):
                (work / name).mkdir()
                figures = clinic(environment, work / name)
                print(f"  {name:13} " + ", ".join(f"{step} {seconds:6.1f} s" for step, seconds in figures.items()))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
