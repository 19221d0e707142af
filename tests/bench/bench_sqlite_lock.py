"""Benchmark: how long one patient's progress page waits on SQLite while another session lists the whole clinic
(issue #13: "Reads never take SQLite's write lock; writes hold it only while they write").

On the generated SQLite clinic (``generate_clinic.py``, 50,000 patients unless ``--patients``), a second process
lists the patients and builds the schedule in turn, as clinicians clicking "Patients" and "Schedule" would, while
this one calls the progress page's service (``tracker.progress.page_data.progress_page``, what the page and
``bench_progress_page.py`` call) every ``--every-ms`` milliseconds. Prints the progress call's median, 95th
percentile and longest time with the lister running, the same alone (before the lister starts) for
comparison, and how many calls gave up with "database is locked" (the busy timeout, 15 s). Figures only.

    python tests/bench/bench_sqlite_lock.py [--patients 50000] [--seconds 60] [--every-ms 5] [--lister-pause-ms 200]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import generate_clinic  # noqa: E402 (after the sys.path line)
from tracker.access.actors import Actor  # noqa: E402 (after the sys.path line)
from tracker.database import database_busy  # noqa: E402 (after the sys.path line)
from tracker.progress.page_data import progress_page  # noqa: E402 (after the sys.path line)

ACTOR = Actor("dr.brennan", "clinician")
MRN = "RT000007"  # a patient with a whole course: baseline, milestone visits, two sessions


def list_in_a_loop(url: str, pause: float, started: Any, stop: Any, counts: Any) -> None:
    """The other session: Patients, then Schedule, again and again, ``pause`` seconds apart (a click), until
    ``stop`` (``started``, ``stop``: events of a spawn context; ``counts``: a shared int, the lists made)."""
    from tracker.progress.schedule import schedule
    from tracker.records.patient_list import list_patients

    actor = Actor("dr.almeida", "clinician")
    started.set()
    while not stop.is_set():
        list_patients(actor, today=generate_clinic.TODAY, url=url)
        counts.value += 1
        if stop.wait(pause):
            break
        schedule(actor, today=generate_clinic.TODAY, url=url)
        counts.value += 1
        stop.wait(pause)


def time_progress(url: str, seconds: float, every: float) -> tuple[list[float], int]:
    """Progress-page calls for ``seconds``, one every ``every`` seconds (or as soon as the last returns): their
    durations, and how many gave up because the database stayed locked."""
    durations: list[float] = []
    gave_up = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            progress_page(ACTOR, MRN, generate_clinic.TODAY, url)
        except Exception as error:  # only "busy" is expected; anything else is a real failure
            if not database_busy(error):
                raise
            gave_up += 1
        elapsed = time.perf_counter() - started
        durations.append(elapsed)
        time.sleep(max(0.0, every - elapsed))
    return durations, gave_up


def describe(label: str, durations: list[float], gave_up: int) -> None:
    ordered = sorted(durations)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(f"  {label:<34} calls {len(ordered):>6}  median {statistics.median(ordered) * 1000:8.1f} ms  "
          f"p95 {p95 * 1000:8.1f} ms  longest {ordered[-1] * 1000:9.1f} ms  gave up (locked) {gave_up}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=50000)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the progress page is timed under load")
    parser.add_argument("--every-ms", type=float, default=5.0, help="pause between progress calls")
    parser.add_argument("--lister-pause-ms", type=float, default=200.0,
                        help="pause between the other session's lists (0: back to back, which starves writers)")
    args = parser.parse_args()
    url = generate_clinic.clinic(args.patients)
    every = args.every_ms / 1000
    progress_page(ACTOR, MRN, generate_clinic.TODAY, url)  # warm-up
    alone, alone_gave_up = time_progress(url, min(5.0, args.seconds), every)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no engine or connection shared
    started, stop, counts = context.Event(), context.Event(), context.Value("i", 0)
    lister = context.Process(target=list_in_a_loop, args=(url, args.lister_pause_ms / 1000, started, stop, counts))
    lister.start()
    try:
        started.wait(60)
        loaded, gave_up = time_progress(url, args.seconds, every)
    finally:
        stop.set()
        lister.join()
    print(f"SQLite, {args.patients} patients: progress page ({MRN}) every {args.every_ms:g} ms while another "
          f"process lists Patients and Schedule in turn, {args.lister_pause_ms:g} ms apart "
          f"({counts.value} lists in {args.seconds:g} s)")
    describe("alone (no lister)", alone, alone_gave_up)
    describe("while the clinic is listed", loaded, gave_up)


if __name__ == "__main__":
    main()
