"""Benchmark: FHIR R4 export and import (issue #15).

Prints, on SQLite:

- the demo clinic (``tracker.operations.demo``, photos included, as of ``TODAY``): one patient's Bundle (the
  record page's download), a Bundle of every patient, the bulk export, and the import of that Bundle into a new
  installation, each timed, with the resources per type;
- the bulk export (``python -m tracker fhir export --all``, photos none) of the generated clinics
  (``generate_clinic.py``) of each ``--sizes``: time, resources and the process's peak RSS, each in a fresh process,
  so that flat memory shows as the same peak at 2,000 and at 50,000 patients.

Figures only, never assertions. ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TODAY = date(2026, 3, 1)

# One bulk export in a process of its own; prints one JSON line.
MEASURE = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from tracker.access.actors import command_line_actor
from tracker.exchange.fhir_export import export_clinic
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
result = export_clinic(command_line_actor("bench"), sys.argv[3], url=sys.argv[2])
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "counts": result.counts, "rss_mb": after / 1024,
                  "rss_growth_mb": (after - before) / 1024}))
"""


def demo_figures(work: Path) -> None:
    """The demo clinic exported three ways and imported back, on SQLite files in ``work``."""
    from tracker.access.actors import command_line_actor
    from tracker.database import initialize
    from tracker.exchange.fhir_export import export_bundle, export_clinic
    from tracker.exchange.fhir_import import import_bundles
    from tracker.operations.demo import load_demo
    from tracker.operations.demo_plan import MRN_PREFIX, PATIENT_COUNT

    actor = command_line_actor("bench")
    os.environ["TRACKER_DATA_DIR"] = str(work / "demo")
    source = f"sqlite:///{work / 'demo' / 'tracker.db'}"
    initialize(source)
    load_demo(source, today=TODAY)
    mrns = [f"{MRN_PREFIX}{n:04d}" for n in range(1, PATIENT_COUNT + 1)]
    started = time.perf_counter()
    one = export_bundle(actor, mrns[:1], source)
    print(f"demo clinic, one patient's Bundle: {time.perf_counter() - started:.2f} s, {len(one.data):,} bytes")
    started = time.perf_counter()
    everyone = export_bundle(actor, mrns, source)
    print(f"demo clinic, Bundle of all {PATIENT_COUNT} patients: {time.perf_counter() - started:.2f} s, "
          f"{len(everyone.data):,} bytes; resources: {json.dumps(everyone.counts)}")
    bulk = export_clinic(actor, work / "demo-bulk", url=source)
    print(f"demo clinic, bulk export: {bulk.seconds:.2f} s; resources: {json.dumps(bulk.counts)}, "
          f"{bulk.media_files} display copies")
    (work / "clinic.json").write_bytes(everyone.data)
    os.environ["TRACKER_DATA_DIR"] = str(work / "new")
    target = f"sqlite:///{work / 'new' / 'tracker.db'}"
    initialize(target)
    started = time.perf_counter()
    result = import_bundles([work / "clinic.json"], actor=actor, url=target)
    print(f"demo clinic, import of that Bundle into a new installation: {time.perf_counter() - started:.2f} s; "
          + " ".join(result.summary().splitlines()[1:]))


def bulk_figures(sizes: list[int], work: Path) -> None:
    from tests.bench.generate_clinic import clinic

    for size in sizes:
        url = clinic(size)
        done = subprocess.run([sys.executable, "-c", MEASURE, str(ROOT), url, str(work / f"bulk-{size}")], cwd=ROOT,
                              env={**os.environ, "TRACKER_DATA_DIR": str(work / f"data-{size}")}, capture_output=True,
                              text=True, timeout=7200)
        if done.returncode:
            raise SystemExit(f"bulk export of {size} patients failed:\n{done.stderr[-3000:]}")
        line = json.loads(done.stdout.strip().splitlines()[-1])
        total = sum(line["counts"].values())
        print(f"bulk export, {size:,} patients (SQLite): {line['seconds']:.1f} s, {total:,} resources "
              f"({total / line['seconds']:,.0f}/s), peak RSS {line['rss_mb']:.0f} MB "
              f"(+{line['rss_growth_mb']:.0f} MB while exporting); {json.dumps(line['counts'])}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,50000", help="generated clinic sizes, comma-separated")
    parser.add_argument("--no-demo", action="store_true", help="only the generated clinics")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if not args.no_demo:
            demo_figures(work)
        bulk_figures([int(size) for size in args.sizes.split(",") if size], work)


if __name__ == "__main__":
    main()
