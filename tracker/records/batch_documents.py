"""Batch documents (screening certificates, batch records) of a treatment session: checked by their content
and kept like photo originals, unaltered and content-addressed by SHA-256, in a ``BlobStore`` of their own
under the data directory::

    originals/ab/abcd….pdf       the upload, byte for byte (the key follows from sha256 + media type,
                                 so ``BatchDocument`` rows need no key column)
    pending/abcd….<token>.json   a save in progress (its "intent")

A document is written by the shared crash-safe ingest (``tracker.storage.ingest``), the same one photos
use: the marker before the file, removed after the commit; when the transaction does not commit, the file
is removed again unless a committed row (or another save in progress) uses it. A crash in between leaves a
marker that explains the file, which ``python -m tracker check --repair`` reports and removes.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass, field

import pillow_heif
from PIL import Image
from sqlalchemy.orm import Session

from db import models
from tracker.config import settings
from tracker.errors import ValidationError
from tracker.photos.formats import identify
from tracker.photos.png_metadata import readable_png
from tracker.storage import ingest
from tracker.storage.blob_store import BlobStore
from tracker.storage.configured import blob_store
from tracker.storage.ingest import HashedFile
from tracker.validation import clean_file_name

log = logging.getLogger(__name__)

pillow_heif.register_heif_opener()  # scanned certificates photographed on an iPhone arrive as HEIC

FILE_NAME_MAX = 255

ORIGINALS = "originals"
PDF = "application/pdf"
# Images accepted as batch documents, by Pillow format: scans and phone pictures of a certificate.
_IMAGE_TYPES = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "TIFF": ("image/tiff", "tif"),
    "HEIF": ("image/heif", "heif"),
}
_EXTENSIONS = {PDF: "pdf", "image/heic": "heic", **{media: ext for media, ext in _IMAGE_TYPES.values()}}
DOCUMENT_HINT = "Upload the certificate as a PDF, or as a JPEG, PNG, TIFF, WebP or HEIC image."


@dataclass(frozen=True)
class DocumentUpload:
    file_name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class CheckedDocument:
    """A document that passed the content check, with what is recorded about it."""

    file_name: str
    media_type: str
    sha256: str
    size_bytes: int
    data: bytes = field(repr=False)

    @property
    def key(self) -> str:
        return document_key(self.sha256, self.media_type)


@dataclass(frozen=True)
class SavedDocument:
    file_name: str
    media_type: str
    sha256: str
    size_bytes: int


def document_store() -> BlobStore:
    """Where batch documents are kept, beside the photos (``tracker.storage.configured``)."""
    return blob_store("documents")


def document_key(sha256: str, media_type: str) -> str:
    """The store key of a document's original, derived from its hash and media type.

    >>> document_key("ab" + "0" * 62, "application/pdf")
    'originals/ab/ab00000000000000000000000000000000000000000000000000000000000000.pdf'
    """
    return f"{ORIGINALS}/{sha256[:2]}/{sha256}.{_EXTENSIONS[media_type]}"


def check_document(data: bytes, file_name: str, max_bytes: int | None = None,
                   max_pixels: int | None = None) -> CheckedDocument:
    """Check a batch document by its content: a PDF (starts with ``%PDF-``) or a readable image.

    >>> check_document(b"%PDF-1.7\\n...\\n%%EOF\\n", "cert.pdf").media_type
    'application/pdf'
    >>> check_document(b"PK\\x03\\x04 ...", "cert.docx")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: The file "cert.docx" is not a PDF or an image we can read. Upload the ...
    """
    limits = settings()
    max_bytes = limits.max_upload_bytes if max_bytes is None else max_bytes
    max_pixels = limits.max_pixels if max_pixels is None else max_pixels
    name = _file_name(file_name)
    subject = f'The file "{name}"'
    if not data:
        raise ValidationError(f"{subject} is empty (0 bytes). {DOCUMENT_HINT}")
    if len(data) > max_bytes:
        raise ValidationError(
            f"{subject} is {_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}. "
            "Scan it at a lower resolution or save it as a smaller PDF and upload it again."
        )
    digest = HashedFile.of(data).sha256  # the one hash of this upload: the key and the row use it
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-4096:]:
            raise ValidationError(
                f"{subject} starts like a PDF but is incomplete (it has no end marker), for example an "
                "upload that was cut off. Save or download the PDF again and upload it."
            )
        return CheckedDocument(name, PDF, digest, len(data), data)
    media_type = _check_image(data, subject, max_pixels)
    return CheckedDocument(name, media_type, digest, len(data), data)


def _check_image(data: bytes, subject: str, max_pixels: int) -> str:
    unreadable = f"{subject} is not a PDF or an image we can read. {DOCUMENT_HINT}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # A PNG scan's metadata past Pillow's bomb guard is set aside for this check (the file is stored whole).
            with Image.open(io.BytesIO(readable_png(data).data), formats=list(_IMAGE_TYPES)) as image:
                width, height = image.size  # from the header: nothing decoded yet
                if width <= 0 or height <= 0 or width * height > max_pixels:
                    raise ValidationError(
                        f"{subject} declares an image of {width}×{height} pixels; the limit is "
                        f"{max_pixels / 1e6:g} megapixels. Scan it at a lower resolution and upload it again."
                    )
                pillow_format = image.format
                image.load()  # a full decode: a damaged or cut-off image fails here
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            f"{subject} declares an image far larger than {max_pixels / 1e6:g} megapixels; it is damaged or "
            "not a real scan."
        ) from None
    except Exception as exc:  # Pillow raises many types for unreadable data; the remedy is the same
        log.warning("batch document refused as unreadable [%s: %s]", type(exc).__name__, exc)
        raise ValidationError(unreadable) from None
    if pillow_format == "HEIF":
        identified = identify(data)
        return identified.media_type or "image/heif"
    if pillow_format is None:  # Pillow opened it only with one of _IMAGE_TYPES' formats, so it names one
        raise ValidationError(unreadable)
    return _IMAGE_TYPES[pillow_format][0]


def _file_name(file_name: str | None) -> str:
    """The file's own name (no folders), without control characters, at most 255 characters."""
    return clean_file_name(file_name, "document")[:FILE_NAME_MAX]


def _megabytes(size: int) -> str:
    """
    >>> _megabytes(26_214_400), _megabytes(2_048)
    ('25.0 MB', '2.0 KB')
    """
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def store_document(session: Session, blobs: BlobStore, document: CheckedDocument, session_id: int,
                   actor: str | None) -> models.BatchDocument:
    """Write ``document``'s file crash-safely and add its ``BatchDocument`` row (of treatment session
    ``session_id``) to ``session``; the caller commits. After the commit the ingest's marker is removed;
    when the transaction does not commit, the file is removed again unless another row uses it."""
    started = ingest.begin(session, blobs, document.sha256, ((document.key, document.data),), models.BatchDocument,
                           {"treatment_session_id": session_id})
    ingest.track(session, started)
    row = models.BatchDocument(
        session_id=session_id, file_name=document.file_name, media_type=document.media_type,
        sha256=document.sha256, size_bytes=document.size_bytes, created_by=actor,
    )
    session.add(row)
    return row
