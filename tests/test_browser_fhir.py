"""Browser journey (issue #15, FHIR R4): a clinician opens a patient's record and downloads it as a FHIR R4 Bundle;
the file is valid R4 (``fhir.resources.R4B``), holds that patient's records, and the export is audited once."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.browser import (
    browser_page,
    choose,
    clinic_with_accounts,
    open_menu,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)

USERNAME, PASSWORD = "dr.fhir", "Follicle-Export-5521"
MRN, NAME = "RT-1500", "Ines Interop"
JOURNEY = "fhir"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    from tests.patient_samples import seed

    data_dir, _env = clinic_with_accounts(tmp_path_factory, "browser-fhir", ("clinician", USERNAME, PASSWORD))
    seed(f"sqlite:///{data_dir / 'tracker.db'}", MRN, NAME, sessions=[date(2025, 1, 10)],
         visits=[(date(2025, 1, 9), {"vertex": 131.5}), (date(2025, 4, 10), {"vertex": 150.0})])
    with streamlit_server(data_dir) as base:
        yield base, data_dir


def test_a_clinician_downloads_the_record_as_a_fhir_bundle(clinic):
    base, data_dir = clinic
    with browser_page(viewport=(1400, 1200)) as page:
        sign_in(page, base, USERNAME, PASSWORD)
        page.get_by_role("heading", name="Patients").wait_for()
        choose(page, "Patient", f"{MRN} — {NAME}")
        open_menu(page, "Patient record")
        page.get_by_role("heading", name=NAME).wait_for()
        button = page.get_by_role("button", name="Download FHIR R4 record (JSON)")
        button.wait_for()
        wait_rendered(page)
        shot(page, JOURNEY, "1-record-with-fhir-download")
        with page.expect_download(timeout=120_000) as download:
            button.click()
        data = download.value.path().read_bytes()
        suggested = download.value.suggested_filename
        wait_rendered(page)
    bundle = Bundle.model_validate_json(data)
    resources = [entry.resource for entry in bundle.entry]
    assert suggested.startswith(f"fhir-{MRN}-") and suggested.endswith(".json")
    assert [r.get_resource_type() for r in resources] == ["Patient", "Condition", "Encounter", "Encounter",
                                                          "Observation", "Observation", "Procedure"]
    densities = [o["valueQuantity"]["value"] for o in (json.loads(data)["entry"][i]["resource"] for i in (4, 5))]
    assert densities == [131.5, 150.0]
    with sqlite3.connect(data_dir / "tracker.db") as db:
        exports = db.execute("SELECT username, detail FROM audit_entry WHERE action = 'export'").fetchall()
    assert exports == [(USERNAME, "FHIR R4 Bundle, 7 resources")]
