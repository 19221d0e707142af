"""Benchmark: the clinic outcomes page's service call (issue #15, target under 1 s at 50,000 patients), on the
generated clinics of ``generate_clinic.py`` (every patient follows the default protocol) as of its ``TODAY``.

Per clinic, in a process of its own (so that nothing is kept from another size), ``clinic_outcomes`` as the page
calls it:

- ``start-up fill (background)``: the fill a server's start-up runs on a background thread (the milestone engine
  for every live patient), from its start until the store is ready;
- ``click while filling``: a click made just after the fill started, which answers ``Preparing`` (cohort: -1);
- ``every condition``, ``AGA, day 0 in 2025``: later clicks (median of ``--runs``), the store current: one
  fingerprint statement;
- ``after one record edited``: a click after one patient's record was edited (a note: its outlook is refreshed, so
  that patient is computed again), median of ``--runs`` edits;
- ``after one patient removed``: likewise after a patient's removal (``--runs`` removals).

Also what the process keeps: the RSS it gained over the fill, and the bytes of the store's arrays (``nbytes``).
Figures only, never assertions.
Every call writes its audit entry, as the page does, into the cached clinic.

    python tests/bench/bench_outcomes.py [--sizes 2000,50000] [--databases sqlite,postgresql] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import select  # noqa: E402 (after the sys.path line)

from db import models  # noqa: E402 (after the sys.path line)
from tests.bench import generate_clinic  # noqa: E402 (after the sys.path line)
from tracker.access.actors import Actor  # noqa: E402 (after the sys.path line)
from tracker.database import transaction  # noqa: E402 (after the sys.path line)
from tracker.progress import outcome_store  # noqa: E402 (after the sys.path line)
from tracker.progress.outcomes import clinic_outcomes  # noqa: E402 (after the sys.path line)

SIZES = (2000, 50000)
TARGET_MS = 1000.0
ACTOR = Actor("dr.almeida", "clinician")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def _edit_one(url: str, runs_done: int) -> None:
    """Edit one patient's note (its outlook is refreshed in the same transaction, so its stamp moves)."""
    with transaction(url) as session:
        patient = session.scalars(select(models.Patient).where(models.Patient.deleted_at.is_(None))
                                  .order_by(models.Patient.id).limit(1)).one()
        patient.notes = f"bench_outcomes edit {runs_done}"


def _remove_last(url: str, removed: bool) -> None:
    """Remove (or restore) the patient with the highest id (its outlook rows go with it, or come back): the
    cached clinic, shared with other benches, keeps its patients."""
    with transaction(url) as session:
        patient = session.scalars(select(models.Patient).order_by(models.Patient.id.desc()).limit(1)).one()
        patient.deleted_at = datetime.now(UTC) if removed else None
        patient.deleted_by, patient.deleted_reason = ("bench", "bench_outcomes") if removed else (None, None)


def _fill(url: str, today: date) -> tuple[float, float, Any]:
    """Start the background fill, click at once; return the fill's ms, the click's ms and its answer."""
    with transaction(url) as session:
        versions = frozenset((row.id, row.version) for row in session.execute(
            select(models.Protocol.id, models.Protocol.version)))
    store = outcome_store.store_for(url, versions, today)
    started = time.perf_counter()
    outcome_store.fill_in_background(store, url)
    click_ms, answer = _timed(lambda: clinic_outcomes(ACTOR, today=today, url=url))
    while store.filling is not None:
        time.sleep(0.05)
    return (time.perf_counter() - started) * 1000, click_ms, answer


def measure_one(database: str, size: int, runs: int) -> list[dict[str, Any]]:
    server = os.environ.get("TEST_DATABASE_URL")
    url = generate_clinic.clinic(size, server) if database == "postgresql" else generate_clinic.clinic(size)
    today = generate_clinic.TODAY
    rss_before = rss_mb()
    figures = []

    def figure(name: str, samples: list[float], result: Any) -> None:
        figures.append({"database": database, "size": size, "call": name,
                        "patients": getattr(result, "patients", -1),
                        "median_ms": statistics.median(samples), "max_ms": max(samples)})

    fill_ms, click_ms, answer = _fill(url, today)
    kept_mb = rss_mb() - rss_before
    result = clinic_outcomes(ACTOR, today=today, url=url)
    figure("start-up fill (background)", [fill_ms], result)
    figure("click while filling", [click_ms], answer)
    columns = next(iter(outcome_store._STORES.values())).columns
    arrays_mb = columns.nbytes() / 2**20 if columns is not None else float("nan")
    calls = {
        "every condition": lambda: clinic_outcomes(ACTOR, today=today, url=url),
        "AGA, day 0 in 2025": lambda: clinic_outcomes(ACTOR, condition="androgenetic_alopecia", start=date(2025, 1, 1),
                                                      end=date(2025, 12, 31), today=today, url=url),
    }
    for name, call in calls.items():
        timed = [_timed(call) for _ in range(runs)]
        figure(name, [ms for ms, _ in timed], timed[-1][1])
    samples = []
    for run in range(runs):
        _edit_one(url, run)
        ms, result = _timed(calls["every condition"])
        samples.append(ms)
    figure("after one record edited", samples, result)
    samples = []
    for _ in range(runs):
        _remove_last(url, True)
        ms, result = _timed(calls["every condition"])
        samples.append(ms)
        _remove_last(url, False)
        calls["every condition"]()  # brought back, outside the timing
    figure("after one patient removed", samples, result)
    for f in figures:
        f["kept_mb"], f["arrays_mb"] = kept_mb, arrays_mb
    return figures


def print_table(figures: list[dict[str, Any]]) -> None:
    print(f"{'database':<11}{'patients':>9}  {'call':<30}{'cohort':>8}{'median ms':>11}{'max ms':>9}"
          f"{'RSS kept MB':>13}{'arrays MB':>11}  target < {TARGET_MS:.0f} ms")
    for f in figures:
        verdict = "ok" if f["median_ms"] < TARGET_MS else "MISSES"
        if f["call"].startswith("start-up"):
            verdict = "(background)"
        print(f"{f['database']:<11}{f['size']:>9}  {f['call']:<30}{f['patients']:>8}{f['median_ms']:>11.1f}"
              f"{f['max_ms']:>9.1f}{f['kept_mb']:>13.1f}{f['arrays_mb']:>11.1f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated patient counts")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per call")
    parser.add_argument("--one", nargs=2, metavar=("DATABASE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a child process: one clinic, figures as JSON on the last line
        print(json.dumps(measure_one(args.one[0], int(args.one[1]), args.runs)))
        return
    sizes = sorted(int(size) for size in args.sizes.split(","))
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if "postgresql" in databases and not os.environ.get("TEST_DATABASE_URL"):
        print("PostgreSQL: not measured (set TEST_DATABASE_URL to include it)")
        databases.remove("postgresql")
    for database in databases:  # made here first, so that no child's figures include generating one
        for size in sizes:
            generate_clinic.clinic(size, os.environ["TEST_DATABASE_URL"] if database == "postgresql" else None)
    figures: list[dict[str, Any]] = []
    for database in databases:
        for size in sizes:
            done = subprocess.run([sys.executable, __file__, "--one", database, str(size), "--runs", str(args.runs)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{database} {size}: failed\n{done.stdout}{done.stderr}")
                continue
            figures.extend(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"Clinic outcomes (clinic_outcomes) as of {generate_clinic.TODAY}, default protocol "
          f"(median of {args.runs}; the fill and the click while filling once)")
    print_table(figures)


if __name__ == "__main__":
    main()
