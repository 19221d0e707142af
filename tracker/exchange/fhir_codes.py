"""The codes, systems and ids of this product's FHIR R4 resources: one table of each, read by the export
(``fhir_resources``) and by the import (``fhir_import``), so that what one writes the other reads back.

Validation (in the tests) uses ``fhir.resources.R4B`` (FHIR 4.3, the R4 line); every element used here exists
identically in R4 4.0.1.

Code systems:

- ICD-10 (WHO, ``http://hl7.org/fhir/sid/icd-10``) for the condition, DESIGN.md §7: L64.9 androgenic alopecia,
  unspecified; L63.9 alopecia areata, unspecified; L65.0 telogen effluvium. A patient recorded as "other" has no
  ICD-10 code. No SNOMED CT code is given: none of ours was certain enough to send to an EHR.
- UCUM (``http://unitsofmeasure.org``): ``/cm2`` hairs per cm², ``um`` µm, ``%`` and ``mL``.
- ``LOCAL``: this product's own systems (LOINC has no hair-density code). ``example`` is a reserved domain: the
  URLs never resolve, they only name the product's codes.
"""

from __future__ import annotations

from typing import Any

from tracker.course.clinical import CONDITIONS, STAGE_SCALES, TREATMENTS

LOCAL = "https://regrowth-tracker.example/fhir"
# Where an exported resource "lives": ``fullUrl`` of a Bundle entry, against which the relative references
# ``Patient/patient-1`` resolve.
BASE = f"{LOCAL}/R4"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
UCUM = "http://unitsofmeasure.org"
MRN_SYSTEM = f"{LOCAL}/mrn"
PHOTO_HASH_SYSTEM = f"{LOCAL}/photo-sha256"  # the SHA-256 of the unaltered original, hex

# Local code systems, one per idea.
OBSERVATION_CODES = f"{LOCAL}/CodeSystem/observation"
CONDITION_CODES = f"{LOCAL}/CodeSystem/condition"
SITE_CODES = f"{LOCAL}/CodeSystem/scalp-site"  # a measured site or photographic view (clinical.SCALP_VIEWS, or typed)
TREATMENT_CODES = f"{LOCAL}/CodeSystem/treatment"
SCALE_CODES = f"{LOCAL}/CodeSystem/scale"
METHOD_CODES = f"{LOCAL}/CodeSystem/density-method"
# Extensions: the patient's protocol (name and definition), a session's injected volume.
PROTOCOL_EXTENSION = f"{LOCAL}/StructureDefinition/protocol"
VOLUME_EXTENSION = f"{LOCAL}/StructureDefinition/session-volume"

# HL7's own.
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ENCOUNTER_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
MEDIA_TYPE = "http://terminology.hl7.org/CodeSystem/media-type"

# Each condition's ICD-10 code, and that code's display as ICD-10 gives it (ICD's words, not this product's: the
# product's own words for a condition stay in tracker.course.vocabulary).
ICD10_DISPLAY = {"L64.9": ("androgenetic_alopecia", "Androgenic alopecia, unspecified"),
                 "L63.9": ("alopecia_areata", "Alopecia areata, unspecified"),
                 "L65.0": ("telogen_effluvium", "Telogen effluvium")}
ICD10_CODES = {condition: icd for icd, (condition, _display) in ICD10_DISPLAY.items()}
# An ICD-10 code read back (a Bundle without this product's own condition code): by its category.
ICD10_CATEGORIES = {"L64": "androgenetic_alopecia", "L63": "alopecia_areata", "L65.0": "telogen_effluvium",
                    "L66": "other"}

# Observation codes (``OBSERVATION_CODES``) with their display words.
DENSITY = "hair-density"  # hairs/cm², one site
SHAFT_DIAMETER = "hair-shaft-diameter"  # µm, a component of a density
TERMINAL_PCT = "terminal-hair-percentage"
ANAGEN_PCT = "anagen-hair-percentage"
SALT = "salt-score"  # 0–100, % of scalp hair lost (Severity of Alopecia Tool)
SALT_REGIONS = {"salt_vertex_pct": "salt-vertex-loss", "salt_posterior_pct": "salt-posterior-loss",
                "salt_left_pct": "salt-left-side-loss", "salt_right_pct": "salt-right-side-loss"}
STAGE = {"norwood": "norwood-hamilton-stage", "ludwig": "ludwig-stage", "sinclair": "sinclair-stage"}
GLOBAL_ASSESSMENT = "global-photographic-assessment"  # −3 … +3 (DESIGN.md §2)
SATISFACTION = "patient-satisfaction"  # 0–10
OBSERVATION_WORDS = {
    DENSITY: "Hair density", SHAFT_DIAMETER: "Hair shaft diameter", TERMINAL_PCT: "Terminal hairs",
    ANAGEN_PCT: "Anagen hairs", SALT: "SALT score", "salt-vertex-loss": "SALT vertex % hair loss",
    "salt-posterior-loss": "SALT posterior % hair loss", "salt-left-side-loss": "SALT left side % hair loss",
    "salt-right-side-loss": "SALT right side % hair loss", "norwood-hamilton-stage": "Norwood–Hamilton stage",
    "ludwig-stage": "Ludwig stage", "sinclair-stage": "Sinclair stage",
    GLOBAL_ASSESSMENT: "Global photographic assessment", SATISFACTION: "Patient satisfaction (0–10)",
}
DENSITY_METHODS = {"typed": "Counted by the clinician and typed in",
                   "counted": "Assisted count on a close-up photo (trichoscopy)"}
UNITS = {"/cm2": "hairs/cm²", "um": "µm", "%": "%", "mL": "mL"}

# The resource types, in the order a Bundle lists them and the bulk export writes its files.
RESOURCE_TYPES = ("Patient", "Condition", "Encounter", "Observation", "Procedure", "MedicationStatement", "Media")


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """One Coding.

    >>> coding(UCUM, "/cm2")
    {'system': 'http://unitsofmeasure.org', 'code': '/cm2'}
    """
    return {"system": system, "code": code, **({"display": display} if display else {})}


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept of one coding (and its text)."""
    return {"coding": [coding(system, code, display)], **({"text": text or display} if text or display else {})}


def quantity(value: float, unit: str) -> dict[str, Any]:
    """A UCUM Quantity: ``unit`` is a key of ``UNITS``.

    >>> quantity(152.5, "/cm2")
    {'value': 152.5, 'unit': 'hairs/cm²', 'system': 'http://unitsofmeasure.org', 'code': '/cm2'}
    """
    return {"value": value, "unit": UNITS[unit], "system": UCUM, "code": unit}


def reference(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def resource_id(kind: str, number: int) -> str:
    """A resource's id from its row's id: ``kind`` names the table (``patient``, ``visit``, ``density`` …).

    >>> resource_id("visit", 12)
    'visit-12'
    """
    return f"{kind}-{number}"


def local_codes() -> dict[str, frozenset[str]]:
    """Every code this product writes, by local system: what an import accepts."""
    return {
        OBSERVATION_CODES: frozenset(OBSERVATION_WORDS),
        CONDITION_CODES: frozenset(CONDITIONS),
        TREATMENT_CODES: frozenset(TREATMENTS),
        SCALE_CODES: frozenset(STAGE_SCALES),
        METHOD_CODES: frozenset(DENSITY_METHODS),
    }


def condition_from_icd10(code: str) -> str | None:
    """The condition an ICD-10 code names, by its category; None for a code this product does not know.

    >>> condition_from_icd10("L64.8"), condition_from_icd10("L65.0"), condition_from_icd10("L65.1")
    ('androgenetic_alopecia', 'telogen_effluvium', None)
    """
    return ICD10_CATEGORIES.get(code) or ICD10_CATEGORIES.get(code.split(".")[0] if code[:3] != "L65" else code)
