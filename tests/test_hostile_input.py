"""Hostile and broken input, run through the same services the pages use.

Every case must be refused with a clear message (a ``ValidationError``/``NotFound`` whose text a clinician
can act on, never a raw library error), and must change neither the database nor the photo store.
The number of cases tried is printed (run with ``-s`` to see it).
"""

from __future__ import annotations

import io
import struct
import zlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from PIL import Image
from sqlalchemy import func, select

from db import models
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import NotFound, ValidationError
from tracker.exchange.spreadsheet_import import import_spreadsheets
from tracker.records.batch_documents import DocumentUpload
from tracker.records.patient_intake import NewPatient, create_patient
from tracker.records.treatment_sessions import SessionEntry, log_session
from tracker.records.visit_form import PhotoUpload, SiteEntry, VisitEntry
from tracker.records.visits import log_visit

CLINICIAN = Actor("dr.lee", "clinician")
TODAY = date(2026, 6, 1)
MRN = "H-001"
RAW_LIBRARY_WORDS = ("Traceback", "PIL.", "UnidentifiedImageError", "sqlalchemy", "IntegrityError", "errno",
                     "cannot identify image file")


# ---------------------------------------------------------------- images and files
def _jpeg(size=(64, 48), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "#8a5a44" if mode == "RGB" else 120).save(buffer, "JPEG")
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width``×``height`` but carries almost no data (decompression bomb / absurd shape)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def _heic_truncated() -> bytes:
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 64), "green")).save(buffer, format="HEIF")
    return buffer.getvalue()[:200]


def _png_corrupt() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[40:80] = b"\x00" * 40
    return bytes(data)


PHOTO_CASES = {
    "pdf named .jpg": ("scalp.jpg", b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
    "zero bytes": ("empty.jpg", b""),
    "truncated jpeg": ("cut.jpg", _jpeg((400, 300))[:300]),
    "corrupt png": ("broken.png", _png_corrupt()),
    "truncated heic": ("iphone.heic", _heic_truncated()),
    "decompression bomb": ("bomb.png", _png_header_only(30_000, 30_000)),
    "0x0 image": ("zero.png", _png_header_only(0, 0)),
    "1x100000 image": ("strip.png", _png_header_only(1, 100_000)),
    "animated gif": ("anim.gif", _animated_gif()),
    "svg with script": ("vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    "html named .png": ("page.png", b"<!doctype html><img src=x onerror=alert(1)>"),
    "executable named .jpg": ("run.jpg", b"MZ\x90\x00" + b"\x00" * 200),
    "zip named .webp": ("archive.webp", b"PK\x03\x04" + b"\x00" * 100),
    "text named .heic": ("notes.heic", b"just some text, not a photo"),
    "oversized file": ("huge.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * (26 * 1024 * 1024)),
}

NAME_CASES = {  # valid JPEG data, hostile file names: the name is cleaned, never used as a path
    "dot-dot path": "../../etc/passwd.jpg",
    "absolute path": "/etc/shadow.jpg",
    "control characters": "scalp\x00\x07\r\n.jpg",
    "windows path": "..\\..\\boot.ini.jpg",
}

DOCUMENT_CASES = {
    "jpeg named .pdf": ("certificate.pdf", b"not really a pdf at all"),
    "empty document": ("blank.pdf", b""),
    "html document": ("cert.pdf", b"<html><script>alert(1)</script></html>"),
    "svg document": ("cert.svg", b"<svg><script>alert(1)</script></svg>"),
}

VISIT_CASES = {
    "negative density": dict(sites=[SiteEntry("vertex", -5)]),
    "zero density": dict(sites=[SiteEntry("vertex", 0)]),
    "absurd density": dict(sites=[SiteEntry("vertex", 10_000)]),
    "density not a number": dict(sites=[SiteEntry("vertex", "lots")]),
    "density NaN": dict(sites=[SiteEntry("vertex", "nan")]),
    "density infinite": dict(sites=[SiteEntry("vertex", "inf")]),
    "future visit": dict(date=TODAY + timedelta(days=3)),
    "visit before birth": dict(date=date(1950, 1, 1)),
    "terminal % above 100": dict(sites=[SiteEntry("vertex", 150, terminal_pct=140)]),
    "hostile site name": dict(sites=[SiteEntry("../../vertex", 150)]),
}

SESSION_CASES = {
    "exosome without lot": SessionEntry(date=TODAY, treatment="exosome", product="Exo", lot_number=""),
    "unknown treatment": SessionEntry(date=TODAY, treatment="bleach", product="X", lot_number="L1"),
    "future session": SessionEntry(date=TODAY + timedelta(days=30), treatment="prp", product="Kit", lot_number="L"),
    "negative volume": SessionEntry(date=TODAY, treatment="prp", product="Kit", lot_number="L", volume_ml=-3),
    "bad date text": SessionEntry(date="31/02/2026", treatment="prp", product="Kit", lot_number="L"),
}

PATIENT_CASES = {
    "future birth date": dict(birth_date=TODAY + timedelta(days=1)),
    "empty name": dict(full_name="   "),
    "bad MRN": dict(mrn="H 001; DROP TABLE patient"),
    "duplicate MRN": dict(mrn=MRN),
    "unknown condition": dict(condition="baldness"),
    "birth 200 years ago": dict(birth_date=date(1820, 1, 1)),
}

PATIENTS_HEADER = "mrn,full_name,sex,birth_date,condition\n"
SESSIONS_HEADER = "mrn,date,treatment,product,lot_number\n"
VISITS_HEADER = "mrn,date,density_per_cm2,site\n"
GOOD_PATIENT = "S-1,Sheet Patient,female,1980-01-01,androgenetic_alopecia\n"
SPREADSHEET_CASES = {
    "missing column": (PATIENTS_HEADER.replace(",condition", ""), SESSIONS_HEADER, VISITS_HEADER),
    "bad date": (PATIENTS_HEADER + "S-1,Sheet Patient,female,1980-02-30,other\n", SESSIONS_HEADER, VISITS_HEADER),
    "US date": (PATIENTS_HEADER + GOOD_PATIENT, SESSIONS_HEADER + "S-1,03/04/2025,prp,Kit,L1\n", VISITS_HEADER),
    "negative density": (PATIENTS_HEADER + GOOD_PATIENT, SESSIONS_HEADER,
                         VISITS_HEADER + "S-1,2025-01-01,-40,vertex\n"),
    "absurd density": (PATIENTS_HEADER + GOOD_PATIENT, SESSIONS_HEADER, VISITS_HEADER + "S-1,2025-01-01,9000,vertex\n"),
    "conflicting duplicate rows": (PATIENTS_HEADER + GOOD_PATIENT, SESSIONS_HEADER,
                                   VISITS_HEADER + "S-1,2025-01-01,140,vertex\nS-1,2025-01-01,150,vertex\n"),
    "unknown MRN": (PATIENTS_HEADER + GOOD_PATIENT, SESSIONS_HEADER + "NOPE-1,2025-01-01,prp,Kit,L1\n", VISITS_HEADER),
    "formula in name plus bad row": (PATIENTS_HEADER + 'S-2,"=HYPERLINK(""http://x"",""y"")",male,1980-01-01,other\n'
                                     + "S-3,Bad Row,robot,1980-01-01,other\n", SESSIONS_HEADER, VISITS_HEADER),
    "binary file named .csv": ("\x89PNG\r\n\x1a\n\x00\x00garbage", SESSIONS_HEADER, VISITS_HEADER),
    "empty file": ("", SESSIONS_HEADER, VISITS_HEADER),
}


# ---------------------------------------------------------------- the harness
def _state(url: str, photo_root: Path) -> tuple:
    with transaction(url) as session:
        counts = tuple(
            session.scalar(select(func.count()).select_from(table)) for table in models.Base.metadata.sorted_tables
            if table.name not in ("audit_entry", "sign_in_attempt")
        )
    files = (sorted(str(p.relative_to(photo_root)) for p in photo_root.rglob("*") if p.is_file())
             if photo_root.exists() else [])
    return counts, tuple(files)


def _assert_clear_refusal(error: Exception) -> None:
    message = " ".join([str(error)] + list(getattr(error, "problems", [])))
    assert message.strip(), "a refusal must say why"
    assert not any(word in message for word in RAW_LIBRARY_WORDS), message


@pytest.fixture
def hostile_clinic(clinic, tmp_path, monkeypatch):
    create_patient(CLINICIAN, NewPatient(mrn=MRN, full_name="Hostile Case", sex="male", birth_date=date(1975, 3, 3),
                                         condition="androgenetic_alopecia", baseline_scale="norwood",
                                         baseline_stage="III", target_areas="vertex"), today=TODAY, url=clinic)
    log_visit(CLINICIAN, MRN, VisitEntry(date=TODAY - timedelta(days=10), sites=[SiteEntry("vertex", 140)]),
              [PhotoUpload("vertex", "ok.jpg", _jpeg())], url=clinic, today=TODAY)
    return clinic, tmp_path / "data" / "photos"


def _upload_named(name: str, good_entry: dict, url: str) -> None:
    """A hostile name on a file that is no photo: refused, and the message echoes no path or control code."""
    try:
        log_visit(CLINICIAN, MRN, VisitEntry(**good_entry), [PhotoUpload("vertex", name, b"%PDF-1.4 x")],
                  url=url, today=TODAY)
    except ValidationError as error:
        echoed = " ".join([str(error)] + error.problems)
        assert "../" not in echoed and "..\\" not in echoed
        assert not any(ord(c) < 32 for c in echoed), repr(echoed)
        raise


def _sheets(folder: Path, patients: str, sessions: str, visits: str) -> list[Path]:
    """The three CSV files of an import, written into a new ``folder``."""
    folder.mkdir()
    paths = []
    for name, text in (("patients.csv", patients), ("sessions.csv", sessions), ("visits.csv", visits)):
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths


def test_hostile_corpus_is_refused_clearly_and_changes_nothing(hostile_clinic, tmp_path, figure, db_url):
    url, photo_root = hostile_clinic
    before = _state(url, photo_root)
    tried = 0
    refused: list[str] = []

    def attempt(label: str, call) -> None:
        nonlocal tried
        tried += 1
        with pytest.raises((ValidationError, NotFound)) as caught:
            call()
        _assert_clear_refusal(caught.value)
        assert _state(url, photo_root) == before, f"{label} changed the database or the photo store"
        refused.append(label)

    good_entry = dict(date=TODAY - timedelta(days=1), sites=[SiteEntry("vertex", 150)])
    for label, (name, data) in PHOTO_CASES.items():
        attempt(f"photo: {label}", lambda name=name, data=data: log_visit(
            CLINICIAN, MRN, VisitEntry(**good_entry), [PhotoUpload("vertex", name, data)], url=url, today=TODAY))
    for label, name in NAME_CASES.items():
        attempt(f"file name: {label}", lambda name=name: _upload_named(name, good_entry, url))
    for label, (name, data) in DOCUMENT_CASES.items():
        attempt(f"document: {label}", lambda name=name, data=data: log_session(
            CLINICIAN, MRN, SessionEntry(date=TODAY, treatment="prp", product="Kit", lot_number="L-1"),
            [DocumentUpload(name, data)], url=url, today=TODAY))
    for label, changes in VISIT_CASES.items():
        attempt(f"visit: {label}", lambda changes=changes: log_visit(
            CLINICIAN, MRN, VisitEntry(**{**good_entry, **changes}), url=url, today=TODAY))
    for label, entry in SESSION_CASES.items():
        attempt(f"session: {label}", lambda entry=entry: log_session(CLINICIAN, MRN, entry, url=url, today=TODAY))
    base_patient = dict(mrn="H-002", full_name="New Person", sex="female", birth_date=date(1990, 1, 1),
                        condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="I",
                        target_areas="vertex")
    for label, changes in PATIENT_CASES.items():
        attempt(f"patient: {label}", lambda changes=changes: create_patient(
            CLINICIAN, NewPatient(**{**base_patient, **changes}), today=TODAY, url=url))
    attempt("visit: unknown MRN", lambda: log_visit(CLINICIAN, "NOPE-404", VisitEntry(**good_entry), url=url,
                                                   today=TODAY))
    for label, (patients, sessions, visits) in SPREADSHEET_CASES.items():
        paths = _sheets(tmp_path / f"sheets-{tried}", patients, sessions, visits)
        attempt(f"spreadsheet: {label}",
                lambda paths=paths: import_spreadsheets(*paths, actor=CLINICIAN, url=url, today=TODAY))
    workbook = Workbook()
    workbook.active.append(["mrn", "full_name"])  # an .xlsx missing columns
    xlsx = tmp_path / "patients.xlsx"
    workbook.save(xlsx)
    csv_ok = tmp_path / "ok"
    csv_ok.mkdir()
    (csv_ok / "s.csv").write_text(SESSIONS_HEADER)
    (csv_ok / "v.csv").write_text(VISITS_HEADER)
    attempt("spreadsheet: xlsx missing columns",
            lambda: import_spreadsheets(xlsx, csv_ok / "s.csv", csv_ok / "v.csv", actor=CLINICIAN, url=url,
                                        today=TODAY))
    (tmp_path / "fake.xlsx").write_bytes(b"PK\x03\x04 definitely not a workbook")
    attempt("spreadsheet: corrupt xlsx",
            lambda: import_spreadsheets(tmp_path / "fake.xlsx", csv_ok / "s.csv", csv_ok / "v.csv", actor=CLINICIAN,
                                        url=url, today=TODAY))

    assert tried == len(refused)
    figure(f"hostile inputs ({db_url.split(':')[0]}): {tried} tried, {tried} refused with a clear message, "
           "0 changed the database or the photo store")
    assert tried == (len(PHOTO_CASES) + len(NAME_CASES) + len(DOCUMENT_CASES) + len(VISIT_CASES)
                     + len(SESSION_CASES) + len(PATIENT_CASES) + 1 + len(SPREADSHEET_CASES) + 2)


def test_hostile_file_name_on_a_real_photo_is_cleaned(hostile_clinic):
    url, photo_root = hostile_clinic
    saved = log_visit(CLINICIAN, MRN, VisitEntry(date=TODAY - timedelta(days=3), sites=[SiteEntry("vertex", 150)]),
                      [PhotoUpload("vertex", "../../etc/pass\x07wd.jpg", _jpeg((70, 50)))], url=url, today=TODAY)
    with transaction(url) as session:
        stored = session.get(models.Photo, saved.photos[0].photo_id)
    assert "/" not in (stored.original_file_name or "") and "\x07" not in (stored.original_file_name or "")
    assert all(part != ".." for p in photo_root.rglob("*") for part in p.relative_to(photo_root).parts)
    assert not (photo_root.parent.parent / "etc").exists()


@pytest.mark.parametrize("mode", ["CMYK", "I;16"])
def test_unusual_but_valid_images_are_accepted(hostile_clinic, mode):
    url, _ = hostile_clinic
    image = Image.new(mode, (80, 60), 30000 if mode == "I;16" else (10, 20, 30, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG" if mode == "CMYK" else "PNG")
    saved = log_visit(CLINICIAN, MRN, VisitEntry(date=TODAY - timedelta(days=2), sites=[SiteEntry("vertex", 150)]),
                      [PhotoUpload("vertex", f"{mode}.img", buffer.getvalue())], url=url, today=TODAY)
    assert len(saved.photos) == 1
