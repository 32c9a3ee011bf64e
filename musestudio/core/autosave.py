"""Crash recovery: a periodic snapshot of the open project, outside the user's files.

Each running instance (each main window) owns a :class:`RecoverySession`: its
own snapshot file plus a lock file it holds while alive.  The GUI writes the
snapshot shortly after edits (off the UI thread), clears it when the user saves
or closes cleanly, and at start-up asks :meth:`RecoverySession.orphans` whether
an instance died with unsaved work; snapshots of instances still running are
never offered, overwritten or deleted.  The snapshot never replaces the user's own ``.msproj``: it lives
in the per-user state folder (platformdirs), or in ``$MUSESTUDIO_STATE_DIR``
(used by the tests), and it is written atomically so that a crash *during*
autosave still leaves the previous snapshot readable.

Qt-free on purpose: the timer lives in the GUI, the file logic lives here and
is tested without a display.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from musestudio.core.errors import InputFileError

STATE_DIR_ENV = "MUSESTUDIO_STATE_DIR"
RECOVERY_SUFFIX = ".msproj"
LOCK_SUFFIX = ".lock"
RECOVERY_KIND = "musestudio-recovery"
RECOVERY_VERSION = 1
MAX_RECOVERY_BYTES = 512 * 1024 * 1024  # a snapshot larger than this is not ours
STALE_TEMP_SECONDS = 3600.0  # a half-written snapshot this old belongs to an instance that died


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


class _Lock:
    """An exclusive lock on a file, held for as long as this process keeps it open.

    The operating system drops it when the process dies (kill -9 included),
    which is exactly the "is that instance still running?" question; a PID
    check could not answer it safely (PIDs are reused, and on Windows
    ``os.kill(pid, 0)`` would end the process).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing drops the lock on every platform
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _owner(path: Path) -> str:
    """The session id a snapshot or lock file belongs to (the name up to the first dot)."""
    return path.name.split(".", 1)[0]


def _session_alive(folder: Path, owner: str) -> bool:
    lock_path = folder / f"{owner}{LOCK_SUFFIX}"
    if not lock_path.exists():
        return False
    probe = _Lock(lock_path)
    if probe.acquire():  # nobody holds it: that instance is gone
        probe.release()
        return False
    return True


class RecoverySession:
    """The crash snapshot of ONE running instance (one main window).

    Each session writes only its own file, ``<id>.msproj``, and holds
    ``<id>.lock`` while it lives, so two instances never overwrite or delete
    each other's snapshots.  Snapshots whose lock is free were left by an
    instance that died: :meth:`orphans` lists them, :meth:`claim` takes one
    over (an atomic rename, so two new instances cannot both restore it).
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or state_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.id = f"s{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock = _Lock(self.folder / f"{self.id}{LOCK_SUFFIX}")
        if not self._lock.acquire():  # pragma: no cover - a fresh random name is never locked
            raise OSError(f"cannot lock {self._lock.path}")
        self._claims = itertools.count(1)

    @property
    def path(self) -> Path:
        return self.folder / f"{self.id}{RECOVERY_SUFFIX}"

    def write(self, project: Any) -> Path:
        """Snapshot ``project`` (a Project or its ``to_dict()``) atomically; returns the path."""
        return _write_envelope(self.path, project)

    def clear(self) -> None:
        """Forget this session's snapshot (after a clean save or close)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def close(self) -> None:
        """A clean exit: the snapshot and the lock go."""
        self.clear()
        self._lock.release()
        with contextlib.suppress(FileNotFoundError):
            self._lock.path.unlink()

    def abandon(self) -> None:
        """Let go of the lock but keep the snapshot: what a crash does (tests use it)."""
        self._lock.release()

    def orphans(self) -> list[Path]:
        """Readable snapshots of instances that are no longer running, newest first."""
        found: list[tuple[float, Path]] = []
        for path in self.folder.glob(f"*{RECOVERY_SUFFIX}"):
            if path.name.startswith("."):  # a temporary file of an atomic write
                with contextlib.suppress(OSError):
                    if time.time() - path.stat().st_mtime > STALE_TEMP_SECONDS:  # its writer died long ago
                        path.unlink()
                continue
            owner = _owner(path)
            if owner == self.id or _session_alive(self.folder, owner):
                continue
            try:
                data = _read_envelope(path)
            except InputFileError:
                continue
            found.append((float(data.get("saved_at") or 0.0), path))
        self._forget_dead_locks({_owner(p) for _t, p in found})
        return [p for _t, p in sorted(found, key=lambda x: -x[0])]

    def _forget_dead_locks(self, keep: set[str]) -> None:
        """Lock files of instances that died with nothing to recover (killed with no unsaved work)."""
        for lock in self.folder.glob(f"*{LOCK_SUFFIX}"):
            owner = _owner(lock)
            if owner == self.id or owner in keep or _session_alive(self.folder, owner):
                continue
            if not any(f.name.endswith(RECOVERY_SUFFIX) for f in self.folder.glob(f"{owner}.*")):
                with contextlib.suppress(OSError):
                    lock.unlink()

    def claim(self, path: Path) -> Path | None:
        """Take over an orphan snapshot (None if another instance took it first)."""
        target = self.folder / f"{self.id}.claimed-{next(self._claims)}{RECOVERY_SUFFIX}"
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None
        return target

    def discard(self, path: Path) -> None:
        """Delete a snapshot this session claimed (or an orphan); never a live instance's file."""
        owner = _owner(path)
        if owner != self.id and _session_alive(self.folder, owner):
            raise PermissionError(f"{path.name} belongs to a running instance")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        if owner != self.id:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f"{owner}{LOCK_SUFFIX}").unlink()


_DEFAULT: RecoverySession | None = None


def default_session() -> RecoverySession:
    """This process's session for the module-level helpers (the CLI and simple callers)."""
    global _DEFAULT  # noqa: PLW0603 - one session per process, created on first use
    folder = state_dir()
    if _DEFAULT is None or _DEFAULT.folder != folder:
        _DEFAULT = RecoverySession(folder)
    return _DEFAULT


def recovery_path() -> Path:
    return default_session().path


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


_CHUNK = 2048  # list items per json.dumps call


def _encode(obj: Any) -> str:
    """JSON text of ``obj``, made of many small ``json.dumps`` calls.

    One ``json.dumps`` of a 100k-note project is a single C call that holds
    the GIL for tens of milliseconds, freezing the UI thread even though the
    autosave runs in a worker; between small calls the interpreter can switch
    threads (every ``sys.getswitchinterval()``), so the UI stays responsive.
    """
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple) and len(obj) > _CHUNK:
        parts = (json.dumps(list(obj[i : i + _CHUNK]), allow_nan=False)[1:-1] for i in range(0, len(obj), _CHUNK))
        return "[" + ",".join(parts) + "]"
    if isinstance(obj, list | tuple) and any(isinstance(x, dict | list | tuple) for x in obj):
        return "[" + ",".join(_encode(x) for x in obj) + "]"
    return json.dumps(obj, allow_nan=False)


def _write_envelope(path: Path, project: Any) -> Path:
    from musestudio.core.atomic import write_bytes_atomic

    data = project if isinstance(project, dict) else _project_to_dict(project)
    source = data.get("source_path") if isinstance(project, dict) else getattr(project, "path", None)
    envelope = {
        "kind": RECOVERY_KIND,
        "version": RECOVERY_VERSION,
        "saved_at": time.time(),
        "pid": os.getpid(),
        "source_path": str(source) if source else None,
        "project": data,
    }
    write_bytes_atomic(path, _encode(envelope).encode("utf-8"))
    return path


def write_recovery(project: Any) -> Path:
    """Snapshot ``project`` atomically into this process's own file; returns the snapshot's path."""
    return default_session().write(project)


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
    """The newest snapshot left by an instance that is no longer running, if a usable one exists."""
    found = default_session().orphans()
    return found[0] if found else None


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
    """Forget this process's snapshot (after a clean save or close)."""
    default_session().clear()
