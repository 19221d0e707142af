"""Photo intake: check an upload and derive the copies the app shows, without touching disk or database.

``prepare_photo`` is the one gatekeeper between an uploaded file and the record. It

- refuses anything that is not a JPEG, PNG, WebP or HEIC/HEIF photo, judged by content
  (``tracker.photos.formats``), and every damaged, empty, oversized or absurdly shaped file, always with a
  ``ValidationError`` a clinician can act on (never a raw Pillow exception) that gives the true reason: a
  file that does not decode is called cut off only when its own structure ends early, a variant of the
  format only when the decoder says so, and otherwise damaged or unreadable; the log gets one line per
  refusal with the exception class behind it (never the file name, which may be the patient's);
- reads a PNG whose metadata would trip Pillow's decompression-bomb guard without that metadata
  (``tracker.photos.png_metadata``): the pixels are sound, and the original keeps every chunk;
- checks the pixel dimensions from the file's header *before* decoding, so a "decompression bomb" (a small
  file declaring a gigantic image) is refused without allocating its pixels;
- keeps the original bytes unaltered and hashes them once (DESIGN.md §4: the original is part of the
  medical record);
- decodes once, shrinking while decoding, and derives the display copy (upright, ≤ 2048 px, RGB JPEG,
  every metadata block dropped except the colour profile) and the thumbnail (≤ 320 px, made from the
  display copy rather than from a second decode of the original).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from tracker.config import settings
from tracker.errors import ValidationError
from tracker.photos.formats import PNG, UPLOAD_HINT, PhotoFormat, cut_short, identify
from tracker.photos.png_metadata import ReadablePng, readable_png
from tracker.storage.ingest import HashedFile
from tracker.validation import clean_file_name

# iPhones save HEIC by default (DESIGN.md §4); pillow_heif teaches Pillow to read it.
pillow_heif.register_heif_opener()

log = logging.getLogger(__name__)

# Long side of the display copy: sharp on a 1440p screen and in a side-by-side comparison, while a
# 12-megapixel original (4032 px) shrinks to a quarter of its pixels.
DISPLAY_LONG_SIDE = 2048
# A JPEG decoder can shrink by 1/2, 1/4 or 1/8 while decoding (DCT scaling), several times cheaper than
# decoding everything and resampling. It is used when the shrunk photo keeps at least this long side:
# a 12-megapixel phone photo (4032 px) then decodes straight to 2016 px, which is as sharp on screen.
MIN_DECODER_SCALED_SIDE = 1920
# Long side of the thumbnail in visit lists and the photo timeline.
THUMBNAIL_LONG_SIDE = 320
# JPEG qualities: 85 keeps hair strands and skin texture without visible artefacts; thumbnails are
# only for recognising the view, so 80 is plenty.
DISPLAY_QUALITY = 85
THUMBNAIL_QUALITY = 80
# Phone panoramas reach about 8:1; beyond 20:1 nothing is a scalp photo, and the thumbnail of such a
# strip would be under 16 px wide.
MAX_ASPECT_RATIO = 20

_ORIENTATION = 0x0112
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
# EXIF orientations 5–8 turn the picture by a quarter: its upright width is the stored height.
_QUARTER_TURNS = {5, 6, 7, 8}
_WHITE = (255, 255, 255)
# What decoders say when the file is sound but uses something they do not implement (12-bit or lossless
# JPEG, a HEIC codec libheif was built without, a missing decoder), as opposed to damaged data.
_VARIANT = re.compile(r"cannot handle|unsupported|not supported|not available|unknown raw mode", re.IGNORECASE)


@dataclass(frozen=True)
class PreparedPhoto:
    """A checked upload and its derived copies, ready to be stored.

    ``width``/``height`` are those of the *upright* original (EXIF orientation applied).
    ``captured_at`` is EXIF DateTimeOriginal: timezone-aware when the camera recorded its offset
    (OffsetTimeOriginal), otherwise naive camera-clock time; None when absent or unreadable.
    """

    sha256: str
    media_type: str
    extension: str
    width: int
    height: int
    captured_at: datetime | None
    original: bytes = field(repr=False)
    display_jpeg: bytes = field(repr=False)
    thumbnail_jpeg: bytes = field(repr=False)


def upright_photo(upload: bytes | HashedFile, file_name: str | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """The photo decoded once as intake decodes it (upright 8-bit RGB, at most ``DISPLAY_LONG_SIDE`` px) and the
    upright original's (width, height) in pixels, for checking its quality before it is stored; refused with
    ``prepare_photo``'s ValidationError (and its limits from ``settings()``)."""
    data = upload.data if isinstance(upload, HashedFile) else upload
    _format, decoded = _checked_decode(data, file_name, None, None)
    display, _profile, orientation, _taken = _upright_rgb(decoded)
    return display, _upright_size(decoded, orientation)


def prepare_photo(
    upload: bytes | HashedFile,
    file_name: str | None = None,
    *,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
) -> PreparedPhoto:
    """Check an upload and derive its display copy and thumbnail; raises ValidationError when refused.

    ``upload`` is the file's bytes, or a ``HashedFile`` when the caller has hashed them already (they are
    then not hashed again). ``file_name`` is used only to name the file in messages; the format is read
    from the content.
    ``max_bytes``/``max_pixels`` default to ``settings().max_upload_bytes``/``settings().max_pixels``.
    Every refusal is logged (without the file name) with the class of the exception behind it, if any.
    """
    data = upload.data if isinstance(upload, HashedFile) else upload
    photo_format, decoded = _checked_decode(data, file_name, max_bytes, max_pixels)
    # The photo is decoded: what follows only converts pixels in memory. An error here is not the photo's
    # fault and is not dressed up as one; the page shows its plain apology and the log keeps the traceback.
    display, icc_profile, orientation, captured_at = _upright_rgb(decoded)
    width, height = _upright_size(decoded, orientation)
    return PreparedPhoto(
        sha256=HashedFile.of(upload).sha256,  # hashed only once accepted, and only if not hashed yet
        media_type=photo_format.media_type,
        extension=photo_format.extension,
        width=width,
        height=height,
        captured_at=captured_at,
        original=data,
        display_jpeg=_jpeg(display, icc_profile, DISPLAY_QUALITY),
        thumbnail_jpeg=_thumbnail(display, icc_profile),
    )


def _checked_decode(data: bytes, file_name: str | None, max_bytes: int | None,
                    max_pixels: int | None) -> tuple[PhotoFormat, _Decoded]:
    """The checks and the one decode of ``prepare_photo``; a refusal is logged and raised as ValidationError."""
    if max_bytes is None or max_pixels is None:
        limits = settings()
        max_bytes = limits.max_upload_bytes if max_bytes is None else max_bytes
        max_pixels = limits.max_pixels if max_pixels is None else max_pixels
    shown = clean_file_name(file_name)
    subject = f'The file "{shown}"' if shown else "This file"
    try:
        photo_format = _check_file(data, max_bytes)
        return photo_format, _decode(data, photo_format, max_pixels)
    except _Refused as refused:
        cause = refused.__cause__
        if cause is None:
            log.info("photo refused: this file %s", refused.rest)
        else:
            log.warning("photo refused: this file %s [%s]", refused.rest, refused.behind or _named(cause))
        raise ValidationError(f"{subject} {refused.rest}") from cause


def _upright_size(decoded: _Decoded, orientation: int) -> tuple[int, int]:
    width, height = decoded.original_size
    return (height, width) if orientation in _QUARTER_TURNS else (width, height)


class _Refused(Exception):
    """A refusal: ``rest`` is the rest of a sentence whose subject is the file ("This file …"); ``behind``
    names, for the log, the exceptions behind it when there is more to say than the cause's class."""

    def __init__(self, rest: str, behind: str = ""):
        super().__init__(rest)
        self.rest = rest
        self.behind = behind


@dataclass
class _Decoded:
    """A decoded photo, already shrunk to at most the display size, with its original size and profile."""

    image: Image.Image
    original_size: tuple[int, int]
    icc_profile: bytes | None


def _check_file(data: bytes, max_bytes: int) -> PhotoFormat:
    """The photo format of ``data``, judged by content; refuses empty, oversized and non-photo files."""
    if not data:
        raise _Refused(f"is empty (0 bytes). {UPLOAD_HINT}")
    if len(data) > max_bytes:
        raise _Refused(
            f"is {_file_size(len(data))}; the limit is {_file_size(max_bytes)}. "
            "Export the photo at a lower resolution or higher compression and upload it again."
        )
    identified = identify(data)
    if identified.format is None:
        raise _Refused(f"{identified.refusal} {UPLOAD_HINT}")
    return identified.format


def _decode(data: bytes, photo_format: PhotoFormat, max_pixels: int) -> _Decoded:
    """Open ``data`` as ``photo_format``, check its size from the header, then decode it once, shrunk.

    A PNG's metadata that Pillow would refuse the photo for is set aside first (``readable_png``).
    Raises ``_Refused`` with the true reason, the decoder's exception as its cause.
    """
    readable = readable_png(data) if photo_format is PNG else ReadablePng(data)
    if readable.set_aside:
        log.info("PNG metadata not read (the original keeps it): %s", "; ".join(readable.set_aside))
    try:
        with Image.open(io.BytesIO(readable.data), formats=[photo_format.pillow_format]) as image:
            size = image.size  # from the header: nothing is decoded yet
            _check_shape(*size, max_pixels)
            if photo_format.pillow_format in ("PNG", "WEBP") and getattr(image, "is_animated", False):
                raise _Refused(f"is an animation, not a still photo. {UPLOAD_HINT}")
            icc_profile = readable.icc_profile or image.info.get("icc_profile") or None
            return _Decoded(_shrunk(image), size, icc_profile)
    except (_Refused, MemoryError):
        raise
    except Image.DecompressionBombError as exc:
        # Pillow's own header check fired first (the declared size is far beyond any photo).
        raise _Refused(
            f"declares an image far larger than the limit of {max_pixels / 1e6:g} megapixels; "
            "it is damaged or not a real photo."
        ) from exc
    except Exception as exc:
        # Decoders raise OSError, SyntaxError, ValueError, EOFError, zlib and struct errors (and pillow_heif
        # its own); the file's structure and the decoder's words tell a cut-off file from a damaged one.
        error = _decoder_error(exc, data, photo_format)
        behind = _named(exc) + (f" <- {_named(error)}" if error is not exc else "")
        raise _Refused(_undecodable(data, photo_format, error), behind) from exc


def _undecodable(data: bytes, photo_format: PhotoFormat, error: BaseException) -> str:
    """Why a file that looks like ``photo_format`` does not decode, as the rest of a sentence."""
    label = photo_format.label
    if cut_short(data, photo_format):
        return (
            f"is an incomplete {label} photo: the file ends before its picture does (for example an upload "
            "or a copy that was cut off). Upload the photo again from the camera or phone."
        )
    if _VARIANT.search(str(error)):
        return (
            f"is a {label} file written in a variant we cannot read. Open it in the photo app or on the "
            "computer it came from, export it as a standard JPEG and upload that."
        )
    return (
        f"looks like a complete {label} photo, but its picture data does not decode: the file is damaged, or "
        f"written in a way we cannot read. Upload it again from the camera or phone; if this comes back, "
        "export it there as a standard JPEG and upload that."
    )


def _decoder_error(error: Exception, data: bytes, photo_format: PhotoFormat) -> BaseException:
    """The decoder's own error: Pillow reports a header its plugin refused only as "cannot identify"."""
    if not isinstance(error, UnidentifiedImageError):
        return error
    Image.init()
    factory, _accept = Image.OPEN[photo_format.pillow_format]
    try:
        factory(io.BytesIO(data), "").close()
    except Exception as plugin_error:  # the refusal's true cause, asked again of the format's own plugin
        return plugin_error
    return error


def _named(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _check_shape(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise _Refused(f"contains no picture ({width}×{height} pixels). {UPLOAD_HINT}")
    if width * height > max_pixels:
        raise _Refused(
            f"is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels); the limit is "
            f"{max_pixels / 1e6:g} megapixels. Export the photo at a lower resolution and upload it again."
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise _Refused(
            f"is {width}×{height} pixels, a strip rather than a photo (longer than "
            f"{MAX_ASPECT_RATIO}:1). {UPLOAD_HINT}"
        )


def _shrunk(image: Image.Image) -> Image.Image:
    """Decode once, shrinking while decoding, to at most the display size.

    The JPEG decoder scales down while decoding (``draft``), several times cheaper than decoding
    everything and resampling; 8-bit modes are made first where Pillow cannot resample the stored one.
    """
    if image.mode not in ("RGB", "RGBA", "L", "LA", "CMYK", "YCbCr"):
        image = _to_8bit(image)  # palettes and 16-bit greys cannot be resampled as they are
    if image.format in ("JPEG", "MPO"):
        for scale in (8, 4, 2):
            if max(image.size) // scale >= MIN_DECODER_SCALED_SIDE:
                image.draft(None, (image.width // scale, image.height // scale))
                break
    image.thumbnail((DISPLAY_LONG_SIDE, DISPLAY_LONG_SIDE))
    image.load()  # a photo already small enough is not touched by thumbnail: decode it here
    return image


def _upright_rgb(decoded: _Decoded) -> tuple[Image.Image, bytes | None, int, datetime | None]:
    """Turn the decoded photo upright and convert it to 8-bit RGB without metadata.

    Shrinking *before* turning upright is what keeps intake cheap: the quarter turn moves 3 megapixels
    instead of 12. The bounding box is square, so shrinking first gives the same size as turning first.
    Returns the display image, the colour profile to embed (or None), the EXIF orientation and the
    capture time.
    """
    image = decoded.image
    exif = _exif(image)
    orientation = exif.get(_ORIENTATION, 1) if exif is not None else 1
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        ImageOps.exif_transpose(image, in_place=True)
    display, icc_profile = _to_rgb(image, decoded.icc_profile)
    # Every metadata block (EXIF with GPS and serial numbers, XMP, comments) lives in ``info``; an empty
    # ``info`` and explicit save arguments guarantee none of it reaches the display copy.
    display.info = {}
    return display, icc_profile, orientation, _captured_at(exif)


def _to_8bit(image: Image.Image) -> Image.Image:
    """Palette, bilevel and 16/32-bit grey images as 8-bit modes that resample and convert cleanly."""
    if image.mode in ("P", "PA"):
        return image.convert("RGBA")
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith("I"):
        # 16-bit samples (0–65535) scaled to 8 bits; a plain convert would clip them all to white.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image.convert("RGB")


def _to_rgb(image: Image.Image, icc_profile: bytes | None) -> tuple[Image.Image, bytes | None]:
    """8-bit RGB on white, with the colour profile kept only where it still describes the pixels."""
    colour_space = icc_profile[16:20] if icc_profile and len(icc_profile) >= 20 else None
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat, icc_profile if colour_space == b"RGB " else None
    if image.mode == "CMYK" and icc_profile and colour_space == b"CMYK":
        try:
            # A print-shop CMYK photo only looks right through its own profile; convert it to sRGB.
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                return converted, None
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: fall back to the naive conversion below
    if image.mode == "RGB":
        return image, icc_profile if colour_space == b"RGB " else None
    # Grey and CMYK without a usable profile: a grey profile cannot describe RGB pixels, so drop it.
    return image.convert("RGB"), None


def _exif(image: Image.Image) -> Image.Exif | None:
    try:
        return image.getexif()
    except Exception:  # a damaged EXIF block must not cost the clinician the photo itself
        return None


def _captured_at(exif: Image.Exif | None) -> datetime | None:
    """EXIF DateTimeOriginal ("2024:05:17 14:03:22"), with its offset when the camera recorded one."""
    if exif is None:
        return None
    try:
        details = exif.get_ifd(0x8769)
        raw = details.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME_ORIGINAL)
        if not isinstance(raw, str):
            return None
        taken = datetime.strptime(raw.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S")
    except Exception:  # "0000:00:00 00:00:00", blanks and damaged IFDs mean "unknown"
        return None
    offset = details.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
        text = offset.strip("\x00 ")
        try:
            sign = -1 if text[0] == "-" else 1
            hours, minutes = int(text[1:3]), int(text[4:6])
            return taken.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
        except ValueError:
            pass
    return taken


def _thumbnail(display: Image.Image, icc_profile: bytes | None) -> bytes:
    thumb = display.copy()
    thumb.thumbnail((THUMBNAIL_LONG_SIDE, THUMBNAIL_LONG_SIDE))
    return _jpeg(thumb, icc_profile, THUMBNAIL_QUALITY)


def _jpeg(image: Image.Image, icc_profile: bytes | None, quality: int) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality}
    if icc_profile:
        options["icc_profile"] = icc_profile
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _file_size(size: int) -> str:
    """
    >>> _file_size(26_214_400), _file_size(10_240)
    ('25.0 MB', '10 KB')
    """
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{-(-size // 1024)} KB"

