"""Importing the spreadsheets clinics keep today: patients, treatment sessions and visits.

``import_spreadsheets`` is the one entry point (``python -m tracker import`` and the import page call
it). It is all or nothing: every row of the three files is checked, against each other and against the
database, and if anything is wrong ``ValidationError.problems`` lists every problem as
``"<file>, row <n>: <reason>"`` and nothing is written. Otherwise everything is written in one
transaction, each row carrying ``created_by=actor``.

Columns (header row, names in any capitals, spaces for ``_`` allowed; bracketed ones optional):

- patients: ``mrn, full_name, sex, birth_date, condition[, protocol]``
- sessions: ``mrn, date, treatment, product, lot_number``
- visits: ``mrn, date, density_per_cm2[, site][, salt]`` (``site`` defaults to ``primary``; a row gives a
  density, a SALT score 0–100, or both, and ``density_per_cm2`` may be left out of a SALT-only file)

Files may be CSV (UTF-8, UTF-16 "Unicode text", or Windows-1252 with a note in the summary), .xlsx or .ods:
``tracker.exchange.spreadsheets``.

Reading the files row by row is ``tracker.exchange.import_rows``; importing the same files again adds nothing
twice, and never changes what is already recorded (``tracker.exchange.import_matching``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.scales import SALT, ScaleScore
from tracker.database import transaction
from tracker.errors import ConflictError, ValidationError
from tracker.exchange.import_matching import _Context
from tracker.exchange.import_rows import (
    PATIENT_COLUMNS,
    PATIENT_OPTIONAL_COLUMNS,
    SESSION_COLUMNS,
    VISIT_COLUMNS,
    VISIT_OPTIONAL_COLUMNS,
    VisitKey,
    _Measurement,
    _measurements,
    _Patient,
    _patients,
    _Problems,
    _read,
    _SaltScore,
    _Session,
    _sessions,
    mrn_key,
)
from tracker.records.visits import scale_score_row

# PostgreSQL advisory lock taken for the whole import, so that two imports of the same files cannot
# both find a record missing and both add it (SQLite serialises writers with BEGIN IMMEDIATE already).
IMPORT_LOCK_KEY = 7312002


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
    salt_scores_added: int = 0
    salt_scores_skipped: int = 0
    notes: tuple[str, ...] = ()  # how a file was read that the clinician should check (its text encoding)

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
        if self.salt_scores_added or self.salt_scores_skipped:
            lines.append(f"  SALT scores: {self.salt_scores_added} added, {self.salt_scores_skipped} already present")
        if self.duplicate_rows:
            lines.append(f"  {self.duplicate_rows} row(s) repeated an earlier row exactly and were imported once")
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)


def import_spreadsheets(patients_path: str | Path, sessions_path: str | Path, visits_path: str | Path, *,
                        actor: Actor, url: str | None = None,
                        today: date | None = None) -> ImportResult:
    """Import the three spreadsheets (CSV, .xlsx or .ods) in one transaction, or nothing at all.

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
        _read(problems, 0, patients_path, PATIENT_COLUMNS, PATIENT_OPTIONAL_COLUMNS),
        _read(problems, 1, sessions_path, SESSION_COLUMNS),
        _read(problems, 2, visits_path, VISIT_COLUMNS, VISIT_OPTIONAL_COLUMNS),
    ]
    patients, listed_mrns, duplicates = _patients(problems, sheets[0], today)
    sessions, session_refs, session_duplicates = _sessions(problems, sheets[1], today)
    measurements, salt_scores, visit_refs, visit_duplicates = _measurements(problems, sheets[2], today)
    context = _Context(problems, sheets, patients, listed_mrns)

    with transaction(url) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK_KEY})
        context.load(session, set(patients) | {reference.mrn for reference in session_refs + visit_refs})
        new_patients, patients_skipped = context.check_patients()
        refused = context.check_references(1, session_refs)
        sessions = [record for record in sessions if record.row not in refused]
        refused = context.check_references(2, visit_refs)
        measurements = [record for record in measurements if record.row not in refused]
        salt_scores = [record for record in salt_scores if record.row not in refused]
        new_sessions, sessions_skipped = context.check_sessions(session, sessions)
        new_measurements, measurements_skipped, existing_visits = context.check_measurements(session, measurements)
        new_scores, scores_skipped = context.check_salt_scores(session, salt_scores)

        messages = problems.messages()
        if messages:
            summary = (
                f"{messages[0]} (nothing was imported)" if len(messages) == 1
                else f"{len(messages)} problems found in the spreadsheets; nothing was imported"
            )
            raise ValidationError(summary, messages)

        visit_days = {_visit_key(m) for m in measurements} | {_visit_key(score) for score in salt_scores}
        visits_skipped = len(visit_days & set(existing_visits))
        visits_added = _write(session, actor.username, _New(new_patients, context.protocol_ids, new_sessions,
                                                            new_measurements, new_scores),
                              context.known, existing_visits)
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
            salt_scores_added=len(new_scores),
            salt_scores_skipped=scores_skipped,
            notes=tuple(note for sheet in sheets if sheet is not None for note in sheet.notes),
        )
        audit.record(session, actor, "import",
                     detail=" ".join(result.summary().split())[:1000])
        return result


def _visit_key(record: _Measurement | _SaltScore) -> VisitKey:
    return (mrn_key(record.mrn), record.date)


@dataclass(frozen=True)
class _New:
    """What an import adds: new patients (with their protocols, by ``mrn_key``), sessions, measurements and
    SALT scores."""

    patients: list[_Patient]
    protocol_ids: dict[str, int | None]
    sessions: list[_Session]
    measurements: list[_Measurement]
    salt_scores: list[_SaltScore]


def _write(session: Session, actor: str, new: _New, known: dict[str, models.Patient],
           open_visits: dict[VisitKey, models.Visit]) -> int:
    """Adds the new records; returns the number of visits created."""
    try:
        for patient in new.patients:
            key = mrn_key(patient.mrn)
            known[key] = models.Patient(
                mrn=patient.mrn, full_name=patient.full_name, sex=patient.sex, birth_date=patient.birth_date,
                condition=patient.condition, protocol_id=new.protocol_ids.get(key), created_by=actor,
            )
            session.add(known[key])
        session.flush()
        for treatment in new.sessions:
            session.add(models.TreatmentSession(
                patient_id=known[mrn_key(treatment.mrn)].id, date=treatment.date, treatment=treatment.treatment,
                product=treatment.product, lot_number=treatment.lot_number, created_by=actor,
            ))
        visits_added = 0
        records: list[_Measurement | _SaltScore] = [*new.measurements, *new.salt_scores]
        for record in sorted(records, key=lambda r: (_visit_key(r), r.row)):
            day = _visit_key(record)
            if day not in open_visits:
                open_visits[day] = models.Visit(patient_id=known[day[0]].id, date=record.date, created_by=actor)
                session.add(open_visits[day])
                visits_added += 1
        session.flush()
        for measurement in new.measurements:
            session.add(models.DensityMeasurement(
                visit=open_visits[_visit_key(measurement)], site=measurement.site, density_per_cm2=measurement.density,
                created_by=actor,
            ))
        for score in new.salt_scores:
            # A SALT score typed as a total: the regions it was summed from are not in the spreadsheet.
            session.add(scale_score_row(open_visits[score.key].id, ScaleScore(SALT, salt_score=score.score), actor))
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            "Someone else added some of these records while the import ran; nothing was imported. "
            "Run the import again."
        ) from exc
    return visits_added
