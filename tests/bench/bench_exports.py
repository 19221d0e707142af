"""Benchmark: the data exports (issue #15) on the generated clinic (``generate_clinic.py``), SQLite and, when
``TEST_DATABASE_URL`` names a reachable server, PostgreSQL.

For each size it prints, each figure from a fresh process (peaks of one do not hide another's):

- the clinic-wide XLSX (``clinic_export.export_clinic``) written to a file, as ``python -m tracker export clinic``
  does: time (and the process's CPU time), the process's peak RSS (and how much above what it held before the
  export), with ``--trace`` also Python's peak allocation (tracemalloc, which slows the run), the file's size
  and rows;
- one patient's complete data (``patient_export.patient_export``), XLSX and CSV zip: median time of 5.

Memory that stays flat from 2,000 to 50,000 patients is what the streaming is for. Figures only, never
assertions. ``make bench`` runs it; ``--sizes 2000`` for a quick run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import generate_clinic  # noqa: E402 (after the sys.path line)

MEASURE = """
import json, os, resource, statistics, sys, time, tracemalloc
from pathlib import Path
sys.path.insert(0, sys.argv[1])
what, url, out = sys.argv[2], sys.argv[3], Path(sys.argv[4])
from sqlalchemy import select
from db import models
from db.engine import engine_for
from tracker.access.actors import Actor
from tracker.exchange.clinic_export import export_clinic
from tracker.exchange.patient_export import patient_export
admin = Actor("bench.admin", "admin")
figures = {}
if what == "clinic":
    traced = os.environ.get("BENCH_TRACE") == "1"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    with out.open("wb") as handle:
        written = export_clinic(admin, handle, url=url)
    figures["seconds"], figures["cpu_seconds"] = time.perf_counter() - started, time.process_time() - cpu
    figures["traced_mb"] = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures["rss_mb"], figures["rss_total_mb"] = (after - before) / 1024, after / 1024
    figures["bytes"] = out.stat().st_size
    figures["summary"] = written.summary()
else:
    with engine_for(url).connect() as connection:
        mrn = connection.execute(select(models.Patient.mrn).order_by(models.Patient.id).limit(1)).scalar_one()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        patient_export(admin, mrn, what, url=url)
        times.append(time.perf_counter() - started)
    figures["median_ms"] = statistics.median(times) * 1000
print(json.dumps(figures))
"""


def measure(what: str, url: str, work: Path, trace: bool = False) -> dict:
    out = work / "clinic.xlsx"
    done = subprocess.run([sys.executable, "-c", MEASURE, str(ROOT), what, url, str(out)], cwd=ROOT,
                          env={**os.environ, "BENCH_TRACE": "1" if trace else "0"}, capture_output=True, text=True,
                          timeout=3600)
    out.unlink(missing_ok=True)
    if done.returncode:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    figures: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def bench(label: str, url: str, size: int, trace: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        clinic = measure("clinic", url, work)
        print(f"{label} {size:>6,} patients: clinic XLSX {clinic['seconds']:6.1f} s "
              f"(CPU {clinic['cpu_seconds']:.1f} s: the wall time includes waiting for a busy machine), "
              f"peak RSS {clinic['rss_total_mb']:.0f} MB "
              f"(+{clinic['rss_mb']:.0f} MB over the process before the export), "
              f"file {clinic['bytes'] / 2**20:.1f} MiB ({clinic['summary']})")
        if trace:
            traced = measure("clinic", url, work, trace=True)
            print(f"{label} {size:>6,} patients: clinic XLSX traced: Python's peak {traced['traced_mb']:.1f} MB "
                  f"({traced['seconds']:.1f} s under tracemalloc)")
        for form in ("xlsx", "csv"):
            one = measure(form, url, work)
            print(f"{label} {size:>6,} patients: one patient's {form.upper():4} {one['median_ms']:7.1f} ms "
                  "(median of 5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,50000", help="clinic sizes, comma-separated")
    parser.add_argument("--trace", action="store_true", help="also Python's peak allocation (slower)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    server = os.environ.get("TEST_DATABASE_URL")
    for size in sizes:
        bench("SQLite    ", generate_clinic.clinic(size), size, args.trace)
        if server:
            bench("PostgreSQL", generate_clinic.clinic(size, url=server), size, args.trace)


if __name__ == "__main__":
    main()
