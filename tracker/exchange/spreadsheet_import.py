"""Importing the spreadsheets clinics keep today: patients, treatment sessions and visits.

``import_spreadsheets`` is the one entry point (``python -m tracker import`` and the import page call
it), and ``preview_import`` tells what it would do with the same files, through the same checks and writing
(rolled back). It is all or nothing: every row of the three files is checked, against each other and against the
database, and if anything is wrong ``ImportRefused`` (a ``ValidationError``) lists every problem with its file, row
and column (``.found``; ``.problems`` holds them as the lines ``"<file>, row <n>: <reason>"``) and nothing is
written. Otherwise everything is written in one transaction, each row carrying ``created_by=actor``: in bulk
(``tracker.exchange.import_writing``), with the outlook of every patient given a record refreshed before the commit
(``tracker.progress.outlook.refresh``: the whole-clinic lists read it).

Files are paths (the command line) or uploads: ``spreadsheets.UploadedSheet(name, bytes)``, each at most the
photo store's upload limit (``TRACKER_MAX_UPLOAD_MB``). A ``progress(fraction, words)`` callback, when given,
hears how reading, checking and writing advance (a progress bar); it is never called once the import is committed,
so an exception it raises (a page interrupted) always leaves nothing imported.

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

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import models
from db.engine import advisory_lock
from db.models import utcnow
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.course.scales import SALT
from tracker.course.wording import count
from tracker.database import transaction
from tracker.errors import ConflictError
from tracker.exchange.import_matching import _Context
from tracker.exchange.import_problems import ImportProblem, ImportRefused
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
    _Reference,
    _SaltScore,
    _Session,
    _sessions,
    mrn_key,
)
from tracker.exchange.import_writing import BulkWriter
from tracker.exchange.spreadsheets import Sheet, SheetSource, source_name
from tracker.progress import outlook

# ``progress(fraction, words)``: how far the import (or its check) is, 0 to 1, and what it is doing.
Progress = Callable[[float, str], None]
# The columns every record carries (``db.models.Recorded``) that an import sets: who, when, first version.
RECORDED = ("created_by", "created_at", "version")
# Where the progress stands when each step starts: reading the three files takes up to _CHECK (the rows of a
# workbook are most of the work), checking the rows, comparing them with the records, then writing.
_CHECK, _MATCH, _WRITE, _WRITTEN = 0.3, 0.4, 0.5, 0.95
# Each file's columns (required, optional), in the order of the three files.
_COLUMNS = ((PATIENT_COLUMNS, PATIENT_OPTIONAL_COLUMNS), (SESSION_COLUMNS, ()),
            (VISIT_COLUMNS, VISIT_OPTIONAL_COLUMNS))


@dataclass(frozen=True)
class ImportResult:
    """What an import added, and what it found already recorded (and therefore left alone); from
    ``preview_import``, what the import would add and find."""

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

    def counts(self) -> list[tuple[str, int, int]]:
        """(records, added, already present) for each kind of record; SALT scores only when a file had some.

        >>> ImportResult(patients_added=2, salt_scores_skipped=1).counts()[0], len(ImportResult().counts())
        (('patients', 2, 0), 4)
        """
        counts = [
            ("patients", self.patients_added, self.patients_skipped),
            ("treatment sessions", self.sessions_added, self.sessions_skipped),
            ("visits", self.visits_added, self.visits_skipped),
            ("density measurements", self.measurements_added, self.measurements_skipped),
        ]
        if self.salt_scores_added or self.salt_scores_skipped:
            counts.append(("SALT scores", self.salt_scores_added, self.salt_scores_skipped))
        return counts

    def repeated(self) -> list[str]:
        """The line on rows repeated exactly, when there were any."""
        if not self.duplicate_rows:
            return []
        return [f"{self.duplicate_rows} row(s) repeated an earlier row exactly and were imported once"]

    def summary(self) -> str:
        """Lines for the command line and the import page.

        >>> print(ImportResult(patients_added=2, visits_added=3, measurements_added=4).summary())
        Import complete.
          patients: 2 added, 0 already present
          treatment sessions: 0 added, 0 already present
          visits: 3 added, 0 already present
          density measurements: 4 added, 0 already present
        """
        lines = ["Import complete."]
        lines.extend(f"  {records}: {added} added, {present} already present"
                     for records, added, present in self.counts())
        lines.extend(f"  {line}" for line in self.repeated())
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)


def import_spreadsheets(patients_path: SheetSource, sessions_path: SheetSource, visits_path: SheetSource, *,
                        actor: Actor, url: str | None = None, today: date | None = None,
                        progress: Progress | None = None) -> ImportResult:
    """Import the three spreadsheets (CSV, .xlsx or .ods; paths or ``UploadedSheet``) in one transaction, or
    nothing at all.

    ``actor`` must be staff (the command line acts as admin), and its username is written to every
    row's ``created_by``; ``url`` selects the database (default: the configured one);
    ``today`` (default: the current date) is the last date a record may carry; ``progress`` is told how the
    import advances. Raises ``ImportRefused`` (a ``ValidationError``) whose ``found`` lists every problem with
    file, row, column and reason; ``ConflictError`` when another user added the same patient during the import.
    """
    return _run((patients_path, sessions_path, visits_path), actor, url, today, progress, preview=False)


def preview_import(patients_path: SheetSource, sessions_path: SheetSource, visits_path: SheetSource, *,
                   actor: Actor, url: str | None = None, today: date | None = None,
                   progress: Progress | None = None) -> ImportResult:
    """What ``import_spreadsheets`` would do with these files now: the same checks, matching and writing, then a
    rollback. Returns the counts the import would give (added, already present, rows repeated); raises the
    ``ImportRefused`` it would raise. Arguments and other errors as ``import_spreadsheets``.

    Nothing is written but one audit entry, a view ("import check: …"), kept whether the files pass or not: the
    check reads the clinic's records, and its problems may quote them (a recorded name or density), as a
    search does, which is audited too.
    """
    return _run((patients_path, sessions_path, visits_path), actor, url, today, progress, preview=True)


def _unreported(fraction: float, words: str) -> None:
    """The progress of an import nobody watches (the command line)."""


@dataclass(frozen=True)
class _Rows:
    """The three files read and their rows parsed; ``problems`` so far."""

    problems: _Problems
    sheets: list[Sheet | None]
    patients: dict[str, _Patient]
    listed_mrns: set[str]
    sessions: list[_Session]
    session_refs: list[_Reference]
    measurements: list[_Measurement]
    salt_scores: list[_SaltScore]
    visit_refs: list[_Reference]
    duplicates: int


@dataclass(frozen=True)
class _New:
    """What an import adds: new patients (with their protocols, by ``mrn_key``), sessions, measurements and
    SALT scores."""

    patients: list[_Patient]
    protocol_ids: dict[str, int | None]
    sessions: list[_Session]
    measurements: list[_Measurement]
    salt_scores: list[_SaltScore]


@dataclass(frozen=True)
class _Plan:
    """What the import will add (``new``), the records it adds to (patients by ``mrn_key``, open visits by day)
    and its counts but for ``visits_added``, which writing tells."""

    new: _New
    known: dict[str, models.Patient]
    open_visits: dict[VisitKey, int]  # visit ids
    counts: ImportResult


def _run(sources: tuple[SheetSource, SheetSource, SheetSource], actor: Actor, url: str | None,
         today: date | None, progress: Progress | None, *, preview: bool) -> ImportResult:
    """The import, or its preview: read and check everything, then write (a preview in a savepoint it rolls back)
    or refuse with every problem (a preview keeping its audit entry)."""
    require_role(actor, *STAFF)
    report = progress or _unreported
    rows = _read_files(sources, today or date.today(), report)
    report(_MATCH, "Comparing the rows with the clinic's records")
    result, found = None, []
    with transaction(url) as session:
        # For the whole import (PostgreSQL), so that two imports of the same files cannot both find a record
        # missing and both add it (SQLite serialises writers with BEGIN IMMEDIATE already).
        advisory_lock(session.connection(), "spreadsheet import")
        plan = _match(session, rows)
        found = rows.problems.found()
        if not found:
            result = _write_plan(session, actor, plan, report, preview=preview)
            # The last word before the commit: a caller interrupted while it is told anything (a page that is
            # left) has imported nothing.
            report(1.0, "Check complete: nothing has been imported yet" if preview else "Saving the import")
        elif preview:
            audit.record(session, actor, "view", detail=f"import check: {count(len(found), 'problem')}, nothing "
                                                          "imported")
        else:
            raise _refusal(found)
    if result is None:
        raise _refusal(found)
    return result


def _refusal(found: list[ImportProblem]) -> ImportRefused:
    summary = (f"{found[0]} (nothing was imported)" if len(found) == 1
               else f"{len(found)} problems found in the spreadsheets; nothing was imported")
    return ImportRefused(summary, found)


def _read_files(sources: tuple[SheetSource, SheetSource, SheetSource], today: date, report: Progress) -> _Rows:
    """Each file read and its rows parsed; problems found so far recorded, not raised."""
    problems = _Problems()
    sheets = []
    for order, (source, (required, optional)) in enumerate(zip(sources, _COLUMNS, strict=True)):
        report(_CHECK * order / len(sources), f"Reading {source_name(source)}")
        sheets.append(_read(problems, order, source, required, optional))
    report(_CHECK, "Checking every row")
    patients, listed_mrns, duplicates = _patients(problems, sheets[0], today)
    sessions, session_refs, session_duplicates = _sessions(problems, sheets[1], today)
    measurements, salt_scores, visit_refs, visit_duplicates = _measurements(problems, sheets[2], today)
    return _Rows(problems, sheets, patients, listed_mrns, sessions, session_refs, measurements, salt_scores,
                 visit_refs, duplicates + session_duplicates + visit_duplicates)


def _match(session: Session, rows: _Rows) -> _Plan:
    """The rows against the database: what is new, what is already recorded; problems recorded."""
    context = _Context(rows.problems, rows.sheets, rows.patients, rows.listed_mrns)
    context.load(session, set(rows.patients) | {reference.mrn for reference in rows.session_refs + rows.visit_refs})
    new_patients, patients_skipped = context.check_patients()
    refused = context.check_references(1, rows.session_refs)
    sessions = [record for record in rows.sessions if record.row not in refused]
    refused = context.check_references(2, rows.visit_refs)
    measurements = [record for record in rows.measurements if record.row not in refused]
    salt_scores = [record for record in rows.salt_scores if record.row not in refused]
    new_sessions, sessions_skipped = context.check_sessions(session, sessions)
    new_measurements, measurements_skipped, existing_visits = context.check_measurements(session, measurements)
    new_scores, scores_skipped = context.check_salt_scores(session, salt_scores)
    visit_days = {_visit_key(m) for m in measurements} | {_visit_key(score) for score in salt_scores}
    counts = ImportResult(
        patients_added=len(new_patients),
        patients_skipped=patients_skipped,
        sessions_added=len(new_sessions),
        sessions_skipped=sessions_skipped,
        visits_skipped=len(visit_days & set(existing_visits)),
        measurements_added=len(new_measurements),
        measurements_skipped=measurements_skipped,
        duplicate_rows=rows.duplicates,
        salt_scores_added=len(new_scores),
        salt_scores_skipped=scores_skipped,
        notes=tuple(note for sheet in rows.sheets if sheet is not None for note in sheet.notes),
    )
    new = _New(new_patients, context.protocol_ids, new_sessions, new_measurements, new_scores)
    return _Plan(new, context.known, existing_visits, counts)


def _write_plan(session: Session, actor: Actor, plan: _Plan, report: Progress, *, preview: bool) -> ImportResult:
    """Writes the new records and audits the import; for a preview, writes them in a savepoint rolled back
    afterwards (constraints and counts are those of the import) and audits the check."""
    savepoint = session.begin_nested() if preview else None
    verb = "Checking what the import adds" if preview else "Writing records"
    visits_added, patient_ids = _write(session, actor.username, plan, lambda done, total: report(
        _WRITE + (_WRITTEN - _WRITE) * done / max(total, 1), f"{verb}: {done} of {total}"))
    if savepoint is None:
        # The rows were written in bulk, unseen by the ORM's tracking of writes (tracker.progress.outlook): the
        # whole-clinic lists' outlook of every patient given a record is refreshed here, in the same transaction.
        # A check rolls its rows back, so it has no outlook to keep.
        outlook.refresh(session, patient_ids)
    result = dataclasses.replace(plan.counts, visits_added=visits_added)
    counts = " ".join(result.summary().split("\n", 1)[1].split())
    if savepoint is not None:
        savepoint.rollback()
        audit.record(session, actor, "view", detail=f"import check, nothing imported; would give: {counts}"[:1000])
    else:
        audit.record(session, actor, "import", detail=" ".join(result.summary().split())[:1000])
    return result


def _visit_key(record: _Measurement | _SaltScore) -> VisitKey:
    return (mrn_key(record.mrn), record.date)


def _write(session: Session, actor: str, plan: _Plan, written: Callable[[int, int], None]) -> tuple[int, set[int]]:
    """Adds the new records (``import_writing``: in bulk), telling ``written(rows written, rows to write)`` as it
    goes; returns the number of visits created and the ids of every patient given a record (new ones included)."""
    new, open_visits = plan.new, plan.open_visits
    records: list[_Measurement | _SaltScore] = [*new.measurements, *new.salt_scores]
    new_days = list(dict.fromkeys(day for day in sorted(map(_visit_key, records)) if day not in open_visits))
    writer = BulkWriter(session, len(new.patients) + len(new.sessions) + len(new_days) + len(records), written)
    # Every row of one import carries the same moment: the rows were written together.
    recorded = (actor, utcnow(), 1)
    patient_ids = {key: patient.id for key, patient in plan.known.items()}
    visit_ids = dict(open_visits)
    try:
        ids = writer.new_ids(models.Patient, len(new.patients))
        patient_ids.update(zip((mrn_key(patient.mrn) for patient in new.patients), ids, strict=True))
        writer.insert(models.Patient, ("id", "mrn", "full_name", "sex", "birth_date", "condition", "protocol_id",
                                       *RECORDED), [
            (patient_ids[mrn_key(patient.mrn)], patient.mrn, patient.full_name, patient.sex, patient.birth_date,
             patient.condition, new.protocol_ids.get(mrn_key(patient.mrn)), *recorded)
            for patient in new.patients
        ])
        writer.insert(models.TreatmentSession, ("patient_id", "date", "treatment", "product", "lot_number",
                                                *RECORDED), [
            (patient_ids[mrn_key(treatment.mrn)], treatment.date, treatment.treatment, treatment.product,
             treatment.lot_number, *recorded)
            for treatment in new.sessions
        ])
        visit_ids.update(zip(new_days, writer.new_ids(models.Visit, len(new_days)), strict=True))
        writer.insert(models.Visit, ("id", "patient_id", "date", *RECORDED), [
            (visit_ids[day], patient_ids[day[0]], day[1], *recorded) for day in new_days
        ])
        writer.insert(models.DensityMeasurement, ("visit_id", "site", "density_per_cm2", *RECORDED), [
            (visit_ids[_visit_key(measurement)], measurement.site, measurement.density, *recorded)
            for measurement in new.measurements
        ])
        # A SALT score typed as a total: the regions it was summed from are not in the spreadsheet.
        writer.insert(models.ScaleScore, ("visit_id", "scale", "salt_score", *RECORDED), [
            (visit_ids[score.key], SALT, score.score, *recorded) for score in new.salt_scores
        ])
    except IntegrityError as exc:
        raise ConflictError(
            "Someone else added some of these records while the import ran; nothing was imported. "
            "Run the import again."
        ) from exc
    touched = {patient_ids[mrn_key(patient.mrn)] for patient in new.patients}
    touched |= {patient_ids[mrn_key(treatment.mrn)] for treatment in new.sessions}
    touched |= {patient_ids[key] for key, _day in map(_visit_key, records)}
    return len(new_days), touched
