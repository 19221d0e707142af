"""Every service refuses whoever may not use it (Trust issue), found by enumeration, not by memory.

The services are discovered: every public function of every ``tracker`` module that takes an ``actor``.
Each one must be in ``SERVICES`` (with the calls that aim it at patient B's record) or in
``BUILDING_BLOCKS`` (with the reason it checks nobody itself, and a check that no page can reach it), so a
new service cannot appear without a refusal test.

Then, in a clinic of two patients A and B (sessions with lots, visits with densities and JPEG photos, a
concurrent therapy, a batch document, accounts), every aimed call is made by four hostile actors: nobody
(``None``), patient A's account, an ``Actor`` with a forged role and an object that only looks like an
admin ``Actor``. Each must raise ``PermissionDenied`` (patient A may get ``NotFound`` where a service hides
whether something exists), say nothing of B (name, MRN), write no row and store no file. Positive
controls show the set-up is sound: patient A reads its own progress, photos and report; staff reach B.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import io
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from PIL import Image
from sqlalchemy import select, update

import tracker
from db import models
from tracker.access.accounts import create_user
from tracker.access.actors import ADMIN, CLINICIAN, Actor, command_line_actor
from tracker.access.own_password import verify_password
from tracker.access.sign_in import sign_in
from tracker.access.web_sessions import open_session
from tracker.config import settings
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied
from tracker.operations.backup import backup
from tracker.photos.before_after import before_after
from tracker.photos.serving import photo_image
from tracker.photos.timeline import photo_timeline
from tracker.progress.page_data import progress_page
from tracker.progress.schedule import schedule
from tracker.records.batch_documents import DocumentUpload
from tracker.records.lots import sessions_with_lot
from tracker.records.patient_corrections import update_patient
from tracker.records.patient_intake import NewPatient, create_patient
from tracker.records.patient_list import list_patients
from tracker.records.patient_record import patient_record
from tracker.records.therapies import add_therapy
from tracker.records.treatment_sessions import SessionEntry, log_session
from tracker.records.visit_form import PhotoUpload, SiteEntry, VisitEntry
from tracker.records.visits import log_visit

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2025, 9, 1)
# Modules another change adds: their services are checked when the module is there.
OPTIONAL_MODULES = {"tracker.exchange.progress_report"}
# Written by refused calls on purpose (the refusal is audited; sign-ins are throttled): not compared.
UNCOMPARED_TABLES = {"audit_entry", "sign_in_attempt"}


# --- discovery ------------------------------------------------------------------------------------------


def discover() -> dict[str, Callable]:
    """Every public module-level function of ``tracker`` with a parameter named ``actor``, by qualified name."""
    found: dict[str, Callable] = {}
    for module_info in pkgutil.walk_packages(tracker.__path__, prefix="tracker."):
        if module_info.name == "tracker.__main__":  # runs the command line when imported
            continue
        module = importlib.import_module(module_info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != module.__name__:
                continue
            if "actor" in inspect.signature(obj).parameters:
                found[f"{module.__name__}.{name}"] = obj
    return found


def actor_first(functions: dict[str, Callable]) -> set[str]:
    return {name for name, f in functions.items() if next(iter(inspect.signature(f).parameters)) == "actor"}


# --- the clinic -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientFile:
    """One patient's ids, as the aimed calls need them."""

    id: int
    mrn: str
    full_name: str
    version: int
    lot: str
    session_id: int
    therapy_id: int
    visit_ids: tuple[int, int]
    photo_ids: tuple[int, int]
    username: str
    password: str
    user_id: int


@dataclass(frozen=True)
class Clinic:
    url: str
    data_dir: Path
    elsewhere: Path  # outside the data dir: backup destinations
    a: PatientFile
    b: PatientFile
    clinician: Actor
    clinician_password: str
    protocol: dict  # the default protocol's band, windows and version, as stored
    backup_folder: Path
    b_web_token: str  # B's sign-in cookie

    @property
    def b_words(self) -> tuple[str, ...]:
        """What a refusal must never say."""
        return (self.b.full_name, self.b.mrn)


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    image = Image.new("RGB", size, colour)
    image.paste((40, 29, 24), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return out.getvalue()


def _make_patient(url: str, staff: Actor, admin: Actor, letter: str, full_name: str, shade: int) -> PatientFile:
    new = NewPatient(mrn=f"RT-{letter}-100", full_name=full_name, sex="female", birth_date=date(1982, 3, 4),
                     condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="II",
                     target_areas="vertex")
    mrn = create_patient(staff, new, today=TODAY, url=url)
    lot = f"LOT-{letter}-0042"
    session = log_session(
        staff, mrn,
        SessionEntry(date=date(2025, 1, 15), treatment="exosome", product="ExoVial 5", lot_number=lot, volume_ml=4.0,
                     areas="vertex", checklist={"hydrated": True, "breakfast": True, "no_nsaids": True}),
        [DocumentUpload(f"certificate-{letter}.png", png((shade, 200, 200)))], url=url, today=TODAY,
    )
    visits, photos = [], []
    # Each photo goes through log_visit, which stores it with tracker.photos.store.store_photo.
    for day, density, colour in ((date(2025, 1, 15), 150.0, (224, 184, shade)),
                                 (date(2025, 7, 15), 172.0, (shade, 184, 154))):
        saved = log_visit(staff, mrn, VisitEntry(date=day, sites=[SiteEntry("vertex", density)]),
                          [PhotoUpload("vertex", f"vertex-{letter}-{day.isoformat()}.jpg", jpeg(colour))],
                          url=url, today=TODAY)
        visits.append(saved.visit_id)
        photos.append(saved.photos[0].photo_id)
    therapy_id = add_therapy(staff, mrn, "Minoxidil", "5% topical", date(2025, 2, 1), today=TODAY, url=url)
    username, password = f"pat.{letter.lower()}", f"Regrowth-{letter}-passphrase-2025"
    create_user(admin, username=username, password=password, role="patient", patient_mrn=mrn, url=url)
    with transaction(url) as db:
        patient = db.scalar(select(models.Patient).where(models.Patient.mrn == mrn))
        user_id = db.scalar(select(models.User.id).where(models.User.username == username))
        assert patient is not None and user_id is not None
        return PatientFile(patient.id, mrn, full_name, patient.version, lot, session.session_id, therapy_id,
                           (visits[0], visits[1]), (photos[0], photos[1]), username, password, user_id)


def build_clinic(url: str, tmp_path: Path) -> Clinic:
    admin = command_line_actor("test")
    create_user(admin, username="dr.lee", password="Clinician-passphrase-2025", role=CLINICIAN, url=url)
    with transaction(url) as db:
        clinician_id = db.scalar(select(models.User.id).where(models.User.username == "dr.lee"))
    clinician = Actor("dr.lee", CLINICIAN, user_id=clinician_id)
    a = _make_patient(url, clinician, admin, "A", "Alice Ashworth", 60)
    b = _make_patient(url, clinician, admin, "B", "Beatrix Blackwood", 120)
    b_web_token = open_session(sign_in(b.username, b.password, url=url), url=url)  # B's browser, signed in
    with transaction(url) as db:
        # pat.b is locked out: a refused unlock must leave it so.
        db.execute(update(models.User).where(models.User.id == b.user_id)
                   .values(locked_at=models.utcnow(), failed_attempts=5))
        row = db.scalar(select(models.Protocol).where(models.Protocol.name == DEFAULT_PROTOCOL_NAME))
        assert row is not None
        protocol = {"band": row.band, "windows": row.windows, "version": row.version}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = backup(elsewhere / "nightly", Actor("admin.kim", ADMIN), url=url).folder
    return Clinic(url, settings().data_dir, elsewhere, a, b, clinician, "Clinician-passphrase-2025", protocol, folder,
                  b_web_token)


# --- what every service is asked (aimed at patient B's record, or, for staff-only ones, at anything) ----

Call = Callable[[Clinic, object], object]


@dataclass(frozen=True)
class Aim:
    label: str
    call: Call
    # Patient A may get NotFound instead of PermissionDenied: the service hides whether the thing exists.
    hides_existence: bool = False


def aims(*pairs: tuple[str, Call], hides_existence: bool = False) -> tuple[Aim, ...]:
    return tuple(Aim(label, call, hides_existence) for label, call in pairs)


def _in_session(c: Clinic, use: Callable):
    with transaction(c.url) as session:
        return use(session)


def svc(qualified: str) -> Callable:
    """The service by qualified name, looked up when called (a module may be absent: OPTIONAL_MODULES)."""
    module, name = qualified.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _measurement_of(c: Clinic, visit_id: int) -> int:
    return _in_session(c, lambda s: s.scalar(select(models.DensityMeasurement.id).where(
        models.DensityMeasurement.visit_id == visit_id)))


def _new_patient() -> NewPatient:
    return NewPatient(mrn="RT-X-900", full_name="Mallory Intruder", sex="female", birth_date=date(1990, 1, 1),
                      condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="I")


def _visit() -> dict:
    return {"entry": VisitEntry(date=date(2025, 8, 20), sites=[SiteEntry("vertex", 190.0)]),
            "photos": [PhotoUpload("vertex", "planted.jpg", jpeg((10, 220, 10)))], "today": TODAY}


def _session() -> dict:
    return {"entry": SessionEntry(date=date(2025, 8, 20), treatment="exosome", product="ExoVial 5",
                                  lot_number="LOT-X-0001", volume_ml=4.0, areas="vertex"),
            "documents": [DocumentUpload("planted.png", png((10, 10, 220)))], "today": TODAY}


SERVICES: dict[str, tuple[Aim, ...]] = {
    # The gate itself.
    "tracker.access.actors.require_role": aims(
        ("staff rights", lambda c, actor: svc("tracker.access.actors.require_role")(actor, ADMIN, CLINICIAN))),
    "tracker.access.actors.require_patient_access": aims(
        ("B's record", lambda c, actor: svc("tracker.access.actors.require_patient_access")(actor, c.b.id))),
    # Accounts (admin only; re-checking a password is for staff leaving consult mode).
    "tracker.access.accounts.create_user": aims(
        ("an admin account", lambda c, actor: svc("tracker.access.accounts.create_user")(
            actor, username="mallory", password="Intruder-passphrase-2025", role=ADMIN))),
    "tracker.access.accounts.unlock_user": aims(
        ("B's locked account", lambda c, actor: svc("tracker.access.accounts.unlock_user")(actor, c.b.username))),
    "tracker.access.own_password.verify_password": aims(
        ("B's password", lambda c, actor: svc("tracker.access.own_password.verify_password")(actor, c.b.password))),
    "tracker.access.accounts.list_users": aims(
        ("every account", lambda c, actor: svc("tracker.access.accounts.list_users")(actor))),
    "tracker.access.accounts.disable_user": aims(
        ("B's account", lambda c, actor: svc("tracker.access.accounts.disable_user")(actor, c.b.username))),
    "tracker.access.accounts.enable_user": aims(
        ("B's account", lambda c, actor: svc("tracker.access.accounts.enable_user")(actor, c.b.username))),
    "tracker.access.accounts.reset_password": aims(
        ("B's password", lambda c, actor: svc("tracker.access.accounts.reset_password")(actor, c.b.username))),
    # Every role changes its own password, given the current one: B's password is not patient A's.
    "tracker.access.own_password.change_own_password": aims(
        ("B's password as the current one", lambda c, actor: svc("tracker.access.own_password.change_own_password")(
            actor, c.b.password, "Intruder-passphrase-2025"))),
    # Web sessions (the sign-in cookie).
    "tracker.access.web_sessions.open_session": aims(
        ("a web session for B's account", lambda c, actor: svc("tracker.access.web_sessions.open_session")(actor))),
    "tracker.access.web_sessions.touch": aims(
        ("B's web session", lambda c, actor: svc("tracker.access.web_sessions.touch")(c.b_web_token, actor))),
    "tracker.access.demo_accounts.remove_demo_accounts": aims(
        ("every demo account", lambda c, actor: svc("tracker.access.demo_accounts.remove_demo_accounts")(actor))),
    # Audit trail (admin only).
    "tracker.access.audit.browse": aims(
        ("B's entries", lambda c, actor: svc("tracker.access.audit.browse")(actor, mrn=c.b.mrn))),
    "tracker.access.audit.export_csv": aims(
        ("B's entries as CSV", lambda c, actor: svc("tracker.access.audit.export_csv")(actor, mrn=c.b.mrn))),
    # Backup and restore (admin only).
    "tracker.operations.backup.backup": aims(
        ("a copy of everything",
         lambda c, actor: svc("tracker.operations.backup.backup")(c.elsewhere / "stolen", actor))),
    "tracker.operations.restore.restore": aims(
        ("last night's backup", lambda c, actor: svc("tracker.operations.restore.restore")(c.backup_folder, actor))),
    # Removals (staff only).
    "tracker.records.history.soft_delete": aims(
        ("B's visit", lambda c, actor:
            svc("tracker.records.history.soft_delete")(actor, "visit", c.b.visit_ids[1], "x")),
        ("B's session", lambda c, actor:
            svc("tracker.records.history.soft_delete")(actor, "session", c.b.session_id, "x")),
        ("B's therapy", lambda c, actor:
            svc("tracker.records.history.soft_delete")(actor, "therapy", c.b.therapy_id, "x")),
        ("B's photo", lambda c, actor:
            svc("tracker.records.history.soft_delete")(actor, "photo", c.b.photo_ids[0], "x")),
    ),
    # Corrections of visits, measurements, scale scores, sessions and photo views (staff only).
    "tracker.records.entry_corrections.correctable_entries": aims(
        ("B's entries to correct", lambda c, actor: svc("tracker.records.entry_corrections.correctable_entries")(
            actor, c.b.mrn))),
    "tracker.records.visit_corrections.correct_visit": aims(
        ("B's visit date", lambda c, actor: svc("tracker.records.visit_corrections.correct_visit")(
            actor, c.b.visit_ids[1], {"date": date(2025, 7, 16)}, "typo", 1, today=TODAY))),
    "tracker.records.measurement_corrections.correct_measurement": aims(
        ("B's density", lambda c, actor: svc("tracker.records.measurement_corrections.correct_measurement")(
            actor, _measurement_of(c, c.b.visit_ids[1]), {"density_per_cm2": "99"}, "typo", 1, today=TODAY))),
    "tracker.records.scale_corrections.correct_scale_score": aims(
        ("a scale score", lambda c, actor: svc("tracker.records.scale_corrections.correct_scale_score")(
            actor, 1, {"stage": "III"}, "typo", 1, today=TODAY))),
    "tracker.records.session_corrections.correct_session": aims(
        ("B's lot number", lambda c, actor: svc("tracker.records.session_corrections.correct_session")(
            actor, c.b.session_id, {"lot_number": "LOT-X-0001"}, "typo", 1, today=TODAY))),
    "tracker.records.photo_corrections.correct_photo_view": aims(
        ("B's photo view", lambda c, actor: svc("tracker.records.photo_corrections.correct_photo_view")(
            actor, c.b.photo_ids[0], "occipital", "typo", 1))),
    # Lot traceability (staff only).
    "tracker.records.lots.sessions_with_lot": aims(
        ("B's lot", lambda c, actor: svc("tracker.records.lots.sessions_with_lot")(actor, c.b.lot)),
        ("B's lot, partly", lambda c, actor:
            svc("tracker.records.lots.sessions_with_lot")(actor, "LOT-B", partial=True)),
    ),
    "tracker.records.lots.export_lot_csv": aims(
        ("B's lot as CSV", lambda c, actor: svc("tracker.records.lots.export_lot_csv")(actor, c.b.lot))),
    # Patients.
    "tracker.records.patient_list.list_patients": aims(
        ("B by name", lambda c, actor: svc("tracker.records.patient_list.list_patients")(
            actor, query=c.b.full_name, today=TODAY))),
    "tracker.records.patient_intake.protocol_names": aims(
        ("protocol names", lambda c, actor: svc("tracker.records.patient_intake.protocol_names")(actor))),
    "tracker.records.patient_intake.create_patient": aims(
        ("a new patient", lambda c, actor: svc("tracker.records.patient_intake.create_patient")(
            actor, _new_patient(), today=TODAY))),
    "tracker.records.patient_record.patient_record": aims(
        ("B's record", lambda c, actor: svc("tracker.records.patient_record.patient_record")(
            actor, c.b.mrn, today=TODAY)),
        ("an unknown MRN", lambda c, actor: svc("tracker.records.patient_record.patient_record")(
            actor, "RT-NOBODY", today=TODAY)),
    ),
    "tracker.records.patient_corrections.update_patient": aims(
        ("B's notes", lambda c, actor: svc("tracker.records.patient_corrections.update_patient")(
            actor, c.b.mrn, {"notes": "changed by someone else"}, "correction", c.b.version, today=TODAY))),
    "tracker.records.therapies.add_therapy": aims(
        ("B's therapies", lambda c, actor: svc("tracker.records.therapies.add_therapy")(
            actor, c.b.mrn, "Finasteride", "1 mg", date(2025, 3, 1), today=TODAY))),
    "tracker.records.therapies.stop_therapy": aims(
        ("B's therapy", lambda c, actor: svc("tracker.records.therapies.stop_therapy")(
            actor, c.b.therapy_id, date(2025, 8, 1), "stopped", today=TODAY))),
    # Photos.
    # The capture check and guide read B's previous photos (staff only).
    "tracker.records.capture_checks.check_photos": aims(
        ("B's previous photos", lambda c, actor: svc("tracker.records.capture_checks.check_photos")(
            actor, c.b.mrn, [PhotoUpload("vertex", "planted.jpg", jpeg((10, 220, 10)))]))),
    "tracker.records.capture_checks.previous_photo": aims(
        ("B's previous vertex photo", lambda c, actor: svc("tracker.records.capture_checks.previous_photo")(
            actor, c.b.mrn, "vertex"))),
    "tracker.photos.timeline.photo_timeline": aims(
        ("B's photos", lambda c, actor: svc("tracker.photos.timeline.photo_timeline")(actor, c.b.mrn))),
    "tracker.photos.serving.timeline_thumbnails": aims(
        ("B's thumbnails", lambda c, actor: svc("tracker.photos.serving.timeline_thumbnails")(actor, c.b.mrn))),
    "tracker.photos.serving.photo_image": aims(
        ("B's thumbnail", lambda c, actor: svc("tracker.photos.serving.photo_image")(actor, c.b.photo_ids[0])),
        ("B's display copy", lambda c, actor: svc("tracker.photos.serving.photo_image")(
            actor, c.b.photo_ids[1], "display")),
        ("a photo id that does not exist", lambda c, actor: svc("tracker.photos.serving.photo_image")(actor, 999_999)),
    ),
    # The one way to reach a photo (the count screen and the image route use it) checks the actor itself.
    "tracker.photos.serving.reachable_photo": aims(
        ("B's photo", lambda c, actor: _in_session(c, lambda s: svc("tracker.photos.serving.reachable_photo")(
            s, actor, c.b.photo_ids[0]))),
        ("a photo id that does not exist", lambda c, actor: _in_session(
            c, lambda s: svc("tracker.photos.serving.reachable_photo")(s, actor, 999_999))),
    ),
    "tracker.photos.before_after.before_after": aims(
        ("B's before/after",
         lambda c, actor: svc("tracker.photos.before_after.before_after")(actor, c.b.mrn, "vertex")),
    ) + aims(
        # No MRN (a patient's own), but B's visits: A's own record must not show B's photos.
        ("B's visits under A's own record", lambda c, actor: svc("tracker.photos.before_after.before_after")(
            actor, None, "vertex", c.b.visit_ids[0], c.b.visit_ids[1], fade=50)),
        hides_existence=True,
    ),
    # Progress.
    "tracker.progress.patient_progress.progress_json": aims(
        ("B's progress JSON", lambda c, actor:
            svc("tracker.progress.patient_progress.progress_json")(actor, c.b.mrn, as_of=TODAY))),
    "tracker.progress.page_data.progress_page": aims(
        ("B's progress page", lambda c, actor:
            svc("tracker.progress.page_data.progress_page")(actor, c.b.mrn, as_of=TODAY))),
    "tracker.access.patient_lookup.resolve_patient": aims(
        ("B's record", lambda c, actor: _in_session(
            c, lambda s: svc("tracker.access.patient_lookup.resolve_patient")(s, actor, c.b.mrn)))),
    "tracker.exchange.progress_report.progress_report_pdf": aims(
        ("B's report", lambda c, actor: svc("tracker.exchange.progress_report.progress_report_pdf")(
            actor, c.b.mrn, as_of=TODAY))),
    # Data exports: a patient's complete data (staff, or a patient account for its own), the clinic's (admins).
    "tracker.exchange.patient_export.patient_export": aims(
        ("B's data as XLSX", lambda c, actor: svc("tracker.exchange.patient_export.patient_export")(
            actor, c.b.mrn, "xlsx")),
        ("B's data as CSV", lambda c, actor: svc("tracker.exchange.patient_export.patient_export")(
            actor, c.b.mrn, "csv"))),
    "tracker.exchange.clinic_export.export_clinic": aims(
        ("every patient's data", lambda c, actor: svc("tracker.exchange.clinic_export.export_clinic")(
            actor, io.BytesIO()))),
    "tracker.exchange.clinic_export.clinic_export_file": aims(
        ("every patient's data as bytes", lambda c, actor: svc("tracker.exchange.clinic_export.clinic_export_file")(
            actor))),
    # Protocols (reading: staff; editing: admins).
    "tracker.records.protocol_admin.list_protocols": aims(
        ("every protocol", lambda c, actor: svc("tracker.records.protocol_admin.list_protocols")(actor))),
    "tracker.records.protocol_admin.get_protocol": aims(
        ("B's protocol", lambda c, actor:
            svc("tracker.records.protocol_admin.get_protocol")(actor, DEFAULT_PROTOCOL_NAME))),
    "tracker.records.protocol_admin.save_protocol": aims(
        ("B's protocol", lambda c, actor: svc("tracker.records.protocol_admin.save_protocol")(
            actor, DEFAULT_PROTOCOL_NAME, c.protocol["band"], c.protocol["windows"], "Rewritten by an intruder.",
            c.protocol["version"]))),
    "tracker.records.protocol_admin.copy_protocol": aims(
        ("B's protocol", lambda c, actor: svc("tracker.records.protocol_admin.copy_protocol")(
            actor, DEFAULT_PROTOCOL_NAME, "Intruder's copy"))),
    # Clinic outcomes (staff only).
    "tracker.progress.outcomes.clinic_outcomes": aims(
        ("every patient's outcomes", lambda c, actor: svc("tracker.progress.outcomes.clinic_outcomes")(
            actor, today=TODAY))),
    "tracker.progress.outcome_tables.outcomes_xlsx": aims(
        ("the outcomes workbook", lambda c, actor: svc("tracker.progress.outcome_tables.outcomes_xlsx")(actor, []))),
    # Schedule (staff only).
    "tracker.progress.schedule.schedule": aims(
        ("every follow-up", lambda c, actor: svc("tracker.progress.schedule.schedule")(actor, today=TODAY))),
    # Treatment sessions (staff only).
    "tracker.records.treatment_sessions.session_form_defaults": aims(
        ("B's session form", lambda c, actor:
            svc("tracker.records.treatment_sessions.session_form_defaults")(actor, c.b.mrn))),
    "tracker.records.treatment_sessions.log_session": aims(
        ("a session with a document for B", lambda c, actor: svc("tracker.records.treatment_sessions.log_session")(
            actor, c.b.mrn, **_session()))),
    # Visits (staff only).
    "tracker.records.patient_search.find_patients": aims(
        ("B by name", lambda c, actor: svc("tracker.records.patient_search.find_patients")(actor, c.b.full_name))),
    "tracker.records.recorded_visits.visit_form_defaults": aims(
        ("B's visit form",
         lambda c, actor: svc("tracker.records.recorded_visits.visit_form_defaults")(actor, c.b.mrn))),
    "tracker.exchange.spreadsheet_import.import_spreadsheets": aims(
        ("an import adding a visit to B", lambda c, actor:
            svc("tracker.exchange.spreadsheet_import.import_spreadsheets")(
            *_sheets_for(c), actor=actor, today=TODAY))),
    "tracker.exchange.spreadsheet_import.preview_import": aims(
        ("a check of an import adding a visit to B, sent as uploads", lambda c, actor:
            svc("tracker.exchange.spreadsheet_import.preview_import")(
            *[(path.name, path.read_bytes()) for path in _sheets_for(c)], actor=actor, today=TODAY))),
    "tracker.records.visits.log_visit": aims(
        ("a visit with a photo for B", lambda c, actor:
            svc("tracker.records.visits.log_visit")(actor, c.b.mrn, **_visit()))),
    # FHIR R4 (issue #15): B's record as a Bundle, every record as Bulk Data (admins), a Bundle import (staff).
    "tracker.exchange.fhir_export.export_bundle": aims(
        ("B's record as a FHIR Bundle", lambda c, actor: svc("tracker.exchange.fhir_export.export_bundle")(
            actor, [c.b.mrn]))),
    "tracker.exchange.fhir_export.export_clinic": aims(
        ("every record as FHIR NDJSON", lambda c, actor: svc("tracker.exchange.fhir_export.export_clinic")(
            actor, c.elsewhere / "fhir"))),
    "tracker.exchange.fhir_import.import_bundles": aims(
        ("a FHIR Bundle adding a patient", lambda c, actor: svc("tracker.exchange.fhir_import.import_bundles")(
            [_fhir_bundle()], actor=actor))),
    "tracker.records.visit_photos.add_photos": aims(
        ("a photo added to B's visit", lambda c, actor: svc("tracker.records.visit_photos.add_photos")(
            actor, c.b.visit_ids[0], [PhotoUpload("occipital", "back.jpg", jpeg((90, 60, 200)))]))),
    # Capture devices (admins change them; staff list them) and the count screen (staff only).
    "tracker.records.capture_devices.list_devices": aims(
        ("every device", lambda c, actor: svc("tracker.records.capture_devices.list_devices")(actor))),
    "tracker.records.capture_devices.add_device": aims(
        ("a device", lambda c, actor: svc("tracker.records.capture_devices.add_device")(actor, "Intruder", 8, 6))),
    "tracker.records.capture_devices.retire_device": aims(
        ("a device", lambda c, actor: svc("tracker.records.capture_devices.retire_device")(actor, 1))),
    "tracker.records.closeup_count.closeup_count": aims(
        ("B's close-ups", lambda c, actor: svc("tracker.records.closeup_count.closeup_count")(
            actor, c.b.mrn, c.b.photo_ids[0], 1))),
    "tracker.records.counted_density.save_counted_density": aims(
        ("a counted density for B", lambda c, actor: svc("tracker.records.counted_density.save_counted_density")(
            actor, c.b.photo_ids[0], 1, "frontal", _no_hairs(), (320, 240), added=[(10.0, 10.0)]))),
}

def _no_hairs() -> object:
    """What the detector finds on a blank close-up (3.2 × 2.4 mm: 10 µm per pixel, the coarsest the count
    accepts): the counted density's starting point."""
    from tracker.photos.hair_count import count_hairs

    return count_hairs(Image.new("RGB", (320, 240), (224, 184, 154)), (3.2, 2.4))


def _fhir_bundle() -> Path:
    """A Bundle as this product exports it, adding one new patient."""
    import json
    import tempfile

    from tracker.exchange.fhir_codes import CONDITION_CODES, MRN_SYSTEM

    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p", "identifier": [{"system": MRN_SYSTEM, "value": "RT-X-901"}],
                      "name": [{"text": "Mallory Planted"}], "gender": "female", "birthDate": "1990-01-01"}},
        {"resource": {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
                      "code": {"coding": [{"system": CONDITION_CODES, "code": "androgenetic_alopecia"}]}}}]}
    path = Path(tempfile.mkdtemp()) / "planted.json"
    path.write_text(json.dumps(bundle))
    return path


def _sheets_for(c) -> list:
    """Three CSV files that would add a visit to B's record."""
    import tempfile

    folder = Path(tempfile.mkdtemp())
    (folder / "p.csv").write_text("mrn,full_name,sex,birth_date,condition\n")
    (folder / "s.csv").write_text("mrn,date,treatment,product,lot_number\n")
    (folder / "v.csv").write_text(f"mrn,date,density_per_cm2,site\n{c.b.mrn},{TODAY.isoformat()},150,vertex\n")
    return [folder / "p.csv", folder / "s.csv", folder / "v.csv"]


# Functions that take an ``actor`` but check nobody themselves; none may be reachable from a page.
BUILDING_BLOCKS: dict[str, str] = {
    "tracker.access.audit.record": "appends an audit entry in the caller's transaction; it records unauthenticated "
                            "attempts too, so it must accept actor=None",
    "tracker.access.audit.refusals_recorded": "context manager that audits a PermissionDenied raised inside it; the "
                                       "service it wraps does the refusing",
    "tracker.records.history.record_change": "adds a ChangeRecord in the caller's transaction, after the calling "
                                     "service checked the actor",
    "tracker.records.row_corrections.keep_changes": "adds the ChangeRecords, the version and the audit entry of a "
                                                    "correction in the caller's transaction, after the calling "
                                                    "correction service checked the actor",
    "tracker.photos.store.store_photo": "adds a photo in the caller's transaction (log_visit checks the actor "
                                       "first); its actor is the username written to created_by",
    "tracker.records.photo_saving.store_visit_photos": "stores a visit's photos in the caller's transaction (log_visit "
                                                 "and add_photos check the actor first); its actor writes "
                                                 "created_by",
    "tracker.records.batch_documents.store_document": "adds a batch document in the caller's transaction "
                                                      "(log_session checks the actor first); its actor is the "
                                                      "username written to created_by",
}
# What a page would need to call a building block that takes an open session.
SESSION_OPENERS = {"tracker.database.transaction", "tracker.database.read_transaction",
                   "db.engine.session_factory"}


def hostile_actors(c: Clinic) -> dict[str, object]:
    return {
        "nobody": None,
        "patient A": Actor(username=c.a.username, role="patient", patient_id=c.a.id, user_id=c.a.user_id),
        "forged role": Actor(username="mallory", role="superuser", patient_id=c.b.id, user_id=c.b.user_id),
        "look-alike admin": SimpleNamespace(username="admin.kim", role=ADMIN, patient_id=None, address=None,
                                            user_id=c.b.user_id, is_staff=True),
    }


# --- what a refused call must leave unchanged ------------------------------------------------------------


def database_state(url: str) -> dict[str, list[tuple]]:
    """Every row of every compared table (so an update or a soft delete shows, not only an insert)."""
    state = {}
    with transaction(url) as session:
        for table in models.Base.metadata.sorted_tables:
            if table.name not in UNCOMPARED_TABLES:
                state[table.name] = sorted((tuple(row) for row in session.execute(select(table))), key=repr)
    return state


def stored_files(c: Clinic) -> dict[str, int]:
    files = {}
    for root in (c.data_dir, c.elsewhere):
        for path in root.rglob("*"):
            if path.is_file() and not path.name.startswith("tracker.db"):
                files[str(path.relative_to(root.parent))] = path.stat().st_size
    return files


def describe_change(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> str:
    return ", ".join(f"{name}: {len(before[name])} → {len(after[name])} rows"
                     + ("" if len(before[name]) != len(after[name]) else " (changed)")
                     for name in before if before[name] != after[name])


# --- tests ----------------------------------------------------------------------------------------------


def test_every_service_taking_an_actor_is_known():
    found = discover()
    present = {name for name in SERVICES if name.rsplit(".", 1)[0] not in OPTIONAL_MODULES
               or importlib.util.find_spec(name.rsplit(".", 1)[0]) is not None}
    known = present | set(BUILDING_BLOCKS)
    services = sorted(set(found) - set(BUILDING_BLOCKS))
    print(f"\naccess: discovered {len(found)} functions taking `actor` ({len(actor_first(found))} with it first): "
          f"{len(services)} services, {len(set(found) & set(BUILDING_BLOCKS))} building blocks")
    for name in services:
        print(f"  service  {name}")
    assert not set(found) - known, (
        f"new functions taking `actor` that this test does not know how to call: {sorted(set(found) - known)}; "
        "add each to SERVICES (aimed at patient B's record) or, if it checks nobody itself, to BUILDING_BLOCKS")
    assert not known - set(found), f"no longer in tracker (remove from the tables): {sorted(known - set(found))}"


def _reached_in(path: Path, forbidden: set[str]) -> list[str]:
    """Each forbidden name the script at ``path`` imports or uses, as a line naming the file."""
    tree = ast.parse(path.read_text(), str(path))
    reached = []
    modules: dict[str, str] = {}  # local name -> module, for `from tracker import audit` and `import x as y`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                modules[alias.asname or alias.name] = full
                if full in forbidden:
                    reached.append(f"{path.name} imports {full}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            full = f"{modules.get(node.value.id, node.value.id)}.{node.attr}"
            if full in forbidden:
                reached.append(f"{path.name} uses {full}")
    return reached


def test_no_page_reaches_a_building_block():
    """A building block checks nobody, so pages must not call it, nor open the session the others need."""
    forbidden = set(BUILDING_BLOCKS) | SESSION_OPENERS
    reached = []
    for path in sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "ui").glob("*.py")) + [ROOT / "app.py"]:
        reached += _reached_in(path, forbidden)
    assert not reached, reached


def _attack(c, aim: Aim, who: str, actor, where: str) -> list[str]:
    """One aimed call by one hostile actor: every way it failed to be refused cleanly (none: an empty list)."""
    problems = []
    rows, files = database_state(c.url), stored_files(c)
    try:
        result = aim.call(c, actor)
    except PermissionDenied as refusal:
        message = str(refusal)
    except NotFound as refusal:
        message = str(refusal)
        if not (aim.hides_existence and who == "patient A"):
            problems.append(f"{where}: NotFound ({message!r}) instead of PermissionDenied")
    except Exception as error:  # any other outcome is a finding, listed below
        problems.append(f"{where}: {type(error).__name__}: {error} instead of PermissionDenied")
        message = str(error)
    else:
        problems.append(f"{where}: returned {type(result).__name__} instead of refusing")
        message = repr(result)
    leaked = [word for word in c.b_words if word.lower() in message.lower()]
    if leaked:
        problems.append(f"{where}: the answer names {leaked}")
    rows_after, files_after = database_state(c.url), stored_files(c)
    if rows_after != rows:
        problems.append(f"{where}: wrote to the database ({describe_change(rows, rows_after)})")
    if files_after != files:
        problems.append(f"{where}: stored files {sorted(set(files_after) ^ set(files))}")
    return problems


def test_hostile_actors_are_refused_by_every_service(clinic, tmp_path, figure):
    c = build_clinic(clinic, tmp_path)
    services = {name: SERVICES[name] for name in discover() if name in SERVICES}
    problems: list[str] = []
    calls = 0
    for name, service_aims in services.items():
        for aim in service_aims:
            for who, actor in hostile_actors(c).items():
                calls += 1
                problems += _attack(c, aim, who, actor, where=f"{name} ({aim.label}) by {who}")
    aimed = sum(len(a) for a in services.values())
    print(f"\naccess: {len(services)} services ({aimed} aimed calls) × {len(hostile_actors(c))} hostile actors: "
          f"{calls - len(problems)} of {calls} refused cleanly; {len(problems)} problems")
    assert not problems, "\n".join(problems)
    print(f"access: {len(services)} services × {len(hostile_actors(c))} hostile actors refused; 0 leaks")
    figure(f"access ({c.url.split(':')[0]}): {len(services)} services, {aimed} calls aimed at another patient's "
           f"record × {len(hostile_actors(c))} hostile actors = {calls} refused; 0 leaks, 0 writes")


def test_patient_reads_its_own_record_and_staff_reach_both(clinic, tmp_path):
    c = build_clinic(clinic, tmp_path)
    patient = Actor(username=c.a.username, role="patient", patient_id=c.a.id, user_id=c.a.user_id)

    for mrn in (None, c.a.mrn):  # a patient account names no MRN, or its own
        view = progress_page(patient, mrn, as_of=TODAY).view
        assert (view.mrn, view.full_name) == (c.a.mrn, c.a.full_name)
        timeline = photo_timeline(patient, mrn)
        assert (timeline.mrn, timeline.photo_count) == (c.a.mrn, 2)
        page = progress_page(patient, mrn, as_of=TODAY)
        assert (page.view.mrn, page.photos.mrn, page.coverage.photo_count) == (c.a.mrn, c.a.mrn, 2)
    assert photo_image(patient, c.a.photo_ids[0])[:2] == b"\xff\xd8"  # a JPEG
    assert photo_image(patient, c.a.photo_ids[1], "display")[:2] == b"\xff\xd8"
    compared = before_after(patient, None, "vertex")
    assert (compared.mrn, compared.first.visit_id, compared.second.visit_id) == (c.a.mrn, *c.a.visit_ids)
    version = patient_record(c.clinician, c.a.mrn, today=TODAY).details.version
    update_patient(c.clinician, c.a.mrn, {"notes": "Prefers morning visits."}, "Told at reception.", version,
                   today=TODAY)
    assert [h.reason for h in patient_record(c.clinician, c.a.mrn, today=TODAY).history] == ["Told at reception."]
    own_record = patient_record(patient, c.a.mrn, today=TODAY)
    assert own_record.details.full_name == c.a.full_name
    assert own_record.history == ()  # the clinicians' correction reasons are staff reading
    if importlib.util.find_spec("tracker.exchange.progress_report") is not None:
        from tracker.exchange.progress_report import progress_report_pdf

        file_name, pdf = progress_report_pdf(patient, as_of=TODAY)
        assert pdf.startswith(b"%PDF") and c.a.mrn in file_name

    staff = c.clinician
    assert progress_page(staff, c.b.mrn, as_of=TODAY).view.full_name == c.b.full_name
    assert photo_timeline(staff, c.b.mrn).photo_count == 2
    assert progress_page(staff, c.b.mrn, as_of=TODAY).photos.full_name == c.b.full_name
    assert photo_image(staff, c.b.photo_ids[0])[:2] == b"\xff\xd8"
    assert patient_record(staff, c.b.mrn, today=TODAY).details.mrn == c.b.mrn
    assert [s.mrn for s in sessions_with_lot(staff, c.b.lot).sessions] == [c.b.mrn]
    assert {p.mrn for p in list_patients(staff, today=TODAY)} == {c.a.mrn, c.b.mrn}
    assert schedule(staff, today=TODAY) is not None
    assert verify_password(staff, c.clinician_password) is True
    assert verify_password(staff, c.b.password) is False
