"""Free text has limits: every text box on every page has ``max_chars``, and the services refuse an over-long
patient search (20,000 words cost 15–20 s of CPU before) with a message instead of running it."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tracker.access.actors import Actor
from tracker.access.credentials import PASSWORD_MAX, check_password_policy
from tracker.errors import ValidationError
from tracker.records.patient_intake import NewPatient, create_patient
from tracker.records.patient_list import list_patients
from tracker.records.patient_search import find_patients
from tracker.validation import SEARCH_MAX

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
DR = Actor("dr.limits", "clinician")
HUGE_QUERY = " ".join(f"word{i}" for i in range(20_000))


def text_boxes_without_limit() -> list[str]:
    """``st.text_input``/``st.text_area`` calls (also on columns and forms) in pages/ without ``max_chars``."""
    missing = []
    for path in sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "ui").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("text_input", "text_area")
                    and "max_chars" not in {k.arg for k in node.keywords}):
                missing.append(f"{path.name}:{node.lineno}")
    return missing


def test_every_text_box_has_a_length_limit():
    assert text_boxes_without_limit() == []


@pytest.fixture
def limits_clinic(clinic):
    create_patient(DR, NewPatient(mrn="LIM-1", full_name="Ana Souza", sex="female", birth_date=date(1980, 1, 1),
                                  condition="androgenetic_alopecia", baseline_scale="ludwig", baseline_stage="I",
                                  target_areas="vertex"), url=clinic)
    return clinic


@pytest.mark.parametrize("search", [list_patients, find_patients], ids=["list_patients", "find_patients"])
def test_a_20000_word_search_is_refused_with_a_clear_message(limits_clinic, search, figure, db_url):
    with pytest.raises(ValidationError) as refused:
        search(DR, HUGE_QUERY, url=limits_clinic)
    assert str(refused.value) == (f"The search is too long ({len(HUGE_QUERY):,} characters): type at most "
                                  f"{SEARCH_MAX} characters of a name or MRN.")
    # The longest search accepted still finds the patient.
    longest = ("souza " * 20)[:SEARCH_MAX]
    assert [p.mrn for p in search(DR, longest, url=limits_clinic)] == ["LIM-1"]
    figure(f"input limits ({db_url.split(':')[0]}): {search.__name__} with 20,000 words "
           f"({len(HUGE_QUERY):,} characters) refused with a message; {SEARCH_MAX} characters searched")


def test_the_patients_page_never_searches_more_than_the_limit(limits_clinic):
    """The search box's ``max_chars`` holds: Streamlit does not take a longer value from the browser."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = DR
    at.run()
    at.text_input(key="patients_query").input(HUGE_QUERY).run()
    assert not at.exception and not at.error
    assert len(at.text_input(key="patients_query").value) <= SEARCH_MAX
    at.text_input(key="patients_query").input("souza").run()
    assert at.dataframe[0].value["MRN"].tolist() == ["LIM-1"]


def test_an_over_long_password_is_refused():
    with pytest.raises(ValidationError, match=f"at most {PASSWORD_MAX} characters"):
        check_password_policy("Correct-Horse-" * 100)
