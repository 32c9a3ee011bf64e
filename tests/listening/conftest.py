"""Fixtures: a tiny listening test built once per session (copied per test before writing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.listening.listening_fixtures import build_tiny, make_seeds


@pytest.fixture(scope="session")
def tiny_seeds(tmp_path_factory) -> list[Path]:
    return make_seeds(tmp_path_factory.mktemp("seeds"))


@pytest.fixture(scope="session")
def built_test(tmp_path_factory, tiny_seeds) -> Path:
    """A read-only built test (copy it before writing results)."""
    return build_tiny(tmp_path_factory.mktemp("built") / "test", tiny_seeds)


@pytest.fixture
def test_dir(tmp_path, built_test) -> Path:
    import shutil

    dest = tmp_path / "test"
    shutil.copytree(built_test, dest)
    return dest
