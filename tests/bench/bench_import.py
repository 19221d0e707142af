"""Benchmark: importing a 5,000-patient clinic's spreadsheets (issue #13's goal: under 5 s on SQLite and 8 s on
PostgreSQL, memory under 300 MB).

Writes the three files (``import_sheet.py``: 5,000 patients, 15,000 sessions, ~46,000 visits in ~60,000 visit
rows) as CSV and as .xlsx, then, for each database and format, imports them into an empty clinic in a process of
its own and prints the import's time (``import_spreadsheets``, the call behind ``python -m tracker import``: reading,
checking, writing, committing), the CPU time the importing process used (the figure a busy machine
distorts least; the database server's own work on PostgreSQL is not in it) and the process's peak resident
memory. PostgreSQL is used when
``TEST_DATABASE_URL`` names a reachable server (each run in a schema of its own, dropped afterwards).

``--code FOLDER`` runs another checkout's import (e.g. a worktree of main, for the figures before a change);
``--patients N`` and ``--formats csv,xlsx`` change the clinic. Figures only, never assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_sheet import write_files  # noqa: E402 (after the sys.path line)

# Runs in the checkout under test: set up an empty clinic (not timed), import the files, report the time, the
# counts and the peak RSS as one JSON line.
IMPORTER = """
import json, resource, sys, time
from tracker.access.actors import command_line_actor
from tracker.database import initialize
from tracker.exchange.spreadsheet_import import import_spreadsheets

url, paths = sys.argv[1], sys.argv[2:5]
initialize(url)
before = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
result = import_spreadsheets(*paths, actor=command_line_actor("import"), url=url)
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
print(json.dumps({"seconds": seconds, "cpu": cpu, "patients": result.patients_added, "visits": result.visits_added,
                  "measurements": result.measurements_added, "sessions": result.sessions_added,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _postgres_schema(base: str) -> tuple[str, str] | None:
    """A fresh schema on the server and the URL that uses it, or None when there is no server."""
    from sqlalchemy import create_engine, text

    sys.path.insert(0, str(ROOT))
    from db.engine import normalize_url

    schema = f"bench_import_{uuid.uuid4().hex[:8]}"
    try:
        engine = create_engine(normalize_url(base), connect_args={"connect_timeout": 3})
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception as exc:  # no server: the figure is left out, and the reason said
        print(f"PostgreSQL skipped: cannot use {base} ({type(exc).__name__})")
        return None
    separator = "&" if "?" in base else "?"
    return schema, f"{base}{separator}options=-csearch_path%3D{schema}"


def _drop_schema(base: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    from db.engine import normalize_url

    engine = create_engine(normalize_url(base))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def run_import(code: Path, url: str, paths: tuple[Path, Path, Path], data_dir: Path) -> dict[str, float]:
    env = {**os.environ, "TRACKER_DATA_DIR": str(data_dir), "DATABASE_URL": url, "PYTHONPATH": str(code)}
    finished = subprocess.run([sys.executable, "-c", IMPORTER, url, *map(str, paths)], cwd=code, env=env,
                              capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise SystemExit(f"the import failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose import runs (default: this one)")
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    base = os.environ.get("TEST_DATABASE_URL")
    print(f"Import of {args.patients} patients, code: {args.code.resolve()}")
    print(f"{'database':<11} {'format':<6} {'seconds':>8} {'CPU s':>6} {'peak RSS':>9}  added")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as scratch:
        folder = Path(scratch)
        for file_format in args.formats.split(","):
            paths = write_files(folder / file_format, args.patients, file_format)
            for database in args.databases.split(","):
                data_dir = folder / f"data-{database}-{file_format}"
                schema = None
                if database == "sqlite":
                    url = f"sqlite:///{data_dir / 'tracker.db'}"
                elif base:
                    made = _postgres_schema(base)
                    if made is None:
                        continue
                    schema, url = made
                else:
                    print("PostgreSQL skipped: TEST_DATABASE_URL is not set")
                    continue
                try:
                    figures = run_import(args.code, url, paths, data_dir)
                finally:
                    if schema is not None and base:
                        _drop_schema(base, schema)
                print(f"{database:<11} {file_format:<6} {figures['seconds']:>8.2f} {figures['cpu']:>6.2f} "
                      f"{figures['rss_mb']:>6.0f} MB  "
                      f"{figures['patients']:.0f} patients, {figures['sessions']:.0f} sessions, "
                      f"{figures['visits']:.0f} visits, {figures['measurements']:.0f} measurements")


if __name__ == "__main__":
    main()
