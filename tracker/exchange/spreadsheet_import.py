"""Importing the spreadsheets clinics keep today: patients, treatment sessions and visits.

``import_spreadsheets`` is the one entry point (``python -m tracker import`` and the import page call
it). It is all or nothing: every row of the three files is checked, against each other and against the
database, and if anything is wrong ``ValidationError.problems`` lists every problem as
``"<file>, row <n>: <reason>"`` and nothing is written. Otherwise everything is written in one
transaction, each row carrying ``created_by=actor``.

Columns (header row, exact names; ``site`` is optional and defaults to ``primary``):

- patients: ``mrn, full_name, sex, birth_date, condition``
- sessions: ``mrn, date, treatment, product, lot_number``
- visits: ``mrn, date, density_per_cm2[, site]``

Importing the same files again adds nothing twice. Records are matched on natural keys: a patient by
MRN; a session by MRN, date, treatment, product and lot; a visit by MRN and date (one visit per patient
per day, holding one density measurement per site); a measurement by visit and site. An import never
changes what is already recorded: a patient whose name, birth date or sex differ from the database, or a
density that differs from the one recorded for that visit and site, is reported as a problem, and so
is a row matching a record that was removed in the app (re-importing must not undo a removal).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterable, TypeVar

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME
from tracker.operations.database import transaction
from tracker.errors import ConflictError, ValidationError
from tracker.exchange.spreadsheets import Sheet, SheetRow, read_sheet
from tracker.records.validation import (
    check_not_before_birth,
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

# PostgreSQL advisory lock taken for the whole import, so that two imports of the same files cannot
# both find a record missing and both add it (SQLite serialises writers with BEGIN IMMEDIATE already).
IMPORT_LOCK_KEY = 7312002
# Chunk size for ``IN (…)`` lists; SQLite limits the number of bound parameters per statement.
_CHUNK = 500

T = TypeVar("T")


@dataclass(frozen=True)
class ImportResult:
    """What an import added, and what it found already recorded (and therefore left alone)."""

    patients_added: int = 0
    patients_skipped: int = 0
    sessions_added: int = 0
    sessions_skipped: int = 0
    visits_added: int = 0
    visits_skipped: int = 0
    measurements_added: int = 0
    measurements_skipped: int = 0
    duplicate_rows: int = 0  # rows repeating an earlier row of the same file exactly (imported once)

    def summary(self) -> str:
        """Lines for the command line and the import page.

        >>> print(ImportResult(patients_added=2, visits_added=3, measurements_added=4).summary())
        Import complete.
          patients: 2 added, 0 already present
          treatment sessions: 0 added, 0 already present
          visits: 3 added, 0 already present
          density measurements: 4 added, 0 already present
        """
        lines = [
            "Import complete.",
            f"  patients: {self.patients_added} added, {self.patients_skipped} already present",
            f"  treatment sessions: {self.sessions_added} added, {self.sessions_skipped} already present",
            f"  visits: {self.visits_added} added, {self.visits_skipped} already present",
            f"  density measurements: {self.measurements_added} added, {self.measurements_skipped} already present",
        ]
        if self.duplicate_rows:
            lines.append(f"  {self.duplicate_rows} row(s) repeated an earlier row exactly and were imported once")
        return "\n".join(lines)


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
    def key(self) -> tuple:
        return (self.mrn, self.date, self.treatment, self.product, self.lot_number)


@dataclass(frozen=True)
class _Measurement:
    row: int
    mrn: str
    date: date
    site: str
    density: float

    @property
    def key(self) -> tuple:
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

    def parse(self, parser: Callable[..., T], column: str, *args, **kwargs) -> T | None:
        try:
            return parser(self.row.cells.get(column), *args, label=column, **kwargs)
        except ValidationError as exc:
            self.report(str(exc))
            return None


def import_spreadsheets(patients_path: str | Path, sessions_path: str | Path, visits_path: str | Path, *,
                        actor: Actor, url: str | None = None,
                        today: date | None = None) -> ImportResult:
    """Import the three spreadsheets (CSV or .xlsx) in one transaction, or nothing at all.

    ``actor`` must be staff (the command line acts as admin), and its username is written to every
    row's ``created_by``; ``url`` selects the database (default: the configured one);
    ``today`` (default: the current date) is the last date a record may carry.
    Raises ``ValidationError`` whose ``problems`` lists every problem, each naming file, row and reason;
    ``ConflictError`` when another user added the same patient during the import.
    """
    require_role(actor, *STAFF)
    today = today or date.today()
    problems = _Problems()
    sheets = [
        _read(problems, 0, patients_path, PATIENT_COLUMNS),
        _read(problems, 1, sessions_path, SESSION_COLUMNS),
        _read(problems, 2, visits_path, VISIT_COLUMNS, VISIT_OPTIONAL_COLUMNS),
    ]
    patients, listed_mrns, duplicates = _patients(problems, sheets[0], today)
    sessions, session_refs, session_duplicates = _sessions(problems, sheets[1], today)
    measurements, visit_refs, visit_duplicates = _measurements(problems, sheets[2], today)
    context = _Context(problems, sheets, patients, listed_mrns)

    with transaction(url) as session:
        if session.bind.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK_KEY})
        mrns = set(patients) | {reference.mrn for reference in session_refs + visit_refs}
        context.known = {p.mrn: p for p in _load_all(session, models.Patient, models.Patient.mrn, mrns)}
        new_patients, patients_skipped = context.check_patients()
        refused = context.check_references(1, session_refs)
        sessions = [record for record in sessions if record.row not in refused]
        refused = context.check_references(2, visit_refs)
        measurements = [record for record in measurements if record.row not in refused]
        new_sessions, sessions_skipped = context.check_sessions(session, sessions)
        new_measurements, measurements_skipped, existing_visits = context.check_measurements(session, measurements)

        messages = problems.messages()
        if messages:
            summary = (
                f"{messages[0]} (nothing was imported)" if len(messages) == 1
                else f"{len(messages)} problems found in the spreadsheets; nothing was imported"
            )
            raise ValidationError(summary, messages)

        visits_skipped = len({(m.mrn, m.date) for m in measurements} & set(existing_visits))
        visits_added = _write(session, actor.username, new_patients, context.known, new_sessions, new_measurements,
                              existing_visits)
        result = ImportResult(
            patients_added=len(new_patients),
            patients_skipped=patients_skipped,
            sessions_added=len(new_sessions),
            sessions_skipped=sessions_skipped,
            visits_added=visits_added,
            visits_skipped=visits_skipped,
            measurements_added=len(new_measurements),
            measurements_skipped=measurements_skipped,
            duplicate_rows=duplicates + session_duplicates + visit_duplicates,
        )
        audit.record(session, actor, "import",
                     detail=" ".join(result.summary().split())[:1000])
        return result


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
        record = _Patient(row.number, mrn, full_name, sex, birth_date, condition)
        earlier = patients.get(mrn)
        if earlier is None:
            patients[mrn] = record
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
    found: dict[tuple, _Session] = {}
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
        record = _Session(row.number, mrn, day, treatment, product, lot_number)
        if record.key in found:
            duplicates += 1
        else:
            found[record.key] = record
    return list(found.values()), references, duplicates


def _measurements(problems: _Problems, sheet: Sheet | None, today: date
                  ) -> tuple[list[_Measurement], list[_Reference], int]:
    """Valid measurements (each once); the patient each row refers to, even on rows with errors; duplicates."""
    found: dict[tuple, _Measurement] = {}
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
        record = _Measurement(row.number, mrn, day, site, density)
        earlier = found.get(record.key)
        if earlier is None:
            found[record.key] = record
        elif _same_density(earlier.density, density):
            duplicates += 1
        else:
            parse.report(
                f"MRN {mrn!r} on {day.isoformat()} at site {site!r} is also on row {earlier.row} with a different "
                f"density ({earlier.density:g} there, {density:g} here); keep one of them"
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


class _Context:
    """The checks that need the three files together and the database."""

    def __init__(self, problems: _Problems, sheets: list[Sheet | None], patients: dict[str, _Patient],
                 listed_mrns: set[str]):
        self.problems, self.sheets = problems, sheets
        self.patients, self.listed_mrns = patients, listed_mrns
        self.known: dict[str, models.Patient] = {}

    def _report(self, order: int, row: int, reason: str) -> None:
        self.problems.add(order, self.sheets[order].file_name, row, reason)

    def check_patients(self) -> tuple[list[_Patient], int]:
        new, skipped = [], 0
        for patient in self.patients.values():
            recorded = self.known.get(patient.mrn)
            if recorded is None:
                new.append(patient)
            elif recorded.deleted_at is not None:
                self._report(0, patient.row, _removed_patient(patient.mrn, recorded))
            elif differences := _differences(recorded, patient):
                self._report(0, patient.row, (
                    f"MRN {patient.mrn!r} is already in the database with different details: "
                    f"{_describe(differences, 'in the database')}. An import never changes a patient's record: "
                    "correct the spreadsheet or the record"
                ))
            else:
                skipped += 1
        return new, skipped

    def check_references(self, order: int, references: list[_Reference]) -> set[int]:
        """Reports rows whose patient is unknown or removed, or dated before the birth; returns those rows."""
        refused = set()
        for record in references:
            recorded = self.known.get(record.mrn)
            in_database = recorded is not None and recorded.deleted_at is None
            if record.mrn in self.listed_mrns:
                listed = self.patients.get(record.mrn)
                birth_date = listed.birth_date if listed else recorded.birth_date if in_database else None
            elif in_database:
                birth_date = recorded.birth_date
            elif recorded is not None:
                self._report(order, record.row, _removed_patient(record.mrn, recorded))
                refused.add(record.row)
                continue
            else:
                if self.sheets[0] is not None:  # with no readable patients file the question is open
                    self._report(order, record.row, (
                        f"MRN {record.mrn!r} is neither in {self.sheets[0].file_name} nor in the database"
                    ))
                refused.add(record.row)
                continue
            if birth_date is not None and record.date is not None:
                try:
                    check_not_before_birth(record.date, birth_date, "date")
                except ValidationError as exc:
                    self._report(order, record.row, str(exc))
                    refused.add(record.row)
        return refused

    def _patient_ids(self) -> dict[int, str]:
        return {patient.id: mrn for mrn, patient in self.known.items()}

    def check_sessions(self, session: Session, records: list[_Session]) -> tuple[list[_Session], int]:
        ids = self._patient_ids()
        live: dict[tuple, bool] = {}
        for row in _load_all(session, models.TreatmentSession, models.TreatmentSession.patient_id, ids):
            key = (ids[row.patient_id], row.date, row.treatment, row.product or "", row.lot_number or "")
            live[key] = live.get(key, False) or row.deleted_at is None
        new, skipped = [], 0
        for record in records:
            if record.key not in live:
                new.append(record)
            elif live[record.key]:
                skipped += 1
            else:
                self._report(1, record.row, (
                    "this session was removed in the app; delete the row from the spreadsheet, or restore the "
                    "session in the app"
                ))
        return new, skipped

    def check_measurements(self, session: Session, records: list[_Measurement]
                           ) -> tuple[list[_Measurement], int, dict[tuple[str, date], models.Visit]]:
        ids = self._patient_ids()
        visits = _load_all(session, models.Visit, models.Visit.patient_id, ids,
                           options=(selectinload(models.Visit.measurements),))
        open_visits: dict[tuple[str, date], models.Visit] = {}
        live: dict[tuple, list[float]] = {}
        removed: dict[tuple, list[float]] = {}
        for visit in sorted(visits, key=lambda v: v.id):
            day = (ids[visit.patient_id], visit.date)
            if visit.deleted_at is None:
                open_visits.setdefault(day, visit)
            for measurement in visit.measurements:
                gone = visit.deleted_at is not None or measurement.deleted_at is not None
                (removed if gone else live).setdefault((*day, measurement.site), []).append(
                    measurement.density_per_cm2)
        new, skipped = [], 0
        for record in records:
            recorded = live.get(record.key, [])
            if any(_same_density(value, record.density) for value in recorded):
                skipped += 1
            elif recorded:
                self._report(2, record.row, (
                    f"the database already has {', '.join(f'{value:g}' for value in recorded)} hairs/cm² for MRN "
                    f"{record.mrn!r} on {record.date.isoformat()} at site {record.site!r}; this row says "
                    f"{record.density:g}. An import never changes a recorded measurement"
                ))
            elif any(_same_density(value, record.density) for value in removed.get(record.key, [])):
                self._report(2, record.row, (
                    "this measurement was removed in the app; delete the row from the spreadsheet, or restore "
                    "the measurement in the app"
                ))
            else:
                new.append(record)
        return new, skipped, open_visits


def _removed_patient(mrn: str, recorded: models.Patient) -> str:
    return (f"MRN {mrn!r} belongs to a patient record removed from the app on "
            f"{recorded.deleted_at:%Y-%m-%d}; restore that record or use another MRN")


def _chunks(values: Iterable[T]) -> Iterable[list[T]]:
    values = sorted(values)
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _load_all(session: Session, model, column, values: Iterable, options: tuple = ()) -> list:
    rows = []
    for chunk in _chunks(values):
        rows.extend(session.scalars(select(model).where(column.in_(chunk)).options(*options)))
    return rows


def _write(session: Session, actor: str, patients: list[_Patient], known: dict[str, models.Patient],
           sessions: list[_Session], measurements: list[_Measurement],
           open_visits: dict[tuple[str, date], models.Visit]) -> int:
    """Adds the new records; returns the number of visits created."""
    # Imported patients follow the clinic's stored default protocol, as patients created on the page do.
    default_protocol = session.scalar(select(models.Protocol.id).where(models.Protocol.name == DEFAULT_PROTOCOL_NAME))
    try:
        for patient in patients:
            known[patient.mrn] = models.Patient(
                mrn=patient.mrn, full_name=patient.full_name, sex=patient.sex, birth_date=patient.birth_date,
                condition=patient.condition, protocol_id=default_protocol, created_by=actor,
            )
            session.add(known[patient.mrn])
        session.flush()
        for record in sessions:
            session.add(models.TreatmentSession(
                patient_id=known[record.mrn].id, date=record.date, treatment=record.treatment,
                product=record.product, lot_number=record.lot_number, created_by=actor,
            ))
        visits_added = 0
        for record in sorted(measurements, key=lambda m: (m.mrn, m.date, m.row)):
            visit = open_visits.get((record.mrn, record.date))
            if visit is None:
                visit = models.Visit(patient_id=known[record.mrn].id, date=record.date, created_by=actor)
                session.add(visit)
                open_visits[(record.mrn, record.date)] = visit
                visits_added += 1
            session.add(models.DensityMeasurement(
                visit=visit, site=record.site, density_per_cm2=record.density, created_by=actor,
            ))
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            "Someone else added some of these records while the import ran; nothing was imported. "
            "Run the import again."
        ) from exc
    return visits_added
