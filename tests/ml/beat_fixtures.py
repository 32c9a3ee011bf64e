"""Two tiny plain performances written here, with their true beats: the shipped beat tracker's floor
(tests/ml/test_beats.py) and, swept over tempo, a benchmark section (tests/benchmarks/bench_beats.py --sections plain)."""

from __future__ import annotations

import numpy as np

from musestudio.core.notes import Note, NoteSequence


def waltz(bpm=97.0, bars=40, seed=0):
    """A steady synthetic 3/4 performance: bass on 1, chords on 2 and 3, a melody, 8 ms jitter."""
    rng = np.random.default_rng(seed)
    ioi = 60.0 / bpm
    notes, beats = [], []
    t0 = 0.4
    for bar in range(bars):
        root = [48, 53, 55, 48][bar % 4]
        for k in range(3):
            t = t0 + (3 * bar + k) * ioi
            beats.append(t)
            j = float(rng.normal(0, 0.008))
            if k == 0:
                notes.append(Note(root - 12, t + j, t + ioi * 2.8, 82))
            else:
                for p in (root + 4, root + 7):
                    notes.append(Note(p, t + j, t + j + ioi * 0.6, 55))
            notes.append(Note(72 + [0, 2, 4, 5, 7, 4][(3 * bar + k) % 6], t + j, t + j + ioi * 0.9, 68))
    return NoteSequence(notes), np.array(beats), np.array(beats[::3])


def march(bpm=112.0, bars=32, seed=1):
    """A 4/4 performance with a rubato swell (+-8 %), eighth-note accompaniment and an accented bass on 1 and 3."""
    rng = np.random.default_rng(seed)
    notes, beats = [], []
    t = 0.6
    for b in range(bars * 4):
        ioi = 60.0 / bpm * (1.0 + 0.08 * np.sin(2 * np.pi * b / 32))
        beats.append(t)
        pos = b % 4
        j = float(rng.normal(0, 0.01))
        if pos in (0, 2):
            notes.append(Note(43 if pos == 0 else 50, t + j, t + ioi * 1.8, 90 if pos == 0 else 70))
        for h in (0.0, 0.5):
            notes.append(Note(60 + (b % 2) * 4, t + h * ioi + j, t + (h + 0.45) * ioi, 50))
        if pos != 3:
            notes.append(Note(76 - (b % 5), t + j, t + ioi * 0.9, 75))
        t += ioi
    return NoteSequence(notes), np.array(beats), np.array(beats[::4])
