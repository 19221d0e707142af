"""Which page exists for which role: the one table both the menu (``app.py``) and every page's own
guard (``signed_in.require_actor``) read, so the two can never disagree."""

from __future__ import annotations

from pathlib import Path

from tracker.access.actors import ADMIN, CLINICIAN, PATIENT

ROOT = Path(__file__).resolve().parent.parent

# (file, title, roles) in menu order. No icons: Streamlit makes the current page's icon the browser's favicon
# and fetches Material icons for it from Google's font servers, which a clinic's browser should never ask.
PAGES = (
    ("pages/patients.py", "Patients", (CLINICIAN, ADMIN)),
    ("pages/schedule.py", "Schedule", (CLINICIAN, ADMIN)),
    ("pages/new_patient.py", "New patient", (CLINICIAN, ADMIN)),
    ("pages/patient_record.py", "Patient record", (CLINICIAN, ADMIN)),
    ("pages/log_visit.py", "Log visit", (CLINICIAN, ADMIN)),
    ("pages/log_session.py", "Log treatment session", (CLINICIAN, ADMIN)),
    ("pages/progress.py", "Progress", (CLINICIAN, ADMIN, PATIENT)),
    ("pages/photos.py", "Photos", (CLINICIAN, ADMIN, PATIENT)),
    ("pages/hair_count.py", "Hair count", (CLINICIAN, ADMIN)),
    ("pages/lot_lookup.py", "Lot lookup", (CLINICIAN, ADMIN)),
    ("pages/outcomes.py", "Clinic outcomes", (CLINICIAN, ADMIN)),
    ("pages/import_data.py", "Import spreadsheets", (CLINICIAN, ADMIN)),
    ("pages/protocols.py", "Protocols", (ADMIN,)),
    ("pages/capture_devices.py", "Capture devices", (ADMIN,)),
    ("pages/accounts.py", "Accounts", (ADMIN,)),
    ("pages/audit_trail.py", "Audit trail", (ADMIN,)),
    ("pages/clinic_export.py", "Clinic data export", (ADMIN,)),
    ("pages/change_password.py", "Change password", (CLINICIAN, ADMIN, PATIENT)),
)
CONSULT_PAGE = "pages/progress.py"
# After an admin's password reset, the only page until the user has chosen a new password.
PASSWORD_PAGE = "pages/change_password.py"


def roles_for(page_file: str) -> tuple[str, ...]:
    """Roles allowed on a page file (absolute or relative path); none for an unknown file."""
    path = Path(page_file).resolve()
    for file, _title, roles in PAGES:
        if (ROOT / file).resolve() == path:
            return roles
    return ()


def is_consult_page(page_file: str) -> bool:
    return Path(page_file).resolve() == (ROOT / CONSULT_PAGE).resolve()
