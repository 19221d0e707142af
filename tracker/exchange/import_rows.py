"""Reading the three import spreadsheets row by row (``tracker.exchange.spreadsheet_import``): each file's columns,
each row's cells parsed into a patient, a session, a density measurement or a SALT score, and every problem
recorded against its file, row and column (``import_problems.ImportProblem``), in the order a clinician fixes them. Rows
repeated exactly are counted and kept once. Checks that need the three files together or the database are
``tracker.exchange.import_matching``.

Cells are read as clinics write them: sex as ``F``/``M``/``O``/``U`` or in words, a decimal comma in a
semicolon-separated file, a date with a midnight time. What a spreadsheet did to a value is refused with the
true cause: an identifier (MRN, lot number) in scientific notation (``2.4E+08``: an office suite turned lot
``24E07`` into a number), an Excel day number (``45123``) where a date belongs, a cell the workbook cannot give
as shown (``spreadsheet_cells.UnreadableCell``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar, cast

from db import models
from tracker.clinic_dates import date_format, parse_date, show_date
from tracker.course.clinical import MAX_DENSITY_PER_CM2
from tracker.course.scales import parse_percentage
from tracker.errors import ValidationError
from tracker.exchange.import_problems import ImportProblem, ImportRefused
from tracker.exchange.spreadsheet_cells import RETYPE_AS_TEXT, UnreadableCell
from tracker.exchange.spreadsheets import Sheet, SheetRow, SheetSource, read_sheet
from tracker.records.patient_fields import parse_sex_as_written, short_text
from tracker.validation import (
    check_not_in_future,
    parse_birth_date,
    parse_condition,
    parse_density,
    parse_full_name,
    parse_lot_number,
    parse_mrn,
    parse_product,
    parse_site,
    parse_treatment,
)

PATIENT_COLUMNS = ("mrn", "full_name", "sex", "birth_date", "condition")
PATIENT_OPTIONAL_COLUMNS = ("protocol",)
SESSION_COLUMNS = ("mrn", "date", "treatment", "product", "lot_number")
# A visit row gives a density, a SALT score (alopecia areata), or both; one of the two columns must be there.
VISIT_COLUMNS = ("mrn", "date")
VISIT_OPTIONAL_COLUMNS = ("density_per_cm2", "site", "salt")
# Columns of identifiers, whose text must be exactly what the clinic typed (a recall search finds a lot by it).
IDENTIFIER_COLUMNS = ("mrn", "lot_number")
# Columns of measured numbers, which a semicolon-separated file writes with a decimal comma.
NUMBER_COLUMNS = ("density_per_cm2", "salt")
PROTOCOL_NAME_MAX = 120  # db.models.Protocol.name

T = TypeVar("T")
# A session's natural key (MRN, date, treatment, product, lot), a measurement's (MRN, date, site) and a SALT
# score's (MRN, date: one per visit); MRNs in keys are upper-cased (``mrn_key``).
SessionKey = tuple[str, date, str, str, str]
MeasurementKey = tuple[str, date, str]
VisitKey = tuple[str, date]

# An office suite's rendering of a number in scientific notation ("2.4E+08", "2,40E+08"); lot "24E07" as typed
# has no sign after the E and is a real identifier.
_SCIENTIFIC = re.compile(r"[+-]?\d+([.,]\d+)?E[+-]\d+", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"\s*[+-]?\d+,\d+\s*")
_MIDNIGHT = re.compile(r"(\d{4}-\d{2}-\d{2})[ T]00:00(:00(\.0+)?)?")
# Excel counts days from 1899-12-30 (its day 1 is 1900-01-01, and it counts a 29 February 1900 that never was).
_EXCEL_DAY_ZERO = date(1899, 12, 30)
# Day numbers of 1927-05-18 to 2173-10-14: five digits, the dates a clinic's spreadsheet holds.
_EXCEL_DAYS = range(10_000, 100_000)


def mrn_key(mrn: str) -> str:
    """An MRN as the import matches it: capitals do not make another patient (``ux-0001`` is ``UX-0001``).
    MRNs are letters, digits, ``-`` and ``_`` only (``validation.parse_mrn``), so upper-casing is the same in
    Python, SQLite and PostgreSQL."""
    return mrn.upper()


@dataclass(frozen=True)
class _Patient:
    row: int
    mrn: str
    full_name: str
    sex: str
    birth_date: date
    condition: str
    protocol: str | None = None  # a protocol's name as written, None for the default


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
        return (mrn_key(self.mrn), self.date, self.treatment, self.product, self.lot_number)


@dataclass(frozen=True)
class _Measurement:
    row: int
    mrn: str
    date: date
    site: str
    density: float

    @property
    def key(self) -> MeasurementKey:
        return (mrn_key(self.mrn), self.date, self.site)


@dataclass(frozen=True)
class _SaltScore:
    """A visit's SALT score (0–100, DESIGN.md §2) from the visits file's ``salt`` column."""

    row: int
    mrn: str
    date: date
    score: float

    @property
    def key(self) -> VisitKey:
        return (mrn_key(self.mrn), self.date)


@dataclass(frozen=True)
class _Reference:
    """A session or visit row's patient and date (``None`` when the date itself is wrong)."""

    row: int
    mrn: str
    date: date | None


@dataclass
class _Problems:
    """Every problem found, kept in the order a clinician fixes them: by file (its problems as a file first),
    then by row."""

    items: list[tuple[int, int, int, ImportProblem]] = field(default_factory=list)

    def add(self, file_order: int, file_name: str, row: int, reason: str, column: str | None = None) -> None:
        self.items.append((file_order, row, len(self.items), ImportProblem(file_name, row, column, reason)))

    def add_file_problems(self, file_order: int, found: Iterable[ImportProblem]) -> None:
        """Problems with a file as a whole or its header row, which come before its rows' problems."""
        self.items.extend((file_order, 0, len(self.items) + n, problem) for n, problem in enumerate(found))

    def found(self) -> list[ImportProblem]:
        return [problem for *_, problem in sorted(self.items, key=lambda item: item[:3])]


class _Rows:
    """Parses the cells of one row, recording each problem against the file and row."""

    def __init__(self, problems: _Problems, file_order: int, sheet: Sheet):
        self.problems, self.file_order, self.file_name = problems, file_order, sheet.file_name
        self.decimal_comma = sheet.decimal_comma
        self.failed = False
        self.seen: dict[tuple[object, ...], tuple[object, str | None]] = {}  # each distinct cell's reading

    def start(self, row: SheetRow) -> None:
        self.row, self.failed = row, False
        if row.stray_cells:
            self.report(
                f"{row.stray_cells} value(s) to the right of the last named column; is there a comma or "
                "semicolon inside a value that is not in quotes?"
            )

    def report(self, reason: str, column: str | None = None) -> None:
        self.failed = True
        self.problems.add(self.file_order, self.file_name, self.row.number, reason, column)

    def parse(self, parser: Callable[..., T], column: str, *args: object, **kwargs: object) -> T | None:
        value = self.row.cells.get(column)
        if isinstance(value, UnreadableCell):
            self.report(f"{column}: {value.reason}", column)
            return None
        # A file repeats its MRNs, dates, sites and lots on row after row: each distinct cell is read once (the
        # parsers are pure; the type is in the key, as 1, 1.0 and True are equal keys but different cells).
        key = (parser, column, type(value), value, args, tuple(kwargs.items()))
        try:
            parsed, problem = self.seen[key]
        except KeyError:
            parsed, problem = self.seen.setdefault(key, self._parse(parser, column, value, args, kwargs))
        except TypeError:  # an unhashable cell (none is today): read it without the cache
            parsed, problem = self._parse(parser, column, value, args, kwargs)
        if problem is not None:
            self.report(problem, column)
        return cast("T | None", parsed)

    def _parse(self, parser: Callable[..., T], column: str, value: object, args: tuple[object, ...],
               kwargs: dict[str, object]) -> tuple[T | None, str | None]:
        """The cell's value, or None and the problem."""
        try:
            if column in IDENTIFIER_COLUMNS:
                _refuse_scientific(value, column)
            if column in NUMBER_COLUMNS and isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value):
                # In a semicolon-separated file the comma is the decimal separator; in a comma-separated one a
                # quoted "58,3" may be a thousands separator from another export, so it is refused, not guessed.
                if not self.decimal_comma:
                    raise ValidationError(
                        f"{column} {value.strip()!r} is not a number: use a point for decimals "
                        f"({value.strip().replace(',', '.')})")
                value = value.replace(",", ".")
            return parser(value, *args, label=column, **kwargs), None
        except ValidationError as exc:
            return None, str(exc)


def _refuse_scientific(value: object, label: str) -> None:
    if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        raise ValidationError(
            f"{label} {value.strip()!r} is a number in scientific notation: an office suite changed the identifier "
            f"(lot 24E07 becomes 2.4E+08); {RETYPE_AS_TEXT}"
        )


def _parsed(value: T | None) -> T:
    """A cell of a row that did not fail: ``_Rows.parse`` returns None only after reporting the row."""
    if value is None:
        raise RuntimeError("A cell that failed to parse reached a record.")
    return value


def _read(problems: _Problems, order: int, source: SheetSource, required: tuple[str, ...],
          optional: tuple[str, ...] = ()) -> Sheet | None:
    """The file's rows, or None when the file or its header row is refused (its problems recorded)."""
    try:
        sheet = read_sheet(source, required, optional, IDENTIFIER_COLUMNS)
    except ImportRefused as exc:
        problems.add_file_problems(order, exc.found)
        return None
    if order == 2 and not {"density_per_cm2", "salt"} & set(sheet.columns):
        problems.add_file_problems(order, [ImportProblem(
            sheet.file_name, sheet.header_row, "density_per_cm2",
            f"missing column 'density_per_cm2' (or 'salt' for a SALT score) (the columns are: {', '.join(required)}; "
            f"optional: {', '.join(optional)})"
        )])
        return None
    return sheet


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
        sex = parse.parse(parse_sex_as_written, "sex")
        birth_date = parse.parse(_birth_date, "birth_date", today)
        condition = parse.parse(parse_condition, "condition")
        protocol = parse.parse(short_text, "protocol", limit=PROTOCOL_NAME_MAX, required=False)
        if mrn:
            listed.add(mrn_key(mrn))
        if parse.failed:
            continue
        record = _Patient(row.number, _parsed(mrn), _parsed(full_name), _parsed(sex), _parsed(birth_date),
                          _parsed(condition), protocol)
        earlier = patients.get(mrn_key(record.mrn))
        if earlier is None:
            patients[mrn_key(record.mrn)] = record
            continue
        differences = _differences(earlier, record)
        differences += [(column, str(getattr(earlier, column)), str(getattr(record, column)))
                        for column in ("condition", "protocol") if getattr(earlier, column) != getattr(record, column)]
        if not differences and earlier.mrn == record.mrn:
            duplicates += 1
        else:
            differences = differences or [("mrn", earlier.mrn, record.mrn)]
            parse.report(f"MRN {mrn!r} is also on row {earlier.row} with different details: "
                         + _describe(differences, "there"), differing_column(differences))
    return patients, listed, duplicates


def _date(value: object, today: date, label: str) -> date:
    return check_not_in_future(parse_date(_date_cell(value, label), label), today, label)


def _birth_date(value: object, today: date, label: str) -> date:
    return parse_birth_date(_date_cell(value, label), today, label)


def _date_cell(value: object, label: str) -> object:
    """A date cell as ``validation.parse_date`` reads it: a text date with a midnight time is the date (a
    spreadsheet wrote a date cell out with its time); an Excel day number is refused with what it is.

    >>> _date_cell("2025-01-10 00:00:00", "date")
    '2025-01-10'
    >>> _date_cell(45123, "date")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tracker.errors.ValidationError: date 45123 looks like an Excel day number (45123 is 2023-07-16): the column ...
    """
    if isinstance(value, str):
        midnight = _MIDNIGHT.fullmatch(value.strip())
        if midnight:
            return midnight.group(1)
    day_number = _whole_number(value)
    if day_number is not None and day_number in _EXCEL_DAYS:
        day = _EXCEL_DAY_ZERO + timedelta(days=day_number)
        raise ValidationError(
            f"{label} {day_number} looks like an Excel day number ({day_number} is {show_date(day)}): the column "
            f"lost its date format; format the column as a date ({date_format()}) and type or save the dates again"
        )
    return value


def _whole_number(value: object) -> int | None:
    """A whole number written as digits or held as a number, else None."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    return None


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
                  ) -> tuple[list[_Measurement], list[_SaltScore], list[_Reference], int]:
    """Valid density measurements and SALT scores (each once); the patient each row refers to, even on rows
    with errors; rows repeated exactly."""
    found: dict[MeasurementKey, _Measurement] = {}
    scores: dict[VisitKey, _SaltScore] = {}
    references: list[_Reference] = []
    duplicates = 0
    salt_column = sheet is not None and "salt" in sheet.columns
    for parse, row in _rows(problems, 2, sheet):
        mrn = parse.parse(parse_mrn, "mrn")
        day = parse.parse(_date, "date", today)
        salt = parse.parse(parse_percentage, "salt")
        density = None
        if salt_column and _empty(row.cells.get("salt")) and _empty(row.cells.get("density_per_cm2")):
            # Either value makes a visit: the message names both, not only the density.
            parse.report("density_per_cm2 or salt is required: a density (a number more than 0 and at most "
                         f"{MAX_DENSITY_PER_CM2:g} hairs/cm²) or a SALT score (0 to 100)")
        elif _empty(row.cells.get("salt")) or not _empty(row.cells.get("density_per_cm2")):
            density = parse.parse(parse_density, "density_per_cm2")  # required unless the row gives a SALT score
        site = parse.parse(parse_site, "site")
        if mrn:
            references.append(_Reference(row.number, mrn, day))
        if parse.failed:
            continue
        repeated = True
        if density is not None:
            record = _Measurement(row.number, _parsed(mrn), _parsed(day), _parsed(site), density)
            repeated = _keep_once(parse, found, record)
        if salt is not None:
            score = _SaltScore(row.number, _parsed(mrn), _parsed(day), salt)
            repeated = _keep_score_once(parse, scores, score) and repeated
        duplicates += repeated and not parse.failed
    return list(found.values()), list(scores.values()), references, duplicates


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _keep_once(parse: _Rows, found: dict[MeasurementKey, _Measurement], record: _Measurement) -> bool:
    """Keeps the measurement unless an earlier row has it; True when this row repeats that one exactly."""
    earlier = found.get(record.key)
    if earlier is None:
        found[record.key] = record
        return False
    if not _same_value(earlier.density, record.density):
        parse.report(
            f"MRN {record.mrn!r} on {show_date(record.date)} at site {record.site!r} is also on row {earlier.row} "
            f"with a different density ({earlier.density:g} there, {record.density:g} here); keep one of them",
            "density_per_cm2",
        )
    return True


def _keep_score_once(parse: _Rows, scores: dict[VisitKey, _SaltScore], score: _SaltScore) -> bool:
    """Keeps the visit's SALT score unless an earlier row gives it (a visit has one, whatever the site)."""
    earlier = scores.get(score.key)
    if earlier is None:
        scores[score.key] = score
        return False
    if not _same_value(earlier.score, score.score):
        parse.report(
            f"MRN {score.mrn!r} on {show_date(score.date)} is also on row {earlier.row} with a different SALT "
            f"score ({earlier.score:g} there, {score.score:g} here); a visit has one SALT score: keep one of them",
            "salt",
        )
    return True


def _same_value(a: float, b: float) -> bool:
    """Two recorded numbers (a density, a SALT score) that are the same value, float residue aside."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _differences(recorded: _Patient | models.Patient, row: _Patient) -> list[tuple[str, str, str]]:
    """The identifying details that differ; names match whatever their capitals or spacing."""
    differences = []
    if " ".join(recorded.full_name.split()).casefold() != row.full_name.casefold():
        differences.append(("full_name", recorded.full_name, row.full_name))
    if recorded.birth_date != row.birth_date:
        differences.append(("birth_date", show_date(recorded.birth_date), show_date(row.birth_date)))
    if recorded.sex != row.sex:
        differences.append(("sex", recorded.sex, row.sex))
    return differences


def differing_column(differences: list[tuple[str, str, str]]) -> str | None:
    """The column a row differs in, when it is one (a problem table names it); None for several.

    >>> differing_column([("full_name", "Jane Doe", "Janet Doe")]), differing_column([("sex", "f", "m")] * 2)
    ('full_name', None)
    """
    return differences[0][0] if len(differences) == 1 else None


def _describe(differences: list[tuple[str, str, str]], there: str) -> str:
    return "; ".join(f"{column} {old!r} {there}, {new!r} here" for column, old, new in differences)
