"""Benchmark: the audit trail at 250,000 entries (issue #13), on SQLite and on PostgreSQL.

Builds a trail of ``ENTRIES`` entries with a valid hash chain by Core bulk inserts (every 100th entry is about
``LISTED`` patients, with its ``audit_patient`` rows), then prints, for each database:

- the CSV export (``audit.export_csv``) streamed to a file, and as the audit page makes it (``whole_file``):
  time, Python's peak allocation (tracemalloc) and the process's peak RSS above what it held before; the same
  for the export as it was before it streamed (``audit.py`` at ``OLD_COMMIT``) unless ``--no-old``;
- ``verify`` over the whole trail, the same three figures;
- one page of ``browse`` with each filter (none, user, action, patient: "who viewed patient X"), and page 1,000;
  the plan of each filtered query (EXPLAIN), to see the trail's indexes at work;
- ``record`` of one entry about 50,000 patients (a schedule view of a 50,000-patient clinic).

Each figure comes from a fresh process (peaks of one do not hide another's). PostgreSQL is used when
``TEST_DATABASE_URL`` names a reachable server (a schema of its own, dropped afterwards). Figures only, never
assertions. ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402 (after the sys.path line)

from db import models  # noqa: E402 (after the sys.path line)
from db.engine import engine_for, normalize_url  # noqa: E402 (after the sys.path line)
from tracker.access import audit  # noqa: E402 (after the sys.path line)
from tracker.access.actors import Actor  # noqa: E402 (after the sys.path line)
from tracker.database import initialize, transaction  # noqa: E402 (after the sys.path line)

ENTRIES = 250_000
PATIENTS = 2_000
LISTED = 100  # patients of every 100th entry (a list view)
OLD_COMMIT = "af624cf"  # tracker/access/audit.py before the export streamed (it read the whole trail, then wrote)
ACTIONS = ("view", "view", "view", "view", "create", "update", "export", "report", "sign_in", "sign_out")

# One measurement in a process of its own; prints one JSON line.
MEASURE = """
import json, os, resource, sys, time, tracemalloc
from pathlib import Path
sys.path.insert(0, sys.argv[1])
what, url, out = sys.argv[2], sys.argv[3], Path(sys.argv[4])
from tracker.access import audit
from tracker.access.actors import Actor
from tracker.safe_csv import whole_file
admin = Actor("bench.admin", "admin")
if what == "export (old)":
    import importlib.util
    spec = importlib.util.spec_from_file_location("old_audit", sys.argv[5])
    old = sys.modules["old_audit"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
def to_file():
    with out.open("wb") as handle:
        for chunk in audit.export_csv(admin, url=url).chunks:
            handle.write(chunk)
work = {
    "export to a file": to_file,
    "export for the page": lambda: out.write_bytes(whole_file(audit.export_csv(admin, url=url).chunks)),
    "export (old)": lambda: out.write_bytes(old.export_csv(admin, url=url)),
    "verify": lambda: audit.verify_trail(url=url),
}[what]
traced = os.environ.get("BENCH_TRACE") == "1"
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if traced:
    tracemalloc.start()
started = time.perf_counter()
result = work()
seconds = time.perf_counter() - started
peak = tracemalloc.get_traced_memory()[1] if traced else None
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "traced_mb": peak and peak / 2**20, "rss_mb": (after - before) / 1024,
                  "rss_total_mb": after / 1024, "bytes": out.stat().st_size if out.exists() else 0,
                  "ok": getattr(result, "ok", None)}))
"""


def build_trail(url: str) -> None:
    """``PATIENTS`` patients and ``ENTRIES`` chained entries, written with Core in batches of 10,000."""
    engine = engine_for(url)
    with engine.begin() as connection:
        connection.execute(insert(models.Patient), [
            {"mrn": f"A-{n:05d}", "full_name": f"Audit Bench {n}", "sex": "female", "birth_date": date(1980, 1, 1),
             "condition": "androgenetic_alopecia", "created_by": "bench"} for n in range(PATIENTS)])
        first_patient = connection.exec_driver_sql("select min(id) from patient").scalar_one()
    previous, start, entry_id = audit.GENESIS, datetime(2026, 1, 1, tzinfo=UTC), 0
    for batch in range(0, ENTRIES, 10_000):
        entries, listed = [], []
        for n in range(batch, min(batch + 10_000, ENTRIES)):
            entry_id += 1
            at = start + timedelta(seconds=30 * n)
            username, role, address = f"user{n % 400}", "clinician", f"10.0.{n % 7}.{n % 250}"
            action = ACTIONS[n % len(ACTIONS)]
            patient_id, detail = first_patient + (n * 7919) % PATIENTS, "patient record"
            if n % 100 == 99:  # a list view about many patients
                ids = [first_patient + (n + k * 13) % PATIENTS for k in range(LISTED)]
                patient_id, detail = None, f"patient list: {LISTED} shown; {audit.patients_note(ids)}"
                listed += [{"entry_id": entry_id, "patient_id": i} for i in sorted(set(ids))]
            entry_hash = audit._entry_hash(previous, at, username, role, patient_id, action, detail, address)
            entries.append({"id": entry_id, "at": at, "username": username, "role": role, "patient_id": patient_id,
                            "action": action, "detail": detail, "address": address, "previous_hash": previous,
                            "entry_hash": entry_hash})
            previous = entry_hash
        with engine.begin() as connection:
            connection.execute(insert(models.AuditEntry), entries)
            if listed:
                connection.execute(insert(models.AuditPatient), listed)
    with engine.begin() as connection:
        if url.startswith("postgresql"):
            connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('audit_entry', 'id'), "
                                       f"{entry_id} + 1, false)")
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")


def measure(what: str, url: str, work: Path, old: Path | None) -> dict[str, float]:
    """Run ``what`` twice in fresh processes: untraced for time and RSS, traced for Python's peak."""
    figures: dict[str, float] = {}
    for traced in ("0", "1"):
        out = work / f"out-{uuid.uuid4().hex}.csv"
        done = subprocess.run([sys.executable, "-c", MEASURE, str(ROOT), what, url, str(out), str(old or "")],
                              cwd=ROOT, env={**os.environ, "BENCH_TRACE": traced}, capture_output=True, text=True,
                              timeout=1800)
        out.unlink(missing_ok=True)
        if done.returncode:
            raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
        line = json.loads(done.stdout.strip().splitlines()[-1])
        if traced == "1":
            figures["traced_mb"] = line["traced_mb"]
        else:
            figures.update(seconds=line["seconds"], rss_mb=line["rss_mb"], rss_total_mb=line["rss_total_mb"],
                           mb_written=line["bytes"] / 2**20, ok=line["ok"])
    return figures


def browse_figures(url: str) -> None:
    admin = Actor("bench.admin", "admin")
    searches: dict[str, dict[str, Any]] = {
        "no filter, page 1": {},
        "no filter, page 1,000": {"page": 1_000},
        "user (user7)": {"username": "user7"},
        "action (report)": {"action": "report"},
        "patient A-00042 (who viewed)": {"mrn": "A-00042"},
        "patient + action": {"mrn": "A-00042", "action": "view"},
    }
    for label, filters in searches.items():
        audit.browse(admin, url=url, **filters)  # warm
        times = []
        for _ in range(5):
            started = time.perf_counter()
            page = audit.browse(admin, url=url, **filters)
            times.append(time.perf_counter() - started)
        print(f"  browse, {label}: {sorted(times)[2] * 1000:.1f} ms (median of 5), {page.total:,} matching, "
              f"{len(page.rows)} shown")
    engine = engine_for(url)
    with engine.connect() as connection:
        for label, filters in list(searches.items())[2:5]:
            where = audit._conditions(connection, username=filters.get("username", ""), mrn=filters.get("mrn", ""),
                                      action=filters.get("action", ""), since=None, until=None)
            sql = str(audit._rows(where).limit(100).compile(connection, compile_kwargs={"literal_binds": True}))
            prefix = "EXPLAIN " if url.startswith("postgresql") else "EXPLAIN QUERY PLAN "
            plan = [" ".join(str(c) for c in row) for row in connection.exec_driver_sql(prefix + sql)]
            print(f"  plan, {label}:")
            for line in plan:
                print(f"      {line}")


def record_figure(url: str) -> None:
    ids = list(range(1, 50_001))
    admin = Actor("bench.admin", "admin")
    times = []
    for _ in range(3):
        started = time.perf_counter()
        with transaction(url) as session:
            audit.record(session, admin, "view", detail="schedule: 50,000 shown", patient_ids=ids)
        times.append(time.perf_counter() - started)
    listed = len(", ".join(f"A-{n:05d}" for n in ids))
    print(f"  record of one entry about 50,000 patients (50,000 audit_patient rows): {min(times) * 1000:.0f} ms "
          f"(best of 3); detail {len(audit.patients_note(ids)) + len('schedule: 50,000 shown; ')} characters, "
          f"where listing their MRNs took {listed / 1000:.0f} KB")


def run(label: str, url: str, work: Path, old: Path | None) -> None:
    print(f"\n{label}: building {ENTRIES:,} chained entries ({ENTRIES // 100:,} about {LISTED} patients each)...")
    started = time.perf_counter()
    initialize(url)
    build_trail(url)
    print(f"  built in {time.perf_counter() - started:.1f} s")
    for what in ("export to a file", "export for the page", "export (old)", "verify"):
        if what == "export (old)" and old is None:
            continue
        f = measure(what, url, work, old)
        extra = f", {f['mb_written']:.1f} MB written" if what.startswith("export") else f", intact: {f['ok']}"
        print(f"  {what}: {f['seconds']:.2f} s, Python peak {f['traced_mb']:.1f} MB (tracemalloc), RSS +"
              f"{f['rss_mb']:.0f} MB (peak {f['rss_total_mb']:.0f} MB){extra}")
    browse_figures(url)
    record_figure(url)


def postgres_url() -> tuple[str, str] | None:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        print("\nPostgreSQL: skipped (TEST_DATABASE_URL is not set)")
        return None
    schema = f"bench_audit_{os.getpid()}"
    try:
        engine = create_engine(normalize_url(base), connect_args={"connect_timeout": 3})
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception as error:  # a figure run: say why and go on with SQLite's
        print(f"\nPostgreSQL: skipped ({type(error).__name__}: {error})")
        return None
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}", schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-old", action="store_true", help="skip the export as it was before it streamed")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["TRACKER_DATA_DIR"] = str(work / "data")
        old = None
        if not args.no_old:
            old = work / "old_audit.py"
            old.write_text(subprocess.run(["git", "show", f"{OLD_COMMIT}:tracker/access/audit.py"], cwd=ROOT,
                                          capture_output=True, text=True, check=True).stdout)
        if args.only != "postgresql":
            run("SQLite", f"sqlite:///{work}/bench.db", work, old)
        if args.only != "sqlite" and (pg := postgres_url()):
            url, schema = pg
            try:
                run("PostgreSQL", url, work, old)
            finally:
                from db.engine import dispose_all

                dispose_all()
                engine = create_engine(normalize_url(os.environ["TEST_DATABASE_URL"]))
                with engine.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                engine.dispose()


if __name__ == "__main__":
    main()
