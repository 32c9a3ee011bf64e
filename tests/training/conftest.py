"""A small folder of random MIDI 'pieces' spread over the three splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musestudio.core.notes import Note, NoteSequence, PedalEvent
from musestudio.io.midi import write_midi
from training.splits import split_of


def random_piece(rng: np.random.Generator, seconds: float = 20.0) -> NoteSequence:
    notes, t = [], 0.0
    while t < seconds:
        pitch = int(rng.integers(48, 84))
        dur = float(rng.choice([0.1, 0.2, 0.4]))
        notes.append(Note(pitch, t, t + dur, int(rng.integers(40, 110))))
        if rng.random() < 0.3:
            notes.append(Note(pitch - 12, t, t + 2 * dur, 60))
        t += float(rng.choice([0.1, 0.2]))
    return NoteSequence(notes=notes, pedals=[PedalEvent(0.0, 127), PedalEvent(seconds / 2, 0)])


@pytest.fixture(scope="session")
def midi_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    counts = {"train": 0, "validation": 0, "test": 0}
    i = 0
    while counts["train"] < 6 or counts["validation"] < 2 or counts["test"] < 2:
        name = f"piece_{i:03d}"
        split = split_of(name)
        i += 1
        if counts[split] >= (6 if split == "train" else 2):
            continue
        counts[split] += 1
        write_midi(random_piece(rng), root / f"{name}.mid")
    return root
