"""Checks every reader makes before opening a file."""

from __future__ import annotations

from pathlib import Path

from musestudio.core.errors import InputFileError


def check_readable(path: Path) -> None:
    """One-line errors for the usual reasons a file cannot be opened."""
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a folder, not a file")
    if path.stat().st_size == 0:
        raise InputFileError(path, "file is empty (0 bytes)")
