"""Errors a user can cause, typed, each carrying a message a clinician understands."""

from __future__ import annotations


class TrackerError(Exception):
    """Base of every error the pages and the command line show as a message, never as a traceback.

    ``app_message``: when set, what the app shows any user instead of the message, which then goes to the
    server log only (it names settings, servers or buckets that are the administrator's business); the
    command line shows the message itself."""

    app_message: str | None = None


class ValidationError(TrackerError):
    """Input that cannot be accepted as it is; ``problems`` lists every reason when there are several."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


class NotFound(TrackerError):
    """A record that does not exist (or that the acting user may not know exists)."""


class PermissionDenied(TrackerError):
    """The acting user may not do this."""


class ConflictError(TrackerError):
    """Someone else changed the record since it was read; nothing was overwritten."""


class NeedsConfirmation(TrackerError):
    """Values that are possible but unlikely (``tracker.records.plausibility``): nothing was saved; ``warnings``
    says why each one is asked about. Saving again with these warnings acknowledged saves the same values."""

    def __init__(self, warnings: tuple[str, ...]):
        super().__init__("Please check before saving: " + " ".join(warnings))
        self.warnings = warnings


class SameDayVisit(TrackerError):
    """The patient already has a visit on this date; nothing was saved. The photos and values can be added to
    that visit (``visit_id``, dated ``visit_date``, at its ``version``) instead of starting a second visit on the
    same day."""

    def __init__(self, message: str, visit_id: int, visit_date: object, version: int | None = None):
        super().__init__(message)
        self.visit_id = visit_id
        self.version = version
        self.visit_date = visit_date
