"""Logging a treatment session: product, lot, volume, areas, batch documents and the pre-session checklist.

``log_session`` is the one use case behind the "Log treatment session" page. It writes the session and
its batch documents in one transaction; any problem means nothing is written. Batch documents (screening
certificates, batch records) are kept like photo originals: unaltered, content-addressed by SHA-256, in a
``BlobStore`` (``tracker.storage.blob_store``) of their own under the data directory::

    originals/ab/abcd….pdf       the upload, byte for byte (the key follows from sha256 + media type,
                                 so ``BatchDocument`` rows need no key column)
    pending/abcd….<token>.json   a save in progress (its "intent")

The marker is written before the file and removed after the commit; when the transaction does not
commit, the file is removed again unless a committed row (or another save in progress) uses it. A crash in
between leaves a marker that explains the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import secrets
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pillow_heif
from PIL import Image
from sqlalchemy import func, select

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_patient_access, require_role
from tracker.course.clinical import NSAID_DAYS_BEFORE
from tracker.course.milestones import DateSpan, NsaidFreeSpan, nsaid_free_span
from tracker.errors import ValidationError
from tracker.operations.config import settings
from tracker.operations.database import transaction
from tracker.photos.formats import identify
from tracker.progress.patient_progress import find_patient, patient_progress
from tracker.records.validation import (
    check_not_before_birth,
    check_not_in_future,
    clean_file_name,
    parse_iso_date,
    parse_lot_number,
    parse_product,
    parse_treatment,
)
from tracker.storage.blob_store import BlobStore, LocalDirectoryStore

log = logging.getLogger(__name__)
pillow_heif.register_heif_opener()  # scanned certificates photographed on an iPhone arrive as HEIC

# Scalp injections use a few millilitres (PRP commonly 4–10 ml, exosome vials 2–5 ml); more than 30 ml
# in one session is a typing error (a unit slip or a density typed in the wrong box).
MAX_VOLUME_ML = 30.0
AREAS_MAX = 200  # the column's length (db/models.py)
TEXT_MAX = 10_000
FILE_NAME_MAX = 255

# The pre-session checklist (DESIGN.md §1). An unticked item is a warning, never a block: the clinician
# decides whether to go ahead, and the record shows what was not confirmed.
PRE_SESSION_CHECKS = {
    "hydrated": "Drank plenty of water the day before",
    "breakfast": "Ate breakfast this morning",
    "no_nsaids": f"No NSAIDs (aspirin, ibuprofen…) in the last {NSAID_DAYS_BEFORE} days",
}

ORIGINALS = "originals"
PENDING = "pending"
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
class SessionEntry:
    """Everything the session form collects except the documents.

    ``checklist`` maps each key of ``PRE_SESSION_CHECKS`` to whether it was ticked.
    """

    date: date | str | None
    treatment: str
    product: str = ""
    lot_number: str = ""
    volume_ml: float | str | None = None
    areas: str = ""
    checklist: Mapping[str, bool] = field(default_factory=dict)
    adverse_events: str = ""
    notes: str = ""


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


@dataclass(frozen=True)
class SessionFormDefaults:
    mrn: str
    full_name: str
    areas: str  # the patient's target areas
    last_session_date: date | None
    last_treatment: str | None
    last_product: str  # the lot is never pre-filled: each vial's lot must be read off the vial


@dataclass(frozen=True)
class SessionSaved:
    """The saved session and the dates the patient needs, as plain data for the page.

    ``nsaid_free``: avoid NSAIDs from 3 days before to 21 days after this session.
    ``next_session_window``: 3–6 months after the patient's latest session.
    ``warnings``: checklist items that were not confirmed.
    """

    session_id: int
    mrn: str
    date: date
    treatment: str
    product: str
    lot_number: str
    volume_ml: float | None
    documents: tuple[SavedDocument, ...]
    warnings: tuple[str, ...]
    nsaid_free: NsaidFreeSpan
    next_session_window: DateSpan | None
    day0: date | None


def document_store() -> BlobStore:
    """Where batch documents are kept: a local folder beside the photo store."""
    return LocalDirectoryStore(settings().data_dir / "documents")


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
    >>> check_document(b"PK\\x03\\x04 ...", "cert.docx")
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: The file "cert.docx" is not a PDF or an image we can read. Upload the certificate as a PDF, or as a JPEG, PNG, TIFF, WebP or HEIC image.
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
    digest = hashlib.sha256(data).hexdigest()
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
            with Image.open(io.BytesIO(data), formats=list(_IMAGE_TYPES)) as image:
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
    except Exception:  # Pillow raises many types for unreadable data; the remedy is the same
        raise ValidationError(unreadable) from None
    if pillow_format == "HEIF":
        identified = identify(data)
        return identified.media_type or "image/heif"
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


def session_form_defaults(actor: Actor, mrn: str, url: str | None = None) -> SessionFormDefaults:
    """The session form's starting point: the header, the patient's target areas, the last product."""
    require_role(actor, *STAFF)
    with transaction(url) as session:
        patient = find_patient(session, mrn)
        require_patient_access(actor, patient.id)
        last = session.scalars(
            select(models.TreatmentSession)
            .where(models.TreatmentSession.patient_id == patient.id, models.TreatmentSession.deleted_at.is_(None))
            .order_by(models.TreatmentSession.date.desc(), models.TreatmentSession.id.desc())
            .limit(1)
        ).first()
        audit.record(session, actor, "view", patient_id=patient.id, detail="treatment session form")
        return SessionFormDefaults(
            mrn=patient.mrn,
            full_name=patient.full_name,
            areas=patient.target_areas or "",
            last_session_date=last.date if last else None,
            last_treatment=last.treatment if last else None,
            last_product=last.product if last else "",
        )


def _volume(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(f"volume {str(value).strip()!r} is not a number (millilitres)") from None
    if not math.isfinite(number) or not 0 < number <= MAX_VOLUME_ML:
        raise ValidationError(
            f"volume {number:g} ml is out of range: it must be more than 0 and at most {MAX_VOLUME_ML:g} ml"
        )
    return number


def _text(value: str | None, label: str, limit: int, *, single_line: bool = False) -> str | None:
    text = (value or "").replace("\x00", "").strip()  # a pasted NUL byte cannot be stored in PostgreSQL
    if single_line:
        text = " ".join(text.split())
        if any(unicodedata.category(ch) == "Cc" for ch in text):
            raise ValidationError(f"{label} contains a control character (a tab, line break or similar)")
    if len(text) > limit:
        raise ValidationError(f"{label} is too long: at most {limit:,} characters (it has {len(text):,})")
    return text or None


def log_session(
    actor: Actor,
    mrn: str,
    entry: SessionEntry,
    documents: Sequence[DocumentUpload] = (),
    url: str | None = None,
    *,
    today: date | None = None,
    store: BlobStore | None = None,
) -> SessionSaved:
    """Record a treatment session and its batch documents in one transaction.

    Raises ValidationError listing every problem (nothing is written then, no file is left behind),
    NotFound for an unknown MRN, PermissionDenied for anyone but staff.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems: list[str] = []

    def attempt(check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ValidationError as error:
            problems.extend(error.problems)
            return None

    session_date = attempt(lambda: check_not_in_future(parse_iso_date(entry.date, "session date"), today,
                                                       "session date"))
    treatment = attempt(parse_treatment, entry.treatment)
    product = attempt(parse_product, entry.product) or ""
    lot_number = attempt(parse_lot_number, entry.lot_number, treatment) or ""
    volume_ml = attempt(_volume, entry.volume_ml)
    areas = attempt(_text, entry.areas, "areas treated", AREAS_MAX, single_line=True)
    adverse_events = attempt(_text, entry.adverse_events, "adverse events", TEXT_MAX)
    notes = attempt(_text, entry.notes, "notes", TEXT_MAX)
    checklist = {key: bool(entry.checklist.get(key, False)) for key in PRE_SESSION_CHECKS}
    checked: dict[str, CheckedDocument] = {}
    for upload in documents:
        document = attempt(check_document, upload.data, upload.file_name)
        if document is not None:
            checked.setdefault(document.sha256, document)  # the same file twice is kept once

    store = store or document_store()
    ingests: list[_DocumentIngest] = []
    try:
        with transaction(url) as session:
            patient = find_patient(session, mrn)
            require_patient_access(actor, patient.id)
            if session_date is not None:
                try:
                    check_not_before_birth(session_date, patient.birth_date, "session date")
                except ValidationError as error:
                    problems.insert(0, str(error))
            if problems:
                count = len(problems)
                raise ValidationError(
                    "The session was not saved: " + (problems[0] if count == 1 else f"{count} things need fixing."),
                    problems,
                )
            assert session_date is not None and treatment is not None
            # The very same session twice (a double click, or a retry after a save that did commit) is
            # refused; a second session that day with any other detail is recorded as usual.
            already = session.scalar(select(models.TreatmentSession.id).where(
                models.TreatmentSession.patient_id == patient.id, models.TreatmentSession.date == session_date,
                models.TreatmentSession.treatment == treatment, models.TreatmentSession.product == product,
                models.TreatmentSession.lot_number == lot_number, models.TreatmentSession.deleted_at.is_(None),
            ))
            if already is not None:
                raise ValidationError(
                    f"This session is already recorded ({treatment} on {session_date.isoformat()}, lot "
                    f"{lot_number or 'none'}): nothing was saved again. Open the patient record to see it."
                )
            row = models.TreatmentSession(
                patient_id=patient.id, date=session_date, treatment=treatment, product=product,
                lot_number=lot_number, volume_ml=volume_ml, areas=areas, notes=notes, checklist=checklist,
                adverse_events=adverse_events, created_by=actor.username,
            )
            session.add(row)
            session.flush()
            for document in checked.values():
                ingest = _DocumentIngest(store, document, _begin(store, document, row.id))
                ingests.append(ingest)
                if not store.exists(document.key):
                    store.put(document.key, document.data)
                session.add(models.BatchDocument(
                    session_id=row.id, file_name=document.file_name, media_type=document.media_type,
                    sha256=document.sha256, size_bytes=document.size_bytes, created_by=actor.username,
                ))
            session.flush()
            audit.record(
                session, actor, "create", patient_id=patient.id,
                detail=(f"treatment session {row.id} on {session_date.isoformat()}: {treatment}"
                        f"{', lot ' + lot_number if lot_number else ''}, {len(checked)} document(s)"),
            )
            progress = patient_progress(session, patient)
            saved = SessionSaved(
                session_id=row.id,
                mrn=patient.mrn,
                date=session_date,
                treatment=treatment,
                product=product,
                lot_number=lot_number,
                volume_ml=volume_ml,
                documents=tuple(
                    SavedDocument(d.file_name, d.media_type, d.sha256, d.size_bytes) for d in checked.values()
                ),
                warnings=tuple(f"Not confirmed: {label}" for key, label in PRE_SESSION_CHECKS.items()
                               if not checklist[key]),
                nsaid_free=nsaid_free_span(session_date),
                next_session_window=progress.next_session_window,
                day0=progress.day0,
            )
    except BaseException:
        for ingest in ingests:
            ingest.discard(url)
        raise
    for ingest in ingests:
        ingest.settle()
    return saved


@dataclass
class _DocumentIngest:
    store: BlobStore
    document: CheckedDocument
    marker_key: str

    def settle(self) -> None:
        """After the commit: make sure the file is there (a concurrent failed save of the same file may
        have removed it), then drop the marker."""
        try:
            if not self.store.exists(self.document.key):
                self.store.put(self.document.key, self.document.data)
            self.store.delete(self.marker_key)
        except Exception:  # the row is committed; the marker stays and explains the file
            log.exception("could not settle batch document %s", self.marker_key)

    def discard(self, url: str | None) -> None:
        """Without a commit: remove the file unless a committed row or another save uses it, then the
        marker (in that order, so that a crash in between still leaves the marker)."""
        sha256 = self.document.sha256
        try:
            others = [key for key in self.store.keys(f"{PENDING}/{sha256}.") if key != self.marker_key]
            if not others and not _committed_rows_use(sha256, url):
                self.store.delete(self.document.key)
            self.store.delete(self.marker_key)
        except Exception:
            log.exception("could not clean up batch document %s", self.marker_key)


def _begin(store: BlobStore, document: CheckedDocument, session_id: int) -> str:
    """Write the intent marker, before the file."""
    marker_key = f"{PENDING}/{document.sha256}.{secrets.token_hex(6)}.json"
    body = {
        "sha256": document.sha256,
        "started_at": datetime.now(UTC).isoformat(),
        "keys": [document.key],
        "treatment_session_id": session_id,
    }
    store.put(marker_key, json.dumps(body, indent=1).encode())
    return marker_key


def _committed_rows_use(sha256: str, url: str | None) -> bool:
    """Whether a committed batch document row (deleted or not) uses this file, asked in a transaction of
    its own: the failed one is over, and an ambiguous commit failure may in fact have committed."""
    with transaction(url) as session:
        count = session.scalar(
            select(func.count()).select_from(models.BatchDocument).where(models.BatchDocument.sha256 == sha256)
        )
    return bool(count)
