"""Errors meant for the user: their ``str`` is a complete one-line explanation.

The CLI prints them without a traceback and the GUI shows them in a dialog.
Anything that is *not* a :class:`MusestudioError` is a bug.
"""

from __future__ import annotations


class MusestudioError(Exception):
    """An error whose message can be shown to a user as it is."""


class InputFileError(MusestudioError):
    """A file could not be read: missing, wrong type, or corrupt."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class OutputFileError(MusestudioError):
    """A result could not be written."""


class ModelError(MusestudioError):
    """A checkpoint is missing, invalid or does not match its manifest."""


class Cancelled(MusestudioError):
    """Long work was stopped by the user."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)
