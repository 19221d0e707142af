"""What an uploaded file is, judged by its first bytes, never by its name.

A clinic's upload box receives whatever is on the desktop: scanned consent forms (PDF), screenshots (PNG),
iPhone photos (HEIC), animated GIFs, exported drawings (SVG). The file name says little (a PDF renamed
``.jpg`` is still a PDF), so the format is read from the content's signature ("magic bytes"). Knowing what
a refused file *is* lets the message say so in words a clinician understands.

>>> identify(b"\\xff\\xd8\\xff\\xe0" + bytes(20)).media_type
'image/jpeg'
>>> identify(b"%PDF-1.7 ...").refusal
'is a PDF document, not a photo.'
"""

from __future__ import annotations

from dataclasses import dataclass

UPLOAD_HINT = "Upload a JPEG, PNG, WebP or HEIC image."
UNREADABLE = "is not a photo in a format we can read."


@dataclass(frozen=True)
class PhotoFormat:
    """An accepted photo format: Pillow's format name, the media type recorded, the stored extension."""

    pillow_format: str
    media_type: str
    extension: str
    label: str


JPEG = PhotoFormat("JPEG", "image/jpeg", "jpg", "JPEG")
PNG = PhotoFormat("PNG", "image/png", "png", "PNG")
WEBP = PhotoFormat("WEBP", "image/webp", "webp", "WebP")
# iPhones write HEVC-coded HEIF ("heic" brands); "mif1"-only files are generic HEIF. pillow_heif reads both.
HEIC = PhotoFormat("HEIF", "image/heic", "heic", "HEIC")
HEIF = PhotoFormat("HEIF", "image/heif", "heif", "HEIF")

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_VIDEO_BRANDS = {b"qt  ", b"isom", b"iso2", b"mp41", b"mp42", b"M4V ", b"3gp4", b"3gp5", b"3g2a"}


@dataclass(frozen=True)
class Identified:
    """Either an accepted ``format`` or, for anything else, a ``refusal``: the rest of a sentence whose
    subject is the file ("This file …"), saying what it is and why it is refused."""

    format: PhotoFormat | None
    refusal: str | None = None

    @property
    def media_type(self) -> str | None:
        return self.format.media_type if self.format else None


def identify(data: bytes) -> Identified:
    """Identify ``data`` by its signature; unknown content is refused as "not an image we can read"."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return Identified(JPEG)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Identified(PNG)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Identified(WEBP)
    if head[4:8] == b"ftyp":
        return _identify_iso_media(data)
    return Identified(None, _known_non_photo(data) or UNREADABLE)


def _identify_iso_media(data: bytes) -> Identified:
    """HEIC/HEIF, AVIF and MP4/MOV share one container; its brands tell them apart."""
    box_size = int.from_bytes(data[0:4], "big")
    major = data[8:12]
    end = min(box_size, 256) if box_size >= 16 else 16
    compatible = {data[i : i + 4] for i in range(16, end - 3, 4)}
    brands = {major} | compatible
    # AVIF files also carry "mif1", so AVIF is ruled out before generic HEIF.
    if major in _AVIF_BRANDS or (major in _HEIF_BRANDS and brands & _AVIF_BRANDS):
        return Identified(None, _refused_image("AVIF"))
    if major in _HEIC_BRANDS or (major in _HEIF_BRANDS and brands & _HEIC_BRANDS):
        return Identified(HEIC)
    if major in _HEIF_BRANDS:
        return Identified(HEIF)
    if major in _VIDEO_BRANDS or brands & _VIDEO_BRANDS:
        return Identified(None, _not_a_photo("a video"))
    return Identified(None, UNREADABLE)


def _known_non_photo(data: bytes) -> str | None:
    """Name common non-photo files so the refusal says what was uploaded instead."""
    head = data[:512]
    signatures: tuple[tuple[bytes, str], ...] = (
        (b"%PDF", _not_a_photo("a PDF document")),
        # GIF is refused as a format: 256 colours distort skin tones, and clinic GIFs are animations.
        (b"GIF87a", _refused_image("GIF")),
        (b"GIF89a", _refused_image("GIF")),
        (b"II*\x00", _refused_image("TIFF")),
        (b"MM\x00*", _refused_image("TIFF")),
        (b"\xff\x0a", _refused_image("JPEG XL")),
        (b"\x00\x00\x00\x0cJXL ", _refused_image("JPEG XL")),
        (b"\x00\x00\x00\x0cjP  ", _refused_image("JPEG 2000")),
        (b"PK\x03\x04", _not_a_photo("a ZIP archive or an Office document")),
        (b"\xd0\xcf\x11\xe0", _not_a_photo("an Office document")),
        (b"{\\rtf", _not_a_photo("a text document")),
        (b"8BPS", _not_a_photo("a Photoshop document")),
        (b"\x1f\x8b", _not_a_photo("a compressed archive")),
    )
    for signature, what in signatures:
        if head.startswith(signature):
            return what
    # "BM" alone is too short a signature (text can start with it); the DIB header size confirms it.
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124):
        return _refused_image("BMP")
    if len(data) > 132 and data[128:132] == b"DICM":
        return "is a DICOM file, not a photo; export the image from the imaging software first."
    # An SVG may open with a long comment or DOCTYPE, so look further than the other signatures.
    text = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in text and (text.startswith(b"<?xml") or text.startswith(b"<svg") or text.startswith(b"<!")):
        return _not_a_photo("an SVG drawing")
    if text.startswith(b"<!doctype html") or text.startswith(b"<html"):
        return _not_a_photo("a web page")
    return None


def _not_a_photo(what: str) -> str:
    return f"is {what}, not a photo."


def _refused_image(label: str) -> str:
    article = "an" if label[0] in "AEIOU" else "a"
    return f"is {article} {label} image; {label} is not accepted for clinical photos."


def cut_short(data: bytes, photo_format: PhotoFormat) -> bool:
    """Whether ``data``'s own structure ends before the file says it does: an upload or copy cut off.

    Asked only of a file that did not decode, to tell "incomplete" from "damaged". PNG chunks and ISO media
    boxes (HEIC/HEIF) carry their lengths, a WebP its total size; a JPEG is followed marker by marker to
    its end-of-image marker (data after it, such as a phone's trailer, does not matter).

    >>> cut_short(b"\\xff\\xd8\\xff", JPEG), cut_short(b"\\xff\\xd8\\xff\\xd9", JPEG)
    (True, False)
    """
    if photo_format is PNG:
        return _png_cut_short(data)
    if photo_format is WEBP:
        return len(data) < 12 or int.from_bytes(data[4:8], "little") + 8 > len(data)
    if photo_format in (HEIC, HEIF):
        return _iso_media_cut_short(data)
    return _jpeg_cut_short(data)


def _png_cut_short(data: bytes) -> bool:
    """No IEND chunk before the data runs out (the 8-byte signature, then length, type, body, CRC)."""
    position = 8
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        if data[position + 4 : position + 8] == b"IEND":
            return False
        position += 12 + length
    return True


def _iso_media_cut_short(data: bytes) -> bool:
    """A top-level box (size, type; size 1: a 64-bit size follows; size 0: to the end) runs past the end."""
    position = 0
    while position < len(data):
        if position + 8 > len(data):
            return True
        size = int.from_bytes(data[position : position + 4], "big")
        if size == 1:
            if position + 16 > len(data):
                return True
            size = int.from_bytes(data[position + 8 : position + 16], "big")
        elif size == 0:
            return False
        if size < 8:
            return False  # a nonsense size is damage, not a cut
        position += size
    return position > len(data)


def _jpeg_cut_short(data: bytes) -> bool:
    """No end-of-image marker (FFD9) where the segments and entropy-coded scans lead to."""
    position = 2  # after the start-of-image marker
    while position + 2 <= len(data):
        if data[position] != 0xFF:
            return False  # no marker where one belongs: damaged, not cut
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
        elif marker == 0xD9:
            return False
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            position += 2
        else:
            if position + 4 > len(data):
                return True
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
            if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
                position = _end_of_scan(data, position)
    return True


def _end_of_scan(data: bytes, position: int) -> int:
    """Where the entropy-coded data starting at ``position`` ends: the first FF not followed by a stuffed
    00, a restart marker (D0–D7) or another FF; ``len(data)`` when none is left."""
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            return len(data)
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            position += 1 if following == 0xFF else 2
            continue
        return position
