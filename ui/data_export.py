"""The two downloads of a patient's complete data (XLSX workbook, zip of CSVs), for the patient record (staff)
and for a patient account's own view. Each file is made, access-checked and audited only when its button is
clicked, and only while this session is signed in (``private_media.download_button``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import streamlit as st

from tracker.access.actors import Actor
from tracker.exchange.patient_export import FORMS, export_file_name, patient_export
from ui import private_media

LABELS = {"xlsx": "Download all data (XLSX)", "csv": "Download all data (CSV, zip)"}


def _producer(actor: Actor, mrn: str, form: str, today: date) -> Callable[[], bytes]:
    """What the button runs when clicked: this form's file, made then (one closure per form)."""
    return lambda: patient_export(actor, mrn, form, today).data


def download_buttons(actor: Actor, mrn: str, help_text: str) -> None:
    """Both buttons side by side, for the patient ``mrn`` (shown as the file names)."""
    today = date.today()
    for column, form in zip(st.columns(2), ("xlsx", "csv"), strict=True):
        with column:
            private_media.download_button(
                actor, LABELS[form], _producer(actor, mrn, form, today),
                what=f"patient data export ({form})", file_name=export_file_name(mrn, form, today),
                mime=FORMS[form][1], key=f"data_export_{form}", icon=":material/download:", help=help_text)
