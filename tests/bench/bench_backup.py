"""Benchmark: a backup of a 20,000-patient SQLite clinic must not keep clinicians waiting (goal: under 2 s).

Builds the clinic with bulk inserts (``bench_progress.add_patients``: 2 sessions, 5 visits and 2 sites per
visit for each patient), then runs ``python -m tracker backup`` in a subprocess while another process, a
clinician, keeps saving a visit (``tracker.records.visits.log_visit``) and opening a progress page
(``tracker.progress.page_data``) one after the other. Prints how long the backup took, how many saves and page
reads ran during it, and the longest each one waited. ``--compare-old`` also runs the backup as it was
before it read an SQLite snapshot (the module at commit ``OLD_COMMIT``, whose read held the write lock).
Figures only, never assertions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_progress import add_patients  # noqa: E402 (after the sys.path line)

from tracker.database import initialize  # noqa: E402 (after the sys.path line)

PATIENTS = 20_000
OLD_COMMIT = "3761597"  # tracker/operations/backup.py before the snapshot read (its read ran in a write transaction)

# The clinician: save a visit, open a progress page, again, until the stop file appears; one JSON line per
# operation: what it was, when it started, how long it took, and the error if it failed.
CLINICIAN = """
import json, sys, time
from datetime import date, timedelta
from pathlib import Path
from tracker.access.actors import Actor
from tracker.progress.page_data import progress_page
from tracker.records.visit_form import SiteEntry, VisitEntry
from tracker.records.visits import log_visit

stop, ready, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
actor = Actor("dr.bench", "clinician")
while not stop.exists():
    mrn = f"B-{(n * 7919) % 20000:06d}"
    for what in ("save visit", "progress page"):
        started = time.time()
        error = None
        try:
            if what == "save visit":
                entry = VisitEntry(date=date(2026, 1, 1) + timedelta(days=n % 90),
                                   sites=[SiteEntry("vertex", 150 + n % 40)],
                                   capture={}, notes=f"bench {n}")
                log_visit(actor, mrn, entry, today=date(2026, 6, 1))
            else:
                progress_page(actor, mrn, date(2026, 6, 1))
        except Exception as exc:  # a failure is a figure too
            error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:120]}"
        print(json.dumps({"what": what, "start": started, "seconds": time.time() - started, "error": error}),
              flush=True)
    n += 1
    ready.touch()
"""

OLD_BACKUP = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("old_backup", sys.argv[1])
module = sys.modules["old_backup"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from tracker.access.actors import command_line_actor
print(module.backup(sys.argv[2], command_line_actor("bench")).summary())
"""


def measure(label: str, backup_command: list[str], environment: dict[str, str], work: Path, first: int) -> None:
    """Run the backup while the clinician works; ``first``: the clinician's first visit number (each run saves
    new visits: the very same visit saved twice is refused)."""
    stop, ready = work / f"stop-{first}", work / f"ready-{first}"
    clinician = subprocess.Popen([sys.executable, "-c", CLINICIAN, str(stop), str(ready), str(first)], cwd=ROOT,
                                 env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not ready.exists():
        if clinician.poll() is not None:
            raise SystemExit(f"the clinician process stopped: {clinician.communicate()[1][-2000:]}")
        time.sleep(0.1)
    time.sleep(1)
    started = time.time()
    backup = subprocess.run(backup_command, cwd=ROOT, env=environment, capture_output=True, text=True)
    ended = time.time()
    time.sleep(0.5)
    stop.touch()
    out, err = clinician.communicate(timeout=120)
    operations = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    during = [op for op in operations if op["start"] + op["seconds"] >= started and op["start"] <= ended]
    print(f"{label}: backup took {ended - started:.1f} s (exit {backup.returncode}"
          + (f": {(backup.stderr or backup.stdout).strip().splitlines()[-1]}" if backup.returncode else "") + ")")
    for what in ("save visit", "progress page"):
        ops = [op for op in during if op["what"] == what]
        failed = [op for op in ops if op["error"]]
        longest = max((op["seconds"] for op in ops), default=0.0)
        print(f"  {what:<13} during the backup: {len(ops):4d} done, longest wait {longest:6.2f} s, "
              f"{len(failed)} failed" + (f" ({failed[0]['error']})" if failed else ""))
    if clinician.returncode:
        print(f"  the clinician process failed: {err.strip().splitlines()[-1:]}")


def main() -> None:
    compare_old = "--compare-old" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        url = f"sqlite:///{data_dir / 'tracker.db'}"
        environment = {**os.environ, "TRACKER_DATA_DIR": str(data_dir), "DATABASE_URL": url,
                       "TRACKER_BACKUP_KEY": "bench-backup-key-" + "0" * 32}
        os.environ.update(environment)
        started = time.perf_counter()
        initialize(url)
        for start in range(0, PATIENTS, 5_000):
            add_patients(url, start, start + 5_000, seed=start)
        size = (data_dir / "tracker.db").stat().st_size / 1_048_576
        print(f"clinic: {PATIENTS:,} patients, {size:.0f} MB SQLite, built in {time.perf_counter() - started:.0f} s")
        measure("snapshot backup (this version)",
                [sys.executable, "-m", "tracker", "backup", str(work / "backup-new")], environment, work, 0)
        if compare_old:
            old = work / "old_backup.py"
            old.write_text(subprocess.run(["git", "show", f"{OLD_COMMIT}:tracker/operations/backup.py"], cwd=ROOT,
                                          capture_output=True, text=True, check=True).stdout)
            measure(f"write-transaction backup ({OLD_COMMIT})",
                    [sys.executable, "-c", OLD_BACKUP, str(old),
                     str(work / "backup-old")], environment, work, 1_000_000)


if __name__ == "__main__":
    main()
