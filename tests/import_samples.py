"""The three spreadsheets of the import tests (patients, sessions, visits) and what a full import of them
records, with helpers that write them as CSV or .xlsx and run the import.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import func, select

from db import models
from tracker.access.actors import command_line_actor
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.exchange.spreadsheet_import import ImportResult, import_spreadsheets

TODAY = date(2025, 6, 1)

PATIENTS = [
    ["mrn", "full_name", "sex", "birth_date", "condition"],
    ["RT-001", "Jane Doe", "female", "1980-05-01", "androgenetic_alopecia"],
    ["RT-002", "Omar Haddad", "male", "1975-11-30", "androgenetic_alopecia"],
    ["RT-003", "Mei Lin", "female", "1992-02-29", "telogen_effluvium"],
]
SESSIONS = [
    ["mrn", "date", "treatment", "product", "lot_number"],
    ["RT-001", "2025-01-10", "exosome", "ExoGen 5", "EX-2501"],
    ["RT-001", "2025-04-12", "exosome", "ExoGen 5", "EX-2503"],
    ["RT-002", "2025-01-15", "prp", "", ""],
]
VISITS = [
    ["mrn", "date", "density_per_cm2", "site"],
    ["RT-001", "2025-01-10", "120", "primary"],
    ["RT-001", "2025-01-10", "95.5", "vertex"],
    ["RT-001", "2025-04-12", "131", ""],
    ["RT-002", "2025-01-15", "140", "primary"],
    ["RT-003", "2025-03-01", "180", "Frontal"],
]


def write(path: Path, rows: list[list[object]]) -> Path:
    """A CSV or an .xlsx file (by the name's extension) holding ``rows``, the first being the header."""
    if path.suffix == ".xlsx":
        workbook = Workbook()
        sheet = workbook.active
        if not isinstance(sheet, Worksheet):  # a new workbook opens on one empty worksheet
            raise TypeError(f"a new workbook's active sheet is a {type(sheet).__name__}, not a worksheet")
        for row in rows:
            sheet.append(row)
        workbook.save(path)
    else:
        with path.open("w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(rows)
    return path


def files(tmp_path: Path, patients=PATIENTS, sessions=SESSIONS, visits=VISITS, ext="csv") -> tuple[Path, ...]:
    return (write(tmp_path / f"patients.{ext}", patients), write(tmp_path / f"sessions.{ext}", sessions),
            write(tmp_path / f"visits.{ext}", visits))


def run(url: str, paths, **kwargs) -> ImportResult:
    return import_spreadsheets(*paths, url=url, today=TODAY, **{"actor": command_line_actor("import"), **kwargs})


def refused(url: str, paths) -> list[str]:
    """The problems of an import that must be refused, after checking the database was left alone."""
    before = counts(url)
    with pytest.raises(ValidationError) as caught:
        run(url, paths)
    assert counts(url) == before, "a refused import must write nothing"
    return caught.value.problems


def counts(url: str) -> dict[str, int]:
    with transaction(url) as session:
        return {
            model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (models.Patient, models.TreatmentSession, models.Visit, models.DensityMeasurement)
        }


def measurements(url: str) -> list[tuple[str, date, str, float, str | None]]:
    with transaction(url) as session:
        rows = session.execute(
            select(models.Patient.mrn, models.Visit.date, models.DensityMeasurement.site,
                   models.DensityMeasurement.density_per_cm2, models.DensityMeasurement.created_by)
            .join(models.Visit, models.Visit.patient_id == models.Patient.id)
            .join(models.DensityMeasurement, models.DensityMeasurement.visit_id == models.Visit.id)
            .order_by(models.Patient.mrn, models.Visit.date, models.DensityMeasurement.site)
        )
        return [(mrn, day, site, density, by) for mrn, day, site, density, by in rows]


EXPECTED_MEASUREMENTS = [
    ("RT-001", date(2025, 1, 10), "primary", 120.0, "cli:import"),
    ("RT-001", date(2025, 1, 10), "vertex", 95.5, "cli:import"),
    ("RT-001", date(2025, 4, 12), "primary", 131.0, "cli:import"),
    ("RT-002", date(2025, 1, 15), "primary", 140.0, "cli:import"),
    ("RT-003", date(2025, 3, 1), "frontal", 180.0, "cli:import"),
]


def assert_clinic_imported(url: str, by: str = "cli:import") -> None:
    """The sample files are in the database, every row created by ``by``."""
    assert counts(url) == {"Patient": 3, "TreatmentSession": 3, "Visit": 4, "DensityMeasurement": 5}
    with transaction(url) as session:
        patients = session.scalars(select(models.Patient).order_by(models.Patient.mrn)).all()
        assert [(p.mrn, p.full_name, p.sex, p.birth_date, p.condition, p.created_by) for p in patients] == [
            ("RT-001", "Jane Doe", "female", date(1980, 5, 1), "androgenetic_alopecia", by),
            ("RT-002", "Omar Haddad", "male", date(1975, 11, 30), "androgenetic_alopecia", by),
            ("RT-003", "Mei Lin", "female", date(1992, 2, 29), "telogen_effluvium", by),
        ]
        sessions = session.execute(
            select(models.Patient.mrn, models.TreatmentSession.date, models.TreatmentSession.treatment,
                   models.TreatmentSession.product, models.TreatmentSession.lot_number,
                   models.TreatmentSession.created_by)
            .join(models.Patient, models.Patient.id == models.TreatmentSession.patient_id)
            .order_by(models.TreatmentSession.date)
        ).all()
        assert [tuple(row) for row in sessions] == [
            ("RT-001", date(2025, 1, 10), "exosome", "ExoGen 5", "EX-2501", by),
            ("RT-002", date(2025, 1, 15), "prp", "", "", by),
            ("RT-001", date(2025, 4, 12), "exosome", "ExoGen 5", "EX-2503", by),
        ]
        # imported densities are typed values: only the count screen stores "counted" (tracker.records.counted_density)
        assert set(session.scalars(select(models.DensityMeasurement.method))) == {"typed"}
    # one visit per patient per day, holding one measurement per site
    assert measurements(url) == [(*row[:4], by) for row in EXPECTED_MEASUREMENTS]


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489") + b"\x00" * 32
