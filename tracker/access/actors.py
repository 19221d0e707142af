"""Who is acting, and what they may touch. Every service calls these before it reads or writes.

Pages decide what to show; these checks decide what happens, so a page bug cannot leak a record.
"""

from __future__ import annotations

import getpass
import os
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

    @property
    def audit_name(self) -> str:
        """Who the audit trail names for this actor's entries."""
        return self.username


@dataclass(frozen=True)
class CommandLineActor(Actor):
    """A command run in the server's shell: rows it writes carry ``cli:<command>`` (``created_by``); its
    audit entries also name the operating-system user who ran it, ``cli:user (root)``."""

    os_user: str = ""

    @property
    def audit_name(self) -> str:
        return f"{self.username} ({self.os_user or 'unknown OS user'})"[:80]


def os_user() -> str:
    """The operating-system user running this process: the account of its real user id (environment
    variables such as USER can be set to anything), then ``getpass.getuser()``, then the bare uid; a name
    with unprintable characters is shown with escapes. Never raises."""
    name = ""
    try:
        import pwd

        name = pwd.getpwuid(os.getuid()).pw_name
    except Exception:  # no pwd module (Windows) or a uid without a passwd entry (containers)
        try:
            name = getpass.getuser()
        except Exception:
            name = f"uid {os.getuid()}" if hasattr(os, "getuid") else ""
    name = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)[:40]
    return name or "unknown OS user"


def command_line_actor(command: str) -> Actor:
    """Scripts run by whoever can reach the server's shell: they act with admin rights, and the audit trail
    names the OS user who ran them."""
    return CommandLineActor(username=f"cli:{command}", role=ADMIN, os_user=os_user())


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
