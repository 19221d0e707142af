"""Benchmark: ``python -m tracker check`` on a store of 2,000 photos, full (``--full``: every original re-hashed)
against incremental (the originals added since the last check plus a rotating sample of the older ones).

Builds an SQLite clinic whose photos are rows with files written straight into the store (originals of
``--original-kb`` random bytes, 1 MB by default, with small display copies and thumbnails: the check never opens
an image), then times, each in a process of its own: a first check (no state yet: everything is new), a second
(nothing new: the sample only), one after 20 new photos, and a ``--full`` one. Prints seconds and the line the
check printed about hashes. Figures only, never assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from db import models  # noqa: E402 (after the sys.path line)
from tracker.database import initialize, transaction  # noqa: E402
from tracker.photos.store import PhotoKeys, photo_store  # noqa: E402


def add_photos(url: str, count: int, original_bytes: int, first: int = 0) -> None:
    """``count`` photos on one visit each (a patient per 10 photos), their three files in the store."""
    blobs = photo_store().blobs
    with transaction(url) as session:
        for start in range(first, first + count, 10):
            patient = models.Patient(mrn=f"BC-{start:06d}", full_name="Bench Check", sex="female",
                                     birth_date=date(1980, 1, 1), condition="androgenetic_alopecia",
                                     created_by="bench")
            session.add(patient)
            session.flush()
            visit = models.Visit(patient_id=patient.id, date=date(2025, 1, 1), created_by="bench")
            session.add(visit)
            session.flush()
            for number in range(start, min(start + 10, first + count)):
                original = number.to_bytes(8, "big") + os.urandom(original_bytes - 8)
                sha = hashlib.sha256(original).hexdigest()
                keys = PhotoKeys.for_photo(sha, "jpg")
                blobs.put(keys.original, original)
                blobs.put(keys.display, original[:20_000])
                blobs.put(keys.thumbnail, original[:2_000])
                session.add(models.Photo(visit_id=visit.id, view="vertex", sha256=sha, original_key=keys.original,
                                         display_key=keys.display, thumbnail_key=keys.thumbnail,
                                         media_type="image/jpeg", width=1, height=1, created_by="bench"))


def timed_check(*options: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tracker", "check", *options], cwd=ROOT, env={**os.environ},
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    line = next((line for line in done.stdout.splitlines() if line.startswith("Photo store: hashes")),
                f"(no hash line; exit {done.returncode}: {done.stderr[-300:]})")
    return seconds, line.removeprefix("Photo store: ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--original-kb", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-check-") as scratch:
        data_dir = Path(scratch)
        url = f"sqlite:///{data_dir / 'tracker.db'}"
        os.environ.update(TRACKER_DATA_DIR=str(data_dir), DATABASE_URL=url)
        initialize(url)
        add_photos(url, args.photos, args.original_kb * 1024)
        print(f"Store check, {args.photos} photos with {args.original_kb} KB originals (SQLite, local store)")
        for label in ("first check (all new)", "next check (sample only)"):
            seconds, line = timed_check()
            print(f"  {label:<28} {seconds:6.2f} s  {line}")
        add_photos(url, 20, args.original_kb * 1024, first=args.photos)
        seconds, line = timed_check()
        print(f"  {'after 20 new photos':<28} {seconds:6.2f} s  {line}")
        seconds, line = timed_check("--full")
        print(f"  {'--full':<28} {seconds:6.2f} s  {line}")


if __name__ == "__main__":
    main()
