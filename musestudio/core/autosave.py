"""Crash recovery: a periodic snapshot of the open project, outside the user's files.

The GUI calls :func:`write_recovery` on a timer (and after edits), deletes the
snapshot with :func:`clear_recovery` when the user saves or closes cleanly,
and at start-up asks :func:`find_recovery` whether the last session died with
unsaved work.  The snapshot never replaces the user's own ``.msproj``: it lives
in the per-user state folder (platformdirs), or in ``$MUSESTUDIO_STATE_DIR``
(used by the tests), and it is written atomically so that a crash *during*
autosave still leaves the previous snapshot readable.

Qt-free on purpose: the timer lives in the GUI, the file logic lives here and
is tested without a display.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from musestudio.core.errors import InputFileError

STATE_DIR_ENV = "MUSESTUDIO_STATE_DIR"
RECOVERY_FILE = "recovery.msproj"
RECOVERY_KIND = "musestudio-recovery"
RECOVERY_VERSION = 1
MAX_RECOVERY_BYTES = 512 * 1024 * 1024  # a snapshot larger than this is not ours


def state_dir() -> Path:
    """Per-user folder for app state that is not a document (created on demand)."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        folder = Path(override)
    else:
        from platformdirs import user_state_dir

        folder = Path(user_state_dir("musestudio", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def recovery_path() -> Path:
    return state_dir() / RECOVERY_FILE


def _project_to_dict(project: Any) -> dict[str, Any]:
    # Duck-typed so that the autosave does not depend on how the Project class
    # is built beyond a dict round trip.
    for name in ("to_dict", "as_dict", "to_json_dict"):
        method = getattr(project, name, None)
        if callable(method):
            data = method()
            if not isinstance(data, dict):
                raise TypeError(f"{type(project).__name__}.{name}() must return a dict")
            return data
    raise TypeError(f"{type(project).__name__} cannot be serialized (no to_dict())")


def _project_from_dict(data: dict[str, Any], base: Path | None) -> Any:
    from musestudio.core.project import Project

    for name in ("from_dict", "from_json_dict"):
        factory = getattr(Project, name, None)
        if callable(factory):
            try:
                # Relative paths inside the snapshot (the audio file) are relative to the original project.
                return factory(data, base=base)
            except TypeError:
                return factory(data)
    raise TypeError("Project cannot be rebuilt from a dict (no Project.from_dict())")


def write_recovery(project: Any) -> Path:
    """Snapshot ``project`` atomically; returns the snapshot's path."""
    from musestudio.io.atomic import write_bytes_atomic

    source = getattr(project, "path", None)
    envelope = {
        "kind": RECOVERY_KIND,
        "version": RECOVERY_VERSION,
        "saved_at": time.time(),
        "pid": os.getpid(),
        "source_path": str(source) if source else None,
        "project": _project_to_dict(project),
    }
    path = recovery_path()
    write_bytes_atomic(path, json.dumps(envelope).encode("utf-8"))
    return path


def _read_envelope(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(path, f"cannot read recovery file ({exc.strerror or exc})") from None
    if size > MAX_RECOVERY_BYTES:
        raise InputFileError(path, "recovery file is implausibly large")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, OSError, RecursionError):
        raise InputFileError(path, "recovery file is damaged (not valid JSON)") from None
    if not isinstance(data, dict) or data.get("kind") != RECOVERY_KIND or not isinstance(data.get("project"), dict):
        raise InputFileError(path, "not a musestudio recovery file")
    if data.get("version") != RECOVERY_VERSION:
        raise InputFileError(path, f"recovery file version {data.get('version')!r} is not supported")
    return data


def find_recovery() -> Path | None:
    """The snapshot left by a session that did not close cleanly, if a usable one exists."""
    path = recovery_path()
    if not path.is_file():
        return None
    try:
        _read_envelope(path)
    except InputFileError:
        return None
    return path


def recovery_details(path: str | os.PathLike[str]) -> dict[str, Any]:
    """When the snapshot was taken and which file it belonged to (for the GUI's question)."""
    data = _read_envelope(Path(path))
    return {"saved_at": data.get("saved_at"), "source_path": data.get("source_path")}


def load_recovery(path: str | os.PathLike[str]) -> Any:
    """Rebuild the Project stored in a snapshot (raises InputFileError if it is damaged)."""
    path = Path(path)
    data = _read_envelope(path)
    source = data.get("source_path")
    base = Path(source).parent if source else None
    try:
        project = _project_from_dict(data["project"], base)
    except InputFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, RecursionError) as exc:
        raise InputFileError(path, f"recovery file cannot be restored ({str(exc)[:120]})") from None
    # Saving the restored project goes back to the file it came from, and it still has unsaved edits.
    if hasattr(project, "path"):
        project.path = Path(source) if source else None
    if hasattr(project, "modified"):
        project.modified = True
    return project


def clear_recovery() -> None:
    """Forget the snapshot (after a clean save or close)."""
    with contextlib.suppress(FileNotFoundError):
        recovery_path().unlink()
