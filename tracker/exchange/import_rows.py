"""Reading the three import spreadsheets row by row (``tracker.exchange.spreadsheet_import``): each file's columns,
each row's cells parsed into a patient, a session or a density measurement, and every problem recorded against
its file and row (``"<file>, row <n>: <reason>"``), in the order a clinician fixes them. Rows repeated exactly
are counted and kept once. Checks that need the three files together or the database are
``tracker.exchange.import_matching``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

from db import models
from tracker.errors import ValidationError
from tracker.exchange.spreadsheets import Sheet, SheetRow, read_sheet
from tracker.validation import (
    check_not_in_future,
    parse_birth_date,
    parse_condition,
    parse_density,
    parse_full_name,
    parse_iso_date,
    parse_lot_number,
    parse_mrn,
    parse_product,
    parse_sex,
    parse_site,
    parse_treatment,
)

PATIENT_COLUMNS = ("mrn", "full_name", "sex", "birth_date", "condition")
SESSION_COLUMNS = ("mrn", "date", "treatment", "product", "lot_number")
VISIT_COLUMNS = ("mrn", "date", "density_per_cm2")
VISIT_OPTIONAL_COLUMNS = ("site",)

T = TypeVar("T")
# A session's natural key (MRN, date, treatment, product, lot) and a measurement's (MRN, date, site).
SessionKey = tuple[str, date, str, str, str]
MeasurementKey = tuple[str, date, str]


@dataclass(frozen=True)
class _Patient:
    row: int
    mrn: str
    full_name: str
    sex: str
    birth_date: date
    condition: str


@dataclass(frozen=True)
class _Session:
    row: int
    mrn: str
    date: date
    treatment: str
    product: str
    lot_number: str

    @property
    def key(self) -> SessionKey:
        return (self.mrn, self.date, self.treatment, self.product, self.lot_number)


@dataclass(frozen=True)
class _Measurement:
    row: int
    mrn: str
    date: date
    site: str
    density: float

    @property
    def key(self) -> MeasurementKey:
        return (self.mrn, self.date, self.site)


@dataclass(frozen=True)
class _Reference:
    """A session or visit row's patient and date (``None`` when the date itself is wrong)."""

    row: int
    mrn: str
    date: date | None


@dataclass
class _Problems:
    """Every problem found, kept in the order a clinician fixes them: by file, then by row."""

    items: list[tuple[int, int, int, str]] = field(default_factory=list)

    def add(self, file_order: int, file_name: str, row: int, reason: str) -> None:
        self.items.append((file_order, row, len(self.items), f"{file_name}, row {row}: {reason}"))

    def messages(self) -> list[str]:
        return [message for *_, message in sorted(self.items)]


class _Rows:
    """Parses the cells of one row, recording each problem against the file and row."""

    def __init__(self, problems: _Problems, file_order: int, sheet: Sheet):
        self.problems, self.file_order, self.file_name = problems, file_order, sheet.file_name
        self.failed = False

    def start(self, row: SheetRow) -> None:
        self.row, self.failed = row, False
        if row.stray_cells:
            self.report(
                f"{row.stray_cells} value(s) to the right of the last named column; is there a comma or "
                "semicolon inside a value that is not in quotes?"
            )

    def report(self, reason: str) -> None:
        self.failed = True
        self.problems.add(self.file_order, self.file_name, self.row.number, reason)

    def parse(self, parser: Callable[..., T], column: str, *args: object, **kwargs: object) -> T | None:
        try:
            return parser(self.row.cells.get(column), *args, label=column, **kwargs)
        except ValidationError as exc:
            self.report(str(exc))
            return None


def _parsed(value: T | None) -> T:
    """A cell of a row that did not fail: ``_Rows.parse`` returns None only after reporting the row."""
    if value is None:
        raise RuntimeError("A cell that failed to parse reached a record.")
    return value


def _read(problems: _Problems, order: int, path: str | Path, required: tuple[str, ...],
          optional: tuple[str, ...] = ()) -> Sheet | None:
    try:
        return read_sheet(path, required, optional)
    except ValidationError as exc:
        for problem in exc.problems:  # already "<file>, row <n>: …" or "<file>: …"
            problems.items.append((order, 0, len(problems.items), problem))
        return None


def _rows(problems: _Problems, order: int, sheet: Sheet | None) -> Iterable[tuple[_Rows, SheetRow]]:
    if sheet is None:
        return
    parse = _Rows(problems, order, sheet)
    for row in sheet.rows:
        parse.start(row)
        yield parse, row


def _patients(problems: _Problems, sheet: Sheet | None, today: date) -> tuple[dict[str, _Patient], set[str], int]:
    """Valid patient rows by MRN; every MRN listed (even on a row with errors); exact duplicates."""
    patients: dict[str, _Patient] = {}
    listed: set[str] = set()
    duplicates = 0
    for parse, row in _rows(problems, 0, sheet):
        mrn = parse.parse(parse_mrn, "mrn")
        full_name = parse.parse(parse_full_name, "full_name")
        sex = parse.parse(parse_sex, "sex")
        birth_date = parse.parse(parse_birth_date, "birth_date", today)
        condition = parse.parse(parse_condition, "condition")
        if mrn:
            listed.add(mrn)
        if parse.failed:
            continue
        record = _Patient(row.number, _parsed(mrn), _parsed(full_name), _parsed(sex), _parsed(birth_date),
                          _parsed(condition))
        earlier = patients.get(record.mrn)
        if earlier is None:
            patients[record.mrn] = record
        elif not _differences(earlier, record) and earlier.condition == record.condition:
            duplicates += 1
        else:
            differences = _differences(earlier, record) or [("condition", earlier.condition, record.condition)]
            parse.report(f"MRN {mrn!r} is also on row {earlier.row} with different details: "
                         + _describe(differences, "there"))
    return patients, listed, duplicates


def _date(value: object, today: date, label: str) -> date:
    return check_not_in_future(parse_iso_date(value, label), today, label)


def _sessions(problems: _Problems, sheet: Sheet | None, today: date
              ) -> tuple[list[_Session], list[_Reference], int]:
    """Valid sessions (each once); the patient each row refers to, even on rows with errors; duplicates."""
    found: dict[SessionKey, _Session] = {}
    references: list[_Reference] = []
    duplicates = 0
    for parse, row in _rows(problems, 1, sheet):
        mrn = parse.parse(parse_mrn, "mrn")
        day = parse.parse(_date, "date", today)
        treatment = parse.parse(parse_treatment, "treatment")
        product = parse.parse(parse_product, "product")
        lot_number = parse.parse(parse_lot_number, "lot_number", treatment)
        if mrn:
            references.append(_Reference(row.number, mrn, day))
        if parse.failed:
            continue
        record = _Session(row.number, _parsed(mrn), _parsed(day), _parsed(treatment), _parsed(product),
                          _parsed(lot_number))
        if record.key in found:
            duplicates += 1
        else:
            found[record.key] = record
    return list(found.values()), references, duplicates


def _measurements(problems: _Problems, sheet: Sheet | None, today: date
                  ) -> tuple[list[_Measurement], list[_Reference], int]:
    """Valid measurements (each once); the patient each row refers to, even on rows with errors; duplicates."""
    found: dict[MeasurementKey, _Measurement] = {}
    references: list[_Reference] = []
    duplicates = 0
    for parse, row in _rows(problems, 2, sheet):
        mrn = parse.parse(parse_mrn, "mrn")
        day = parse.parse(_date, "date", today)
        density = parse.parse(parse_density, "density_per_cm2")
        site = parse.parse(parse_site, "site")
        if mrn:
            references.append(_Reference(row.number, mrn, day))
        if parse.failed:
            continue
        record = _Measurement(row.number, _parsed(mrn), _parsed(day), _parsed(site), _parsed(density))
        earlier = found.get(record.key)
        if earlier is None:
            found[record.key] = record
        elif _same_density(earlier.density, record.density):
            duplicates += 1
        else:
            parse.report(
                f"MRN {record.mrn!r} on {record.date.isoformat()} at site {record.site!r} is also on row {earlier.row} "
                f"with a different density ({earlier.density:g} there, {record.density:g} here); keep one of them"
            )
    return list(found.values()), references, duplicates


def _same_density(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _differences(recorded: _Patient | models.Patient, row: _Patient) -> list[tuple[str, str, str]]:
    """The identifying details that differ; names match whatever their capitals or spacing."""
    differences = []
    if " ".join(recorded.full_name.split()).casefold() != row.full_name.casefold():
        differences.append(("full_name", recorded.full_name, row.full_name))
    if recorded.birth_date != row.birth_date:
        differences.append(("birth_date", recorded.birth_date.isoformat(), row.birth_date.isoformat()))
    if recorded.sex != row.sex:
        differences.append(("sex", recorded.sex, row.sex))
    return differences


def _describe(differences: list[tuple[str, str, str]], there: str) -> str:
    return "; ".join(f"{column} {old!r} {there}, {new!r} here" for column, old, new in differences)
