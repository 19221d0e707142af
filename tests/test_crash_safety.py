"""Killing the process in the middle of a visit with photos, a spreadsheet import or a treatment session
with batch documents leaves a clinic that ``python -m tracker check`` finds consistent.

Each kill is real: the use case runs in a fresh Python process (``child_main`` below) that sends itself
SIGKILL at a named point on its path: no ``finally``, no rollback hook, no clean-up runs, exactly as when
the server process is killed. The test then

1. runs ``python -m tracker check`` as a subprocess: it exits 0, and the only findings are the
   interrupted uploads, still listed as "in progress" (they are minutes old);
2. moves the clock of the leftovers an hour back (the admin comes later) and runs ``check --repair``: the
   first report lists nothing but INTERRUPTED uploads, the repair removes them, and it exits 0;
3. looks at the database: no visit without its measurements and photos, no photo or document row without
   its files, and each import either whole or absent (rows counted);
4. runs the same operation again: it succeeds, and the import adds every record exactly once.

Patients, photos and documents differ from one kill point to the next, so the points share one clinic per
database. A bystander patient's visit and session use one of the photos and one of the documents too:
their files must survive every clean-up.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from unittest import mock

import photo_samples as samples
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db import models
from tests import forked_python
from tracker.access.actors import Actor, command_line_actor
from tracker.config import settings
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.exchange.spreadsheet_import import ImportResult, import_spreadsheets
from tracker.operations.consistency import run_check
from tracker.photos.store import photo_store
from tracker.records.batch_documents import DocumentUpload, document_key, document_store
from tracker.records.treatment_sessions import SessionEntry, log_session
from tracker.records.visit_form import PhotoUpload, SiteEntry, VisitEntry
from tracker.records.visits import log_visit
from tracker.storage.blob_store import LocalDirectoryStore

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 3, 1)
CLINICIAN = Actor(username="dr.lee", role="clinician")
FINDINGS = ("MISSING", "ALTERED", "ORPHAN", "INTERRUPTED", "STALE TEMPORARY", "IN PROGRESS")


@dataclass(frozen=True)
class KillPoint:
    """Where the child dies (``hook``, read by ``_arm``), how many uploads it leaves unsettled (markers in
    the two stores), and whether its transaction had committed then."""

    name: str
    hook: tuple
    markers: int = 0
    committed: bool = False


VISIT_POINTS = [
    KillPoint("visit: after the visit row is inserted", ("sql", "after", "visit", 1)),
    KillPoint("visit: after the first photo's three files are written", ("put", "photos", "thumbs/", 1), markers=1),
    KillPoint("visit: between the two photos", ("call", "tracker.records.photo_saving", "store_photo", 2), markers=1),
    KillPoint("visit: writing the second photo's display copy (not yet renamed)",
              ("inside put", "photos", "display/", 2), markers=2),
    KillPoint("visit: after every photo, just before the commit", ("session", "before_commit", 1), markers=2),
    KillPoint("visit: right after the commit, before any marker is cleared",
              ("call", "tracker.storage.ingest", "settle", 1), markers=2, committed=True),
    KillPoint("visit: after the first photo's marker is cleared, before the second's",
              ("call", "tracker.storage.ingest", "settle", 2), markers=1, committed=True),
]
IMPORT_POINTS = [
    KillPoint("import: after validation, before writing", ("call", "tracker.exchange.spreadsheet_import", "_write", 1)),
    # The import writes each kind of row in bulk (tracker.exchange.import_writing; COPY on PostgreSQL, which no
    # SQLAlchemy event sees): its points are the starts of BulkWriter.insert, one per kind of row.
    KillPoint("import: after the patients are inserted",
              ("method", "tracker.exchange.import_writing", "BulkWriter", "insert", 2)),
    KillPoint("import: after the treatment sessions are inserted",
              ("method", "tracker.exchange.import_writing", "BulkWriter", "insert", 3)),
    KillPoint("import: after the visits, before their measurements",
              ("method", "tracker.exchange.import_writing", "BulkWriter", "insert", 4)),
    KillPoint("import: after the measurements, before the SALT scores",
              ("method", "tracker.exchange.import_writing", "BulkWriter", "insert", 5)),
    KillPoint("import: just before the commit", ("session", "before_commit", 1)),
    KillPoint("import: right after the commit", ("session", "after_commit", 1), committed=True),
]
SESSION_POINTS = [
    KillPoint("session: after the session row is inserted", ("sql", "after", "treatment_session", 1)),
    KillPoint("session: after the first document's marker, before its file", ("put", "documents", "pending/", 1),
              markers=1),
    KillPoint("session: after the first document's file is written", ("put", "documents", "originals/", 1),
              markers=1),
    KillPoint("session: just before the commit", ("session", "before_commit", 1), markers=2),
    KillPoint("session: right after the commit, before the markers are cleared",
              ("call", "tracker.storage.ingest", "settle", 1), markers=2, committed=True),
]

# One existing patient, with a visit and a session whose photo and document the killed operations share.
BASE_MRN = "CS-BASE"
SITES = (("vertex", 150.0), ("frontal", 125.0))
SESSION_DATE = date(2026, 2, 10)
SESSION = SessionEntry(date=SESSION_DATE.isoformat(), treatment="exosome", product="ExoGen 5", lot_number="EX-2602",
                       volume_ml=4.0, areas="vertex, frontal")  # the date as the form hands it: text
# Per import: three new patients, one session and two visits each (the first measuring two sites), and
# the base patient's session and visit again (already recorded: skipped, never added twice).
IMPORT_PATIENTS, IMPORT_SESSIONS, IMPORT_VISITS, IMPORT_MEASUREMENTS = 3, 3, 6, 9


# --- the child process ----------------------------------------------------------------------------------


def child_main(plan_json: str) -> None:
    """The child: arm the kill point, then run the operation. Returning means the point was never reached."""
    plan = json.loads(plan_json)
    _arm(plan["hook"])
    perform(plan["operation"])
    print(f"the kill point {plan['hook']} was never reached", file=sys.stderr)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(hook: list) -> None:
    """Install the kill: after/before the Nth INSERT into a table, the Nth file write in a store, the Nth
    call of a function or method, the Nth new row object of a model, or the Nth commit."""
    kind, *spec = hook
    if kind == "sql":
        _arm_sql(*spec)
    elif kind in ("put", "inside put"):
        _arm_put(*spec, before_rename=kind == "inside put")
    elif kind in ("call", "method"):
        _arm_call(spec, method=kind == "method")
    elif kind == "init":
        _arm_init(*spec)
    elif kind == "session":
        _arm_session(*spec)
    else:
        raise ValueError(f"unknown kill point {hook!r}")


def _arm_sql(when: str, table: str, n: int) -> None:
    """Die after/before (``when``) the Nth INSERT into ``table``."""
    inserts = itertools.count(1)

    # SQLAlchemy calls the listener with (conn, cursor, statement, parameters, context, executemany).
    def on_statement(_conn, _cursor, statement, *_):
        match = re.match(r"\s*INSERT INTO (\w+)", statement, re.IGNORECASE)
        if match and match.group(1) == table and next(inserts) == n:
            _die()

    event.listen(Engine, f"{when}_cursor_execute", on_statement)


def _arm_put(store: str, prefix: str, n: int, *, before_rename: bool) -> None:
    """Die at the Nth write under ``prefix`` into ``store``: once it is written, or (``before_rename``)
    with its temporary written and not yet renamed."""
    writes = itertools.count(1)
    real_put = LocalDirectoryStore.put

    def put(self, key, data):
        hit = self.root.name == store and key.startswith(prefix) and next(writes) == n
        if hit and before_rename:
            os.replace = lambda *args, **kwargs: _die()  # the temporary is written, not yet renamed
        real_put(self, key, data)
        if hit:
            _die()

    mock.patch.object(LocalDirectoryStore, "put", put).start()  # never stopped: this process dies in it


def _arm_call(spec: list, *, method: bool) -> None:
    """Die at the Nth call of a module's function ``[module, name, n]`` or a class's method
    ``[module, class, name, n]``."""
    module = __import__(spec[0], fromlist=["_"])
    owner = getattr(module, spec[1]) if method else module
    name, n = spec[-2], spec[-1]
    real = getattr(owner, name)
    calls = itertools.count(1)

    def wrapper(*args, **kwargs):
        if next(calls) == n:
            _die()
        return real(*args, **kwargs)

    setattr(owner, name, wrapper)


def _arm_init(model: str, n: int) -> None:
    """Die when the Nth new row object of ``model`` is made."""
    created = itertools.count(1)

    def on_init(*_):
        if next(created) == n:
            _die()

    event.listen(getattr(models, model), "init", on_init)


def _arm_session(name: str, n: int) -> None:
    """Die at the Nth ``name`` event of any ORM session (``before_commit``, ``after_commit``)."""
    seen = itertools.count(1)

    def on_event(*_):
        if next(seen) == n:
            _die()

    event.listen(Session, name, on_event)


# --- the operations (run by the child, and again by the test afterwards) ----------------------------------


def perform(operation: dict):
    """Run one use case as the pages and the command line do; ``operation`` is plain JSON data."""
    use_case = operation["use_case"]
    if use_case == "visit":
        visit = VisitEntry(date=operation["date"], sites=[SiteEntry(site, density) for site, density in SITES],
                           capture={"dry_hair": True}, device="clinic camera")
        photos = [PhotoUpload(view, Path(path).name, Path(path).read_bytes()) for view, path in operation["photos"]]
        return log_visit(CLINICIAN, operation["mrn"], visit, photos, today=TODAY)
    if use_case == "session":
        documents = [DocumentUpload(Path(path).name, Path(path).read_bytes()) for path in operation["documents"]]
        treatment = replace(SESSION, checklist={"hydrated": True, "breakfast": True, "no_nsaids": True})
        return log_session(CLINICIAN, operation["mrn"], treatment, documents, today=TODAY)
    if use_case == "import":
        return import_spreadsheets(*operation["files"], actor=command_line_actor("import"), today=TODAY)
    raise ValueError(use_case)


class Children:
    """Child processes for the kill points: each a process of its own (tests/forked_python.py: forked from a
    parent that has the libraries imported, so it starts in milliseconds), importing the tracker and this
    module afresh and reading its plan on standard input."""

    SCRIPT = "import sys; from test_crash_safety import child_main; child_main(sys.stdin.read())"

    def run_killed(self, operation: dict, point: KillPoint) -> None:
        """Run ``operation`` in a child that kills itself at ``point``."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
        plan = json.dumps({"operation": operation, "hook": list(point.hook)})
        child = forked_python.run(["-c", self.SCRIPT], cwd=ROOT, env=env, input=plan, timeout=120)
        assert child.returncode == -signal.SIGKILL, (
            f"the child was not killed (exit {child.returncode}): {child.stderr}")


# --- inputs ----------------------------------------------------------------------------------------------


def _photo(path: Path, seed: int) -> str:
    path.write_bytes(samples.jpeg(samples.scene((320 + seed, 240))))
    return str(path)


def _pdf(path: Path, seed: int) -> str:
    path.write_bytes(f"%PDF-1.4\n% screening certificate {seed}\n%%EOF\n".encode())
    return str(path)


def _png(path: Path) -> str:
    path.write_bytes(samples.encoded(samples.scene((60, 40)), "PNG"))
    return str(path)


def _csv(path: Path, rows: Sequence[Sequence[object]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    return str(path)


def _import_files(folder: Path, prefix: str) -> list[str]:
    folder.mkdir()
    mrns = [f"{prefix}-{n}" for n in range(1, IMPORT_PATIENTS + 1)]
    patients = [["mrn", "full_name", "sex", "birth_date", "condition"],
                [BASE_MRN, f"Patient {BASE_MRN}", "male", "1980-01-01", "androgenetic_alopecia"]]
    patients += [[mrn, f"Imported Patient {mrn}", "female", "1985-06-0" + mrn[-1], "androgenetic_alopecia"]
                 for mrn in mrns]
    sessions = [["mrn", "date", "treatment", "product", "lot_number"],
                [BASE_MRN, SESSION_DATE.isoformat(), "exosome", "ExoGen 5", "EX-2602"]]
    sessions += [[mrn, "2025-09-01", "prp", "", ""] for mrn in mrns]
    visits = [["mrn", "date", "density_per_cm2", "site"], [BASE_MRN, "2026-01-15", "150", "vertex"]]
    for mrn in mrns:
        visits += [[mrn, "2025-09-01", "110", "vertex"], [mrn, "2025-09-01", "95", "frontal"],
                   [mrn, "2025-12-01", "118", "vertex"]]
    return [_csv(folder / "patients.csv", patients), _csv(folder / "sessions.csv", sessions),
            _csv(folder / "visits.csv", visits)]


def _add_patients(url: str, mrns: list[str]) -> None:
    with transaction(url) as session:
        for mrn in mrns:
            session.add(models.Patient(mrn=mrn, full_name=f"Patient {mrn}", sex="male", birth_date=date(1980, 1, 1),
                                       condition="androgenetic_alopecia", created_by="test"))


# --- what must hold after every kill ---------------------------------------------------------------------


def cli_check(*options: str) -> tuple[int, list[str]]:
    """The real command line, in a process of its own (tests/forked_python.py): its exit code, and its output
    (errors last)."""
    done = forked_python.run(["-m", "tracker", "check", *options], cwd=ROOT, env={**os.environ}, timeout=120)
    return done.returncode, done.stdout.splitlines() + done.stderr.splitlines()


def findings(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(FINDINGS)]


def unsettled() -> list[str]:
    """Markers (and markers cut off while being written) in both stores: one per interrupted upload."""
    found = []
    for store in (photo_store().blobs, document_store()):
        found += list(store.keys("pending/"))
        found += [p.name for p in store.partial_writes() if p.name.startswith("pending/")]
    return found


def age_leftovers(by: timedelta = timedelta(hours=1)) -> None:
    """The admin runs the check an hour after the crash: markers and temporary files are that much older."""
    for folder in (settings().data_dir / "photos", settings().data_dir / "documents"):
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            if path.parent.name == "pending" and path.suffix == ".json":
                body = json.loads(path.read_text())
                body["started_at"] = (datetime.fromisoformat(body["started_at"]) - by).isoformat()
                path.write_text(json.dumps(body))
            moment = path.stat().st_mtime - by.total_seconds()
            os.utime(path, (moment, moment))


def check_then_repair(leftovers: int) -> None:
    """``check`` right after the kill, then ``check --repair`` an hour later, as an admin would; the kill
    left ``leftovers`` uploads unsettled."""
    assert len(unsettled()) == leftovers, unsettled()
    code, lines = cli_check()
    assert code == 0, lines
    assert [line.split(":")[0] for line in findings(lines)] == ["IN PROGRESS"] * leftovers, lines

    age_leftovers()
    code, lines = cli_check("--repair")
    assert code == 0, lines
    before, after = (lines[:lines.index("After repair:")], lines[lines.index("After repair:"):]
                     ) if "After repair:" in lines else (lines, lines)
    assert [line.split(":")[0] for line in findings(before)] == ["INTERRUPTED"] * leftovers, lines
    assert findings(after) == [] and after[-1] == "OK: the photo store and the database agree.", lines
    assert "OK: the document store and the database agree." in after, lines
    assert unsettled() == []
    assert [p.name for store in (photo_store().blobs, document_store()) for p in store.partial_writes()] == []


def assert_nothing_half_written(url: str) -> None:
    """Every visit has its measurements (those logged here: both sites and both photos), every photo and
    document row its files, every session logged here both documents."""
    photos, documents = photo_store().blobs, document_store()
    with transaction(url) as session:
        for visit in session.scalars(select(models.Visit)):
            sites = session.scalars(select(models.DensityMeasurement.site).where(
                models.DensityMeasurement.visit_id == visit.id)).all()
            assert sites, f"visit {visit.id} has no measurement"
            if visit.created_by == CLINICIAN.username:
                views = session.scalars(select(models.Photo.view).where(models.Photo.visit_id == visit.id)).all()
                assert sorted(sites) == sorted(s for s, _ in SITES) and len(views) == 2, (visit.id, sites, views)
        for photo in session.scalars(select(models.Photo)):
            assert all(photos.exists(key) for key in (photo.original_key, photo.display_key, photo.thumbnail_key))
            assert hashlib.sha256(photos.get(photo.original_key)).hexdigest() == photo.sha256
        for document in session.scalars(select(models.BatchDocument)):
            assert hashlib.sha256(documents.get(document_key(document.sha256, document.media_type))
                                  ).hexdigest() == document.sha256
        for treatment in session.scalars(select(models.TreatmentSession).where(
                models.TreatmentSession.created_by == CLINICIAN.username)):
            count = session.scalar(select(func.count()).select_from(models.BatchDocument).where(
                models.BatchDocument.session_id == treatment.id))
            assert count == 2, f"treatment session {treatment.id} has {count} of its 2 documents"


def records_of(url: str, mrn_like: str) -> tuple[int, int, int, int]:
    """Patients, treatment sessions, visits and density measurements of the patients whose MRN is LIKE this."""
    with transaction(url) as session:
        ids = select(models.Patient.id).where(models.Patient.mrn.like(mrn_like)).scalar_subquery()
        visits = select(models.Visit.id).where(models.Visit.patient_id.in_(ids)).scalar_subquery()
        return (
            session.execute(select(func.count()).select_from(models.Patient).where(
                models.Patient.mrn.like(mrn_like))).scalar_one(),
            session.execute(select(func.count()).select_from(models.TreatmentSession).where(
                models.TreatmentSession.patient_id.in_(ids))).scalar_one(),
            session.execute(select(func.count()).select_from(models.Visit).where(
                models.Visit.patient_id.in_(ids))).scalar_one(),
            session.execute(select(func.count()).select_from(models.DensityMeasurement).where(
                models.DensityMeasurement.visit_id.in_(visits))).scalar_one(),
        )


def assert_store_settled() -> None:
    report = run_check()
    assert report.documents is not None, "the check did not look at the document store"
    assert report.ok and not report.in_progress and not report.documents.in_progress, report.lines()


@pytest.fixture
def children(clinic):
    """Children for the clinic's database and data directory (they inherit the environment it sets)."""
    return Children()


# --- the test ------------------------------------------------------------------------------------------


@dataclass
class KillRun:
    """Kill points tried one after another against one clinic: each killed, checked, repaired and re-run;
    the base patient's records must stay as they were. Failures are collected, not raised at the first."""

    clinic: str
    children: Children
    base_records: tuple[int, int, int, int]
    failures: list[str] = field(default_factory=list)
    tested: int = 0

    def survive(self, point: KillPoint, operation: dict, outcome: Callable[..., None]) -> None:
        """Kill the operation at ``point``, check and repair, then ``outcome(after_kill)`` and re-run it."""
        try:
            self.children.run_killed(operation, point)
            check_then_repair(point.markers)
            assert_nothing_half_written(self.clinic)
            outcome(after_kill=True)
            try:
                perform(operation)
            except ValidationError as refusal:  # the first save had committed: the same again is refused
                assert point.committed and "already recorded" in str(refusal), str(refusal)
            else:  # an import is idempotent instead: it skips what is already there
                assert not point.committed or operation["use_case"] == "import", "the same record was saved twice"
            outcome(after_kill=False)
            assert_nothing_half_written(self.clinic)
            assert_store_settled()
            assert records_of(self.clinic, BASE_MRN) == self.base_records
        except AssertionError as error:
            self.failures.append(f"{point.name}: {error}")
        self.tested += 1


def _record_base_patient(clinic: str, inputs: Path) -> tuple[str, str]:
    """The patients the kill points work on, and the base patient's visit and session; returns the photo
    and the document the killed operations share with them."""
    shared_photo, shared_document = _photo(inputs / "shared.jpg", 0), _png(inputs / "batch record.png")
    _add_patients(clinic, [BASE_MRN] + [f"CS-V{n}" for n in range(len(VISIT_POINTS))]
                  + [f"CS-S{n}" for n in range(len(SESSION_POINTS))])
    log_visit(CLINICIAN, BASE_MRN, VisitEntry(date="2026-01-15", sites=[SiteEntry(s, d) for s, d in SITES]),
              [PhotoUpload("vertex", "shared.jpg", Path(shared_photo).read_bytes()),
               PhotoUpload("frontal", "base.jpg", Path(_photo(inputs / "base.jpg", 99)).read_bytes())], today=TODAY)
    perform({"use_case": "session", "mrn": BASE_MRN, "documents": [_pdf(inputs / "base.pdf", 99), shared_document]})
    return shared_photo, shared_document


def _kill_visits(run: KillRun, inputs: Path, shared_photo: str) -> None:
    for n, point in enumerate(VISIT_POINTS):
        mrn = f"CS-V{n}"
        operation = {"use_case": "visit", "mrn": mrn, "date": "2026-02-20",
                     "photos": [["frontal", _photo(inputs / f"v{n}.jpg", n + 1)], ["vertex", shared_photo]]}

        def visit_outcome(after_kill: bool, mrn=mrn, point=point) -> None:
            visits = records_of(run.clinic, mrn)[2]
            if after_kill:
                assert visits == (1 if point.committed else 0), f"{visits} visit(s) after the kill"
            else:  # logging the visit again records it once (refused if the first save had committed)
                assert visits == 1, f"{visits} visit(s) after the re-run"

        run.survive(point, operation, visit_outcome)


def _kill_sessions(run: KillRun, inputs: Path, shared_document: str) -> None:
    for n, point in enumerate(SESSION_POINTS):
        mrn = f"CS-S{n}"
        operation = {"use_case": "session", "mrn": mrn,
                     "documents": [_pdf(inputs / f"s{n}.pdf", n), shared_document]}

        def session_outcome(after_kill: bool, mrn=mrn, point=point) -> None:
            sessions = records_of(run.clinic, mrn)[1]
            if after_kill:
                assert sessions == (1 if point.committed else 0), f"{sessions} session(s) after the kill"
            else:
                assert sessions == 1, f"{sessions} session(s) after the re-run"

        run.survive(point, operation, session_outcome)


def _kill_imports(run: KillRun, inputs: Path) -> None:
    whole = (IMPORT_PATIENTS, IMPORT_SESSIONS, IMPORT_VISITS, IMPORT_MEASUREMENTS)
    for n, point in enumerate(IMPORT_POINTS):
        prefix = f"CS-I{n}"
        operation = {"use_case": "import", "files": _import_files(inputs / prefix, prefix)}

        def import_outcome(after_kill: bool, prefix=prefix, point=point, operation=operation) -> None:
            found = records_of(run.clinic, f"{prefix}-%")
            if after_kill:
                assert found == (whole if point.committed else (0, 0, 0, 0)), f"half an import: {found}"
            else:
                assert found == whole, f"the re-run imported {found}, not {whole}"
                again: ImportResult = perform(operation)  # a third time: everything is already there
                assert (again.patients_added, again.sessions_added, again.visits_added,
                        again.measurements_added) == (0, 0, 0, 0), again.summary()
                assert records_of(run.clinic, f"{prefix}-%") == whole

        run.survive(point, operation, import_outcome)


def test_kills_at_every_point_leave_a_consistent_clinic(clinic, children, tmp_path, capsys, figure):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shared_photo, shared_document = _record_base_patient(clinic, inputs)
    run = KillRun(clinic, children, base_records=records_of(clinic, BASE_MRN))
    assert_store_settled()

    _kill_visits(run, inputs, shared_photo)
    _kill_sessions(run, inputs, shared_document)
    _kill_imports(run, inputs)

    assert run.tested == len(VISIT_POINTS) + len(SESSION_POINTS) + len(IMPORT_POINTS)
    assert not run.failures, "\n".join(run.failures)
    with capsys.disabled():
        database = "SQLite" if clinic.startswith("sqlite") else "PostgreSQL"
        print(f"\ncrash safety ({database}): {run.tested} kill points tested, store consistent after each")
    figure(f"crash safety ({database}): {run.tested} kill points tested (real SIGKILL), store consistent after each")


def test_interrupted_document_uploads_are_reported_and_repaired_by_the_command_line(clinic, children, tmp_path):
    """The document part of ``check``: a killed session save leaves its document file and marker; the check
    names the document store, and the repair removes exactly those (the photo store is untouched)."""
    _add_patients(clinic, ["CS-D1"])
    document = _pdf(tmp_path / "certificate.pdf", 1)
    children.run_killed({"use_case": "session", "mrn": "CS-D1", "documents": [document]}, SESSION_POINTS[2])
    sha = hashlib.sha256(Path(document).read_bytes()).hexdigest()
    assert document_store().exists(document_key(sha, "application/pdf"))

    age_leftovers()
    code, lines = cli_check()
    assert code == 1
    (line,) = findings(lines)
    assert line.startswith("INTERRUPTED: a batch document upload") and "document store" in line
    assert "PROBLEMS FOUND in the document store (see above)." in lines
    assert lines[-1] == "OK: the photo store and the database agree."

    code, lines = cli_check("--repair")
    assert code == 0, lines
    assert list(document_store().keys()) == [] and list(photo_store().blobs.keys()) == []


def test_document_rows_without_files_altered_files_and_orphans_are_problems(clinic, tmp_path):
    _add_patients(clinic, ["CS-D2"])
    first, second = _pdf(tmp_path / "a.pdf", 1), _pdf(tmp_path / "b.pdf", 2)
    perform({"use_case": "session", "mrn": "CS-D2", "documents": [first, second]})
    store = document_store()
    keys = [document_key(hashlib.sha256(Path(p).read_bytes()).hexdigest(), "application/pdf") for p in (first, second)]
    store.delete(keys[0])
    store.put(keys[1], b"%PDF-1.4\n% not the certificate that was uploaded\n%%EOF\n")
    stray = "originals/00/" + "0" * 64 + ".pdf"
    store.put(stray, b"%PDF-1.4\n%%EOF\n")

    report = run_check()
    assert report.photos_ok and not report.ok
    assert [(m.key, m.session_id is not None) for m in report.documents.missing] == [(keys[0], True)]
    assert [m.key for m in report.documents.hash_mismatches] == [keys[1]]
    assert report.documents.orphans == (stray,)
    text = "\n".join(report.lines())
    assert "MISSING: batch document" in text and "ALTERED: batch document" in text
    assert f"ORPHAN: {stray} in the document store" in text
    code, _ = cli_check("--repair")
    assert code == 1 and store.exists(stray)  # nothing but interrupted uploads is ever removed
