"""Benchmark: a patient's progress must not slow down as the clinic grows.

Builds one SQLite clinic with 2,000 patients and times ``progress_json`` for sample patients, then grows
the same database to 20,000 patients and times the same patients again; prints both medians and the
ratio (target ≤ 1.5). Run with ``make bench``; figures, never assertions.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import insert  # noqa: E402 (after the sys.path line)

from db import models  # noqa: E402 (after the sys.path line)
from db.engine import engine_for  # noqa: E402 (after the sys.path line)
from tracker.access.actors import command_line_actor  # noqa: E402 (imports follow the sys.path line)
from tracker.database import initialize  # noqa: E402 (after the sys.path line)
from tracker.progress.patient_progress import progress_json  # noqa: E402 (after the sys.path line)

SAMPLE = [f"B-{i:06d}" for i in range(0, 2000, 97)]


def add_patients(url: str, start: int, stop: int, seed: int) -> None:
    """Bulk-insert patients ``start..stop`` each with 2 sessions, 5 visits and 2 sites per visit."""
    rng = random.Random(seed)
    engine = engine_for(url)
    with engine.begin() as connection:
        patient_rows, session_rows, visit_rows, measurement_rows = [], [], [], []
        visit_id = connection.exec_driver_sql("select coalesce(max(id), 0) from visit").scalar_one() + 1
        for number in range(start, stop):
            day0 = date(2024, 1, 1) + timedelta(days=rng.randrange(600))
            patient_rows.append(dict(id=number + 1, mrn=f"B-{number:06d}", full_name=f"Bench Patient {number}",
                                     sex=rng.choice(["female", "male"]), birth_date=date(1970, 1, 1),
                                     condition="androgenetic_alopecia", version=1))
            for offset in (0, 150):
                session_rows.append(dict(patient_id=number + 1, date=day0 + timedelta(days=offset),
                                         treatment="exosome", product="Exo", lot_number=f"L{number % 50}", version=1))
            for offset in (-3, 90, 180, 270, 365):
                visit_rows.append(dict(id=visit_id, patient_id=number + 1, date=day0 + timedelta(days=offset),
                                       version=1))
                for site in ("vertex", "frontal"):
                    measurement_rows.append(dict(visit_id=visit_id, site=site, version=1,
                                                 density_per_cm2=rng.uniform(100, 220)))
                visit_id += 1
        connection.execute(insert(models.Patient), patient_rows)
        connection.execute(insert(models.TreatmentSession), session_rows)
        connection.execute(insert(models.Visit), visit_rows)
        connection.execute(insert(models.DensityMeasurement), measurement_rows)


def time_progress(url: str, repeats: int = 5) -> float:
    timings = []
    for _ in range(repeats):
        for mrn in SAMPLE:
            started = time.perf_counter()
            progress_json(command_line_actor("bench"), mrn, date(2026, 6, 1), url)
            timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TRACKER_DATA_DIR"] = tmp
        url = f"sqlite:///{tmp}/bench.db"
        initialize(url)
        add_patients(url, 0, 2_000, seed=1)
        time_progress(url, repeats=1)  # warm caches and the engine
        small = time_progress(url)
        add_patients(url, 2_000, 20_000, seed=2)
        time_progress(url, repeats=1)
        large = time_progress(url)
    print(f"progress, one patient, 2,000 patients in the database:  {small * 1000:.2f} ms (median)")
    print(f"progress, one patient, 20,000 patients in the database: {large * 1000:.2f} ms (median)")
    print(f"ratio 20,000 / 2,000: {large / small:.2f}  (target ≤ 1.5)")


if __name__ == "__main__":
    main()
