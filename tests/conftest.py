"""Shared fixtures.  Tests never need ../shared: those that read it are marked
``shared_data`` and skipped when it is absent (as on a fresh clone)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MUSESTUDIO_SHARED", REPO.parent / "shared"))
ASAP = SHARED / "data" / "asap"
DEMO_MIDI = REPO / "resources" / "demo" / "maple_leaf_rag.mid"
DEMO_XML = REPO / "resources" / "demo" / "maple_leaf_rag.musicxml"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if (ASAP / "metadata.csv").is_file():
        return
    skip = pytest.mark.skip(reason="../shared/data/asap is not available")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def demo_midi() -> Path:
    return DEMO_MIDI


@pytest.fixture(scope="session")
def demo_musicxml() -> Path:
    return DEMO_XML


@pytest.fixture(scope="session")
def asap_dir() -> Path:
    return ASAP
