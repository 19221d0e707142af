"""The capture checks' true and false alarms on a set of sharp and spoilt photos made here.

Run: ``.venv/bin/python tests/bench/bench_photo_quality.py``. A script, not a test: it prints, never asserts.
The set (``tests/quality_samples.py``): demo photos of five views at 30, 80, 150 and 250 hairs/cm², two patients,
each sharp, slightly blurred, a third of a stop under or over, at 640×480 (all of which should pass), and
blurred (Gaussian sigma 2 and 4 px), shaken (motion blur 15 and 30 px), two and three stops under, 1.3 and two
stops over, and at 480×360 and 320×240 (each of which should fire its one check). For the framing check: pairs
of one patient's view at two visits (should pass) against a photo of another view or patient, or of the same view
shifted by a third and turned by 30° (should fire).

Per check: true alarms (fired where it should) out of the photos where it should, false alarms (fired where it
should not) out of the others.
"""

from __future__ import annotations

import io
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

from PIL import Image  # noqa: E402 (after the sys.path line)

from tests.quality_samples import SIZE, samples  # noqa: E402 (after the sys.path line)
from tracker.operations.demo_photos import draw_scalp_photo  # noqa: E402 (after the sys.path line)
from tracker.photos.quality import check_quality  # noqa: E402 (after the sys.path line)

CHECKS = ("focus", "dark", "bright", "small")


def photo(density: float, view: str, seed: int, jitter: int = 0) -> Image.Image:
    return Image.open(io.BytesIO(draw_scalp_photo(density, view, seed, SIZE, jitter=jitter)))


def moved(image: Image.Image) -> Image.Image:
    """The same scalp taken a third of the frame to the side and turned by 30°."""
    turned = image.rotate(30, resample=Image.Resampling.BICUBIC, translate=(image.width // 3, 0))
    return turned


def single_checks() -> None:
    should: Counter[str] = Counter()
    true_alarms: Counter[str] = Counter()
    false_alarms: Counter[str] = Counter()
    total = 0
    started = time.perf_counter()
    for sample in samples():
        total += 1
        fired = {problem.check for problem in check_quality(sample.image).problems}
        for check in CHECKS:
            if check in sample.spoiling.expected:
                should[check] += 1
                true_alarms[check] += check in fired
            else:
                false_alarms[check] += check in fired
    seconds = (time.perf_counter() - started) / total
    print(f"capture checks on {total} photos ({seconds * 1000:.0f} ms per photo, making it included):")
    for check in CHECKS:
        print(f"  {check:7s} true alarms {true_alarms[check]}/{should[check]}, "
              f"false alarms {false_alarms[check]}/{total - should[check]}")


def framing_checks() -> None:
    alike = fired_alike = unlike = fired_unlike = 0
    started = time.perf_counter()
    for seed in (1, 2, 3):
        for view in ("frontal", "vertex", "occipital", "closeup"):
            before = photo(120, view, seed, jitter=0)
            later = photo(130, view, seed, jitter=1)
            alike += 1
            fired_alike += "framing" in {p.check for p in check_quality(later, before).problems}
            others = (photo(130, "left_temporal" if view != "left_temporal" else "vertex", seed, jitter=1),
                      photo(130, view, seed + 10, jitter=1), moved(later))
            for other in others:
                unlike += 1
                fired_unlike += "framing" in {p.check for p in check_quality(other, before).problems}
    seconds = (time.perf_counter() - started) / (alike + unlike)
    print(f"framing check on {alike + unlike} pairs ({seconds * 1000:.0f} ms per pair):")
    print(f"  framing true alarms {fired_unlike}/{unlike} (another view or patient, or moved a third and turned "
          f"30°), false alarms {fired_alike}/{alike} (the same view at the next visit)")


if __name__ == "__main__":
    single_checks()
    framing_checks()
