"""Clinic data export (admin): every live patient's data in one XLSX workbook, one sheet per kind of record."""

from datetime import date

import streamlit as st

from tracker.exchange.clinic_export import clinic_export_file, clinic_file_name
from tracker.exchange.export_sheets import SHEETS
from tracker.exchange.safe_workbook import XLSX_MEDIA_TYPE
from ui import private_media
from ui.signed_in import require_actor

actor = require_actor()
st.title("Clinic data export")
st.markdown("Every patient's data in one workbook, a sheet per kind of record: "
            + ", ".join(sheet.title.lower() for sheet in SHEETS) + ". Removed records are listed on the last "
            "sheet only. The workbook is built when you click (some seconds per thousand patients: minutes for "
            "a large clinic) and the export is recorded in the audit trail with every patient it holds.")
# Made (and audited) only when clicked, and only while this session is signed in.
private_media.download_button(
    actor, "Download clinic data (XLSX)", lambda: clinic_export_file(actor), what="clinic data export",
    file_name=clinic_file_name(date.today()), mime=XLSX_MEDIA_TYPE, key="clinic_export",
    icon=":material/download:", type="primary")
