"""FHIR R4 export: one patient (or a few) as a Bundle, the whole clinic as FHIR Bulk Data NDJSON files.

``export_bundle`` (the patient record's download button, ``python -m tracker fhir export MRN``) returns a Bundle of
type ``collection``: a set of resources handed to another system to keep, not a ``document`` (that needs a
Composition as its first entry and an attester: a clinical document signed off as such, which an export of the
record is not). Photos are embedded (the display copy, base64): one patient's Bundle stays a few MB.

``export_clinic`` (``python -m tracker fhir export --all DEST``, admins only) writes one NDJSON file per resource
type (``Patient.ndjson`` …, README "FHIR"), each resource one line, from server-side cursors
(``tracker.database.streamed_rows``): memory stays flat at 50,000 patients. A Media there points to its display
copy, written beside the files as ``media/photo-<id>.jpg``.

Both are access-checked and audited like every read (``resolve_patient``: a patient account exports only its own
record; one ``export`` entry naming the patients). Soft-deleted rows are never exported. Validation (in the tests)
uses ``fhir.resources.R4B``; every element used exists identically in R4 4.0.1.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select

from db import models
from db.engine import PRIVATE_FOLDER_MODE, make_private_folders
from tracker.access import audit
from tracker.access.actors import ADMIN, Actor, require_role
from tracker.access.patient_lookup import resolve_patient
from tracker.config import settings
from tracker.database import AnyRow, read_connection, reading, streamed_rows
from tracker.errors import ValidationError
from tracker.exchange import fhir_resources as build
from tracker.exchange.fhir_codes import BASE, LOCAL, RESOURCE_TYPES
from tracker.photos.store import PhotoStore, photo_store
from tracker.validation import shown_path

Resource = dict[str, Any]
# ``progress(done, total)``: rows read so far of all the rows the export reads.
Progress = Callable[[int, int], None]
MEDIA_FOLDER = "media"
# One encoder for every NDJSON line (compact, as Bulk Data files are; UTF-8 text as it is).
_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

_t = models.Base.metadata.tables
_patient, _protocol, _visit = _t["patient"], _t["protocol"], _t["visit"]
_measure, _scale, _session, _therapy, _photo = (_t["density_measurement"], _t["scale_score"],
                                                _t["treatment_session"], _t["concurrent_therapy"], _t["photo"])
_LIVE_PATIENT = _patient.c.deleted_at.is_(None)
_visits = _visit.join(_patient, _patient.c.id == _visit.c.patient_id)
_LIVE_VISIT = (_LIVE_PATIENT, _visit.c.deleted_at.is_(None))


@dataclass(frozen=True)
class Source:
    """One kind of row and the resources it gives (``fhir_resources``); ``statement`` selects its live rows with
    their ``patient_id``, in id order."""

    name: str
    statement: Select[Any]
    build: Callable[[AnyRow], list[Resource]]


SOURCES = (
    Source("patients", select(_patient, _protocol.c.name.label("protocol_name"), _protocol.c.band,
                              _protocol.c.windows, _protocol.c.evidence_note, _protocol.c.noise_pct,
                              _protocol.c.outcome_measure, _patient.c.id.label("patient_id"))
           .select_from(_patient.outerjoin(_protocol, _protocol.c.id == _patient.c.protocol_id))
           .where(_LIVE_PATIENT).order_by(_patient.c.id), build.patient_resources),
    Source("visits", select(_visit).select_from(_visits).where(*_LIVE_VISIT).order_by(_visit.c.id),
           build.visit_resources),
    Source("density measurements",
           select(_measure, _visit.c.patient_id, _visit.c.date).select_from(
               _measure.join(_visits, _visit.c.id == _measure.c.visit_id))
           .where(*_LIVE_VISIT, _measure.c.deleted_at.is_(None)).order_by(_measure.c.id), build.density_resources),
    Source("scale scores",
           select(_scale, _visit.c.patient_id, _visit.c.date).select_from(
               _scale.join(_visits, _visit.c.id == _scale.c.visit_id))
           .where(*_LIVE_VISIT, _scale.c.deleted_at.is_(None)).order_by(_scale.c.id), build.scale_resources),
    Source("treatment sessions",
           select(_session).select_from(_session.join(_patient, _patient.c.id == _session.c.patient_id))
           .where(_LIVE_PATIENT, _session.c.deleted_at.is_(None)).order_by(_session.c.id), build.session_resources),
    Source("concurrent therapies",
           select(_therapy).select_from(_therapy.join(_patient, _patient.c.id == _therapy.c.patient_id))
           .where(_LIVE_PATIENT, _therapy.c.deleted_at.is_(None)).order_by(_therapy.c.id), build.therapy_resources),
)
PHOTOS = (select(_photo, _visit.c.patient_id, _visit.c.date)
          .select_from(_photo.join(_visits, _visit.c.id == _photo.c.visit_id))
          .where(*_LIVE_VISIT, _photo.c.deleted_at.is_(None)).order_by(_photo.c.id))


def _of_patients(statement: Select[Any], patient_ids: Sequence[int]) -> Select[Any]:
    return statement.where(_patient.c.id.in_(patient_ids))


def _display_copy(store: PhotoStore, key: str) -> bytes | None:
    """The display copy, or None when its file is missing (the store check reports it; the Media says no data)."""
    try:
        return store.read(key)
    except KeyError:
        return None


@dataclass(frozen=True)
class BundleExport:
    """A Bundle as a JSON file: ``data`` (UTF-8 bytes), a ``file_name`` to offer, ``counts`` of resources by type."""

    file_name: str
    data: bytes
    counts: dict[str, int]


def file_name(mrns: Sequence[str], day: datetime | None = None) -> str:
    """The name a Bundle is offered under: ``fhir-DEMO-0001-2026-03-01.json`` (``fhir-3-patients-…`` for several).

    >>> file_name(["DEMO-0001"], datetime(2026, 3, 1))
    'fhir-DEMO-0001-2026-03-01.json'
    """
    who = mrns[0] if len(mrns) == 1 else f"{len(mrns)}-patients"
    return f"fhir-{who}-{(day or datetime.now(UTC)):%Y-%m-%d}.json"


def export_bundle(actor: Actor | None, mrns: Sequence[str], url: str | None = None) -> BundleExport:
    """The patients of ``mrns`` (at least one) and everything recorded for them, as one FHIR R4 Bundle
    (``collection``) with the display copy of every photo embedded.

    A patient account may export only its own record (``PermissionDenied``, audited as a refusal); an unknown MRN
    raises ``NotFound``. Audited as one ``export`` of those patients. Read in one read-only transaction.
    """
    if not mrns:
        raise ValidationError("Name at least one patient (MRN) to export.")
    store = photo_store()
    with audit.refusals_recorded(actor, "FHIR export", ", ".join(mrns)[:200], url), reading(url) as session:
        patients = {patient.id: patient for patient in (resolve_patient(session, actor, mrn) for mrn in mrns)}
        ids = sorted(patients)
        reads = read_connection(session)
        resources = [resource for source in SOURCES
                     for row in reads.execute(_of_patients(source.statement, ids)) for resource in source.build(row)]
        resources += [resource for row in reads.execute(_of_patients(PHOTOS, ids))
                      for resource in build.photo_resources(row, data=_display_copy(store, row.display_key))]
        resources.sort(key=lambda resource: RESOURCE_TYPES.index(resource["resourceType"]))
        counts = {kind: sum(r["resourceType"] == kind for r in resources) for kind in RESOURCE_TYPES}
        detail = f"FHIR R4 Bundle, {len(resources)} resources"
        if len(ids) == 1:
            audit.record(session, actor, "export", patient_id=ids[0], detail=detail)
        else:
            audit.record(session, actor, "export", detail=detail, patient_ids=ids)
    now = datetime.now(UTC)
    bundle = {
        "resourceType": "Bundle",
        "identifier": {"system": f"{LOCAL}/export", "value": f"{now:%Y%m%dT%H%M%S%fZ}"},
        "type": "collection",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": [{"fullUrl": f"{BASE}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
    data = json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")
    return BundleExport(file_name([patients[i].mrn for i in ids], now), data, counts)


@dataclass
class ClinicExport:
    """What a whole-clinic export wrote into ``folder``: resources by type, display copies, and the time taken."""

    folder: Path
    patients: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESOURCE_TYPES, 0))
    media_files: int = 0
    missing_files: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"FHIR R4 bulk export of {self.patients:,} patients written to {shown_path(self.folder)} in "
                 f"{self.seconds:.1f} s:"]
        lines += [f"  {kind}.ndjson: {number:,} resources" for kind, number in self.counts.items()]
        lines.append(f"  {MEDIA_FOLDER}/: {self.media_files:,} display copies")
        if self.missing_files:
            lines.append(f"  {self.missing_files:,} photo file(s) missing from the photo store (their Media has no "
                         "content URL): run `python -m tracker check`.")
        return "\n".join(lines)


def _new_folder(destination: str | Path) -> Path:
    """The export's folder, checked as ``tracker backup`` checks its own: not a symbolic link, outside the data
    dir (links in its parents resolved), new or empty; made with its missing parents owner-only (0700). Names
    are shown with ``shown_path`` (a folder name need not be UTF-8). Nothing is made when it is refused."""
    if Path(destination).is_symlink():
        raise ValidationError(f"{shown_path(destination)} is a symbolic link: name a real new or empty folder for "
                              "a FHIR export.")
    folder = Path(destination).resolve()
    data_dir = settings().data_dir.resolve()
    if folder == data_dir or folder.is_relative_to(data_dir):
        raise ValidationError(f"{shown_path(folder)} is inside the data dir ({shown_path(data_dir)}): patient data "
                              "exported there would travel with every backup of the installation; choose a folder "
                              "outside it.")
    try:
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ValidationError(f"{shown_path(folder)} is not an empty folder: a FHIR export is written into a "
                                  "new or empty folder, never over other files.")
        make_private_folders(folder / MEDIA_FOLDER)
        folder.chmod(PRIVATE_FOLDER_MODE)  # also when it existed, empty
    except OSError as error:
        raise ValidationError(
            f"The folder {shown_path(folder)} could not be made: {error.strerror or error}.") from None
    return folder


def _private_file(path: Path) -> int:
    """A new file only its owner may read (patient data), open for writing."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)


def export_clinic(actor: Actor | None, destination: str | Path, *, url: str | None = None,
                  progress: Progress | None = None) -> ClinicExport:
    """Every live patient's record as FHIR Bulk Data NDJSON files in ``destination`` (a new or empty folder): one
    file per resource type of ``RESOURCE_TYPES``, and the display copies in ``media/``. Admins only
    (``PermissionDenied``); ``ValidationError`` for a folder that is not empty or cannot be made.

    The patients are fixed, checked and audited (one ``export`` entry naming them all) before a row is written;
    rows recorded for them while the export runs may or may not be in it. ``progress(done, total)`` hears the
    rows read.
    """
    require_role(actor, ADMIN)
    started = time.perf_counter()
    folder = _new_folder(destination)
    with reading(url) as session:
        reads = read_connection(session)
        ids = list(reads.scalars(select(_patient.c.id).where(_LIVE_PATIENT)))
        last = max(ids, default=0)
        totals = [reads.scalar(select(func.count()).select_from(statement.where(_patient.c.id <= last).subquery()))
                  or 0 for statement in (*(source.statement for source in SOURCES), PHOTOS)]
        audit.record(session, actor, "export", detail=f"FHIR R4 bulk export to {shown_path(folder)}"[:300],
                     patient_ids=ids)
    result = ClinicExport(folder, patients=len(ids))
    tell = progress or (lambda done, total: None)
    done, total = 0, sum(totals)
    files = {kind: os.fdopen(_private_file(folder / f"{kind}.ndjson"), "w", encoding="utf-8")
             for kind in RESOURCE_TYPES}
    try:
        for resources in _clinic_resources(folder, last, url, result):
            for resource in resources:
                files[resource["resourceType"]].write(_LINE(resource) + "\n")
                result.counts[resource["resourceType"]] += 1
            done += 1
            if done % 500 == 0 or done == total:
                tell(done, total)
    finally:
        for handle in files.values():
            handle.close()
    tell(total, total)
    result.seconds = time.perf_counter() - started
    return result


def _clinic_resources(folder: Path, last: int, url: str | None,
                      result: ClinicExport) -> Iterator[list[Resource]]:
    """Every row of the export with its resources, streamed; each display copy written into ``media/``."""
    for source in SOURCES:
        for row in streamed_rows(source.statement.where(_patient.c.id <= last), url):
            yield source.build(row)
    store = photo_store()
    for row in streamed_rows(PHOTOS.where(_patient.c.id <= last), url):
        data = _display_copy(store, row.display_key)
        name = None
        if data is None:
            result.missing_files += 1
        else:
            name = f"{MEDIA_FOLDER}/photo-{row.id}.jpg"
            with os.fdopen(_private_file(folder / name), "wb") as handle:
                handle.write(data)
            result.media_files += 1
        yield build.photo_resources(row, url=name)
