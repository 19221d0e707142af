"""Before/after pairs with a known alignment, made from the demo photo generator, for the alignment tests and
bench (tests/bench/bench_alignment.py).

One pair is one fictional patient's view at two visits: the AFTER photo shows more hair (its strands are a
superset of BEFORE's), was taken turned by up to ±10°, from 0.9–1.1× the distance, shifted by up to ±10% of the
frame, under different light (brighter or darker, light falling from one side, warmer or cooler) and saved as a
JPEG again. Both photos are cut from one larger rendering of the scene, so the AFTER photo has scalp where BEFORE's
frame ends, as a real later photo has, rather than black borders.

``truth`` maps AFTER's pixel coordinates onto BEFORE's (x right, y down, origin top-left): the convention of
``tracker.photos.alignment.Alignment.transform``.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from tracker.operations.demo_photos import draw_scalp_photo

# The scene is drawn this much larger than the photos cut from it: room for a 10% shift, 10% zoom-out and
# 10° turn without leaving the drawing.
MARGIN = 1.5
VIEWS = ("frontal", "vertex", "left_temporal", "right_temporal", "occipital")


@dataclass(frozen=True)
class KnownPair:
    """``before``/``after`` RGB photos of ``size``; ``truth`` the 3×3 matrix mapping AFTER onto BEFORE; the
    drawn ``rotation`` (degrees), ``scale`` and ``shift`` (fractions of width and height) for the report."""

    view: str
    before: Image.Image
    after: Image.Image
    truth: NDArray[np.float64]
    rotation: float
    scale: float
    shift: tuple[float, float]


def known_pair(view: str, seed: int, size: tuple[int, int], draw: int) -> KnownPair:
    """The pair of patient ``seed``'s ``view``, its framing and lighting change drawn from ``draw``."""
    chance = random.Random(f"alignment:{view}:{seed}:{draw}")
    rotation = chance.uniform(-10, 10)
    scale = chance.uniform(0.9, 1.1)
    shift = (chance.uniform(-0.1, 0.1), chance.uniform(-0.1, 0.1))
    width, height = size
    big = (round(width * MARGIN), round(height * MARGIN))
    left, top = (big[0] - width) / 2, (big[1] - height) / 2
    before = _decoded(draw_scalp_photo(110, view, seed, big)).crop(
        (round(left), round(top), round(left) + width, round(top) + height))
    # truth · p = c + s·R·(p − c) + t, with c the frame's centre and t the shift in pixels.
    turn = math.radians(rotation)
    cos, sin = scale * math.cos(turn), scale * math.sin(turn)
    cx, cy = width / 2, height / 2
    tx, ty = shift[0] * width, shift[1] * height
    truth = np.array([
        [cos, -sin, cx - cos * cx + sin * cy + tx],
        [sin, cos, cy - sin * cx - cos * cy + ty],
        [0.0, 0.0, 1.0],
    ])
    # AFTER's pixel p shows the larger scene's pixel truth·p + (left, top).
    in_scene = np.array([[1.0, 0.0, round(left)], [0.0, 1.0, round(top)], [0.0, 0.0, 1.0]]) @ truth
    scene = np.asarray(_decoded(draw_scalp_photo(140, view, seed, big)), dtype=np.uint8)
    after = np.asarray(cv2.warpAffine(scene, in_scene[:2], size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                      borderMode=cv2.BORDER_REFLECT), dtype=np.uint8)
    lit = _relit(after, chance)
    return KnownPair(view, before, _as_jpeg(lit), truth, rotation, scale, shift)


def corner_error(truth: NDArray[np.float64], found: NDArray[np.float64], size: tuple[int, int]) -> float:
    """The worst of AFTER's four corners' distance between where ``truth`` and ``found`` put them, as a
    fraction of the width."""
    width, height = size
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], dtype=np.float64).T
    expected, got = truth @ corners, found @ corners
    expected, got = expected[:2] / expected[2], got[:2] / got[2]
    return float(np.max(np.hypot(*(expected - got)))) / width


def _relit(pixels: NDArray[np.uint8], chance: random.Random) -> Image.Image:
    """Another exposure (×0.75–1.25), light from one side (±35% across the frame), another gamma and colour
    temperature."""
    height, width = pixels.shape[:2]
    angle = chance.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    across = ((xs - width / 2) * math.cos(angle) + (ys - height / 2) * math.sin(angle)) / width
    gain = chance.uniform(0.75, 1.25) * (1 + chance.uniform(-0.35, 0.35) * across)
    warmth = np.array([1 + chance.uniform(-0.08, 0.08), 1.0, 1 + chance.uniform(-0.08, 0.08)], np.float32)
    gamma = chance.uniform(0.8, 1.25)
    lit = 255 * ((pixels.astype(np.float32) / 255) ** gamma) * gain[..., None] * warmth
    return Image.fromarray(np.clip(lit, 0, 255).astype(np.uint8))


def _decoded(jpeg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(jpeg)).convert("RGB")


def _as_jpeg(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return _decoded(buffer.getvalue())
