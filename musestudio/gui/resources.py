"""Find files under ``resources/`` in a source checkout and in a frozen bundle alike."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def resource_path(*parts: str) -> Path | None:
    """The first existing ``resources/<parts>``: beside the package, then inside a PyInstaller bundle."""
    roots = [REPO_ROOT]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        roots.insert(0, Path(bundle))
    for root in roots:
        candidate = root.joinpath("resources", *parts)
        if candidate.exists():
            return candidate
    return None
