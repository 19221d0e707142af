"""One word per idea: every code has its words in ``tracker.course.vocabulary``, nothing else keeps a second
table of them, and the words reach the person reading (here: the PDF report)."""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from db import models
from tests.test_progress_report import pdf_text
from tracker.access.actors import Actor
from tracker.course import vocabulary
from tracker.course.clinical import CONDITIONS, DEFAULT_WINDOWS, SCALP_VIEWS, TREATMENTS
from tracker.course.vocabulary import (
    FOLLOW_UP_WORDS,
    PATIENT_FILTER_WORDS,
    POINT_STYLES,
    STATUS_WORDS,
    FollowUpStatus,
    MilestoneStatus,
    PatientFilter,
    PointKind,
    RepeatWindow,
)
from tracker.database import transaction
from tracker.exchange.progress_report import progress_report_pdf

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("tracker", "ui", "pages")
VOCABULARY = ROOT / "tracker" / "course" / "vocabulary.py"
ENUMS = (MilestoneStatus, FollowUpStatus, RepeatWindow, PatientFilter, PointKind)
CODE_TUPLES = {"SCALP_VIEWS": SCALP_VIEWS, "CONDITIONS": CONDITIONS, "TREATMENTS": TREATMENTS}

CODES = ({member.value for enum in ENUMS for member in enum} | set(SCALP_VIEWS) | set(CONDITIONS)
         | set(TREATMENTS) | set(vocabulary.MILESTONE_WORDS))
# The names modules give those codes (``AHEAD``, ``MilestoneStatus.AHEAD``, ``OVERDUE`` …).
CODE_NAMES = {member.name for enum in ENUMS for member in enum} | {"BEHIND_EXPECTED"}
WORDS = {
    text.lower()
    for text in (
        *(getattr(words, column) for words in STATUS_WORDS.values()
          for column in ("label", "phrase", "explained", "legend", "badge")),
        *(style.legend for style in POINT_STYLES.values()),
        *FOLLOW_UP_WORDS.values(), *PATIENT_FILTER_WORDS.values(), *vocabulary.VIEW_WORDS.values(),
        *vocabulary.CONDITION_WORDS.values(), *vocabulary.TREATMENT_WORDS.values(),
        *(w.label for w in vocabulary.MILESTONE_WORDS.values()),
        *(w.short for w in vocabulary.MILESTONE_WORDS.values()),
    )
}


def _is_code(node: ast.AST | None) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in CODES
    if isinstance(node, ast.Name):
        return node.id in CODE_NAMES
    return isinstance(node, ast.Attribute) and node.attr in CODE_NAMES


def _holds_text(node: ast.AST) -> bool:
    return any(isinstance(n, ast.JoinedStr) or (isinstance(n, ast.Constant) and isinstance(n.value, str))
               for n in ast.walk(node))


def _shows(node: ast.AST) -> bool:
    """Words, or a colour: an (r, g, b) literal (a hex colour is text)."""
    return _holds_text(node) or (isinstance(node, ast.Tuple) and len(node.elts) == 3 and all(
        isinstance(e, ast.Constant) and isinstance(e.value, int) for e in node.elts))


def _words_in(node: ast.Tuple | ast.List | ast.Set) -> list[str]:
    """The vocabulary's words among a literal's strings (a code is a code, not a word: "vertex" vs "Vertex")."""
    return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
            and e.value not in CODES and e.value.lower() in WORDS]


def second_tables(source: str, where: str = "<source>") -> list[str]:
    """Places in ``source`` that give codes their words a second time: a dict literal mapping two or more
    status, view, condition, treatment or milestone codes to text or colours; ``zip`` of a code tuple with a literal
    of texts; or a tuple/list/set literal holding two or more of the vocabulary's words."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            coded = [k for k, v in zip(node.keys, node.values, strict=True) if _is_code(k) and _shows(v)]
            if len(coded) >= 2:
                found.append(f"{where}:{node.lineno}: a dict giving {len(coded)} codes their words or colours")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "zip"
              and any(isinstance(a, ast.Name) and a.id in CODE_TUPLES for a in node.args)
              and any(isinstance(a, (ast.Tuple, ast.List)) and _holds_text(a) for a in node.args)):
            found.append(f"{where}:{node.lineno}: codes zipped with words")
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(_words_in(node)) >= 2:
            found.append(f"{where}:{node.lineno}: the vocabulary's words {_words_in(node)}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"
              and sum(1 for k in node.keywords if k.arg and _is_code(ast.Constant(k.arg)) and _shows(k.value)) >= 2):
            found.append(f"{where}:{node.lineno}: dict(code=words, …)")
        elif (isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) and _is_code(t.slice)
                                                   for t in node.targets) and _shows(node.value)):
            found.append(f"{where}:{node.lineno}: words given to a code one at a time")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "replace"
              and [a.value for a in node.args if isinstance(a, ast.Constant)] == ["_", " "]):
            found.append(f"{where}:{node.lineno}: a code turned into words by hand (use the vocabulary's fallback)")
    return found


def test_no_module_keeps_a_second_table_of_words():
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != VOCABULARY:
                found += second_tables(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


@pytest.mark.parametrize("planted", [
    'LABELS = {"ahead": "Ahead", "behind": "Behind"}',
    'BADGES = {AHEAD: ("🟢", "Ahead"), BEHIND: ("🔴", "Behind")}',
    'WORDS = {MilestoneStatus.DUE: "due", MilestoneStatus.MISSED: f"missed on {day}"}',
    'SCHEDULE = {OVERDUE: "Late", UPCOMING: "Soon"}',
    'INK = {"ahead": (27, 127, 59), "missed": (211, 84, 0)}',
    'HEX = {"due": "#b7860b", "missed": "#d35400"}',
    'VIEWS = {"left_temporal": "Left side", "closeup": "Zoom"}',
    'NAMES = dict(zip(CONDITIONS, ("AGA", "AA", "TE", "other")))',
    'LEGEND = ["ahead of expected", "behind expected"]',
    'shown = ("Left temporal", "Close-up (trichoscopy)")',
    'LABELS = dict(ahead="Ahead", behind="Behind")',
    'WORDS["behind"] = "Behind"',
    'label = view.replace("_", " ").title()',
])
def test_the_scan_finds_a_planted_second_table(planted):
    assert second_tables(planted), planted


@pytest.mark.parametrize("fine", [
    'BOXES = {AHEAD: st.success, BEHIND: st.warning}',  # a status to a drawing call, not to words
    'ORDER = (AHEAD, ON_TRACK, BEHIND)',
    'SCALP_VIEWS = ("frontal", "vertex", "left_temporal")',  # codes, not words
    'words = {"ahead": status_words("ahead").label}',  # one code only
    'SALT_WEIGHTS = {"vertex": 0.40, "left_side": 0.18}',
])
def test_the_scan_leaves_code_that_only_uses_the_vocabulary(fine):
    assert second_tables(fine) == []


def test_every_code_has_its_words():
    assert set(STATUS_WORDS) == set(MilestoneStatus)
    assert set(FOLLOW_UP_WORDS) == set(FollowUpStatus)
    assert set(PATIENT_FILTER_WORDS) == set(PatientFilter)
    assert set(POINT_STYLES) == set(PointKind) | set(MilestoneStatus)
    assert set(vocabulary.VIEW_WORDS) == set(SCALP_VIEWS)
    assert set(vocabulary.CONDITION_WORDS) == set(CONDITIONS)
    assert set(vocabulary.TREATMENT_WORDS) == set(TREATMENTS)
    assert {w.name for w in DEFAULT_WINDOWS} <= set(vocabulary.MILESTONE_WORDS)
    # One colour definition: plotly's hex is the PDF's RGB.
    ahead = STATUS_WORDS[MilestoneStatus.AHEAD]
    assert (ahead.rgb, ahead.hex) == ((27, 127, 59), "#1b7f3b")


def test_codes_stay_the_strings_stored_and_printed():
    assert [s.value for s in MilestoneStatus] == [
        "ahead", "on_track", "behind", "upcoming", "due", "missed", "no_baseline"]
    assert str(MilestoneStatus.NO_BASELINE) == "no_baseline" and MilestoneStatus("due") is MilestoneStatus.DUE
    with pytest.raises(ValueError):
        vocabulary.status_words("late")


def test_the_report_prints_words_never_codes(sqlite_clinic, tmp_path):
    """A PRP patient measured at the left temple: the PDF names the site, the treatment and the condition in
    words ("left_temporal", "prp" and "alopecia_areata" never reach the reader)."""
    with transaction(sqlite_clinic) as session:
        patient = models.Patient(mrn="W-1", full_name="Wren Words", sex="female", birth_date=date(1979, 2, 3),
                                 condition="alopecia_areata")
        session.add(patient)
        session.flush()
        session.add(models.TreatmentSession(patient_id=patient.id, date=date(2025, 1, 15), treatment="prp",
                                            product="Autologous PRP", lot_number="PRP-1"))
        for day, density in ((date(2025, 1, 10), 120.0), (date(2025, 4, 14), 155.0)):
            visit = models.Visit(patient_id=patient.id, date=day)
            session.add(visit)
            session.flush()
            session.add(models.DensityMeasurement(visit_id=visit.id, site="left_temporal", density_per_cm2=density))
    with transaction(sqlite_clinic) as session:
        assert session.scalar(select(models.DensityMeasurement.site)) == "left_temporal"

    _, data = progress_report_pdf(Actor("dr.lee", "clinician"), "W-1", date(2025, 5, 1), sqlite_clinic)

    text = pdf_text(data, tmp_path)
    for expected in (r"Condition\s+Alopecia areata\n", r"Treatments\s+PRP\s", r"Measured sites\s+Left temporal\n",
                     r"Progress: Left temporal\n",
                     r"3 months: \+35 hairs/cm² \(\+29%\)\. The expected range is \+4 to \+19",
                     r"Ahead: the change is", r"\(±12\), so this is ahead"):
        assert re.search(expected, text), expected
    for code in ("left_temporal", "alopecia_areata", "early_response", "prp", "on_track"):
        assert code not in text, code
