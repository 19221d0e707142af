"""One row of the clinic's records as FHIR R4 resources (plain dicts, JSON-ready): what the export writes.

Each builder takes a row of ``tracker.exchange.fhir_export``'s reads (a Core row read by column name) and returns
the resources it gives; codes and systems are ``tracker.exchange.fhir_codes``'. Validation (in the tests) uses the
``fhir.resources.R4B`` models; every element here exists identically in R4 4.0.1.

Mapping (README, "FHIR"): a patient is a Patient and a Condition (its baseline stage as ``Condition.stage``, its
target areas as ``Condition.bodySite``); a visit an Encounter, with an Observation for its global photographic
assessment and one for the patient's satisfaction when rated; a density measurement an Observation (hairs/cm²,
``/cm2``, body site the measured site, ``method`` typed or counted); a scale score an Observation (SALT 0–100 %
with its four regions as components, or a Norwood–Hamilton, Ludwig or Sinclair stage); a treatment session a
Procedure whose product and lot are a contained Medication (``batch.lotNumber``); a concurrent therapy a
MedicationStatement; a photo a Media (its view as ``view`` and ``bodySite``).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from typing import Any

from tracker.course.scales import SCALE_LABELS
from tracker.course.vocabulary import condition_words, site_words, treatment_words, view_words
from tracker.database import AnyRow
from tracker.exchange import fhir_codes as codes
from tracker.exchange.fhir_codes import coding, concept, quantity, reference, resource_id

Resource = dict[str, Any]


def _day(value: date) -> str:
    return value.isoformat()


def _observation(kind: str, number: int, patient_id: int, code: str, day: date, *, visit_id: int | None = None,
                 category: str = "exam") -> Resource:
    """The frame every Observation shares: final, coded in ``OBSERVATION_CODES``, about the patient, at a visit."""
    return {
        "resourceType": "Observation",
        "id": resource_id(kind, number),
        "status": "final",
        "category": [concept(codes.OBSERVATION_CATEGORY, category, category.capitalize())],
        "code": concept(codes.OBSERVATION_CODES, code, codes.OBSERVATION_WORDS[code]),
        "subject": reference("Patient", resource_id("patient", patient_id)),
        **({"encounter": reference("Encounter", resource_id("visit", visit_id))} if visit_id is not None else {}),
        "effectiveDateTime": _day(day),
    }


def _component(code: str, value: float, unit: str) -> Resource:
    return {"code": concept(codes.OBSERVATION_CODES, code, codes.OBSERVATION_WORDS[code]),
            "valueQuantity": quantity(value, unit)}


def _protocol_extension(row: AnyRow) -> list[Resource]:
    """The patient's protocol: its name and, as JSON, its definition (so that an installation without it can
    follow the same course); none for a patient on the built-in default."""
    if row.protocol_name is None:
        return []
    definition = {"band": row.band, "windows": row.windows, "evidence_note": row.evidence_note,
                  "noise_pct": row.noise_pct, "outcome_measure": row.outcome_measure}
    return [{"url": codes.PROTOCOL_EXTENSION, "extension": [
        {"url": "name", "valueString": row.protocol_name},
        {"url": "definition", "valueString": json.dumps(definition, sort_keys=True, ensure_ascii=False)},
    ]}]


def patient_resources(row: AnyRow) -> list[Resource]:
    """A patient row: the Patient (MRN as a medical record number identifier) and its Condition."""
    patient_id = resource_id("patient", row.id)
    patient: Resource = {
        "resourceType": "Patient",
        "id": patient_id,
        **({"extension": extension} if (extension := _protocol_extension(row)) else {}),
        "identifier": [{"use": "usual", "type": concept(codes.IDENTIFIER_TYPE, "MR", "Medical record number"),
                        "system": codes.MRN_SYSTEM, "value": row.mrn}],
        "name": [{"text": row.full_name}],
        "gender": row.sex,  # the four codes of FHIR's administrative gender (clinical.SEXES)
        "birthDate": _day(row.birth_date),
    }
    condition_codes = [coding(codes.CONDITION_CODES, row.condition, condition_words(row.condition))]
    if row.condition in codes.ICD10_CODES:
        icd = codes.ICD10_CODES[row.condition]
        condition_codes.append(coding(codes.ICD10, icd, codes.ICD10_DISPLAY[icd][1]))
    condition: Resource = {
        "resourceType": "Condition",
        "id": resource_id("condition", row.id),
        "clinicalStatus": concept(codes.CONDITION_CLINICAL, "active", "Active"),
        "code": {"coding": condition_codes, "text": condition_words(row.condition)},
        "subject": reference("Patient", patient_id),
    }
    sites = [site for site in (row.target_areas or "").split(",") if site]
    if sites:
        condition["bodySite"] = [concept(codes.SITE_CODES, site, site_words(site)) for site in sites]
    if row.baseline_scale and row.baseline_stage:
        label = SCALE_LABELS.get(row.baseline_scale, row.baseline_scale)
        condition["stage"] = [{"summary": {"text": row.baseline_stage},
                               "type": concept(codes.SCALE_CODES, row.baseline_scale, label)}]
    return [patient, condition]


def visit_resources(row: AnyRow) -> list[Resource]:
    """A visit: its Encounter, and an Observation for each rating made at it."""
    encounter: Resource = {
        "resourceType": "Encounter",
        "id": resource_id("visit", row.id),
        "status": "finished",
        "class": coding(codes.ENCOUNTER_CLASS, "AMB", "ambulatory"),
        "subject": reference("Patient", resource_id("patient", row.patient_id)),
        "period": {"start": _day(row.date), "end": _day(row.date)},
    }
    resources = [encounter]
    if row.global_assessment is not None:
        rated = _observation("assessment", row.id, row.patient_id, codes.GLOBAL_ASSESSMENT, row.date,
                             visit_id=row.id)
        resources.append(rated | {"valueInteger": row.global_assessment})
    if row.satisfaction is not None:
        rated = _observation("satisfaction", row.id, row.patient_id, codes.SATISFACTION, row.date, visit_id=row.id,
                             category="survey")
        resources.append(rated | {"valueInteger": row.satisfaction})
    return resources


def density_resources(row: AnyRow) -> list[Resource]:
    """A density measurement (hairs/cm² at one site), with its optional metrics as components."""
    observation = _observation("density", row.id, row.patient_id, codes.DENSITY, row.date, visit_id=row.visit_id)
    observation["valueQuantity"] = quantity(row.density_per_cm2, "/cm2")
    observation["bodySite"] = concept(codes.SITE_CODES, row.site, site_words(row.site))
    observation["method"] = concept(codes.METHOD_CODES, row.method, codes.DENSITY_METHODS.get(row.method))
    if row.photo_id is not None:  # the close-up a counted density was counted on
        observation["derivedFrom"] = [reference("Media", resource_id("photo", row.photo_id))]
    components = [_component(code, value, unit) for code, value, unit in (
        (codes.SHAFT_DIAMETER, row.shaft_diameter_um, "um"), (codes.TERMINAL_PCT, row.terminal_pct, "%"),
        (codes.ANAGEN_PCT, row.anagen_pct, "%")) if value is not None]
    if components:
        observation["component"] = components
    return [observation]


def scale_resources(row: AnyRow) -> list[Resource]:
    """A scale score: a SALT score (0–100, % of scalp hair lost, with its regions) or a named stage."""
    code = codes.SALT if row.scale == "salt" else codes.STAGE[row.scale]
    observation = _observation("scale", row.id, row.patient_id, code, row.date, visit_id=row.visit_id)
    if row.salt_score is not None:
        observation["valueQuantity"] = quantity(row.salt_score, "%")
        components = [_component(codes.SALT_REGIONS[column], getattr(row, column), "%")
                      for column in codes.SALT_REGIONS if getattr(row, column) is not None]
        if components:
            observation["component"] = components
    elif row.stage:
        observation["valueString"] = row.stage
    return [observation]


def session_resources(row: AnyRow) -> list[Resource]:
    """A treatment session: a Procedure using a contained Medication, the product with its lot
    (``batch.lotNumber``: "which patients received lot X" is one search in the EHR too)."""
    procedure: Resource = {
        "resourceType": "Procedure",
        "id": resource_id("session", row.id),
        "status": "completed",
        "code": concept(codes.TREATMENT_CODES, row.treatment, treatment_words(row.treatment)),
        "subject": reference("Patient", resource_id("patient", row.patient_id)),
        "performedDateTime": _day(row.date),
    }
    if row.volume_ml is not None:
        procedure["extension"] = [{"url": codes.VOLUME_EXTENSION, "valueQuantity": quantity(row.volume_ml, "mL")}]
    if row.product or row.lot_number:
        medication: Resource = {"resourceType": "Medication", "id": "product"}
        if row.product:
            medication["code"] = {"text": row.product}
        if row.lot_number:
            medication["batch"] = {"lotNumber": row.lot_number}
        procedure["contained"] = [medication]
        procedure["usedReference"] = [{"reference": "#product"}]
    if row.areas:
        procedure["bodySite"] = [{"text": row.areas}]
    if row.adverse_events:
        procedure["complication"] = [{"text": row.adverse_events}]
    if row.notes:
        procedure["note"] = [{"text": row.notes}]
    return [procedure]


def therapy_resources(row: AnyRow) -> list[Resource]:
    """A concurrent therapy (minoxidil, finasteride …) with its start and, when stopped, its stop date."""
    statement: Resource = {
        "resourceType": "MedicationStatement",
        "id": resource_id("therapy", row.id),
        "status": "completed" if row.stop else "active",
        "medicationCodeableConcept": {"text": row.name},
        "subject": reference("Patient", resource_id("patient", row.patient_id)),
        "effectivePeriod": {"start": _day(row.start), **({"end": _day(row.stop)} if row.stop else {})},
    }
    if row.dose:
        statement["dosage"] = [{"text": row.dose}]
    return [statement]


def photo_resources(row: AnyRow, *, data: bytes | None = None, url: str | None = None) -> list[Resource]:
    """A photo: a Media whose content is the display copy (JPEG, upright, ≤ 2048 px, no EXIF), embedded as
    ``data`` or pointed to by ``url``; the original's SHA-256 is its identifier (the original stays in the
    clinic's record)."""
    taken: datetime | None = row.captured_at
    content: Resource = {"contentType": "image/jpeg", "title": f"{view_words(row.view)}, visit of {_day(row.date)}"}
    if data is not None:
        content |= {"data": base64.b64encode(data).decode("ascii"), "size": len(data)}
    elif url is not None:
        content["url"] = url
    return [{
        "resourceType": "Media",
        "id": resource_id("photo", row.id),
        "identifier": [{"system": codes.PHOTO_HASH_SYSTEM, "value": row.sha256}],
        "status": "completed",
        "type": concept(codes.MEDIA_TYPE, "image", "Image"),
        "subject": reference("Patient", resource_id("patient", row.patient_id)),
        "encounter": reference("Encounter", resource_id("visit", row.visit_id)),
        # A time needs its zone in FHIR; SQLite hands the stored UTC moment back without one.
        "createdDateTime": (taken if taken.tzinfo else taken.replace(tzinfo=UTC)).isoformat() if taken else
        _day(row.date),
        "bodySite": concept(codes.SITE_CODES, row.view, view_words(row.view)),
        "view": concept(codes.SITE_CODES, row.view, view_words(row.view)),
        "content": content,
    }]
