"""The progress report PDF: what it says, to whom, that it is audited, and that its pages render."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from db import models
from tests.test_progress_view import make_patient
from tracker.access.actors import Actor
from tracker.database import transaction
from tracker.errors import NotFound, PermissionDenied
from tracker.exchange import report_pdf
from tracker.exchange.progress_report import progress_report_pdf, report_file_name
from tracker.photos.store import store_photo

AS_OF = date(2026, 2, 1)
CLINICIAN = Actor("dr.lee", "clinician")
NAME = "Zoë Ångström-Núñez"


def scalp_photo(seed: int, strands: int, size: tuple[int, int] = (1200, 900), tint: int = 0) -> bytes:
    """A fictional scalp close-up: skin tone with ``strands`` dark hair strokes (more strands, denser hair)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (222 - tint, 184 - tint, 160 - tint))
    draw = ImageDraw.Draw(image)
    for _ in range(strands):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        dx, dy = rng.randint(-60, 60), rng.randint(20, 90)
        shade = rng.randint(25, 70)
        draw.line((x, y, x + dx, y + dy), fill=(shade, shade - 10 if shade > 10 else 0, 5), width=rng.randint(2, 4))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def add_photos(url: str, patient_id: int, views: tuple[str, ...] = ("vertex", "frontal")) -> None:
    """Photos at the baseline visit (day 0) and the latest one; a middle visit has a vertex photo too."""
    with transaction(url) as session:
        visits = {v.date: v.id
                  for v in session.scalars(select(models.Visit).where(models.Visit.patient_id == patient_id))}
        plan = [(date(2025, 1, 15), 400), (date(2025, 7, 15), 600), (date(2026, 1, 20), 900)]
        for index, (day, strands) in enumerate(plan):
            for view in views:
                if view != "vertex" and day == date(2025, 7, 15):
                    continue
                data = scalp_photo(seed=index * 10 + len(view), strands=strands, tint=index * 4)
                store_photo(session, visit_id=visits[day], view=view, data=data, file_name=f"{view}-{day}.jpg",
                            actor="test")


def add_session_details(url: str, patient_id: int) -> None:
    with transaction(url) as session:
        first = session.scalars(select(models.TreatmentSession).where(
            models.TreatmentSession.patient_id == patient_id)).first()
        if first is None:
            raise LookupError(f"patient {patient_id} has no treatment session to add details to")
        first.volume_ml = 4.5
        first.areas = "vertex, crown"
        session.add(models.TreatmentSession(patient_id=patient_id, date=date(2025, 6, 2), treatment="exosome",
                                            product="ExoHair Plus", lot_number="EXO-2/β", volume_ml=5.0))


def pdf_text(data: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: `apt-get install -y poppler-utils` or `make chromium`")
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def assert_valid_pdf(data: bytes) -> None:
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")


def entries(url: str, action: str) -> list[models.AuditEntry]:
    with transaction(url) as session:
        rows = session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == action)).all()
        session.expunge_all()
        return list(rows)


def test_clinician_report_holds_the_record_and_nobody_else(clinic, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER_CLINIC_NAME", "Clínica Capilar Süd")
    own = make_patient(clinic, "P-1", NAME)
    make_patient(clinic, "P-2", "Bea Other")
    add_session_details(clinic, own)
    add_photos(clinic, own)

    name, data = progress_report_pdf(CLINICIAN, "P-1", AS_OF, clinic)

    assert name == "progress-P-1-2026-02-01.pdf"
    assert_valid_pdf(data)
    text = pdf_text(data, tmp_path)
    for expected in (NAME, "P-1", "Clínica Capilar Süd", "EXO-1", "EXO-2/β", "ExoHair Plus", "4.5",
                     "hairs/cm²", "±15 hairs/cm² (10% of baseline): measurement noise", "Minoxidil 5%",
                     "1 ml twice daily", "Before and after photos",
                     "Vertex", "Frontal", "About the evidence", "limited", "Page 1 of"):
        assert expected in text, expected
    assert "Bea Other" not in text and "P-2" not in text
    # the milestone table, in words and numbers: 3 months +25 (+17%), above +4..+19 but within the noise (±15)
    assert "Early response" in text and "(2–3 months)" in text
    assert "+25" in text and "+17%" in text and "measurement noise (±15)" in text
    assert "consistent with the expected course" in text and "Behind" not in text
    # one entry per download, for this patient
    reports = entries(clinic, "report")
    assert [(r.username, r.patient_id) for r in reports] == [("dr.lee", own)]

    if shutil.which("pdfimages"):
        listing = subprocess.run(["pdfimages", "-list", "-"], input=data, capture_output=True, check=True).stdout
        images = [line for line in listing.decode().splitlines()[2:] if line.strip()]
        assert len(images) == 4  # vertex and frontal, before and after
        sizes = {tuple(line.split()[3:5]) for line in images}
        assert len(sizes) == 1  # both photos of a pair in the same frame


def test_patient_gets_own_report_and_is_refused_any_other(clinic, tmp_path):
    own = make_patient(clinic, "P-1", NAME)
    make_patient(clinic, "P-2", "Bea Other")
    patient = Actor("zoe", "patient", patient_id=own)

    name, data = progress_report_pdf(patient, None, AS_OF, clinic)
    assert name == "progress-P-1-2026-02-01.pdf"
    text = pdf_text(data, tmp_path)
    assert NAME in text and "Bea Other" not in text
    assert progress_report_pdf(patient, "P-1", AS_OF, clinic)[0] == name

    for other in ("P-2", "DOES-NOT-EXIST"):
        with pytest.raises(PermissionDenied):
            progress_report_pdf(patient, other, AS_OF, clinic)
    with pytest.raises(PermissionDenied):
        progress_report_pdf(None, "P-1", AS_OF, clinic)
    with pytest.raises(PermissionDenied):
        progress_report_pdf(Actor("mallory", "superuser"), "P-1", AS_OF, clinic)
    with pytest.raises(NotFound):
        progress_report_pdf(CLINICIAN, "NOPE", AS_OF, clinic)

    assert [(r.username, r.patient_id) for r in entries(clinic, "report")] == [("zoe", own), ("zoe", own)]
    refused = [r for r in entries(clinic, "refused") if "progress report" in r.detail]
    assert [r.username for r in refused] == ["zoe", "zoe", None, "mallory"]
    assert "P-2" in refused[0].detail


def test_patient_without_sessions_or_photos_gets_a_report_saying_so(clinic, tmp_path):
    with transaction(clinic) as session:
        session.add(models.Patient(mrn="P-9", full_name="Néo Newcomer", sex="male", birth_date=date(1990, 2, 3),
                                   condition="androgenetic_alopecia"))
    name, data = progress_report_pdf(CLINICIAN, "P-9", AS_OF, clinic)
    assert name == "progress-P-9-2026-02-01.pdf"
    assert_valid_pdf(data)
    text = pdf_text(data, tmp_path)
    assert "Néo Newcomer" in text
    assert "No treatment session has been recorded yet" in text
    assert "No photos have been recorded yet." in text
    assert "No treatment session has been recorded." in text
    assert "About the evidence" not in text  # no exosome session, no evidence note


def test_pages_render_to_images(sqlite_clinic, tmp_path):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: `apt-get install -y poppler-utils` or `make chromium`")
    own = make_patient(sqlite_clinic, "P-1", NAME)
    add_session_details(sqlite_clinic, own)
    add_photos(sqlite_clinic, own)
    _, data = progress_report_pdf(CLINICIAN, "P-1", AS_OF, sqlite_clinic)
    (tmp_path / "report.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(tmp_path / "report.pdf"), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    for page in pages:
        with Image.open(page) as image:
            assert abs(image.size[0] - 496) <= 1 and abs(image.size[1] - 702) <= 1  # A4 at 60 dpi
            inked = sum(image.convert("L").histogram()[:250])  # pixels that are not (nearly) white
            assert inked > 2_000, f"{page.name} is almost blank"
    with Image.open(pages[0]) as first:
        colours = first.convert("RGB").getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 50  # a chart, not text alone


def test_without_dejavu_the_report_falls_back_to_helvetica(sqlite_clinic, tmp_path, monkeypatch):
    monkeypatch.setattr(report_pdf, "FONT_DIRS", ())
    make_patient(sqlite_clinic, "P-1", "Łukasz Zoë 王")
    _, data = progress_report_pdf(CLINICIAN, "P-1", AS_OF, sqlite_clinic)
    assert_valid_pdf(data)
    text = pdf_text(data, tmp_path)
    assert "Lukasz Zoë ?" in text
    assert "hairs/cm²" in text and "±15 hairs/cm² (10% of baseline)" in text


def test_user_typed_text_is_printed_as_text(sqlite_clinic, tmp_path):
    own = make_patient(sqlite_clinic, "P-1", "**Bold** <b>x</b> {nb} $(rm) 𝔘")
    with transaction(sqlite_clinic) as session:
        session.add(models.TreatmentSession(patient_id=own, date=date(2025, 3, 1), treatment="prp",
                                            product="<script>", lot_number="LOT_1*2"))
    _, data = progress_report_pdf(CLINICIAN, "P-1", AS_OF, sqlite_clinic)
    text = pdf_text(data, tmp_path)
    assert "**Bold** <b>x</b> {nb} $(rm) ?" in text  # a character no font has shows as "?", never vanishes
    assert "<script>" in text and "LOT_1*2" in text


def test_chinese_japanese_and_korean_names_print_with_the_cjk_fallback(sqlite_clinic, tmp_path):
    if report_pdf.find_unicode_font() is None or report_pdf.find_cjk_font() is None:
        pytest.skip("DejaVu Sans or a CJK font is missing: `make chromium` installs fonts-dejavu-core and "
                    "fonts-wqy-microhei")
    make_patient(sqlite_clinic, "P-1", "Łukasz 王小明 김민준 さくら")
    _, data = progress_report_pdf(CLINICIAN, "P-1", AS_OF, sqlite_clinic)
    assert_valid_pdf(data)
    text = pdf_text(data, tmp_path)
    assert "Łukasz 王小明 김민준 さくら" in text and "?" not in text.split("Łukasz", 1)[1].split("\n", 1)[0]


def test_file_name_is_safe():
    assert report_file_name(" a/b\\c:d ", date(2026, 1, 2)) == "progress-a_b_c_d-2026-01-02.pdf"


def test_progress_page_offers_the_download_without_making_it(sqlite_clinic):
    """Staff and patients see the button; the PDF is made (and audited) only when it is clicked."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    own = make_patient(sqlite_clinic, "P-1", NAME)
    for actor, mrn in ((CLINICIAN, "P-1"), (Actor("zoe", "patient", patient_id=own), None)):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["actor"] = actor
        if mrn:
            at.session_state["mrn"] = mrn
        at.run()
        at.switch_page("pages/progress.py")
        at.run()
        assert not at.exception
        # A patient account also gets its complete data there (issue #15); staff get it on the patient record.
        own_data = [] if mrn else ["Download all data (XLSX)", "Download all data (CSV, zip)"]
        assert [b.label for b in at.download_button] == ["Download progress report", *own_data]
    assert entries(sqlite_clinic, "report") == []


def test_the_report_marks_today_labels_the_band_and_prints_the_ratings(sqlite_clinic, tmp_path):
    """The change chart's today line, band edge labels (flat +15..+35 after month 12) and value labels; the
    visits' global assessment and satisfaction in a table."""
    own = make_patient(sqlite_clinic, "P-1", NAME)
    with transaction(sqlite_clinic) as session:
        for visit in session.scalars(select(models.Visit).where(models.Visit.patient_id == own)):
            if visit.date == date(2025, 4, 14):
                visit.global_assessment, visit.satisfaction = 1, 6
            if visit.date == date(2026, 1, 20):
                visit.global_assessment = -2
    _, data = progress_report_pdf(CLINICIAN, "P-1", AS_OF, sqlite_clinic)
    text = pdf_text(data, tmp_path)
    for expected in ("expected high +35", "expected low +15", "today", "+25", "+50",
                     "Global photographic assessment and satisfaction"):
        assert expected in text, expected
    assert re.search(r"2025-04-14\s+\+1 Slightly increased\s+6/10\n", text)
    assert re.search(r"2026-01-20\s+−2 Moderately decreased\s+–\n", text)


def test_a_site_without_a_baseline_is_printed_as_its_density(sqlite_clinic, tmp_path):
    """Measured only from 3 months after day 0: no change can be drawn, so the densities are, with their values."""
    with transaction(sqlite_clinic) as session:
        patient = models.Patient(mrn="NB-1", full_name="Noor Nobaseline", sex="female", birth_date=date(1985, 1, 1),
                                 condition="androgenetic_alopecia")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=date(2025, 3, 1), treatment="prp"))
        for day, density in ((date(2025, 6, 1), 140.0), (date(2025, 9, 1), 150.0), (date(2025, 12, 1), 158.0)):
            visit = models.Visit(patient_id=patient.id, date=day)
            session.add(visit)
            session.flush()
            session.add(models.DensityMeasurement(visit_id=visit.id, site="vertex", density_per_cm2=density))
    _, data = progress_report_pdf(CLINICIAN, "NB-1", AS_OF, sqlite_clinic)
    text = pdf_text(data, tmp_path)
    assert "the change cannot be judged, so the measured density (hairs/cm²) is shown" in " ".join(text.split())
    for expected in ("density (hairs/cm²)", "140", "150", "158", "today", "no baseline"):
        assert expected in text, expected
    assert "expected high" not in text  # no band without a baseline
