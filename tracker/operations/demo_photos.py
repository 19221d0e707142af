"""Fictional scalp photos for the demo clinic, drawn so that the hair you see follows the recorded density.

Nothing here is a real patient. Each picture is a stylised clinical photo of one standard view
(``tracker.course.clinical.SCALP_VIEWS``): skin-toned scalp under soft clinic lighting, with hair strands drawn
as short curved lines whose number is proportional to the density in hairs/cm², and which grow a little
longer and thicker, and less often miniaturised, as density rises (terminal hairs replacing vellus ones).

Framing follows a clinic's photo protocol (same parting, distance and lighting at every visit): for one
``seed`` (one patient) and view the layout is fixed, and the strands drawn at a higher density are a
superset of those drawn at a lower one, so a before/after pair differs in the hair and not in the framing.
``jitter`` (one per visit) varies what really changes between two visits: a few pixels of framing, the
exact lie of each strand, the exposure.

>>> jpeg = draw_scalp_photo(150, "vertex", seed=7)
>>> jpeg[:3] == b"\\xff\\xd8\\xff"
True
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from tracker.course.clinical import SCALP_VIEWS

RGB = tuple[int, int, int]

# Skin tones from fair to deep, each with hair colours plausible for it. Hair is always darker than the
# skin, so that "more hair" always means "more dark pixels".
SKIN_TONES: tuple[tuple[RGB, tuple[RGB, ...]], ...] = (
    ((234, 198, 178), ((40, 29, 24), (74, 52, 37), (106, 78, 54), (92, 88, 86))),
    ((224, 184, 154), ((32, 24, 20), (64, 44, 32), (94, 68, 46))),
    ((204, 158, 122), ((26, 20, 17), (50, 36, 27), (72, 52, 38))),
    ((172, 124, 90), ((20, 16, 14), (40, 30, 23))),
    ((132, 92, 66), ((15, 12, 10), (28, 21, 17))),
)
BACKDROP: RGB = (56, 64, 72)  # the clinic's blue-grey photo backdrop
SUPERSAMPLE = 2  # hair is drawn at twice the size and reduced: anti-aliased strands for little cost

Field = Callable[[float, float], float]


@dataclass(frozen=True)
class Look:
    """How one view is framed; coordinates run 0…1 across and down the frame.

    ``density``: share of the recorded density growing at a point (0 = bare skin, forehead, backdrop).
    ``direction``: the angle (radians, image coordinates, 0 = right, π/2 = down) the hair lies at.
    ``reach``: length multiplier at a point (longer hair at the edge of a crown, say).
    ``strands_per_density``: strands drawn over the whole frame per hair/cm² (a stylised count).
    ``length``: a typical terminal strand's length in frame widths.
    ``light``: where the clinic's light is brightest, and ``sheen`` how shiny the bare scalp is there.
    """

    density: Field
    direction: Field
    reach: Field
    strands_per_density: float
    length: float
    light: tuple[float, float]
    sheen: float


def _smooth(edge0: float, edge1: float, x: float) -> float:
    """0 before ``edge0``, 1 after ``edge1``, a smooth S-curve between (either order of edges)."""
    t = min(1.0, max(0.0, (x - edge0) / (edge1 - edge0)))
    return t * t * (3 - 2 * t)


def _locks(layout: random.Random, amplitude: float) -> Field:
    """A slowly varying angle offset, so that neighbouring hairs lie together in locks."""
    (k1, l1, p1, a1), (k2, l2, p2, a2), (k3, l3, p3, a3) = (
        (layout.uniform(3, 9), layout.uniform(3, 9), layout.uniform(0, 2 * math.pi), amplitude * layout.uniform(0.5, 1))
        for _ in range(3)
    )
    sin = math.sin
    return lambda x, y: a1 * sin(k1 * x + l1 * y + p1) + a2 * sin(k2 * x + l2 * y + p2) + a3 * sin(k3 * x + l3 * y + p3)


def _look(view: str, layout: random.Random) -> Look:
    """One view's framing, with a few choices (whorl, hairline shape…) fixed by the layout seed."""
    locks = _locks(layout, 0.35)  # drawn first, then the view's own choices: the same seed, the same photo
    if view == "vertex":
        return _vertex_look(layout, locks)
    if view == "frontal":
        return _frontal_look(layout, locks)
    if view in ("left_temporal", "right_temporal"):
        return _temporal_look(layout, locks, mirror=view == "right_temporal")
    if view == "occipital":
        return _occipital_look(layout, locks)
    raise ValueError(f"no framing for view {view!r}")


def _everywhere(x: float, y: float) -> float:
    """Full reach at every point of the frame."""
    return 1.0


def _vertex_look(layout: random.Random, locks: Field) -> Look:
    # The crown from above: a whorl a little off centre, thinnest in the middle, longer hair at the rim.
    wx, wy = 0.5 + layout.uniform(-0.06, 0.06), 0.48 + layout.uniform(-0.05, 0.05)
    spin = layout.choice((-1, 1))

    def rim(x: float, y: float) -> float:
        return math.hypot((x - 0.5) / 0.56, (y - 0.5) / 0.62)

    return Look(
        density=lambda x, y: 0.0 if rim(x, y) > 0.98 else 0.55 + 0.45 * _smooth(0.25, 0.85, rim(x, y)),
        direction=lambda x, y: (
            math.atan2(y - wy, x - wx) + spin * (1.25 - 0.5 * _smooth(0, 0.5, math.hypot(x - wx, y - wy)))
            + locks(x, y)
        ),
        reach=lambda x, y: 1 + 0.9 * _smooth(0.45, 1.0, rim(x, y)),
        strands_per_density=15, length=0.075, light=(0.47, 0.4), sheen=0.55,
    )


def _frontal_look(layout: random.Random, locks: Field) -> Look:
    # Hair combed back from a hairline across the upper half, with temple recessions; forehead below.
    line_y = 0.7 + layout.uniform(-0.04, 0.04)
    recession = layout.uniform(0.08, 0.2)
    wave = [layout.uniform(-0.012, 0.012) for _ in range(4)]

    def edge(x: float) -> float:
        bump = sum(a * math.sin((i + 2) * math.pi * x + i) for i, a in enumerate(wave))
        temples = recession * (math.exp(-((x - 0.18) / 0.12) ** 2) + math.exp(-((x - 0.82) / 0.12) ** 2))
        return line_y - temples + bump

    edges = [edge(i / 256) for i in range(257)]  # looked up per strand: thousands of strands

    def frontal_density(x: float, y: float) -> float:
        line = edges[int(x * 256)]
        return _smooth(line + 0.01, line - 0.12, y)

    def frontal_reach(x: float, y: float) -> float:
        line = edges[int(x * 256)]
        return 0.6 + 0.4 * _smooth(line, line - 0.2, y)

    return Look(
        density=frontal_density,
        direction=lambda x, y: -math.pi / 2 + (x - 0.5) * 0.8 + 0.6 * locks(x, y),
        reach=frontal_reach,
        strands_per_density=16, length=0.08, light=(0.5, 0.62), sheen=0.35,
    )


def _temporal_look(layout: random.Random, locks: Field, *, mirror: bool) -> Look:
    # The side of the head (face to the left in the left view): hair combed back and down, bare
    # temple in front of a receding edge; the right view is the mirror image.
    front_x = 0.24 + layout.uniform(-0.03, 0.03)

    def temporal_density(x: float, y: float) -> float:
        x = 1 - x if mirror else x
        edge = front_x + 0.08 * (1 - y) ** 2 + 0.05 * math.exp(-((y - 0.2) / 0.12) ** 2)
        return _smooth(edge - 0.01, edge + 0.12, x)

    def temporal_direction(x: float, y: float) -> float:
        angle = 0.3 + 0.55 * y + 0.6 * locks(x, y)
        return math.pi - angle if mirror else angle

    return Look(
        density=temporal_density, direction=temporal_direction, reach=_everywhere,
        strands_per_density=14, length=0.085, light=(0.5, 0.4), sheen=0.3,
    )


def _occipital_look(layout: random.Random, locks: Field) -> Look:
    # The back of the head (the donor area): hair falling to a nape hairline near the bottom.
    nape = 0.86 + layout.uniform(-0.03, 0.03)

    def nape_line(x: float) -> float:
        return nape - 0.1 * math.cos((x - 0.5) * math.pi)

    return Look(
        density=lambda x, y: _smooth(nape_line(x) + 0.01, nape_line(x) - 0.08, y),
        direction=lambda x, y: math.pi / 2 + (x - 0.5) * 0.5 + 0.6 * locks(x, y),
        reach=_everywhere, strands_per_density=13, length=0.095, light=(0.5, 0.4), sheen=0.2,
    )


def _noise(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Uniform noise (L) from a seeded generator, so that the same seed gives the same photo."""
    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


@lru_cache(maxsize=4)
def _grain(size: tuple[int, int]) -> Image.Image:
    """Fine skin grain as a brightness factor (about 0.9–1), made once per size."""
    return _noise(size, random.Random(f"grain:{size}")).point(lambda v: 228 + v * 27 // 255)


def _luminance(size: tuple[int, int], light: tuple[float, float], radius: float, low: int,
               layout: random.Random) -> Image.Image:
    """Brightness (L, 255 = as lit) of skin under the clinic light: a soft spot falling to ``low`` at
    ``radius`` frame widths, low-frequency mottling and a fine grain.

    Everything that only darkens the photo is gathered in this one channel and applied to the colour
    image once, which keeps a photo within a few tens of milliseconds.
    """
    # Light and mottling vary slowly: made at a quarter of the size and enlarged.
    w, h = max(2, size[0] // 4), max(2, size[1] // 4)
    diameter = max(2, int(2 * radius * w))
    spot = ImageChops.invert(Image.radial_gradient("L").resize((diameter, diameter), Image.Resampling.BILINEAR))
    lit = Image.new("L", (w, h), 0)
    lit.paste(spot, (int(light[0] * w - diameter / 2), int(light[1] * h - diameter / 2)))
    lit = lit.point(lambda v: low + v * (255 - low) // 255)
    blotch = _noise((max(2, w // 12), max(2, h // 12)), layout).resize((w, h), Image.Resampling.BICUBIC)
    lit = ImageChops.multiply(lit, blotch.point(lambda v: 236 + v * 19 // 255))
    grain = ImageChops.offset(_grain(size), layout.randrange(64), layout.randrange(64))
    return ImageChops.multiply(lit.resize(size, Image.Resampling.BILINEAR), grain)


def _spot(size: tuple[int, int], centre: tuple[float, float], radius: float, strength: float) -> Image.Image:
    """A soft round mask (L), ``strength`` × 255 at ``centre`` fading to 0 at ``radius`` frame widths."""
    w, h = max(2, size[0] // 4), max(2, size[1] // 4)
    diameter = max(2, int(2 * radius * w))
    spot = ImageChops.invert(Image.radial_gradient("L").resize((diameter, diameter), Image.Resampling.BILINEAR))
    out = Image.new("L", (w, h), 0)
    out.paste(spot.point(lambda v: int(v * strength)),
              (int(centre[0] * w - diameter / 2), int(centre[1] * h - diameter / 2)))
    return out.resize(size, Image.Resampling.BILINEAR)


def _shadow(mask_large: Image.Image, size: tuple[int, int], offset: tuple[int, int], depth: float) -> Image.Image:
    """Brightness factor (L) of the soft shadow hair casts on the scalp, from the supersampled mask."""
    soft = mask_large.reduce(SUPERSAMPLE * 2).filter(ImageFilter.BoxBlur(1)).resize(size, Image.Resampling.BILINEAR)
    return ImageChops.offset(soft, *offset).point(lambda v: 255 - int(v * depth))


def _apply(image: Image.Image, luminance: Image.Image) -> Image.Image:
    return ImageChops.multiply(image, Image.merge("RGB", (luminance, luminance, luminance)))


def _scaled(colour: RGB, factor: float, add: int = 0) -> RGB:
    red, green, blue = (max(0, min(255, int(c * factor) + add)) for c in colour)
    return red, green, blue


def _vigour(density: float) -> float:
    """0 at 60 hairs/cm² (sparse, miniaturised) to 1 at 280 (a full head of terminal hair)."""
    return min(1.0, max(0.0, (density - 60) / 220))


def _draw_strands(mask: Image.Image, look: Look, density: float, shift: tuple[float, float],
                  layout: random.Random, jitter: random.Random) -> None:
    """Hair into an L mask (value = opacity). Candidates come in a fixed order from ``layout``."""
    w, h = mask.size
    draw = ImageDraw.Draw(mask)
    scale = w / (960 * SUPERSAMPLE)  # pixel sizes below are for a 960-wide photo
    vigour = _vigour(density)
    base_length = look.length * w * (0.8 + 0.4 * vigour)
    terminal_width = max(2, round(SUPERSAMPLE * scale * (1.4 + 1.2 * vigour)))
    vellus_width = max(1, round(SUPERSAMPLE * scale * 0.7))
    vellus_share = 0.4 - 0.3 * vigour  # miniaturised hairs give way to terminal ones as density rises
    rnd, jrnd = layout.random, jitter.random
    for _ in range(round(density * look.strands_per_density)):
        x, y, accept, kind, size_draw, bend, shade = rnd(), rnd(), rnd(), rnd(), rnd(), rnd() - 0.5, rnd()
        # The layout stream alone decides which strands exist (so that framing and hair placement stay
        # put from visit to visit); the jitter stream only nudges the ones that do.
        local = look.density(x, y)
        if accept >= local:
            continue
        jx, jy, ja = shift[0] + (jrnd() - 0.5) * 0.004, shift[1] + (jrnd() - 0.5) * 0.004, (jrnd() - 0.5) * 0.12
        vellus = kind < vellus_share + 0.5 * (1 - local)  # fine hairs where the hair thins out
        angle = look.direction(x, y) + bend * 0.35 + ja
        length = base_length * look.reach(x, y) * (0.3 + 0.2 * size_draw if vellus else 0.65 + 0.7 * size_draw)
        curl = bend * 0.22
        px, py = (x + jx) * w, (y + jy) * h
        points = [(px, py)]
        for _ in range(3):
            angle += curl
            px += math.cos(angle) * length / 3
            py += math.sin(angle) * length / 3
            points.append((px, py))
        if vellus:
            draw.line(points, fill=int(90 + 60 * shade), width=vellus_width)
        else:  # a terminal hair tapers: thicker at the root, fainter at the tip
            opacity = int(190 + 65 * shade)
            draw.line(points[2:], fill=opacity * 3 // 4, width=terminal_width - 1)
            draw.line(points[:3], fill=opacity, width=terminal_width)


def _closeup(size: tuple[int, int], density: float, tone: RGB, hair: RGB, layout: random.Random,
             jitter: random.Random) -> Image.Image:
    """Trichoscopy: a round magnified field of about 0.3 cm², follicular units of 1–3 hairs."""
    w, h = size
    W, H = w * SUPERSAMPLE, h * SUPERSAMPLE
    px_mm = W / 960 * 95  # ~95 px per millimetre on a 960-wide photo
    radius = 0.46 * min(W, H)
    field_cm2 = math.pi * (radius / px_mm / 10) ** 2
    cx, cy = W / 2, H / 2
    vigour = _vigour(density)
    mask, halo, sheen = (Image.new("L", (W, H), 0) for _ in range(3))
    draw, halo_draw, sheen_draw = ImageDraw.Draw(mask), ImageDraw.Draw(halo), ImageDraw.Draw(sheen)
    # Hairs rooted just outside the round field still cross it, so roots are spread over a wider square.
    spread = 1.25
    units = round(density * field_cm2 * (2 * spread) ** 2 / math.pi / 1.8)  # ~1.8 hairs per follicular unit
    for _ in range(units):
        x = cx + (layout.random() - 0.5) * 2 * spread * radius
        y = cy + (layout.random() - 0.5) * 2 * spread * radius
        count = 1 + (layout.random() < 0.55) + (layout.random() < 0.25)
        angle0, kind = layout.uniform(0, 2 * math.pi), layout.random()
        length_draw, bend = layout.random(), layout.random() - 0.5
        x, y = x + (jitter.random() - 0.5) * 4, y + (jitter.random() - 0.5) * 4
        thin = kind < 0.4 - 0.3 * vigour
        halo_draw.ellipse((x - 20, y - 20, x + 20, y + 20), fill=90)
        for k in range(count):
            width = (3 if thin else 7 + 3 * vigour) * SUPERSAMPLE * W / (960 * SUPERSAMPLE)
            length = (0.08 + 0.22 * length_draw + 0.08 * vigour) * W * (0.4 if thin else 1)
            angle = angle0 + (k - (count - 1) / 2) * 0.2 + (jitter.random() - 0.5) * 0.04
            points = [(x, y)]
            px, py = x, y
            for _ in range(8):
                angle += bend * 0.3
                px += math.cos(angle) * length / 8
                py += math.sin(angle) * length / 8
                points.append((px, py))
            draw.line(points[5:], fill=120 if thin else 220, width=max(1, round(width * 0.6)), joint="curve")
            draw.line(points[:6], fill=140 if thin else 250, width=round(width), joint="curve")
            if not thin:  # light catching the shaft, along one side
                nx, ny = -math.sin(angle) * width * 0.2, math.cos(angle) * width * 0.2
                sheen_draw.line([(a + nx, b + ny) for a, b in points[1:]], fill=120, width=max(1, round(width / 4)))
        draw.ellipse((x - 8, y - 8, x + 8, y + 8), fill=255)  # the follicular opening
    luminance = _luminance(size, (0.5 + (jitter.random() - 0.5) * 0.04, 0.46), 0.7, 150, layout)
    # Perifollicular halos (slightly browner skin round each opening) and the hairs' shadows darken the
    # skin; outside the dermatoscope's round field the picture is black.
    halo = halo.reduce(SUPERSAMPLE * 2).filter(ImageFilter.BoxBlur(3)).resize(size, Image.Resampling.BILINEAR)
    luminance = ImageChops.multiply(luminance, halo.point(lambda v: 255 - v // 4))
    luminance = ImageChops.multiply(luminance, _shadow(mask, size, (5, 6), 0.5))
    field = Image.new("L", size, 0)
    r = radius / SUPERSAMPLE
    ImageDraw.Draw(field).ellipse((w / 2 - r, h / 2 - r, w / 2 + r, h / 2 + r), fill=255)
    luminance = ImageChops.multiply(luminance, field.filter(ImageFilter.BoxBlur(3)))
    mask, sheen = mask.reduce(SUPERSAMPLE), sheen.reduce(SUPERSAMPLE)
    photo = Image.composite(Image.new("RGB", size, hair), Image.new("RGB", size, tone), mask)
    photo = Image.composite(Image.new("RGB", size, _scaled(hair, 1.0, 90)), photo, ImageChops.multiply(sheen, mask))
    photo = _apply(photo, luminance)
    # A 1 mm scale bar, as trichoscopy software prints one.
    ruler = ImageDraw.Draw(photo)
    mm = px_mm / SUPERSAMPLE
    x0, y0 = w / 2 - mm / 2, h / 2 + radius / SUPERSAMPLE * 0.85
    ruler.line([(x0, y0), (x0 + mm, y0)], fill=(240, 240, 240), width=3)
    ruler.text((x0 + mm + 8, y0 - 10), "1 mm", fill=(240, 240, 240), font=ImageFont.load_default(size=max(10, h // 40)))
    return photo


def draw_scalp_photo(density_per_cm2: float, view: str, seed: int, size: tuple[int, int] = (960, 720),
                     *, jitter: int = 0, captured_at: datetime | None = None) -> bytes:
    """A JPEG of ``view`` showing hair at ``density_per_cm2``.

    Parameters:
        density_per_cm2: recorded density in hairs/cm² (clamped to 0 … 600); the strand count is
            proportional to it.
        view: one of ``tracker.course.clinical.SCALP_VIEWS``.
        seed: one per patient: fixes skin tone, hair colour and each view's framing.
        size: (width, height) in pixels.
        jitter: one per visit: small changes of framing, strand lie and exposure between visits.
        captured_at: written to the EXIF capture time, as a camera would (with its UTC offset when
            the datetime is aware), so the photo store can read when the picture was taken.
    """
    if view not in SCALP_VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(SCALP_VIEWS)}")
    density = min(600.0, max(0.0, float(density_per_cm2)))
    w, h = size
    person = random.Random(f"patient:{seed}")
    tone, hairs = SKIN_TONES[person.randrange(len(SKIN_TONES))]
    hair = hairs[person.randrange(len(hairs))]
    layout = random.Random(f"layout:{seed}:{view}")
    jitter_rng = random.Random(f"visit:{seed}:{view}:{jitter}")
    tone = _scaled(tone, 1 + (jitter_rng.random() - 0.5) * 0.06)  # exposure varies a little per visit

    if view == "closeup":
        photo = _closeup(size, density, tone, hair, layout, jitter_rng)
    else:
        look = _look(view, layout)
        # The patient sits a few millimetres differently at each visit.
        shift = ((jitter_rng.random() - 0.5) * 0.008, (jitter_rng.random() - 0.5) * 0.008)
        light = (look.light[0] + shift[0], look.light[1] + shift[1])
        mask = Image.new("L", (w * SUPERSAMPLE, h * SUPERSAMPLE), 0)
        _draw_strands(mask, look, density, shift, layout, jitter_rng)
        luminance = ImageChops.multiply(_luminance(size, light, 0.75, 120, layout), _shadow(mask, size, (2, 3), 0.4))
        # A bare scalp shines under the clinic light.
        shine = _spot(size, light, 0.28, look.sheen)
        skin = Image.composite(Image.new("RGB", size, _scaled(tone, 1.08, 22)), Image.new("RGB", size, tone), shine)
        photo = _apply(Image.composite(Image.new("RGB", size, hair), skin, mask.reduce(SUPERSAMPLE)), luminance)
        if view == "vertex":  # the head's outline against the backdrop
            head = Image.new("L", size, 0)
            x0, y0 = w * shift[0], h * shift[1]
            ImageDraw.Draw(head).ellipse((x0 - w * 0.06, y0 - h * 0.12, x0 + w * 1.06, y0 + h * 1.12), fill=255)
            photo = Image.composite(photo, Image.new("RGB", size, BACKDROP), head.filter(ImageFilter.BoxBlur(2)))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=86, exif=_exif(captured_at))
    return out.getvalue()


def _exif(captured_at: datetime | None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0131] = "Regrowth Tracker demo (fictional photo)"  # Software
    if captured_at is not None:
        details = exif.get_ifd(0x8769)
        details[0x9003] = captured_at.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
        offset = captured_at.utcoffset()
        if offset is not None:
            minutes = int(offset.total_seconds() // 60)
            sign = "-" if minutes < 0 else "+"
            details[0x9011] = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"  # OffsetTimeOriginal
    return exif
