"""Fictional trichoscopy close-ups with a known number of hairs of known widths, to measure the assisted count.

A close-up shows a few mm² of a clipped target area (hair trimmed to 1–2 mm, as for a phototrichogram) seen
straight down through a dermoscope: skin with a little mottling and uneven light, each follicular unit's opening
as a brownish pit (the peripilar halo trichoscopy shows around an emerging hair), and 1–4 hair shafts growing out
of it, diverging a little, lying roughly the same way as their neighbours. Terminal hairs are wide and fully
pigmented; vellus hairs are thin and paler. Units rooted just outside the frame send their shafts in across the
edge: they do not count, as in a trichoscopic density count.

Everything is drawn with sub-pixel accuracy (each shaft's coverage of a pixel from its distance to the shaft's
centre line), so a 20 µm hair at 7.8 µm per pixel is 2.6 pixels wide, as a camera would see it.

>>> closeup = draw_closeup(150, seed=3)
>>> closeup.image.size, closeup.field_mm, closeup.count
((1280, 960), (10.0, 7.5), 112)
>>> round(closeup.count / (10.0 * 7.5 / 100))  # hairs/cm²: the count over the field's area
149
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

FloatImage = NDArray[np.float32]
RGB = tuple[float, float, float]

# Skin and hair colours (0–1) from fair to deep skin; the peripilar halo is the skin darkened towards brown.
TONES: tuple[tuple[RGB, RGB], ...] = (
    ((0.90, 0.74, 0.66), (0.16, 0.11, 0.09)),
    ((0.84, 0.68, 0.56), (0.12, 0.09, 0.07)),
    ((0.74, 0.56, 0.43), (0.09, 0.07, 0.06)),
    ((0.60, 0.43, 0.31), (0.06, 0.05, 0.04)),
)
HALO_DARKENING = 0.22  # share of the way from skin to hair colour at the centre of an opening's halo
VELLUS_PIGMENT = 0.55  # a vellus hair's darkness relative to a terminal hair's: they are hypopigmented
# Shaft widths (µm). Terminal hairs are > 40 µm (DESIGN.md §2); the drawn ranges keep 5 µm either side of it.
TERMINAL_UM = (50.0, 100.0)
VELLUS_UM = (15.0, 35.0)
# Hairs per follicular unit at a healthy scalp (mostly 2, some 1 and 3, few 4); thinning scalps have more 1s.
UNIT_SIZES = (1, 2, 3, 4)
UNIT_WEIGHTS = (0.35, 0.4, 0.2, 0.05)
SHAFT_MM = (0.5, 1.3)  # visible length of a clipped shaft (trimmed a few days before)


@dataclass(frozen=True)
class Shaft:
    """One hair as it lies on the skin: leaving its opening at ``angle_deg`` (0 = right, 90 = down), ``length_mm``
    long, ``width_um`` wide, bending by ``bend_deg`` over its length."""

    angle_deg: float
    length_mm: float
    width_um: float
    bend_deg: float = 0.0


@dataclass(frozen=True)
class FollicularUnit:
    """An opening at (``x_mm``, ``y_mm``) from the frame's top-left corner (outside the frame when negative or
    beyond the field) and the hairs growing out of it."""

    x_mm: float
    y_mm: float
    shafts: tuple[Shaft, ...]


@dataclass(frozen=True)
class TrueHair:
    """A hair that counts: where it emerges (pixels, x right, y down) and its shaft width (µm)."""

    x: float
    y: float
    width_um: float

    @property
    def terminal(self) -> bool:
        return self.width_um > 40.0


@dataclass(frozen=True)
class Closeup:
    """A drawn close-up: the upright RGB ``image`` covering ``field_mm`` (width, height), the ``hairs`` that count
    (emerging inside the frame), and ``crossing``, the shafts entering from units outside the frame."""

    image: Image.Image
    field_mm: tuple[float, float]
    hairs: tuple[TrueHair, ...]
    crossing: int

    @property
    def count(self) -> int:
        return len(self.hairs)

    @property
    def density_per_cm2(self) -> float:
        return self.count / (self.field_mm[0] * self.field_mm[1] / 100)


def draw_closeup(
    density_per_cm2: float,
    *,
    field_mm: tuple[float, float] = (10.0, 7.5),
    size_px: tuple[int, int] = (1280, 960),
    seed: int = 0,
    vellus_share: float | None = None,
) -> Closeup:
    """A close-up of a scalp at ``density_per_cm2`` hairs/cm² (the hairs emerging inside the frame are that
    density × the field's area, rounded), over a field of ``field_mm`` (width, height) drawn at ``size_px``.

    ``vellus_share``: the share of thin pale hairs; by default more where the density is low (miniaturisation):
    40% at 80 hairs/cm², 15% at 250.
    """
    rng = random.Random(seed)
    if vellus_share is None:
        vellus_share = min(0.45, max(0.1, 0.4 - (density_per_cm2 - 80) / 170 * 0.25))
    wanted = round(density_per_cm2 * field_mm[0] * field_mm[1] / 100)
    flow = rng.uniform(0, 360)  # hair lies roughly one way across a few mm
    units: list[FollicularUnit] = []
    placed = 0
    while placed < wanted:
        size = min(rng.choices(UNIT_SIZES, UNIT_WEIGHTS)[0], wanted - placed)
        x, y = _spaced_point(rng, units, field_mm, inside=True)
        units.append(_unit(rng, x, y, size, flow, vellus_share))
        placed += size
    # Units rooted in a band around the frame, as dense as inside: their shafts may cross in.
    margin = SHAFT_MM[1]
    band = (field_mm[0] + 2 * margin) * (field_mm[1] + 2 * margin) - field_mm[0] * field_mm[1]
    outside_hairs = round(density_per_cm2 * band / 100)
    placed = 0
    while placed < outside_hairs:
        size = rng.choices(UNIT_SIZES, UNIT_WEIGHTS)[0]
        x, y = _spaced_point(rng, units, field_mm, inside=False)
        units.append(_unit(rng, x, y, size, flow, vellus_share))
        placed += size
    return draw_units(units, field_mm=field_mm, size_px=size_px, seed=seed)


def draw_units(
    units: Sequence[FollicularUnit],
    *,
    field_mm: tuple[float, float] = (10.0, 7.5),
    size_px: tuple[int, int] = (1280, 960),
    seed: int = 0,
    tone: int | None = None,
) -> Closeup:
    """Draw the given follicular units over skin (``tone``: an index into ``TONES``, by default chosen by
    ``seed``); the truth lists every hair of a unit whose opening is inside the frame."""
    rng = random.Random(seed)
    skin, hair = TONES[rng.randrange(len(TONES)) if tone is None else tone]
    width, height = size_px
    px_per_mm = width / field_mm[0]
    # How much each pixel is covered by a pigmented shaft (0–1) and by a halo, drawn in unit order.
    darkness = np.zeros((height, width), np.float32)
    halo = np.zeros((height, width), np.float32)
    hairs: list[TrueHair] = []
    crossing = 0
    for unit in units:
        cx, cy = unit.x_mm * px_per_mm, unit.y_mm * px_per_mm
        inside = 0 <= cx < width and 0 <= cy < height
        widest = max(shaft.width_um for shaft in unit.shafts) / 1000 * px_per_mm
        _paint_disc(halo, cx, cy, widest * 0.9 + 0.06 * px_per_mm)
        for shaft in unit.shafts:
            line = _centre_line(cx, cy, shaft, px_per_mm)
            pigment = 1.0 if shaft.width_um > 40 else VELLUS_PIGMENT
            drawn = _paint_line(darkness, line, shaft.width_um / 1000 * px_per_mm, pigment)
            if inside:
                hairs.append(TrueHair(cx, cy, shaft.width_um))
            elif drawn:
                crossing += 1
    image = _compose(darkness, halo, skin, hair, rng)
    return Closeup(image, field_mm, tuple(hairs), crossing)


def _spaced_point(rng: random.Random, units: Sequence[FollicularUnit], field_mm: tuple[float, float],
                  *, inside: bool) -> tuple[float, float]:
    """A random opening at least 0.25 mm from the others (two openings do not overlap); after 50 tries,
    wherever the last one fell."""
    margin = SHAFT_MM[1]
    x = y = 0.0
    for _ in range(50):
        if inside:
            x, y = rng.uniform(0, field_mm[0]), rng.uniform(0, field_mm[1])
        else:
            while True:
                x = rng.uniform(-margin, field_mm[0] + margin)
                y = rng.uniform(-margin, field_mm[1] + margin)
                if not (0 <= x < field_mm[0] and 0 <= y < field_mm[1]):
                    break
        if all(math.hypot(x - u.x_mm, y - u.y_mm) >= 0.25 for u in units[-400:]):
            break
    return x, y


def _unit(rng: random.Random, x: float, y: float, size: int, flow: float, vellus_share: float) -> FollicularUnit:
    """A unit of ``size`` hairs lying near the ``flow`` direction, fanning out by 8–20° from each other (so that
    a reader sees each one)."""
    direction = flow + rng.gauss(0, 15)
    spread = rng.uniform(8, 20)
    shafts = []
    for index in range(size):
        offset = (index - (size - 1) / 2) * spread + rng.gauss(0, 3)
        vellus = rng.random() < vellus_share
        width = rng.uniform(*(VELLUS_UM if vellus else TERMINAL_UM))
        length = rng.uniform(*SHAFT_MM) * (0.7 if vellus else 1.0)
        shafts.append(Shaft(direction + offset, length, width, rng.uniform(-20, 20)))
    return FollicularUnit(x, y, tuple(shafts))


def _centre_line(x: float, y: float, shaft: Shaft, px_per_mm: float) -> NDArray[np.float64]:
    """The shaft's centre line as 12 points (pixels) from the opening outwards, bending evenly."""
    steps = 12
    length = shaft.length_mm * px_per_mm / steps
    points = [(x, y)]
    for step in range(steps):
        angle = math.radians(shaft.angle_deg + shaft.bend_deg * (step + 0.5) / steps)
        x, y = x + length * math.cos(angle), y + length * math.sin(angle)
        points.append((x, y))
    return np.array(points)


def _paint_line(canvas: FloatImage, line: NDArray[np.float64], width: float, pigment: float) -> bool:
    """Cover the pixels within ``width``/2 of the polyline (anti-aliased by distance), one segment at a time
    (the maximum of the segments' coverages is the polyline's); whether any pixel of the canvas was touched."""
    height, full_width = canvas.shape
    pad = width / 2 + 2
    drawn = max(width, 1.0)  # a shaft under one pixel wide darkens its pixels in proportion
    touched = False
    for (ax, ay), (bx, by) in zip(line[:-1], line[1:], strict=True):
        x0, y0 = max(0, int(min(ax, bx) - pad)), max(0, int(min(ay, by) - pad))
        x1, y1 = min(full_width, int(max(ax, bx) + pad) + 1), min(height, int(max(ay, by) + pad) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dx, dy = bx - ax, by - ay
        t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / (dx * dx + dy * dy), 0, 1)
        distance = np.hypot(xs - ax - t * dx, ys - ay - t * dy)
        coverage = np.clip(drawn / 2 + 0.5 - distance, 0, 1) * (width / drawn * pigment)
        area = canvas[y0:y1, x0:x1]
        np.maximum(area, coverage.astype(np.float32), out=area)
        touched = touched or bool(coverage.max() > 0)
    return touched


def _paint_disc(canvas: FloatImage, x: float, y: float, radius: float) -> None:
    """A soft round halo: darkest at the centre, fading to nothing at ``radius``."""
    height, width = canvas.shape
    x0, y0 = max(0, int(x - radius - 1)), max(0, int(y - radius - 1))
    x1, y1 = min(width, int(x + radius + 2)), min(height, int(y + radius + 2))
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    strength = np.clip(1 - np.hypot(xs - x, ys - y) / radius, 0, 1) ** 0.5
    area = canvas[y0:y1, x0:x1]
    np.maximum(area, strength, out=area)


def _compose(darkness: FloatImage, halo: FloatImage, skin: RGB, hair: RGB, rng: random.Random) -> Image.Image:
    """Skin with soft mottling and a lens's uneven light, halos, then shafts; a little blur and sensor noise."""
    height, width = darkness.shape
    noise = np.random.default_rng(rng.randrange(2**32))
    # Mottling about 0.3 mm across: noise drawn on a coarse grid and enlarged smoothly.
    coarse = noise.normal(0, 1, (height // 24 + 2, width // 24 + 2)).astype(np.float32)
    mottle = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    mottle = mottle * np.float32(0.03 / max(float(mottle.std()), 1e-6))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 1.0 - 0.48 * (((xs - width / 2) / width) ** 2 + ((ys - height / 2) / height) ** 2)
    channels = []
    for skin_value, hair_value in zip(skin, hair, strict=True):
        value = skin_value * (1 + mottle)
        value += (hair_value - value) * HALO_DARKENING * halo
        value += (hair_value - value) * darkness
        channels.append(value * light)
    rgb = cv2.GaussianBlur(np.stack(channels, axis=-1), (0, 0), 0.6)  # the dermoscope's optics
    grain = noise.normal(0, 0.012, rgb.shape)
    return Image.fromarray((np.clip(rgb + grain, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")
