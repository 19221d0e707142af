"""The import's checks that need the three files together and the database (``tracker.exchange.spreadsheet_import``).

Records are matched on natural keys: a patient by MRN, whatever its capitals (``ux-0001`` is ``UX-0001``); a session
by MRN, date, treatment, product and lot; a visit by MRN and date (one visit per patient per day, holding one
density measurement per site and at most one SALT score); a measurement by visit and site. An import never changes
what is already recorded: a patient whose name, birth date, sex or named protocol differ from the database, or a
density or SALT score that differs from the one recorded for that visit, is reported as a problem, and so is a row
matching a record that was removed in the app (re-importing must not undo a removal).

A patient row's ``protocol`` names one of the clinic's protocols (any capitals); empty means the clinic's default,
or for alopecia areata the "Alopecia areata (SALT)" protocol when the clinic has it (issue #11: alopecia areata
is followed on SALT).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from db import models
from tracker.clinic_dates import show_date
from tracker.course.clinical import DEFAULT_PROTOCOL_NAME, SALT_PROTOCOL_NAME
from tracker.course.scales import SALT
from tracker.errors import ValidationError
from tracker.exchange.import_rows import (
    MeasurementKey,
    SessionKey,
    VisitKey,
    _describe,
    _differences,
    _Measurement,
    _Patient,
    _Problems,
    _Reference,
    _SaltScore,
    _same_value,
    _Session,
    differing_column,
    mrn_key,
)
from tracker.exchange.spreadsheets import Sheet
from tracker.validation import check_not_before_birth

# Chunk size for ``IN (…)`` lists; SQLite limits the number of bound parameters per statement.
_CHUNK = 500

_Key = TypeVar("_Key", int, str)  # what rows are loaded by: patient ids or MRNs
_Row = TypeVar("_Row", bound=models.Base)


class _Context:
    """The checks that need the three files together and the database."""

    def __init__(self, problems: _Problems, sheets: list[Sheet | None], patients: dict[str, _Patient],
                 listed_mrns: set[str]):
        self.problems, self.sheets = problems, sheets
        self.patients, self.listed_mrns = patients, listed_mrns  # both by ``mrn_key``
        self.known: dict[str, models.Patient] = {}  # by ``mrn_key``
        self.protocols: dict[str, models.Protocol] = {}  # by name, casefolded
        self.protocol_ids: dict[str, int | None] = {}  # each new patient's protocol, by ``mrn_key``
        self.visits: list[Row[Any]] = []  # the known patients' visits (id, patient_id, date, deleted_at), once
        # ``check_measurements`` ran

    def load(self, session: Session, mrns: set[str]) -> None:
        """The patients these files name (live ones first when two MRNs differ only in capitals) and the
        clinic's protocols."""
        rows = _load_all(session, models.Patient, func.upper(models.Patient.mrn), {mrn_key(m) for m in mrns})
        for patient in sorted(rows, key=lambda p: (p.deleted_at is not None, p.id)):
            self.known.setdefault(mrn_key(patient.mrn), patient)
        self.protocols = {" ".join(p.name.split()).casefold(): p for p in session.scalars(select(models.Protocol))}

    def _report(self, order: int, row: int, reason: str, column: str | None = None) -> None:
        sheet = self.sheets[order]
        if sheet is None:  # cannot happen: the rows checked here were all read from that file
            raise RuntimeError(f"A problem was found on row {row} of file {order}, which could not be read.")
        self.problems.add(order, sheet.file_name, row, reason, column)

    def check_patients(self) -> tuple[list[_Patient], int]:
        new, skipped = [], 0
        for key, patient in self.patients.items():
            recorded = self.known.get(key)
            protocol = self._protocol(patient)
            if protocol is False:
                continue
            if recorded is None:
                new.append(patient)
                self.protocol_ids[key] = protocol.id if protocol else None
            elif recorded.deleted_at is not None:
                self._report(0, patient.row, _removed_patient(patient.mrn, recorded), "mrn")
            elif differences := _differences(recorded, patient) + _other_protocol(recorded, patient, protocol):
                self._report(0, patient.row, (
                    f"MRN {patient.mrn!r} is already in the database with different details: "
                    f"{_describe(differences, 'in the database')}. An import never changes a patient's record: "
                    "correct the spreadsheet or the record"
                ), differing_column(differences))
            else:
                skipped += 1
        return new, skipped

    def _protocol(self, patient: _Patient) -> models.Protocol | None | Literal[False]:
        """The protocol the row names, else the default for its condition (None: the clinic's default);
        False when the name is none of the clinic's protocols (reported)."""
        if patient.protocol is None:
            if patient.condition == "alopecia_areata":
                salt = self.protocols.get(SALT_PROTOCOL_NAME.casefold())
                if salt is not None:
                    return salt
            return self.protocols.get(DEFAULT_PROTOCOL_NAME.casefold())
        protocol = self.protocols.get(patient.protocol.casefold())
        if protocol is None:
            names = ", ".join(repr(p.name) for p in sorted(self.protocols.values(), key=lambda p: p.name.casefold()))
            self._report(0, patient.row, (
                f"protocol {patient.protocol!r} is not one of the clinic's protocols: {names or 'none yet'} "
                "(leave the cell empty for the default)"
            ), "protocol")
            return False
        return protocol

    def check_references(self, order: int, references: list[_Reference]) -> set[int]:
        """Reports rows whose patient is unknown or removed, or dated before the birth; returns those rows."""
        refused = set()
        for record in references:
            key = mrn_key(record.mrn)
            recorded = self.known.get(key)
            in_database = recorded if recorded is not None and recorded.deleted_at is None else None
            if key in self.listed_mrns:
                listed = self.patients.get(key)
                birth_date = listed.birth_date if listed else in_database.birth_date if in_database else None
            elif in_database is not None:
                birth_date = in_database.birth_date
            elif recorded is not None:
                self._report(order, record.row, _removed_patient(record.mrn, recorded), "mrn")
                refused.add(record.row)
                continue
            else:
                if self.sheets[0] is not None:  # with no readable patients file the question is open
                    self._report(order, record.row, (
                        f"MRN {record.mrn!r} is neither in {self.sheets[0].file_name} nor in the database"
                    ), "mrn")
                refused.add(record.row)
                continue
            if birth_date is not None and record.date is not None:
                try:
                    check_not_before_birth(record.date, birth_date, "date")
                except ValidationError as exc:
                    self._report(order, record.row, str(exc), "date")
                    refused.add(record.row)
        return refused

    def _patient_ids(self) -> dict[int, str]:
        return {patient.id: key for key, patient in self.known.items()}

    def check_sessions(self, session: Session, records: list[_Session]) -> tuple[list[_Session], int]:
        ids = self._patient_ids()
        live: dict[SessionKey, bool] = {}
        T = models.TreatmentSession
        query = select(T.patient_id, T.date, T.treatment, T.product, T.lot_number, T.deleted_at)
        for row in _load_rows(session, query, T.patient_id, ids):
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
                           ) -> tuple[list[_Measurement], int, dict[VisitKey, int]]:
        """The measurements to add, how many are recorded already, and the open visit of each (MRN, day) by
        its id. Visits and measurements are read as plain rows: a re-import of a clinic's files reads tens of
        thousands of each, which as ORM objects cost seconds."""
        ids = self._patient_ids()
        V, M = models.Visit, models.DensityMeasurement
        self.visits = _load_rows(session, select(V.id, V.patient_id, V.date, V.deleted_at), V.patient_id, ids)
        by_visit = {visit.id: visit for visit in self.visits}
        open_visits: dict[VisitKey, int] = {}
        for visit in sorted(self.visits, key=lambda v: v.id):
            if visit.deleted_at is None:
                open_visits.setdefault((ids[visit.patient_id], visit.date), visit.id)
        live: dict[MeasurementKey, list[float]] = {}
        removed: dict[MeasurementKey, list[float]] = {}
        query = select(M.visit_id, M.site, M.density_per_cm2, M.deleted_at).join(V, V.id == M.visit_id).order_by(M.id)
        for measurement in _load_rows(session, query, V.patient_id, ids):
            visit = by_visit[measurement.visit_id]
            gone = visit.deleted_at is not None or measurement.deleted_at is not None
            (removed if gone else live).setdefault((ids[visit.patient_id], visit.date, measurement.site), []).append(
                measurement.density_per_cm2)
        new, skipped = [], 0
        for record in records:
            recorded = live.get(record.key, [])
            if any(_same_value(value, record.density) for value in recorded):
                skipped += 1
            elif recorded:
                self._report(2, record.row, (
                    f"the database already has {', '.join(f'{value:g}' for value in recorded)} hairs/cm² for MRN "
                    f"{record.mrn!r} on {show_date(record.date)} at site {record.site!r}; this row says "
                    f"{record.density:g}. An import never changes a recorded measurement"
                ), "density_per_cm2")
            elif any(_same_value(value, record.density) for value in removed.get(record.key, [])):
                self._report(2, record.row, (
                    "this measurement was removed in the app; delete the row from the spreadsheet, or restore "
                    "the measurement in the app"
                ))
            else:
                new.append(record)
        return new, skipped, open_visits

    def check_salt_scores(self, session: Session, records: list[_SaltScore]) -> tuple[list[_SaltScore], int]:
        """The SALT scores to add; those already recorded for their visit are counted, others reported.
        Runs after ``check_measurements``, whose visits it reuses."""
        ids = self._patient_ids()
        by_visit = {visit.id: visit for visit in self.visits}
        live: dict[VisitKey, list[float]] = {}
        removed: dict[VisitKey, list[float]] = {}
        for score in _load_all(session, models.ScaleScore, models.ScaleScore.visit_id, by_visit):
            visit = by_visit[score.visit_id]
            if score.scale != SALT or score.salt_score is None:
                continue
            gone = visit.deleted_at is not None or score.deleted_at is not None
            (removed if gone else live).setdefault((ids[visit.patient_id], visit.date), []).append(score.salt_score)
        new, skipped = [], 0
        for record in records:
            recorded = live.get(record.key, [])
            if any(_same_value(value, record.score) for value in recorded):
                skipped += 1
            elif recorded:
                self._report(2, record.row, (
                    f"the database already has the SALT score {', '.join(f'{value:g}' for value in recorded)} for "
                    f"MRN {record.mrn!r} on {show_date(record.date)}; this row says {record.score:g}. An import "
                    "never changes a recorded score"
                ), "salt")
            elif any(_same_value(value, record.score) for value in removed.get(record.key, [])):
                self._report(2, record.row, (
                    "this SALT score was removed in the app; delete it from the spreadsheet, or restore the score "
                    "in the app"
                ))
            else:
                new.append(record)
        return new, skipped


def _other_protocol(recorded: models.Patient, row: _Patient,
                    protocol: models.Protocol | None) -> list[tuple[str, str, str]]:
    """The protocol a row names, when it is not the one the patient follows (an empty cell names none)."""
    if row.protocol is None or protocol is None or recorded.protocol_id == protocol.id:
        return []
    if recorded.protocol_id is None and protocol.name == DEFAULT_PROTOCOL_NAME:
        return []  # a patient with no protocol linked follows the default
    return [("protocol", recorded.protocol.name if recorded.protocol else "(none)", protocol.name)]


def _removed_patient(mrn: str, recorded: models.Patient) -> str:
    return (f"MRN {mrn!r} belongs to a patient record removed from the app on "
            f"{show_date(recorded.deleted_at)}; restore that record or use another MRN")


def _chunks(values: Iterable[_Key]) -> Iterable[list[_Key]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start:start + _CHUNK]


def _load_rows(session: Session, query: Select[*tuple[Any, ...]], column: QueryableAttribute[Any],
               values: Iterable[_Key]) -> list[Row[Any]]:
    """The rows of ``query`` whose ``column`` is one of ``values``, read in chunks of ``_CHUNK``."""
    rows: list[Row[Any]] = []
    for chunk in _chunks(values):
        rows.extend(session.execute(query.where(column.in_(chunk))))
    return rows


def _load_all(session: Session, model: type[_Row], column: ColumnElement[Any] | QueryableAttribute[Any],
              values: Iterable[_Key]) -> list[_Row]:
    """Every ``model`` row whose ``column`` is one of ``values``, loaded in chunks of ``_CHUNK``."""
    rows: list[_Row] = []
    for chunk in _chunks(values):
        rows.extend(session.scalars(select(model).where(column.in_(chunk))))
    return rows
