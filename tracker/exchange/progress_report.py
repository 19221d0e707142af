"""The progress report as a PDF: what the progress page shows, on paper, for the patient file or the patient.

``progress_report_pdf`` is the one service: it checks who asks (a patient account gets its own report and
nothing else; refusals are audited), reads everything in one short transaction that also records the
download as a "report" entry (``tracker.exchange.report_content``), and then lays the PDF out from plain data
(``tracker.exchange.report.render_report``), outside the transaction, so that drawing photos never holds the
database's write lock.
"""

from __future__ import annotations

import re
from datetime import date

from tracker.access import audit
from tracker.access.actors import ROLES, Actor, require_role
from tracker.access.patient_lookup import resolve_patient
from tracker.database import reading
from tracker.exchange.report import render_report
from tracker.exchange.report_content import gather


def report_file_name(mrn: str, as_of: date) -> str:
    """A file name safe on every system, whatever was typed as the MRN.

    >>> report_file_name("P-0042", date(2026, 2, 1))
    'progress-P-0042-2026-02-01.pdf'
    >>> report_file_name("../ab c/é", date(2026, 2, 1))
    'progress-.._ab_c__-2026-02-01.pdf'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", mrn.strip())[:60] or "patient"
    return f"progress-{safe}-{as_of.isoformat()}.pdf"


def progress_report_pdf(actor: Actor | None, mrn: str | None = None, as_of: date | None = None,
                        url: str | None = None) -> tuple[str, bytes]:
    """One patient's progress report: ``(file name, PDF bytes)``; every download is audited as "report".

    Parameters:
        actor: who asks. Staff name the patient by ``mrn``; a patient account gets its own report
            (``mrn`` None or its own MRN) and is refused any other (PermissionDenied, audited).
        as_of: the day the report describes (default today): later records are left out.
    Raises PermissionDenied (not signed in, or another patient's record) and NotFound (unknown MRN).
    """
    as_of = as_of or date.today()
    with audit.refusals_recorded(actor, "progress report", mrn, url), reading(url) as session:
        signed_in = require_role(actor, *ROLES)  # resolve_patient's own first check, kept for the username
        patient = resolve_patient(session, signed_in, mrn)
        content = gather(session, patient, as_of, generated_by=signed_in.username)
        audit.record(session, actor, "report", patient_id=patient.id,
                     detail=f"progress report PDF as of {as_of.isoformat()}")
    return report_file_name(content.view.mrn, as_of), render_report(content)
