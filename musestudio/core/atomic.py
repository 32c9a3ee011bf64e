"""Atomic file writes: a crash or error halfway never leaves a broken file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from musestudio.core.errors import OutputFileError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    On any exception the temporary file is removed and the old file, if any,
    is left exactly as it was.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputFileError(f"{target}: already exists (use --force to overwrite)")
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise OutputFileError(f"{target}: folder {directory} does not exist")
    # The temporary name must stay under the 255-byte name limit even when the
    # target's own name is close to it, so only a short stem is kept.
    stem = os.fsencode(target.stem)[:40].decode(errors="ignore") or "out"
    suffix = os.fsencode(target.suffix)[:20].decode(errors="ignore")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part" + suffix, dir=directory)
    except OSError as exc:
        raise OutputFileError(f"{target}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise OutputFileError(f"{target}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = True) -> None:
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
