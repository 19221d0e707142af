"""FHIR R4 import: Bundles this product exported (``tracker.exchange.fhir_export``), into this installation.

``import_bundles`` (``python -m tracker fhir import FILE …``) is all or nothing, as the spreadsheet import: every
file is read and every resource checked (``tracker.exchange.fhir_reading``) before anything is written, and if
anything is wrong a ``ValidationError`` lists one problem per resource (``problems``) and nothing is imported.
Otherwise everything is written in one transaction, each row carrying ``created_by=actor``; the whole-clinic
lists' outlook of every patient written is refreshed before the commit (``tracker.progress.outlook`` listens to
the session's writes).

A file that is not JSON, not a Bundle, or a Bundle of another FHIR version (it fails the R4 models of
``fhir.resources.R4B``, and passes those of R5 or STU3) is one plain message. Validation uses the R4B models
(FHIR 4.3, the R4 line); every element this product reads exists identically in R4 4.0.1.

What is imported: patients (MRN, name, sex, birth date, condition, baseline stage, target areas, protocol: found
by name, or created from the definition the Bundle carries), visits with their ratings, density measurements
(with their metrics and method; a counted density's close-up and count detail are not), scale scores, treatment
sessions (product, lot, volume, areas, adverse events, notes) and concurrent therapies. Not imported: photos (a
Bundle holds display copies, not the originals a photo record keeps), visit notes and capture conditions,
patient notes and session checklists (the export does not carry them). A patient whose MRN this installation
already has is refused: an import never changes a record.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db import models
from tracker.access import audit
from tracker.access.actors import STAFF, Actor, require_role
from tracker.config import settings
from tracker.database import transaction
from tracker.errors import ValidationError
from tracker.exchange.fhir_reading import PatientPlan, Reader
from tracker.validation import shown_path

NOTHING = "nothing was imported"
# Reading and checking a Bundle of small resources takes about 21 MB of memory per MB of file (its worst case,
# tests/bench/bench_fhir_import_memory.py: 48.7 MB of 70,000 observations peaked at 1,121 MB); photos take much
# less per MB. Twice the upload limit (50 MB by default) keeps the worst case near 1.1 GB instead of the 10 GB the
# former 20 times allowed; a larger clinic is exported in several Bundles, imported together.
BUNDLE_UPLOADS = 2


@dataclass(frozen=True)
class FhirImportResult:
    """What an import wrote; ``media_skipped``: photos in the Bundles, not imported (display copies only)."""

    patients: int = 0
    visits: int = 0
    measurements: int = 0
    scale_scores: int = 0
    sessions: int = 0
    therapies: int = 0
    protocols_added: tuple[str, ...] = ()
    media_skipped: int = 0
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """Lines for the command line.

        >>> print(FhirImportResult(patients=1, visits=2).summary().splitlines()[1])
          1 patients, 2 visits, 0 density measurements, 0 scale scores, 0 treatment sessions, 0 concurrent therapies
        """
        lines = ["FHIR import complete.",
                 f"  {self.patients} patients, {self.visits} visits, {self.measurements} density measurements, "
                 f"{self.scale_scores} scale scores, {self.sessions} treatment sessions, {self.therapies} concurrent "
                 "therapies"]
        if self.protocols_added:
            lines.append(f"  protocols added: {', '.join(self.protocols_added)}")
        if self.media_skipped:
            lines.append(f"  {self.media_skipped} photos not imported: a Bundle holds display copies, not the "
                         "originals (they stay in the exporting installation)")
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)


def read_bundle(path: str | Path) -> dict[str, Any]:
    """The Bundle in the file at ``path`` as JSON data, checked against FHIR R4's Bundle (``fhir.resources.R4B``).

    Raises ``ValidationError`` with one plain message for a file that cannot be read, is too large (more than
    ``BUNDLE_UPLOADS`` times the upload limit, ``TRACKER_MAX_UPLOAD_MB``: checked before it is read), is not JSON
    (or nested deeper than Python parses), is no Bundle, or is a Bundle of another FHIR version or not valid R4.
    """
    name = shown_path(Path(path).name)
    limit = BUNDLE_UPLOADS * settings().max_upload_bytes
    try:
        size = Path(path).stat().st_size
        if size > limit:
            raise ValidationError(f"{name} is {size / 2**20:,.1f} MB, more than the {limit / 2**20:,.0f} MB a FHIR "
                                  f"import reads ({BUNDLE_UPLOADS} × TRACKER_MAX_UPLOAD_MB); export fewer patients "
                                  f"per Bundle and import the files together; {NOTHING}.")
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ValidationError(f"{shown_path(path)} could not be read: {error.strerror or error}; {NOTHING}.") from None
    try:
        bundle = json.loads(raw)
    except ValueError as error:
        raise ValidationError(f"{name} is not a JSON file ({error}); {NOTHING}.") from None
    except RecursionError:
        raise ValidationError(f"{name} is nested deeper than any FHIR Bundle this product writes; {NOTHING}.") \
            from None
    kind = bundle.get("resourceType") if isinstance(bundle, dict) else None
    if kind != "Bundle":
        what = f"a {kind}" if isinstance(kind, str) else "no FHIR resource"
        raise ValidationError(f"{name} is not a FHIR Bundle (it holds {what}); {NOTHING}.")
    if problem := _version_problem(bundle):
        raise ValidationError(f"{name} {problem}; {NOTHING}.")
    checked: dict[str, Any] = bundle
    return checked


def _version_problem(bundle: dict[str, Any]) -> str | None:
    """None for a valid FHIR R4 Bundle; else what it is: a Bundle of R5 or STU3, or not valid R4 (the first
    error, where it is)."""
    import pydantic
    from fhir.resources import STU3
    from fhir.resources.R4B.bundle import Bundle

    try:
        Bundle.model_validate(bundle)
        return None
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        r4_problem = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    for version, model in (("R5", "fhir.resources.bundle"), ("STU3", f"{STU3.__name__}.bundle")):
        try:
            __import__(model, fromlist=["Bundle"]).Bundle.model_validate(bundle)
        except Exception:  # pydantic's error, or a resource type that version lacks (a KeyError): not that version
            continue
        return f"is a FHIR {version} Bundle: this product reads FHIR R4 (4.0.1) only"
    return f"is not a valid FHIR R4 Bundle ({r4_problem[:300]})"


def import_bundles(paths: Sequence[str | Path], *, actor: Actor, url: str | None = None) -> FhirImportResult:
    """Import the Bundles in ``paths`` in one transaction, or nothing at all. ``actor`` must be staff (the command
    line acts as admin). Raises ``ValidationError`` (one message, or ``problems``: one line per resource, each
    naming its file and resource) when anything cannot be imported."""
    require_role(actor, *STAFF)
    problems: list[str] = []
    plans: list[PatientPlan] = []
    media = 0
    for path in paths:
        bundle = read_bundle(path)
        reader = Reader(shown_path(Path(path).name), problems, date.today())
        try:
            reader.read([entry.get("resource") or {} for entry in bundle.get("entry", [])])
        except RecursionError:  # a value nested too deep for the checks: no Bundle this product writes
            raise ValidationError(f"{shown_path(Path(path).name)} is nested deeper than any FHIR Bundle this product "
                                  f"writes; {NOTHING}.") from None
        plans += reader.patients.values()
        media += reader.media
    problems += [f"{plan.where}: no Condition for this patient" for plan in plans if not plan.has_condition]
    seen: dict[str, str] = {}
    for plan in plans:
        key = plan.values["mrn"].upper()
        if key in seen:
            problems.append(f"{plan.where}: MRN {plan.values['mrn']} is also {seen[key]}")
        seen.setdefault(key, plan.where)
    with transaction(url) as session:
        # Capitals do not make another patient (``ux-0001`` is ``UX-0001``), as on the intake form and in the
        # spreadsheet import.
        known = {mrn.upper(): mrn for mrn in session.scalars(
            select(models.Patient.mrn).where(func.upper(models.Patient.mrn).in_(seen)))}
        problems += [f"{plan.where}: MRN {plan.values['mrn']} is already recorded in this installation"
                     f"{_as(known[key], plan.values['mrn'])} (an import never changes a record)"
                     for plan in plans if (key := plan.values["mrn"].upper()) in known]
        if problems:
            summary = problems[0] if len(problems) == 1 else f"{len(problems)} problems found in the Bundle(s)"
            raise ValidationError(f"{summary}; {NOTHING}.", problems)
        result, patient_ids = _write(session, actor, plans, media)
        audit.record(session, actor, "import", detail=" ".join(result.summary().split())[:1000],
                     patient_ids=patient_ids)
    return result


def _as(recorded: str, given: str) -> str:
    return "" if recorded == given else f" as {recorded}"


def _protocols(session: Session, actor: Actor, plans: list[PatientPlan]) -> tuple[dict[str, int], list[str],
                                                                                    list[str]]:
    """Protocol ids by name: this installation's, or created from the Bundle's definition; the names added, and
    notes on protocols that exist here with another definition (the patients follow this installation's)."""
    ids = {name: id_ for name, id_ in session.execute(select(models.Protocol.name, models.Protocol.id))}
    rows = {row.name: row for row in session.scalars(select(models.Protocol))}
    added, notes = [], []
    for plan in plans:
        if plan.protocol is None:
            continue
        name, definition = plan.protocol
        if name in rows:
            row = rows[name]
            if definition and (row.band, row.windows, row.noise_pct) != (definition["band"], definition["windows"],
                                                                         definition["noise_pct"]):
                notes.append(f"protocol {name!r} exists here with another band, windows or noise: its patients "
                             "follow this installation's")
            continue
        if definition is None:
            raise ValidationError(f"{plan.where}: protocol {name!r} is not in this installation and the Bundle does "
                                  f"not define it; {NOTHING}.")
        row = models.Protocol(name=name, band=definition["band"], windows=definition["windows"],
                              evidence_note=definition.get("evidence_note") or "", noise_pct=definition["noise_pct"],
                              outcome_measure=definition.get("outcome_measure") or "density",
                              created_by=actor.username)
        session.add(row)
        session.flush()
        rows[name], ids[name] = row, row.id
        added.append(name)
    return ids, added, notes


def _write(session: Session, actor: Actor, plans: list[PatientPlan], media: int) -> tuple[FhirImportResult,
                                                                                         list[int]]:
    """Every planned record, through the ORM (the outlook follows its writes); returns the counts and the ids
    of the patients written."""
    protocol_ids, added, notes = _protocols(session, actor, plans)
    by = {"created_by": actor.username}
    counts = dict.fromkeys(("visits", "measurements", "scale_scores", "sessions", "therapies"), 0)
    patient_ids = []
    for plan in plans:
        protocol_id = protocol_ids[plan.protocol[0]] if plan.protocol else None
        patient = models.Patient(**plan.values, protocol_id=protocol_id, **by)
        session.add(patient)
        session.flush()
        patient_ids.append(patient.id)
        session.add_all(models.TreatmentSession(patient_id=patient.id, **values, **by) for values in plan.sessions)
        session.add_all(models.ConcurrentTherapy(patient_id=patient.id, **values, **by) for values in plan.therapies)
        for visit_plan in plan.days.values():
            visit = models.Visit(patient_id=patient.id, date=visit_plan.date, **visit_plan.values, **by)
            session.add(visit)
            session.flush()
            session.add_all(models.DensityMeasurement(visit_id=visit.id, **values, **by)
                            for values in visit_plan.measurements)
            session.add_all(models.ScaleScore(visit_id=visit.id, **values, **by) for values in visit_plan.scores)
            counts["measurements"] += len(visit_plan.measurements)
            counts["scale_scores"] += len(visit_plan.scores)
        counts["visits"] += len(plan.days)
        counts["sessions"] += len(plan.sessions)
        counts["therapies"] += len(plan.therapies)
    result = FhirImportResult(patients=len(plans), protocols_added=tuple(added), media_skipped=media,
                              notes=tuple(dict.fromkeys(notes)), **counts)
    return result, patient_ids
