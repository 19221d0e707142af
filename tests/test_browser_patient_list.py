"""The Patients page on a clinic of 300 generated patients, in real Chromium (issue #13): the whole list says its
exact size from the list tally ("Showing 1–50 of 300"), the last page is the list's last rows, and a search matching
most of the clinic counts its matches only one page past the one shown ("of more than 100"), offers one page more,
and counts further on the next (counting every match of a common name grew with the clinic); one patient's MRN is
found exactly."""

from __future__ import annotations

import re

import pytest

from tests.bench.generate_clinic import ACCOUNT_PASSWORD, ACCOUNTS, write_clinic
from tests.browser import (
    browser_page,
    navigate,
    require_chromium,
    server_alarms,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)

CLINICIAN = next(name for role, name in ACCOUNTS if role == "clinician")


@pytest.fixture(scope="module")
def clinic_server(tmp_path_factory):
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-patient-list") / "data"
    data_dir.mkdir(mode=0o700)
    write_clinic(f"sqlite:///{data_dir / 'tracker.db'}", 300)
    with streamlit_server(data_dir) as base:
        yield base


def caption(page) -> str:
    return page.get_by_text(re.compile(r"^(Showing|None of) ")).first.text_content() or ""


def type_and_wait(page, box, value: str, shown: str) -> None:
    """Type ``value`` into ``box`` (a search or the page chooser), press Enter, wait for the caption ``shown``."""
    box.fill(value)
    box.press("Enter")
    page.get_by_text(shown).wait_for()
    wait_rendered(page)


def test_the_patient_list_counts_a_large_clinic_and_a_broad_search(clinic_server):
    base = clinic_server
    with browser_page() as page:
        sign_in(page, base, CLINICIAN, ACCOUNT_PASSWORD)
        wait_rendered(page)
        navigate(page, "/patients")
        page.get_by_text("Showing 1–50 of 300").wait_for()
        assert page.get_by_text("Page (of 6)").count() == 1
        type_and_wait(page, page.get_by_label(re.compile(r"^Page \(of")), "6", "Showing 251–300 of 300")
        # "a" is in nearly every name
        type_and_wait(page, page.get_by_label("Search by name or MRN"), "a", "Showing 1–50 of more than 100")
        shot(page, "patient-list", "broad-search")
        assert page.get_by_text("Page (of more than 2)").count() == 1
        type_and_wait(page, page.get_by_label(re.compile(r"^Page \(of")), "3", "Showing 101–150 of more than 200")
        assert caption(page) == "Showing 101–150 of more than 200"
        # One patient's MRN: found through the name index (SQLite's trigram table), the page says exactly one.
        type_and_wait(page, page.get_by_label("Search by name or MRN"), "rt000123", "Showing 1–1 of 1")
        assert page.get_by_text("RT000123").count() >= 1
    assert server_alarms(base) == []
