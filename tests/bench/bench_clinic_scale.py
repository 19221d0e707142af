"""Benchmark: the whole-clinic pages' service calls at 2,000, 20,000 and 50,000 patients, on SQLite and
PostgreSQL (issue #13, "Whole-clinic pages in constant time").

Times what the Patients and Schedule pages call, as they call it: ``list_patients`` (everyone, each filter, a
name search) and ``schedule``, on the generated clinics of ``generate_clinic.py`` as of its ``TODAY``. Per call:
the median of ``--runs`` runs after one warm-up, the tracemalloc peak of one more run (Python allocations made
by the call), and how far the process's RSS peaked above where it stood before the call (Linux's VmHWM, reset
before each call). Each database and size runs in a
process of its own, so that one size's memory is not the next one's baseline. Prints a table, then per call the
ratio of the largest size to the smallest. Targets (issue #13): under 100 ms at 50,000, ratio ≤ 1.5, memory flat.
Figures only, never assertions. Every call writes its audit entry, as the page does, into the cached clinic.

    python tests/bench/bench_clinic_scale.py [--sizes 2000,20000,50000] [--databases sqlite,postgresql] [--runs 5]
        [--calls "patients: all,schedule"]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import generate_clinic  # noqa: E402 (after the sys.path line)
from tracker.access.actors import Actor  # noqa: E402 (after the sys.path line)
from tracker.course.vocabulary import PatientFilter  # noqa: E402 (after the sys.path line)
from tracker.database import keep_planner_statistics  # noqa: E402 (after the sys.path line)
from tracker.progress.schedule import schedule  # noqa: E402 (after the sys.path line)
from tracker.records.patient_list import list_patients  # noqa: E402 (after the sys.path line)

SIZES = (2000, 20000, 50000)
TARGET_MS = 100.0
TARGET_RATIO = 1.5
SEARCH = "garcia"  # "García" as typed without its accent: a search folds accents and capitals
RARE = "rt000420"  # one patient's MRN, in every size: a search that has to read every name to find its one match


def calls(url: str) -> dict[str, Callable[[], Any]]:
    """The service calls the two pages make, by name; keyword arguments only, the rest left at their defaults
    (paging arguments: the first page). Where the services page their rows, also the last page of everyone (the
    deepest OFFSET a click reaches) and the schedule's overdue list."""
    actor = Actor("dr.almeida", "clinician")
    today = generate_clinic.TODAY
    made: dict[str, Callable[[], Any]] = {
        "patients: all": partial(list_patients, actor, today=today, url=url),
        f"patients: search {SEARCH!r}": partial(list_patients, actor, query=SEARCH, today=today, url=url),
        f"patients: search {RARE!r}": partial(list_patients, actor, query=RARE, today=today, url=url),
    }
    for kind in ("window_open", "target_soon", "overdue", "behind"):
        made[f"patients: {kind}"] = partial(list_patients, actor, filter=kind, today=today, url=url)
    if "page" in inspect.signature(list_patients).parameters:
        last = list_patients(actor, today=today, url=url).pages
        made["patients: all, last page"] = partial(list_patients, actor, today=today, url=url, page=last)
    made["schedule"] = partial(schedule, actor, today=today, url=url)
    if "shown" in inspect.signature(schedule).parameters:
        made["schedule: overdue"] = partial(schedule, actor, today=today, url=url, shown=PatientFilter.OVERDUE)
    return made


def rows_shown(result: Any) -> tuple[int, int]:
    """How many rows a call handed its page, and of how many in all (a page's ``total``; a whole list's
    length): a patient list, or a schedule's follow-ups."""
    rows = getattr(result, "follow_ups", result)
    return len(rows), getattr(rows, "total", len(rows))


def rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (the peak since the last ``reset_peak_rss``) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    return 0.0


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS, so each call's peak is its own."""
    Path("/proc/self/clear_refs").write_text("5")


def measure_one(database: str, size: int, runs: int, wanted: list[str]) -> list[dict[str, Any]]:
    """Time every call (or those whose names contain one of ``wanted``) on one clinic; one dict of figures per
    call."""
    server = os.environ.get("TEST_DATABASE_URL")
    if database == "postgresql":
        if not server:
            raise SystemExit("PostgreSQL: set TEST_DATABASE_URL")
        url = generate_clinic.clinic(size, server)
    else:
        url = generate_clinic.clinic(size)
    keep_planner_statistics(url)  # as the app's start-up does (a clinic cached before it gathered none)
    figures = []
    for name, call in calls(url).items():
        if wanted and not any(part in name for part in wanted):
            continue
        reset_peak_rss()
        rss_before = rss_mb("VmRSS")
        result = call()  # warm-up (caches, the engine's first connections)
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        tracemalloc.start()
        call()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures.append({"database": database, "size": size, "call": name, "rows": "{}/{}".format(*rows_shown(result)),
                        "median_ms": statistics.median(samples) * 1000, "max_ms": max(samples) * 1000,
                        "tracemalloc_mb": peak / 2**20, "rss_growth_mb": rss_mb("VmHWM") - rss_before})
    return figures


def print_table(figures: list[dict[str, Any]]) -> None:
    print(f"{'database':<11}{'patients':>9}  {'call':<32}{'rows/total':>13}{'median ms':>11}{'max ms':>9}"
          f"{'py peak MB':>12}{'RSS+ MB':>9}")
    for f in figures:
        print(f"{f['database']:<11}{f['size']:>9}  {f['call']:<32}{f['rows']:>13}{f['median_ms']:>11.1f}"
              f"{f['max_ms']:>9.1f}{f['tracemalloc_mb']:>12.1f}{f['rss_growth_mb']:>9.1f}")
    print()
    for database in dict.fromkeys(f["database"] for f in figures):
        mine = [f for f in figures if f["database"] == database]
        sizes = sorted({f["size"] for f in mine})
        if len(sizes) < 2:
            continue
        small, large = sizes[0], sizes[-1]
        print(f"{database}: {large}/{small} ratio per call (target ≤ {TARGET_RATIO}; "
              f"under {TARGET_MS:.0f} ms at {large})")
        by = {(f["size"], f["call"]): f for f in mine}
        for call in dict.fromkeys(f["call"] for f in mine):
            if (small, call) in by and (large, call) in by:
                big, little = by[large, call], by[small, call]
                ratio = big["median_ms"] / little["median_ms"]
                verdict = "ok" if ratio <= TARGET_RATIO and big["median_ms"] < TARGET_MS else "MISSES"
                print(f"  {call:<32} {little['median_ms']:>9.1f} → {big['median_ms']:>9.1f} ms  ratio {ratio:6.2f}  "
                      f"py peak {little['tracemalloc_mb']:.1f} → {big['tracemalloc_mb']:.1f} MB  {verdict}")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated patient counts")
    parser.add_argument("--databases", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per call after the warm-up")
    parser.add_argument("--calls", default="", help="comma-separated parts of call names to time (default: all)")
    parser.add_argument("--one", nargs=2, metavar=("DATABASE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    wanted = [part.strip() for part in args.calls.split(",") if part.strip()]
    if args.one:  # a child process: one clinic, figures as JSON on the last line
        print(json.dumps(measure_one(args.one[0], int(args.one[1]), args.runs, wanted)))
        return
    sizes = sorted(int(size) for size in args.sizes.split(","))
    databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    unknown = set(databases) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database {', '.join(sorted(unknown))}: use sqlite, postgresql")
    if "postgresql" in databases and not os.environ.get("TEST_DATABASE_URL"):
        print("PostgreSQL: not measured (set TEST_DATABASE_URL to include it)")
        databases.remove("postgresql")
    for database in databases:  # made here first, so that no child's memory figures include generating one
        for size in sizes:
            generate_clinic.clinic(size, os.environ["TEST_DATABASE_URL"] if database == "postgresql" else None)
    figures: list[dict[str, Any]] = []
    for database in databases:
        for size in sizes:
            done = subprocess.run([sys.executable, __file__, "--one", database, str(size), "--runs", str(args.runs),
                                   "--calls", args.calls], capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{database} {size}: failed\n{done.stdout}{done.stderr}")
                continue
            *progress, last = done.stdout.strip().splitlines()
            for line in progress:  # the generator's own lines, when it had to make the clinic
                print(f"  [{database} {size}] {line}")
            figures.extend(json.loads(last))
            print_table([f for f in figures if f["database"] == database and f["size"] == size])
    print(f"Whole-clinic service calls as of {generate_clinic.TODAY} (median of {args.runs} after one warm-up)")
    print_table(figures)


if __name__ == "__main__":
    main()
