"""Benchmark: building the progress page's data for a patient with 30 visits and 150 photos, as a ratio
to the raw database reads that page needs (target ≤ 2×).

"Page data" is what the progress page calls: ``progress_page`` (access check, engine, chart series, cards,
secondary series, next steps, the photo record of 150 photos, and its audit entry) in one transaction.
"Raw reads" are the same rows fetched with plain SQL on one connection, nothing computed. Both are timed in
one process, medians of repeated runs. Figures only, never assertions.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, insert, text  # noqa: E402 (after the sys.path line)

from db import models  # noqa: E402 (after the sys.path line)
from db.engine import engine_for, normalize_url  # noqa: E402 (after the sys.path line)
from tracker.access.actors import Actor  # noqa: E402 (after the sys.path line)
from tracker.course.clinical import SCALP_VIEWS  # noqa: E402 (after the sys.path line)
from tracker.database import initialize  # noqa: E402 (after the sys.path line)
from tracker.progress.page_data import progress_page  # noqa: E402 (after the sys.path line)

MRN = "BENCH-1"
AS_OF = date(2026, 6, 1)
REPEATS = 300
BENCH_SCHEMA = "bench_progress_page"
RAW_READS = (
    "SELECT * FROM patient WHERE mrn = :mrn",
    "SELECT * FROM protocol WHERE id = (SELECT protocol_id FROM patient WHERE mrn = :mrn)",
    "SELECT * FROM treatment_session WHERE patient_id = :pid AND deleted_at IS NULL",
    "SELECT v.date, m.* FROM visit v JOIN density_measurement m ON m.visit_id = v.id "
    "WHERE v.patient_id = :pid AND v.deleted_at IS NULL AND m.deleted_at IS NULL",
    "SELECT v.date, s.* FROM visit v JOIN scale_score s ON s.visit_id = v.id WHERE v.patient_id = :pid",
    "SELECT * FROM concurrent_therapy WHERE patient_id = :pid AND deleted_at IS NULL",
    "SELECT * FROM visit WHERE patient_id = :pid AND deleted_at IS NULL ORDER BY date",
    "SELECT p.id, p.view, p.visit_id FROM photo p JOIN visit v ON v.id = p.visit_id "
    "WHERE v.patient_id = :pid AND p.deleted_at IS NULL",
)


def build_patient(url: str) -> int:
    engine = engine_for(url)
    with engine.begin() as connection:
        connection.execute(insert(models.Patient), [dict(
            id=1, mrn=MRN, full_name="Bench Patient", sex="female", birth_date=date(1975, 1, 1),
            condition="androgenetic_alopecia", version=1, protocol_id=1)])
        day0 = date(2024, 6, 1)
        connection.execute(insert(models.TreatmentSession), [
            dict(patient_id=1, date=day0 + timedelta(days=d), treatment="exosome", product="Exo", lot_number=f"L{d}",
                 version=1) for d in (0, 120, 240)])
        connection.execute(insert(models.ConcurrentTherapy), [
            dict(patient_id=1, name="Minoxidil 5%", dose="1 ml", start=day0 - timedelta(days=30), version=1)])
        photo_id = 1
        for n in range(30):
            visit_day = day0 - timedelta(days=2) + timedelta(days=n * 24)
            connection.execute(insert(models.Visit), [dict(id=n + 1, patient_id=1, date=visit_day, version=1)])
            connection.execute(insert(models.DensityMeasurement), [
                dict(visit_id=n + 1, site=site, density_per_cm2=140 + n + offset, shaft_diameter_um=60 + n / 3,
                     version=1) for site, offset in (("vertex", 0), ("frontal", 10))])
            connection.execute(insert(models.Photo), [
                dict(id=photo_id + k, visit_id=n + 1, view=view, sha256=f"{photo_id + k:064x}",
                     original_key=f"o/{photo_id + k}", display_key=f"d/{photo_id + k}",
                     thumbnail_key=f"t/{photo_id + k}",
                     media_type="image/jpeg", width=1600, height=1200, version=1)
                for k, view in enumerate(SCALP_VIEWS[:5])])
            photo_id += 5
    return 1


def time_alternately(first, second, repeats: int) -> tuple[float, float]:
    """Medians of ``first`` and ``second`` timed turn about, so a busy moment of a shared machine weighs
    on both sides of the ratio alike."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for function, into in ((first, samples[0]), (second, samples[1])):
            started = time.perf_counter()
            function()
            into.append(time.perf_counter() - started)
    return statistics.median(samples[0]), statistics.median(samples[1])


def measure(url: str, database: str) -> None:
    """Build the bench patient in the empty database at ``url`` and print the figures for it."""
    initialize(url)
    patient_id = build_patient(url)
    actor = Actor("bench", "clinician")
    engine = engine_for(url)

    def page_data() -> None:
        page = progress_page(actor, MRN, AS_OF, url)
        assert len(page.view.progress.sites) == 2 and page.photos.photo_count == 150

    def raw_reads() -> None:
        with engine.connect() as connection:
            for statement in RAW_READS:
                connection.execute(text(statement), {"mrn": MRN, "pid": patient_id}).all()

    page_data()  # warm up
    raw_reads()
    page, raw = time_alternately(page_data, raw_reads, REPEATS)
    # The same page data without its audit-trail write (views must be recorded; shown apart to
    # separate the cost of recording from the cost of building the data).
    from tracker.access import audit
    record = audit.record
    audit.record = lambda *args, **kwargs: None
    try:
        unaudited, raw_again = time_alternately(page_data, raw_reads, REPEATS)
    finally:
        audit.record = record
    print(f"progress page data, 30 visits, 150 photos, 2 sites ({database}, median of {REPEATS}, timed turn about)")
    print(f"  page data (progress_page):    {page * 1000:.2f} ms")
    print(f"  raw database reads it needs:  {raw * 1000:.2f} ms")
    print(f"  ratio: {page / raw:.2f}  (target ≤ 2)")
    print(f"  without its audit write: {unaudited * 1000:.2f} ms, ratio {unaudited / raw_again:.2f}")


def postgres_url() -> str | None:
    """A fresh schema on ``TEST_DATABASE_URL``'s server (as the tests use), or None when there is none."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return None
    try:
        engine = create_engine(normalize_url(base), connect_args={"connect_timeout": 3})
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{BENCH_SCHEMA}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{BENCH_SCHEMA}"'))
        engine.dispose()
    except Exception as exc:  # no server: the SQLite figure stands alone, and we say why
        print(f"PostgreSQL: not measured ({type(exc).__name__} on {base})")
        return None
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{BENCH_SCHEMA}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TRACKER_DATA_DIR"] = tmp
        measure(f"sqlite:///{tmp}/bench.db", "SQLite, the embedded default")
        url = postgres_url()
        if url:
            measure(url, "PostgreSQL")
        else:
            print("PostgreSQL: not measured (set TEST_DATABASE_URL to include it)")


if __name__ == "__main__":
    main()
