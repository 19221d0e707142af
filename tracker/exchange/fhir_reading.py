"""Reading the resources of a Bundle this product exported back into records (``tracker.exchange.fhir_import``).

Each resource is read with the codes of ``tracker.exchange.fhir_codes`` and its values checked with the same
parsers the forms and the spreadsheet import use (``tracker.validation``); anything this product does not write (a
resource type, a code of another system, a value out of range) is one problem naming the resource, and nothing is
imported. Media are counted and left out: a Bundle carries display copies, not the originals a photo record keeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from tracker.clinic_dates import show_date
from tracker.course.clinical import MAX_DENSITY_PER_CM2
from tracker.course.protocols import from_stored
from tracker.course.scales import SCALE_LABELS, ScaleEntry, parse_scale_entry
from tracker.errors import ValidationError
from tracker.exchange import fhir_codes as codes
from tracker.records.patient_fields import DOSE_MAX, THERAPY_NAME_MAX, parse_baseline, parse_target_areas
from tracker.records.treatment_sessions import AREAS_MAX, TEXT_MAX
from tracker.validation import (
    check_not_before_birth,
    check_not_in_future,
    clean_text,
    parse_birth_date,
    parse_density,
    parse_full_name,
    parse_lot_number,
    parse_mrn,
    parse_product,
    parse_sex,
    parse_site,
    parse_treatment,
)

Resource = dict[str, Any]
T = TypeVar("T")
_STAGE_SCALES = {code: scale for scale, code in codes.STAGE.items()}
_REGIONS = {code: column for column, code in codes.SALT_REGIONS.items()}
STAGE_MAX = 20  # the longest stage of any scale is a few characters; a SALT baseline is a number
PROTOCOL_NAME_MAX = 120  # the column's length (db/models.py)


@dataclass
class VisitPlan:
    """A visit to write, with its ratings, density measurements and scale scores (column values)."""

    date: date
    values: dict[str, Any] = field(default_factory=dict)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PatientPlan:
    """A patient to write: its columns, protocol (name, definition or None), and everything recorded for it."""

    where: str
    values: dict[str, Any]
    protocol: tuple[str, dict[str, Any] | None] | None = None
    has_condition: bool = False
    sessions: list[dict[str, Any]] = field(default_factory=list)
    therapies: list[dict[str, Any]] = field(default_factory=list)
    visits: dict[str, VisitPlan] = field(default_factory=dict)  # by "Encounter/<id>"
    days: dict[date, VisitPlan] = field(default_factory=dict)  # one visit per day, as the spreadsheet import


class Reader:
    """Reads one Bundle's resources into ``patients`` (by "Patient/<id>"), listing ``problems`` as it goes."""

    def __init__(self, source: str, problems: list[str], today: date) -> None:
        self.source, self.problems, self.today = source, problems, today
        self.patients: dict[str, PatientPlan] = {}
        self.media = 0

    def read(self, resources: list[Resource]) -> None:
        """Patients first, then visits, then what refers to them: entries may come in any order."""
        order = {kind: n for n, kind in enumerate(codes.RESOURCE_TYPES)}
        readers: dict[str, Callable[[Resource, str], None]] = {
            "Patient": self._patient, "Condition": self._condition, "Encounter": self._encounter,
            "Observation": self._observation, "Procedure": self._procedure,
            "MedicationStatement": self._therapy, "Media": self._media,
        }
        seen: set[str] = set()
        for resource in sorted(resources, key=lambda r: order.get(r.get("resourceType", ""), len(order))):
            kind = resource.get("resourceType", "")
            where = f"{self.source}, {kind}/{resource.get('id', '(no id)')}"
            if resource.get("id") is not None:
                # A second resource of one id would replace the first, or re-hang what refers to it.
                if f"{kind}/{resource['id']}" in seen:
                    self.problems.append(f"{where}: resource id {kind}/{resource['id']} appears twice in this Bundle")
                    continue
                seen.add(f"{kind}/{resource['id']}")
            if kind not in readers:
                self.problems.append(f"{where}: {kind or 'a resource without a type'} is not a resource type this "
                                     "product exports (it imports only its own Bundles)")
                continue
            try:
                readers[kind](resource, where)
            except ValidationError as error:
                self.problems.append(f"{where}: {error}")

    # --- shared ------------------------------------------------------------------------------------------

    def _subject(self, resource: Resource, key: str = "subject") -> PatientPlan:
        reference = (resource.get(key) or {}).get("reference", "")
        patient = self.patients.get(reference)
        if patient is None:
            raise ValidationError(f"its {key} {reference!r} is no Patient of this Bundle")
        return patient

    def _visit(self, resource: Resource, patient: PatientPlan) -> VisitPlan:
        reference = (resource.get("encounter") or {}).get("reference", "")
        visit = patient.visits.get(reference)
        if visit is None:
            raise ValidationError(f"its encounter {reference!r} is no visit of this patient in this Bundle")
        return visit

    # --- resources ---------------------------------------------------------------------------------------

    def _patient(self, resource: Resource, where: str) -> None:
        mrns = [i.get("value") for i in resource.get("identifier", []) if i.get("system") == codes.MRN_SYSTEM]
        if len(mrns) != 1:
            raise ValidationError(f"no MRN of this product (an identifier of system {codes.MRN_SYSTEM})")
        names = resource.get("name") or [{}]
        values = {"mrn": parse_mrn(mrns[0]), "full_name": parse_full_name(names[0].get("text"), "name"),
                  "sex": parse_sex(resource.get("gender"), "gender"),
                  "birth_date": parse_birth_date(_date(resource.get("birthDate"), "birth date"), self.today)}
        plan = PatientPlan(where, values)
        for extension in resource.get("extension", []):
            if extension.get("url") != codes.PROTOCOL_EXTENSION:
                raise ValidationError(f"unknown extension {extension.get('url')!r}")
            plan.protocol = _protocol(extension)
        self.patients[f"Patient/{resource.get('id')}"] = plan

    def _condition(self, resource: Resource, where: str) -> None:
        patient = self._subject(resource)
        if patient.has_condition:
            raise ValidationError("a second Condition for one patient (this product records one)")
        found = _codes(resource.get("code"))
        condition = found.get(codes.CONDITION_CODES) or next(
            (name for code in [found.get(codes.ICD10, "")] if code and (name := codes.condition_from_icd10(code))),
            None)
        if condition is None or condition not in codes.local_codes()[codes.CONDITION_CODES]:
            raise ValidationError(f"unknown condition: {_shown(resource.get('code'))} (this product imports only its "
                                  "own codes and ICD-10 L63, L64, L65.0, L66)")
        sites = [coding.get("code") for site in resource.get("bodySite", [])
                 for coding in _known_codings(site, codes.SITE_CODES, "body site")]
        patient.values |= {"condition": condition, "target_areas": parse_target_areas(sites) if sites else None}
        for stage in resource.get("stage", [])[:1]:
            scale = _known(stage.get("type"), codes.SCALE_CODES, "stage type")
            # The scale must fit the condition and sex, and the stage the scale, as on the forms.
            patient.values["baseline_scale"], patient.values["baseline_stage"] = parse_baseline(
                condition, patient.values["sex"], scale, _stage_text((stage.get("summary") or {}).get("text")))
        patient.has_condition = True

    def _encounter(self, resource: Resource, where: str) -> None:
        patient = self._subject(resource)
        if (resource.get("class") or {}).get("code") != "AMB":
            raise ValidationError("an encounter this product did not write (class is not AMB, ambulatory)")
        day = self._day((resource.get("period") or {}).get("start"), "visit date", patient)
        # Two encounters of one day are one visit, as rows of one MRN and date are in the spreadsheet import.
        patient.visits[f"Encounter/{resource.get('id')}"] = patient.days.setdefault(day, VisitPlan(day))

    def _observation(self, resource: Resource, where: str) -> None:
        code = _known(resource.get("code"), codes.OBSERVATION_CODES, "code")
        patient = self._subject(resource)
        visit = self._visit(resource, patient)
        if code == codes.DENSITY:
            measurement = _density(resource)
            if any(m["site"] == measurement["site"] for m in visit.measurements):
                raise ValidationError(f"site {measurement['site']!r} is measured twice at the visit of "
                                      f"{show_date(visit.date)}; a visit holds one density per site")
            visit.measurements.append(measurement)
        elif code == codes.SALT:
            score = _number(resource.get("valueQuantity"), "%", "SALT score", 100)
            regions = {_salt_region(c): _number(c.get("valueQuantity"), "%", "SALT region", 100)
                       for c in resource.get("component", [])}
            self._add_score(visit, {"scale": "salt", "salt_score": score, **regions})
        elif code in _STAGE_SCALES:
            # The stage must be one of its scale's, as on the visit form.
            checked = parse_scale_entry(ScaleEntry(_STAGE_SCALES[code], stage=_stage_text(resource.get("valueString"))))
            self._add_score(visit, {"scale": checked.scale, "stage": checked.stage})
        elif code in (codes.GLOBAL_ASSESSMENT, codes.SATISFACTION):
            low, high = (-3, 3) if code == codes.GLOBAL_ASSESSMENT else (0, 10)
            value = resource.get("valueInteger")
            if not isinstance(value, int) or not low <= value <= high:
                raise ValidationError(f"{codes.OBSERVATION_WORDS[code]} {value!r} is not a whole number {low}…{high}")
            column = "global_assessment" if code == codes.GLOBAL_ASSESSMENT else "satisfaction"
            if column in visit.values:
                raise ValidationError(f"a second {codes.OBSERVATION_WORDS[code]} for the visit of "
                                      f"{show_date(visit.date)}")
            visit.values[column] = value
        else:
            raise ValidationError(f"an observation this product does not record on its own ({code})")

    def _add_score(self, visit: VisitPlan, score: dict[str, Any]) -> None:
        if any(s["scale"] == score["scale"] for s in visit.scores):
            raise ValidationError(f"a second {SCALE_LABELS[score['scale']]} score for the visit of "
                                  f"{show_date(visit.date)}")
        visit.scores.append(score)

    def _day(self, value: Any, label: str, patient: PatientPlan) -> date:
        """A date of something that happened: not in the future, not before the patient's birth."""
        day = check_not_in_future(_date(value, label), self.today, label)
        return check_not_before_birth(day, patient.values["birth_date"], label)

    def _procedure(self, resource: Resource, where: str) -> None:
        treatment = parse_treatment(_known(resource.get("code"), codes.TREATMENT_CODES, "code"))
        patient = self._subject(resource)
        contained = {f"#{r.get('id')}": r for r in resource.get("contained", []) if r.get("resourceType") ==
                     "Medication"}
        used = [contained.get(r.get("reference", "")) for r in resource.get("usedReference", [])]
        medication = used[0] if used and used[0] is not None else {}
        volume = None
        for extension in resource.get("extension", []):
            if extension.get("url") != codes.VOLUME_EXTENSION:
                raise ValidationError(f"unknown extension {extension.get('url')!r}")
            volume = _number(extension.get("valueQuantity"), "mL", "volume", 1000)
        patient.sessions.append({
            "date": self._day(resource.get("performedDateTime"), "session date", patient), "treatment": treatment,
            "product": parse_product((medication.get("code") or {}).get("text", "")),
            "lot_number": parse_lot_number((medication.get("batch") or {}).get("lotNumber", ""), treatment),
            "volume_ml": volume,
            "areas": clean_text(_first_text(resource.get("bodySite")), "areas treated", AREAS_MAX, single_line=True),
            "adverse_events": clean_text(_first_text(resource.get("complication")), "adverse events", TEXT_MAX),
            "notes": clean_text(_first_text(resource.get("note")), "notes", TEXT_MAX),
        })

    def _therapy(self, resource: Resource, where: str) -> None:
        patient = self._subject(resource)
        period = resource.get("effectivePeriod") or {}
        start = self._day(period.get("start"), "start date", patient)
        stop = self._day(period["end"], "stop date", patient) if period.get("end") else None
        if stop is not None and stop < start:
            raise ValidationError(f"stop date {show_date(stop)} is before the start date {show_date(start)}")
        name = clean_text((resource.get("medicationCodeableConcept") or {}).get("text"), "medication",
                          THERAPY_NAME_MAX, single_line=True)
        if name is None:
            raise ValidationError("medication is missing")
        patient.therapies.append({
            "name": name, "dose": clean_text(_first_text(resource.get("dosage")), "dose", DOSE_MAX, single_line=True),
            "start": start, "stop": stop,
        })

    def _media(self, resource: Resource, where: str) -> None:
        self._subject(resource)
        self.media += 1


def _codes(value: Any) -> dict[str, str]:
    """A CodeableConcept's codes by system (the first of each)."""
    found: dict[str, str] = {}
    for coding in (value or {}).get("coding", []) if isinstance(value, dict) else []:
        found.setdefault(str(coding.get("system")), str(coding.get("code")))
    return found


def _shown(value: Any) -> str:
    pairs = [f"{coding.get('system')}|{coding.get('code')}" for coding in (value or {}).get("coding", [])]
    return ", ".join(pairs) or "(none)"


def _known_codings(value: Any, system: str, what: str) -> list[dict[str, Any]]:
    codings = [c for c in (value or {}).get("coding", []) if c.get("system") == system]
    if not codings:
        raise ValidationError(f"unknown {what}: {_shown(value)} (this product imports only its own codes)")
    return codings


def _known(value: Any, system: str, what: str) -> str:
    """The code of ``system`` in a CodeableConcept, which must be one this product writes."""
    code = str(_known_codings(value, system, what)[0].get("code"))
    if system in codes.local_codes() and code not in codes.local_codes()[system]:
        raise ValidationError(f"unknown {what}: {system}|{code} (this product imports only its own codes)")
    return code


def _date(value: Any, label: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValidationError(f"{label} {value!r} is not a date (YYYY-MM-DD)") from None


def _stage_text(value: Any) -> str:
    """A stage as written, short enough to be one (a long text is refused before it is quoted in a message)."""
    return clean_text(value, "stage", STAGE_MAX, single_line=True) or ""


def _salt_region(component: Resource) -> str:
    code = _known(component.get("code"), codes.OBSERVATION_CODES, "component")
    if code not in _REGIONS:
        raise ValidationError(f"unknown component {code} of a SALT score (one of {', '.join(_REGIONS)})")
    return _REGIONS[code]


def _first_text(values: Any) -> str | None:
    texts = [v.get("text") for v in values or [] if isinstance(v, dict) and v.get("text")]
    return texts[0] if texts else None


def _number(value: Any, unit: str, label: str, maximum: float) -> float:
    """A Quantity's value in its UCUM ``unit``, from 0 to ``maximum``."""
    if not isinstance(value, dict) or value.get("system") != codes.UCUM or value.get("code") != unit:
        raise ValidationError(f"{label} is not given in UCUM {unit!r}")
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float) or not 0 <= number <= maximum:
        raise ValidationError(f"{label} {number!r} is not a number from 0 to {maximum:g} {unit}")
    return float(number)


def _density(resource: Resource) -> dict[str, Any]:
    value = resource.get("valueQuantity")
    measurement: dict[str, Any] = {
        "density_per_cm2": parse_density(_number(value, "/cm2", "density", MAX_DENSITY_PER_CM2)),
        "site": parse_site(_known(resource.get("bodySite"), codes.SITE_CODES, "body site")),
        "method": _known(resource.get("method"), codes.METHOD_CODES, "method"),
    }
    columns = {codes.SHAFT_DIAMETER: ("shaft_diameter_um", "um", 500), codes.TERMINAL_PCT: ("terminal_pct", "%", 100),
               codes.ANAGEN_PCT: ("anagen_pct", "%", 100)}
    for component in resource.get("component", []):
        code = _known(component.get("code"), codes.OBSERVATION_CODES, "component")
        if code not in columns:
            raise ValidationError(f"unknown component {code} of a density")
        column, unit, maximum = columns[code]
        measurement[column] = _number(component.get("valueQuantity"), unit, codes.OBSERVATION_WORDS[code], maximum)
    return measurement


def _protocol(extension: Resource) -> tuple[str, dict[str, Any] | None]:
    """The protocol extension: its name, and its definition checked as a protocol is (``from_stored``)."""
    parts = {part.get("url"): part.get("valueString") for part in extension.get("extension", [])}
    name = clean_text(parts.get("name"), "protocol name", PROTOCOL_NAME_MAX, single_line=True)
    if name is None:
        raise ValidationError("protocol name is missing")
    if not parts.get("definition"):
        return name, None
    try:
        definition = json.loads(str(parts["definition"]))
        band, windows, noise = definition["band"], definition["windows"], definition["noise_pct"]
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        raise ValidationError(f"protocol {name!r}: its definition is not this product's ({error})") from None
    try:
        from_stored(name, band, windows, definition.get("evidence_note"), noise, definition.get("outcome_measure"))
    except ValidationError as error:
        raise ValidationError(f"protocol {name!r}: {error}") from None
    return name, definition
