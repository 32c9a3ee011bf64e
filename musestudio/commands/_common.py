"""Small helpers shared by the CLI commands."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from musestudio.core.errors import OutputFileError


def check_output(path: str | Path, force: bool) -> Path:
    """Refuse to overwrite silently; make sure the folder exists."""
    out = Path(path)
    if out.exists() and not force:
        raise OutputFileError(f"{out}: already exists (use --force to overwrite)")
    if not out.parent.exists():
        raise OutputFileError(f"{out}: folder {out.parent} does not exist")
    return out


def add_force(parser: Any) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing output files")


def progress_printer(label: str, *, enabled: bool | None = None) -> Callable[[Any], None]:
    """A text progress bar on stderr (only when stderr is a terminal, unless enabled=True)."""
    show = sys.stderr.isatty() if enabled is None else enabled
    state = {"last": 0.0}

    def report(p: Any) -> None:
        if not show:
            return
        now = time.monotonic()
        frac = p.fraction
        if now - state["last"] < 0.1 and frac < 1.0:
            return
        state["last"] = now
        width = 30
        filled = int(round(frac * width))
        msg = f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {frac * 100:5.1f}% {p.message}"
        sys.stderr.write(msg[:120].ljust(80))
        if frac >= 1.0:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report
