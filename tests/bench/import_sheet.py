"""The import's three spreadsheets for a clinic of any size, as a clinic would export them (``python -m tracker
import``'s patients, sessions and visits files): for the import benchmark (``bench_import.py``) and by hand.

Each patient has ``VISITS_PER_PATIENT`` visits on average (5,000 patients give about 46,000 visits), three
treatment sessions (exosome with its lot, PRP, or another treatment), a density at the primary site on every
visit and at a second site on one visit in three; one patient in ten has alopecia areata, followed on a SALT score
(the visits file's ``salt`` column) instead of a density. Names carry accents and other scripts' letters; rows are
the same for the same ``patients`` and ``seed``.

Usage: ``python tests/bench/import_sheet.py FOLDER [--patients 5000] [--format csv|xlsx]`` writes
``patients.<ext>``, ``sessions.<ext>`` and ``visits.<ext>`` into FOLDER and prints their row counts.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook

VISITS_PER_PATIENT = 9.2  # 5,000 patients → ~46,000 visits (issue #13's import target)
SESSIONS_PER_PATIENT = 3
FIRST_NAMES = ("José", "Zoë", "François", "Søren", "Anaïs", "Łukasz", "Ewa", "Mehmet", "Nguyễn Thị", "Ólafur",
               "Mei", "Omar", "Chloé", "Björn", "Ines", "Dvořák", "Ayşe", "Priya", "Renée", "Jürgen")
LAST_NAMES = ("García", "Müller", "Østergaard", "Dubois", "Kowalski", "Çelik", "Nowak", "O'Brien", "Haddad",
              "Lefèvre", "Smith", "Papadopoulos", "Jovanović", "Núñez", "Lin", "Ångström", "da Silva", "Weiß")
SECOND_SITES = ("vertex", "frontal", "left_temporal", "crown")
PRODUCTS = ("ExoGen 5", "ExoCell Plus", "Regenera Vial")
PATIENT_HEADER: list[object] = ["mrn", "full_name", "sex", "birth_date", "condition"]
SESSION_HEADER: list[object] = ["mrn", "date", "treatment", "product", "lot_number"]
VISIT_HEADER: list[object] = ["mrn", "date", "density_per_cm2", "site", "salt"]
FIRST_DAY = date(2023, 1, 2)


def mrn(number: int) -> str:
    return f"IMP-{number:06d}"


def clinic_rows(patients: int, seed: int = 13) -> tuple[list[list[object]], list[list[object]], list[list[object]]]:
    """The three files' rows (each with its header first): patients, sessions, visits."""
    rng = random.Random(seed)
    patient_rows: list[list[object]] = [list(PATIENT_HEADER)]
    session_rows: list[list[object]] = [list(SESSION_HEADER)]
    visit_rows: list[list[object]] = [list(VISIT_HEADER)]
    for number in range(1, patients + 1):
        areata = number % 10 == 0
        sex = rng.choice(("female", "male"))
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        condition = "alopecia_areata" if areata else rng.choice(("androgenetic_alopecia", "androgenetic_alopecia",
                                                                 "telogen_effluvium"))
        patient_rows.append([mrn(number), name, sex, birth.isoformat(), condition])
        day0 = FIRST_DAY + timedelta(days=rng.randrange(500))
        for session in range(SESSIONS_PER_PATIENT):
            day = day0 + timedelta(days=90 * session)
            treatment = rng.choice(("exosome", "exosome", "prp", "other"))
            product = rng.choice(PRODUCTS) if treatment == "exosome" else ""
            lot = f"EX-{day.year % 100:02d}{rng.randrange(1, 40):02d}" if treatment == "exosome" else ""
            session_rows.append([mrn(number), day.isoformat(), treatment, product, lot])
        visits = int(VISITS_PER_PATIENT) + (rng.random() < VISITS_PER_PATIENT % 1)
        for visit in range(visits):
            day = day0 + timedelta(days=45 * visit)
            if areata:
                visit_rows.append([mrn(number), day.isoformat(), "", "primary", round(rng.uniform(5, 90), 1)])
                continue
            density = round(rng.uniform(60, 220), 1)
            visit_rows.append([mrn(number), day.isoformat(), density, "primary", ""])
            if visit % 3 == 0:
                visit_rows.append([mrn(number), day.isoformat(), round(density * 0.8, 1), rng.choice(SECOND_SITES),
                                   ""])
    return patient_rows, session_rows, visit_rows


def write_files(folder: Path, patients: int, file_format: str = "csv", seed: int = 13) -> tuple[Path, Path, Path]:
    """Writes the three files into ``folder`` (``csv``: UTF-8; ``xlsx``: one worksheet each); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, rows in zip(("patients", "sessions", "visits"), clinic_rows(patients, seed), strict=True):
        path = folder / f"{kind}.{file_format}"
        if file_format == "xlsx":
            # Not openpyxl's write-only mode: its sheets lack the <dimension> element Excel writes first, and
            # openpyxl then parses a whole sheet once more to find its size, which a clinic's file never costs.
            book = Workbook()
            sheet = book.active
            if sheet is None:  # a new workbook opens on one worksheet
                raise RuntimeError("a new workbook has no worksheet")
            for row in rows:
                sheet.append(row)
            book.save(path)
        else:
            with path.open("w", newline="", encoding="utf-8") as file:
                csv.writer(file).writerows(rows)
        paths.append(path)
    return paths[0], paths[1], paths[2]


def visit_days(rows: list[list[object]]) -> Iterator[tuple[object, object]]:
    """The distinct (MRN, date) pairs of the visits file's rows: the visits an import creates."""
    return iter(dict.fromkeys((row[0], row[1]) for row in rows[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    args = parser.parse_args()
    paths = write_files(args.folder, args.patients, args.format)
    patients, sessions, visits = clinic_rows(args.patients)
    print(f"{paths[0]}: {len(patients) - 1} patients; {paths[1]}: {len(sessions) - 1} sessions; "
          f"{paths[2]}: {len(visits) - 1} rows, {sum(1 for _ in visit_days(visits))} visits")


if __name__ == "__main__":
    main()
