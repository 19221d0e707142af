"""Sharp and spoilt scalp photos for calibrating and testing the capture checks (``tracker.photos.quality``).

Each sample is a demo photo (``tracker.operations.demo_photos.draw_scalp_photo``) spoilt the way real
photos are: a Gaussian blur (out of focus), a motion blur (a shaking hand), under- and over-exposure, a small
size; then the camera's own sensor noise and JPEG compression are added, as they come after the lens. Each
sample says which checks should fire on it (``expected``); mild spoiling (a slight blur, a third of a stop)
is in the set as photos that should pass, so a check that fires too easily shows up as false alarms.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from tracker.operations.demo_photos import draw_scalp_photo

VIEWS = ("frontal", "vertex", "left_temporal", "occipital", "closeup")
DENSITIES = (30, 80, 150, 250)
SIZE = (960, 720)
# Sensor noise added after the spoiling, in grey levels (a phone in a clinic's light: about 2–3).
SENSOR_NOISE = 2.5


@dataclass(frozen=True)
class Spoiling:
    """How a sample is spoilt: ``blur`` (Gaussian sigma, px), ``motion`` (length of a horizontal motion blur, px),
    ``gain`` (exposure factor: 0.25 is two stops under), ``size`` (resized to this (width, height)), and the
    checks that should fire on it."""

    name: str
    expected: frozenset[str]
    blur: float = 0.0
    motion: int = 0
    gain: float = 1.0
    size: tuple[int, int] | None = None


SPOILINGS = (
    Spoiling("sharp", frozenset()),
    Spoiling("slight blur (sigma 0.6)", frozenset(), blur=0.6),
    Spoiling("a third of a stop under", frozenset(), gain=0.8),
    Spoiling("a third of a stop over", frozenset(), gain=1.25),
    Spoiling("640×480", frozenset(), size=(640, 480)),
    Spoiling("Gaussian blur sigma 2", frozenset({"focus"}), blur=2.0),
    Spoiling("Gaussian blur sigma 4", frozenset({"focus"}), blur=4.0),
    Spoiling("motion blur 15 px", frozenset({"focus"}), motion=15),
    Spoiling("motion blur 30 px", frozenset({"focus"}), motion=30),
    Spoiling("two stops under", frozenset({"dark"}), gain=0.25),
    Spoiling("three stops under", frozenset({"dark"}), gain=0.125),
    Spoiling("1.3 stops over", frozenset({"bright"}), gain=2.5),
    Spoiling("two stops over", frozenset({"bright"}), gain=4.0),
    Spoiling("480×360", frozenset({"small"}), size=(480, 360)),
    Spoiling("320×240", frozenset({"small"}), size=(320, 240)),
)


@dataclass(frozen=True)
class Sample:
    view: str
    density: float
    seed: int
    spoiling: Spoiling
    jpeg: bytes

    @property
    def image(self) -> Image.Image:
        return Image.open(io.BytesIO(self.jpeg))


def spoil(photo: Image.Image, spoiling: Spoiling, seed: int) -> bytes:
    """``photo`` spoilt as ``spoiling`` says, with sensor noise and JPEG compression added last."""
    pixels: np.ndarray = np.asarray(photo.convert("RGB"), dtype=np.float32)
    if spoiling.blur:
        pixels = cv2.GaussianBlur(pixels, (0, 0), spoiling.blur)
    if spoiling.motion:
        kernel = np.full((1, spoiling.motion), 1.0 / spoiling.motion, dtype=np.float32)
        pixels = cv2.filter2D(pixels, -1, kernel)
    pixels = pixels * spoiling.gain
    if spoiling.size:
        pixels = cv2.resize(pixels, spoiling.size, interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(seed).normal(0.0, SENSOR_NOISE, pixels.shape).astype(np.float32)
    out = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    out.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def samples(seeds: tuple[int, ...] = (1, 2)) -> Iterator[Sample]:
    """Every view × density × seed × spoiling (5 × 4 × 2 × 15 = 600 photos by default)."""
    for seed in seeds:
        for view in VIEWS:
            for density in DENSITIES:
                photo = Image.open(io.BytesIO(draw_scalp_photo(density, view, seed, SIZE)))
                for number, spoiling in enumerate(SPOILINGS):
                    yield Sample(view, density, seed, spoiling, spoil(photo, spoiling, seed * 1000 + number))
