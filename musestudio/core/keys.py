"""Keys and scales: parsing names like "D minor", estimating the key of notes.

Key estimation is Krumhansl-Schmuckler: correlate the duration-weighted
pitch-class histogram with the Krumhansl-Kessler probe-tone profiles rotated
to each of the 24 keys.  It is a dozen lines, so it is written here rather
than pulling music21's analysis (slow to import) into the core.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from musestudio.core.errors import MusestudioError
from musestudio.core.notes import Note

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_NAME_TO_PC = {
    "C": 0, "B#": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "E#": 5, "F": 5,
    "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11, "CB": 11,
}  # fmt: skip

SCALE_STEPS = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),  # natural minor
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
    "chromatic": tuple(range(12)),
}

# Krumhansl & Kessler (1982) probe-tone ratings.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True, slots=True)
class Key:
    tonic: int  # pitch class 0..11
    mode: str = "major"

    @property
    def name(self) -> str:
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.mode}"

    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.tonic + s) % 12 for s in SCALE_STEPS[self.mode])

    def allowed_pitches(self, low: int = 0, high: int = 127) -> list[int]:
        pcs = self.pitch_classes()
        return [p for p in range(low, high + 1) if p % 12 in pcs]

    def __str__(self) -> str:
        return self.name


def parse_key(text: str) -> Key:
    """'D minor', 'Bb major', 'f# dorian', 'C' (major) -> Key."""
    m = re.fullmatch(r"\s*([A-Ga-g])\s*([#b♯♭]?)\s*(.*?)\s*", text or "")
    if not m:
        raise MusestudioError(f"cannot read key '{text}' (try e.g. 'D minor' or 'Bb major')")
    letter, accidental, mode = m.groups()
    name = letter.upper() + {"♯": "#", "♭": "B", "b": "B", "#": "#"}.get(accidental, "")
    mode = (mode or "major").lower().replace("maj", "major").replace("min", "minor")
    mode = {"majoror": "major", "minoror": "minor", "m": "minor"}.get(mode, mode)
    if mode not in SCALE_STEPS:
        raise MusestudioError(f"unknown scale '{mode}' (choose from {', '.join(SCALE_STEPS)})")
    return Key(_NAME_TO_PC[name], mode)


def pitch_class_histogram(notes: Iterable[Note], *, weight: str = "duration") -> np.ndarray:
    """12-bin histogram, normalised to sum 1 (all zeros for no notes)."""
    hist = np.zeros(12)
    for n in notes:
        hist[n.pitch % 12] += max(n.end - n.start, 0.0) if weight == "duration" else 1.0
    total = hist.sum()
    return hist / total if total > 0 else hist


def estimate_key(notes: Iterable[Note]) -> Key | None:
    """Most likely major/minor key, or None when there are no notes."""
    hist = pitch_class_histogram(notes)
    if hist.sum() == 0:
        return None
    best, best_r = None, -np.inf
    for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
            if r > best_r:
                best, best_r = Key(tonic, mode), r
    return best
