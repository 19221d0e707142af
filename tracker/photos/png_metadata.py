"""A PNG's metadata kept within what Pillow agrees to read, so that large metadata never costs the photo.

Pillow refuses a whole PNG when one compressed metadata chunk unpacks past ``PngImagePlugin.MAX_TEXT_CHUNK``
(1 MiB: XMP in an ``iTXt``, a comment or ImageMagick's raw EXIF in a ``zTXt``, the colour profile in
``iCCP``), or when all text together passes ``MAX_TEXT_MEMORY`` (64 MiB); both guard against "zip bombs".
Photo-library and editing software do write XMP that large (edit history, embedded previews), and the
pixels of such a photo are sound. The display copy carries no metadata but the colour profile anyway, so
``readable_png`` hands Pillow a copy of the file without the chunks it would refuse; the original stays
byte for byte in the record.

What is read is bounded: each compressed chunk is unpacked at most to its limit (plus one byte to know it
is over), and once 64 MiB have been unpacked in all, further compressed text is set aside unread.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import PngImagePlugin

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A colour profile larger than Pillow's 1 MiB is still kept for the display copy up to this size. Matrix
# profiles (sRGB, Display P3) are 0.5–4 KB; profiles built by profiling software from measured colours
# carry lookup tables (33³ grid points × 3 channels × 2 bytes ≈ 215 KB each, up to six tables), so real
# RGB profiles stay under 2 MiB. Anything beyond 4 MiB is not a colour profile anyone made on purpose.
MAX_ICC_PROFILE = 4 * 1024 * 1024

_TEXT = (b"tEXt", b"zTXt", b"iTXt")


@dataclass(frozen=True)
class ReadablePng:
    """The bytes to give Pillow, what was set aside to make them readable, and the colour profile.

    ``set_aside`` describes each chunk left out (for the log: its type, keyword and why), empty when
    ``data`` is the upload itself. ``icc_profile`` is the unpacked profile of an ``iCCP`` chunk that was
    set aside only because it exceeds Pillow's limit (None otherwise): the display copy still uses it.
    """

    data: bytes = field(repr=False)
    set_aside: tuple[str, ...] = ()
    icc_profile: bytes | None = field(default=None, repr=False)


@dataclass
class _Reading:
    """What has been unpacked so far: bytes (toward the 64 MiB bound) and whether a profile was seen."""

    unpacked: int = 0
    profile_seen: bool = False
    profile: bytes | None = None
    set_aside: list[str] = field(default_factory=list)


def readable_png(data: bytes) -> ReadablePng:
    """``data`` without the metadata chunks Pillow would refuse it for; anything not a PNG is returned as is.

    The chunk structure is followed only as far as it is whole: a cut-off or damaged tail is passed on
    unchanged, so Pillow reports it exactly as before.

    >>> readable_png(b"not a png").data
    b'not a png'
    """
    if not data.startswith(SIGNATURE):
        return ReadablePng(data)
    reading = _Reading()
    kept = [data[: len(SIGNATURE)]]
    end = len(SIGNATURE)
    for kind, body, end in _chunks(data):
        reason = _why_set_aside(kind, body, reading)
        if reason is None:
            kept.append(data[end - len(body) - 12 : end])
        else:
            reading.set_aside.append(f"{kind.decode('latin-1')} {_keyword(body)}: {reason}".replace("  ", " "))
    if not reading.set_aside:
        return ReadablePng(data)
    kept.append(data[end:])
    return ReadablePng(b"".join(kept), tuple(reading.set_aside), reading.profile)


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes, int]]:
    """(type, body, end offset including the CRC) of each whole chunk, up to IEND or the first cut."""
    position = len(SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            return
        yield kind, data[position + 8 : end - 4], end
        if kind == b"IEND":
            return
        position = end


def _why_set_aside(kind: bytes, body: bytes, reading: _Reading) -> str | None:
    """Why this chunk is left out of the copy Pillow reads, or None to keep it."""
    if kind == b"iCCP":
        return _profile(body, reading)
    if kind not in _TEXT:
        return None
    budget = PngImagePlugin.MAX_TEXT_MEMORY
    method, payload = _text_payload(kind, body)
    if method is None:  # stored as it is: its size is its length
        size = len(payload)
    elif method != 0:
        return "compressed with an unknown method"
    elif reading.unpacked >= budget:
        return f"more than {_mib(budget)} of text in all (not unpacked)"
    else:
        unpacked = _unpacked_size(payload, PngImagePlugin.MAX_TEXT_CHUNK)
        if unpacked is None:
            return None  # not valid zlib data: Pillow reads it as empty text
        size = unpacked
    reading.unpacked += size
    if size > PngImagePlugin.MAX_TEXT_CHUNK:
        return f"unpacks past {_mib(PngImagePlugin.MAX_TEXT_CHUNK)}"
    if reading.unpacked > budget:
        return f"more than {_mib(budget)} of text in all"
    return None


def _text_payload(kind: bytes, body: bytes) -> tuple[int | None, bytes]:
    """(compression method, compressed text) of a zTXt/iTXt chunk, or (None, text) for text stored as is.

    Layouts: tEXt ``keyword 0 text``; zTXt ``keyword 0 method data``; iTXt ``keyword 0 compressed? method
    language 0 translated-keyword 0 text``.
    """
    _keyword_bytes, _, rest = body.partition(b"\0")
    if kind == b"tEXt":
        return None, rest
    if kind == b"zTXt":
        return (rest[0] if rest else 0), rest[1:]
    if len(rest) < 2:
        return None, b""
    compressed, method = rest[0], rest[1]
    parts = rest[2:].split(b"\0", 2)
    text = parts[2] if len(parts) == 3 else b""
    if compressed and method != 0:
        return None, b""  # Pillow skips iTXt in an unknown compression rather than refusing the photo
    return (method if compressed else None), text


def _profile(body: bytes, reading: _Reading) -> str | None:
    """Keep a profile Pillow reads itself; set a larger one aside (kept for the display up to MAX_ICC_PROFILE)."""
    if reading.profile_seen:
        return "a second colour profile (a PNG has at most one)"
    reading.profile_seen = True
    _name, _, rest = body.partition(b"\0")
    if rest[:1] != b"\0":
        return "colour profile compressed with an unknown method"
    compressed = rest[1:]
    size = _unpacked_size(compressed, MAX_ICC_PROFILE)
    if size is None or size <= PngImagePlugin.MAX_TEXT_CHUNK:
        return None  # Pillow reads it (a profile that is not valid zlib data it ignores)
    if size > MAX_ICC_PROFILE:
        return f"colour profile unpacks past {_mib(MAX_ICC_PROFILE)}; the display copy is shown as sRGB"
    reading.profile = zlib.decompress(compressed)
    return f"colour profile of {size:,} bytes, past {_mib(PngImagePlugin.MAX_TEXT_CHUNK)}; kept for the display"


def _unpacked_size(compressed: bytes, limit: int) -> int | None:
    """How many bytes ``compressed`` unpacks to, counting at most ``limit + 1``; None if it is not zlib data."""
    unpacker = zlib.decompressobj()
    try:
        size = len(unpacker.decompress(compressed, limit + 1))
    except zlib.error:
        return None
    return size


def _keyword(body: bytes) -> str:
    """The chunk's keyword (at most 79 Latin-1 characters by the PNG standard), printable, for the log."""
    keyword = body.partition(b"\0")[0][:79].decode("latin-1")
    return "".join(c if c.isprintable() else "?" for c in keyword)


def _mib(size: int) -> str:
    """
    >>> _mib(1024 * 1024), _mib(64 * 1024 * 1024)
    ('1 MiB', '64 MiB')
    """
    return f"{size / (1024 * 1024):g} MiB"
