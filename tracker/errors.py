"""Errors a user can cause, typed, each carrying a message a clinician understands."""

from __future__ import annotations


class TrackerError(Exception):
    """Base of every error the pages and the command line show as a message, never as a traceback."""


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
