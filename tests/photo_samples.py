"""Fictional photos for the photo tests, made with Pillow (and pillow_heif) on the fly.

The "scene" is four coloured quadrants, so that orientation can be checked on pixel content: whatever the
stored orientation, an upright result has red top-left, green top-right, blue bottom-left and yellow
bottom-right.
"""

from __future__ import annotations

import io
import struct
import zlib

import pillow_heif
from PIL import Image, ImageCms

pillow_heif.register_heif_opener()

RED, GREEN, BLUE, YELLOW = (220, 30, 30), (30, 200, 30), (30, 30, 220), (230, 220, 30)
QUADRANTS = {"top_left": RED, "top_right": GREEN, "bottom_left": BLUE, "bottom_right": YELLOW}

# exif_transpose turns a stored image upright with these; the sample stores the inverse.
_TO_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_INVERSE = {
    Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
}


def scene(size: tuple[int, int] = (300, 200), mode: str = "RGB") -> Image.Image:
    """The upright four-quadrant picture."""
    width, height = size
    image = Image.new("RGB", size)
    image.paste(RED, (0, 0, width // 2, height // 2))
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    image.paste(YELLOW, (width // 2, height // 2, width, height))
    return image.convert(mode) if mode != "RGB" else image


def stored_for(orientation: int, upright: Image.Image) -> Image.Image:
    """What a camera stores so that EXIF ``orientation`` makes ``upright`` appear."""
    method = _TO_UPRIGHT.get(orientation)
    if method is None:
        return upright.copy()
    return upright.transpose(_INVERSE.get(method, method))


def _rgb(pixel: object) -> tuple[int, ...]:
    if not isinstance(pixel, tuple):  # an RGB image's pixel is a tuple
        raise TypeError(f"expected an RGB pixel, got {pixel!r}")
    return tuple(int(channel) for channel in pixel)


def quadrant_colours(data: bytes) -> dict[str, tuple[int, ...]]:
    """The colour at the centre of each quadrant of a (decoded) image."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = image.size
    points = {
        "top_left": (width // 4, height // 4),
        "top_right": (3 * width // 4, height // 4),
        "bottom_left": (width // 4, 3 * height // 4),
        "bottom_right": (3 * width // 4, 3 * height // 4),
    }
    return {name: _rgb(image.getpixel(point)) for name, point in points.items()}


def close(colour: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=False))


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_block(
    *,
    orientation: int | None = None,
    taken: str | None = None,
    offset: str | None = None,
    gps: bool = False,
) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "FictionalCam"  # Make
    exif[0xA431] = "SERIAL-0042"  # BodySerialNumber (identifying: must not reach the display copy)
    if orientation is not None:
        exif[0x0112] = orientation
    if taken is not None:
        details = exif.get_ifd(0x8769)
        details[0x9003] = taken
        if offset is not None:
            details[0x9011] = offset
    if gps:
        location = exif.get_ifd(0x8825)
        location[1] = "N"
        location[2] = (52.0, 22.0, 7.5)
        location[3] = "E"
        location[4] = (4.0, 53.0, 41.0)
    return exif


def jpeg(image: Image.Image | None = None, **save_options: object) -> bytes:
    buffer = io.BytesIO()
    (image or scene()).save(buffer, "JPEG", quality=92, **save_options)
    return buffer.getvalue()


def encoded(image: Image.Image, format: str, **save_options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **save_options)
    return buffer.getvalue()


def heic(image: Image.Image | None = None, **save_options: object) -> bytes:
    return encoded(image or scene(), "HEIF", quality=90, **save_options)


def raw_png(width: int, height: int, *, bit_depth: int = 8, colour_type: int = 2, rows: bytes | None = None) -> bytes:
    """A PNG written by hand: for headers Pillow would not write (16-bit RGB, 0×0, gigantic sizes).

    ``rows`` is the uncompressed scanline data; when None, a tiny IDAT is written regardless of the
    declared size, which is how a decompression bomb's header can be made without its pixels.
    """

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    data = zlib.compress(rows if rows is not None else b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body and the CRC of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_chunks(image: Image.Image, *chunks: bytes) -> bytes:
    """``image`` as a PNG with ``chunks`` (from ``png_chunk``) placed right after the header, before the pixels."""
    data = encoded(image, "PNG")
    after_header = 8 + 12 + 13  # signature, then the IHDR chunk
    return data[:after_header] + b"".join(chunks) + data[after_header:]


def xmp_itxt(size: int) -> bytes:
    """A compressed iTXt chunk of XMP that unpacks to ``size`` bytes (edit history padding, as editors write)."""
    packet = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description/></rdf:RDF></x:xmpmeta>'
    text = packet + b" " * (size - len(packet))
    return png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\x01\x00\0\0" + zlib.compress(text, 9))


def ztxt(keyword: bytes, text: bytes) -> bytes:
    return png_chunk(b"zTXt", keyword + b"\0\x00" + zlib.compress(text, 9))


def iccp(profile: bytes) -> bytes:
    return png_chunk(b"iCCP", b"ICC profile\0\x00" + zlib.compress(profile, 9))


def png_rgb16(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (50000, 20000, 5000)) -> bytes:
    """A 16-bit-per-channel RGB PNG filled with ``colour`` (0–65535 per channel)."""
    row = b"\x00" + struct.pack(">HHH", *colour) * width
    return raw_png(width, height, bit_depth=16, colour_type=2, rows=row * height)


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


def svg() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<circle cx="50" cy="50" r="40" fill="red"/></svg>\n'
    )


def noise_photo(size: tuple[int, int] = (4032, 3024)) -> bytes:
    """A camera-like JPEG: smooth gradients plus sensor-like noise, so that it compresses like a real
    12-megapixel phone photo (about 4 MB at quality 92) rather than like a flat test card."""
    base = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            Image.radial_gradient("L").resize(size),
            Image.linear_gradient("L").rotate(90).resize(size),
        ),
    )
    noise = Image.merge("RGB", tuple(Image.effect_noise(size, 30) for _ in range(3)))
    return jpeg(Image.blend(base, noise, 0.3), exif=exif_block(orientation=1, taken="2025:03:04 10:11:12"))
