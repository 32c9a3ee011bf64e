"""Tiny listening tests built from synthetic MIDI seeds (fast: sub-second clips)."""

from __future__ import annotations

from pathlib import Path

import pytest

from musestudio.core.notes import Note, NoteSequence
from musestudio.io.midi import write_midi
from musestudio.listening.build import BuildSettings, build_test, seed_sources

TINY = BuildSettings(title="Tiny test", seed_seconds=0.6, seconds=0.9, sample_rate=16000, random_seed=3)


def make_seeds(folder: Path, n: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(n):
        notes = [Note(55 + (i * (k + 2)) % 14, i * 0.1, i * 0.1 + 0.18, 60 + (i * 7) % 40) for i in range(40)]
        path = folder / f"seed{k}.mid"
        write_midi(NoteSequence(notes=notes), path)
        files.append(path)
    return files


def build_tiny(folder: Path, seeds: list[Path], models=("markov", "lstm"), **changes) -> Path:
    settings = BuildSettings(**{**TINY.__dict__, **changes})
    build_test(folder, seed_sources(seeds, list(models)), settings)
    return folder


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
