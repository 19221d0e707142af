"""Who is acting, and what they may touch. Every service calls these before it reads or writes.

Pages decide what to show; these checks decide what happens, so a page bug cannot leak a record.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.errors import PermissionDenied

ADMIN, CLINICIAN, PATIENT = "admin", "clinician", "patient"
ROLES = (ADMIN, CLINICIAN, PATIENT)
STAFF = (ADMIN, CLINICIAN)


@dataclass(frozen=True)
class Actor:
    """The signed-in user as services see it; plain data, safe to keep in a UI session."""

    username: str
    role: str
    patient_id: int | None = None
    address: str | None = None
    user_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def command_line_actor(command: str) -> Actor:
    """Scripts run by whoever can reach the server's shell: they act with admin rights."""
    return Actor(username=f"cli:{command}", role=ADMIN)


def require_role(actor: Actor | None, *roles: str) -> Actor:
    if actor is None or not isinstance(actor, Actor) or actor.role not in ROLES:
        raise PermissionDenied("Please sign in first.")
    if actor.role not in roles:
        raise PermissionDenied("Your account may not do this.")
    return actor


def require_patient_access(actor: Actor | None, patient_id: int) -> Actor:
    """Staff reach every patient; a patient account reaches only its own record."""
    actor = require_role(actor, *ROLES)
    if actor.role == PATIENT and actor.patient_id != patient_id:
        # Same words whether the record exists or not: a refusal must not confirm an MRN.
        raise PermissionDenied("This record is not available to your account.")
    return actor
