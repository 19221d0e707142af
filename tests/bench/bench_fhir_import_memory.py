"""Benchmark: the memory a FHIR import takes to read and check a Bundle of small resources (its worst case).

A Bundle of one patient and ``--observations`` density observations (four sites a visit, one visit a day) is
written to a temporary file, then read and checked (``read_bundle`` and ``Reader``: everything the import does
before it writes) in a fresh process; printed: the file's size, the process's peak RSS, the RSS after imports and
their ratio. It sets the import's cap (``fhir_import.BUNDLE_UPLOADS``). Figures only, never assertions.
``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SITES = ("vertex", "frontal", "crown", "occipital")


def bundle(observations: int) -> dict:
    """One patient, ``observations`` densities on ``observations / 4`` visits."""
    from tracker.exchange import fhir_codes as codes

    subject = {"reference": "Patient/patient-1"}
    resources: list[dict] = [
        {"resourceType": "Patient", "id": "patient-1", "gender": "male", "birthDate": "1980-01-01",
         "name": [{"text": "Bench Mark"}], "identifier": [{"system": codes.MRN_SYSTEM, "value": "BENCH-1"}]},
        {"resourceType": "Condition", "id": "condition-1", "subject": subject,
         "code": codes.concept(codes.CONDITION_CODES, "androgenetic_alopecia")}]
    for visit in range(observations // len(SITES)):
        resources.append({"resourceType": "Encounter", "id": f"visit-{visit}", "status": "finished",
                          "subject": subject, "class": codes.coding(codes.ENCOUNTER_CLASS, "AMB"),
                          "period": {"start": (date(1990, 1, 1) + timedelta(days=visit)).isoformat()}})
        resources += [{"resourceType": "Observation", "id": f"density-{visit}-{n}", "status": "final",
                       "subject": subject, "encounter": {"reference": f"Encounter/visit-{visit}"},
                       "code": codes.concept(codes.OBSERVATION_CODES, codes.DENSITY),
                       "valueQuantity": codes.quantity(100 + n, "/cm2"),
                       "bodySite": codes.concept(codes.SITE_CODES, site),
                       "method": codes.concept(codes.METHOD_CODES, "typed")} for n, site in enumerate(SITES)]
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _peak_mb() -> float:
    """This process's peak RSS in MB: VmHWM, which starts afresh at exec (``ru_maxrss`` keeps the parent's)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def measure(path: str) -> None:
    """In this (fresh) process: read and check the Bundle at ``path``; print the figures."""
    import fhir.resources.R4B.bundle  # noqa: F401  (the models' own memory is the baseline, not the Bundle's)

    from tracker.exchange.fhir_import import read_bundle
    from tracker.exchange.fhir_reading import Reader

    start = _peak_mb()
    problems: list[str] = []
    Reader("bench.json", problems, date.today()).read(
        [entry.get("resource") or {} for entry in read_bundle(path).get("entry", [])])
    peak = _peak_mb()
    size = os.path.getsize(path) / 2**20
    print(f"{size:6.1f} MB Bundle: peak RSS {peak:5.0f} MB, {start:4.0f} MB after imports, "
          f"{(peak - start) / size:4.1f} MB read per MB of file ({len(problems)} problems)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", default="10000,40000", help="comma-separated Bundle sizes")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    print("FHIR import, memory to read and check a Bundle of small density observations:")
    with tempfile.TemporaryDirectory() as folder:
        for count in map(int, args.observations.split(",")):
            path = Path(folder) / f"bench-{count}.json"
            path.write_text(json.dumps(bundle(count)))
            print(f"  {count:,} observations: ", end="", flush=True)
            subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True, cwd=ROOT,
                           env={**os.environ, "TRACKER_MAX_UPLOAD_MB": "1000"})


if __name__ == "__main__":
    main()
