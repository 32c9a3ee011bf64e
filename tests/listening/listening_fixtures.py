"""Helpers for the listening tests: tiny synthetic seeds and sub-second clips (fast to build)."""

from __future__ import annotations

from pathlib import Path

from musestudio.core.notes import Note, NoteSequence
from musestudio.io.midi import write_midi
from musestudio.listening.build import BuildSettings, Source, build_test, seed_sources

TINY = BuildSettings(title="Tiny test", seed_seconds=0.6, seconds=0.9, sample_rate=16000, random_seed=3)


def make_seeds(folder: Path, n: int = 9) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(n):
        notes = [Note(55 + (i * (k + 2)) % 14, i * 0.1, i * 0.1 + 0.18, 60 + (i * 7) % 40) for i in range(40)]
        path = folder / f"seed{k}.mid"
        write_midi(NoteSequence(notes=notes), path)
        files.append(path)
    return files


CATEGORIES = ("human", "lstm", "gan")


def build_tiny(folder: Path, seeds: list[Path], **changes) -> Path:
    """A test whose categories are named like models but whose clips are plain MIDI files.

    No model runs here, so these tests do not depend on the generation code;
    test_listening_build.py builds real seed continuations.
    """
    settings = BuildSettings(**{**TINY.__dict__, **changes})
    per = len(seeds) // len(CATEGORIES)
    sources = [Source(cat, "file", f) for i, cat in enumerate(CATEGORIES) for f in seeds[i * per : (i + 1) * per]]
    build_test(folder, sources, settings)
    return folder


def build_with_models(folder: Path, seeds: list[Path], models=("markov", "lstm"), **changes) -> Path:
    settings = BuildSettings(**{**TINY.__dict__, **changes})
    build_test(folder, seed_sources(seeds, list(models)), settings)
    return folder
