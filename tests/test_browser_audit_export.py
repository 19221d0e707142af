"""Browser journey (issue #13, audit and lots at scale), against ``streamlit run`` on the demo clinic: an admin
finds who viewed a patient with the audit page's "Patient (MRN)" filter (a list that named the patient
included) and downloads that CSV; a clinician downloads a lot's CSV. Both files are streamed into a temporary
file and handed to the browser whole when clicked, each audited once."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from tests.browser import (
    browser_page,
    dataframe_rows,
    load_demo_clinic,
    navigate,
    open_menu,
    require_chromium,
    shot,
    sign_in,
    streamlit_server,
    wait_rendered,
)

JOURNEY = "audit-export"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser-audit-export") / "data"
    passwords = load_demo_clinic(data_dir, limit=3)
    with streamlit_server(data_dir) as base:
        yield base, passwords, data_dir


def query(data_dir: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(data_dir / "tracker.db") as db:
        return db.execute(sql, args).fetchall()


def exports(data_dir: Path) -> list[str]:
    return [row[0] for row in query(data_dir, "SELECT detail FROM audit_entry WHERE action = 'export' ORDER BY id")]


def test_who_viewed_a_patient_and_the_audit_csv(server):
    base, passwords, data_dir = server
    mrn, patient_id, lot = query(data_dir, "SELECT p.mrn, p.id, s.lot_number FROM patient p JOIN treatment_session s "
                                           "ON s.patient_id = p.id WHERE s.lot_number != '' ORDER BY p.id LIMIT 1")[0]
    with browser_page() as page:  # a lot lookup: a view about every patient who received the lot
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        open_menu(page, "Lot lookup")
        page.get_by_role("textbox", name="Lot number").fill(lot)
        page.get_by_role("button", name="Look up").click()
        page.get_by_role("button", name="Download CSV").wait_for()
    with browser_page(viewport=(1600, 1400)) as page:
        sign_in(page, base, "demo.admin", passwords["demo.admin"])
        navigate(page, "/audit_trail")
        page.get_by_role("textbox", name="Patient (MRN)").fill(mrn.lower())
        page.get_by_role("button", name="Filter").click()
        wait_rendered(page)
        rows = dataframe_rows(page.get_by_test_id("stDataFrame").first)
        shot(page, JOURNEY, "1-who-viewed")
        assert any(row["user"] == "demo.clinician" and row["detail"].startswith("lot lookup") and not row["patient"]
                   for row in rows), rows
        (about,), = query(data_dir, "SELECT count(*) FROM audit_entry WHERE patient_id = ? OR id IN "
                                    "(SELECT entry_id FROM audit_patient WHERE patient_id = ?)", patient_id, patient_id)
        before = exports(data_dir)
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="Download audit trail (CSV)").click()
        data = download.value.path().read_bytes()
        wait_rendered(page)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(lines) == about and {line["patient MRN"] for line in lines} <= {mrn, ""}
    assert any(line["detail"].startswith(f"lot lookup: lot exactly {lot!r}") for line in lines)
    assert exports(data_dir) == before + [f"audit trail CSV, {about} entries"]


def test_a_lots_csv_holds_every_session(server):
    base, passwords, data_dir = server
    lot, sessions = query(data_dir, "SELECT lower(trim(lot_number)), count(*) FROM treatment_session WHERE "
                                    "deleted_at IS NULL AND lot_number != '' GROUP BY 1 ORDER BY 2 DESC LIMIT 1")[0]
    with browser_page(viewport=(1600, 1400)) as page:
        sign_in(page, base, "demo.clinician", passwords["demo.clinician"])
        open_menu(page, "Lot lookup")
        page.get_by_role("textbox", name="Lot number").fill(lot.upper())
        page.get_by_role("button", name="Look up").click()
        page.get_by_role("button", name="Download CSV").wait_for()
        wait_rendered(page)
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="Download CSV").click()
        data = download.value.path().read_bytes()
        shot(page, JOURNEY, "2-lot-csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == sessions and {row["Lot number"].strip().lower() for row in rows} == {lot}
    assert exports(data_dir)[-1].startswith(f"lot CSV export: lot exactly {lot.upper()!r}: ")
