"""Which page exists for which role: the one table both the menu (``app.py``) and every page's own
guard (``workspace.require_actor``) read, so the two can never disagree."""

from __future__ import annotations

from pathlib import Path

from tracker.access import ADMIN, CLINICIAN, PATIENT

ROOT = Path(__file__).resolve().parent.parent

# (file, title, icon, roles) in menu order.
PAGES = (
    ("pages/patients.py", "Patients", ":material/groups:", (CLINICIAN, ADMIN)),
    ("pages/schedule.py", "Schedule", ":material/event:", (CLINICIAN, ADMIN)),
    ("pages/new_patient.py", "New patient", ":material/person_add:", (CLINICIAN, ADMIN)),
    ("pages/patient_record.py", "Patient record", ":material/folder_shared:", (CLINICIAN, ADMIN)),
    ("pages/log_visit.py", "Log visit", ":material/photo_camera:", (CLINICIAN, ADMIN)),
    ("pages/log_session.py", "Log treatment session", ":material/vaccines:", (CLINICIAN, ADMIN)),
    ("pages/progress.py", "Progress", ":material/show_chart:", (CLINICIAN, ADMIN, PATIENT)),
    ("pages/photos.py", "Photos", ":material/photo_library:", (CLINICIAN, ADMIN, PATIENT)),
    ("pages/lot_lookup.py", "Lot lookup", ":material/search:", (CLINICIAN, ADMIN)),
    ("pages/protocols.py", "Protocols", ":material/tune:", (ADMIN,)),
    ("pages/accounts.py", "Accounts", ":material/key:", (ADMIN,)),
    ("pages/audit_trail.py", "Audit trail", ":material/receipt_long:", (ADMIN,)),
    ("pages/change_password.py", "Change password", ":material/password:", (CLINICIAN, ADMIN, PATIENT)),
)
CONSULT_PAGE = "pages/progress.py"
# After an admin's password reset, the only page until the user has chosen a new password.
PASSWORD_PAGE = "pages/change_password.py"


def roles_for(page_file: str) -> tuple[str, ...]:
    """Roles allowed on a page file (absolute or relative path); none for an unknown file."""
    path = Path(page_file).resolve()
    for file, _title, _icon, roles in PAGES:
        if (ROOT / file).resolve() == path:
            return roles
    return ()


def is_consult_page(page_file: str) -> bool:
    return Path(page_file).resolve() == (ROOT / CONSULT_PAGE).resolve()
