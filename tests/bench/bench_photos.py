"""Photo intake cost against the bare Pillow pipeline (the budget: ingest ≤ 1.3× the bare pipeline).

Run: ``.venv/bin/python tests/bench/bench_photos.py``. A script, not a test: timings vary by machine and
are printed, never asserted. Both paths run on the same 12-megapixel camera-like JPEG in one process;
each figure is the median of several runs after a warm-up.

- bare: Pillow open → ImageOps.exif_transpose → thumbnail(2048) → save JPEG (what any app must do)
- prepare: ``prepare_photo`` (checks, hash, display copy and thumbnail; no I/O)
- ingest: ``prepare_photo`` plus the crash-safe writes of the marker and the three files (fsync'd) to a
  local store in a temporary folder, as ``store_photo`` does (minus the database row)
- for reference, ``prepare_photo`` with decoder scaling turned off (full decode, then resample): most of
  the margin comes from letting the JPEG decoder shrink a 12-MP photo to 2016 px while decoding
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from photo_samples import noise_photo  # noqa: E402 (after the sys.path line)
from PIL import Image, ImageOps  # noqa: E402 (after the sys.path line)

import tracker.photos.intake  # noqa: E402 (after the sys.path line)
from tracker.photos.intake import PreparedPhoto, prepare_photo  # noqa: E402 (after the sys.path line)
from tracker.photos.store import PhotoKeys, PhotoStore  # noqa: E402 (after the sys.path line)
from tracker.storage.blob_store import LocalDirectoryStore  # noqa: E402 (after the sys.path line)

RUNS = 9


def bare(data: bytes) -> bytes:
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    image.thumbnail((2048, 2048))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def prepare(data: bytes) -> PreparedPhoto:
    return prepare_photo(data, max_bytes=64 * 1024 * 1024, max_pixels=100_000_000)


def prepare_without_decoder_scaling(data: bytes) -> PreparedPhoto:
    saved = tracker.photos.intake.MIN_DECODER_SCALED_SIDE
    tracker.photos.intake.MIN_DECODER_SCALED_SIDE = 10**9
    try:
        return prepare(data)
    finally:
        tracker.photos.intake.MIN_DECODER_SCALED_SIDE = saved


def ingest(store: PhotoStore):
    def run(data: bytes) -> None:
        photo = prepare(data)
        keys = PhotoKeys.for_photo(photo.sha256, photo.extension)
        marker = store.begin_ingest(photo.sha256, keys, {})
        store.blobs.put(keys.original, photo.original)
        store.blobs.put(keys.display, photo.display_jpeg)
        store.blobs.put(keys.thumbnail, photo.thumbnail_jpeg)
        store.blobs.delete(marker)
        for key in keys:  # start each run from an empty store
            store.blobs.delete(key)

    return run


def median_seconds(function, data: bytes) -> float:
    function(data)  # warm-up: imports, codec tables, page cache
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        function(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    data = noise_photo((4032, 3024))
    print(f"sample: 4032×3024 JPEG, {len(data) / 1e6:.1f} MB; median of {RUNS} runs")
    with tempfile.TemporaryDirectory() as folder:
        store = PhotoStore(LocalDirectoryStore(Path(folder)))
        results = {
            "bare Pillow": median_seconds(bare, data),
            "prepare_photo": median_seconds(prepare, data),
            "ingest (prepare + writes)": median_seconds(ingest(store), data),
            "prepare, no decoder scaling": median_seconds(prepare_without_decoder_scaling, data),
        }
    baseline = results["bare Pillow"]
    for name, seconds in results.items():
        print(f"{name:28s} {seconds * 1000:8.1f} ms   {seconds / baseline:5.2f}×")
    ratio = results["ingest (prepare + writes)"] / baseline
    print(f"budget: ingest ≤ 1.30× bare Pillow; measured {ratio:.2f}×")


if __name__ == "__main__":
    main()
