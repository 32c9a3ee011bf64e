"""Chords per beat, chord-transition matrices, harmonic consistency.

Definitions (ours; the paper names the metric but does not give a formula):

* **Chord of a beat.**  For each beat ``[b_k, b_k+1)`` the chroma vector is
  the time each pitch class sounds inside the beat (note overlap in seconds,
  as written).  It is matched against binary templates of nine chord
  qualities on all twelve roots by cosine similarity; the best template wins
  (ties go to the simpler quality, then the lower root).  A beat where nothing
  sounds has no chord.
* **Transition.**  Consecutive chords (silent beats skipped) that differ in
  root or quality.  A transition is stored key-independently as
  ``(quality_from, root interval mod 12, quality_to)``, so that pieces in
  different keys pool into one corpus matrix: 9 x 12 x 9 = 972 classes.
  Repeated chords are not transitions: otherwise slow harmonic rhythm would
  dominate every matrix.
* **Harmonic consistency (%)** = ``100 * sum_c min(P(c), Q(c))``: the overlap
  of the normalised transition matrices of the music (``P``) and of the
  reference (``Q``).
* **Chord transition accuracy (%)** = share of the music's transitions whose
  class occurs at least once in the reference.
"""

from __future__ import annotations

import itertools

import numpy as np

from musestudio.core.notes import NoteSequence
from musestudio.metrics.symbolic import NAN, Pieces, histogram_overlap
from musestudio.metrics.tempo import beats_per_piece

#: Chord qualities as pitch-class offsets from the root, simplest first.
CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "hdim7": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
}
QUALITY_NAMES = tuple(CHORD_QUALITIES)
N_QUALITIES = len(QUALITY_NAMES)
N_TRANSITIONS = N_QUALITIES * 12 * N_QUALITIES

Chord = tuple[int, str]  # (root pitch class, quality)


def _templates() -> tuple[np.ndarray, list[Chord]]:
    rows, labels = [], []
    for quality, offsets in CHORD_QUALITIES.items():
        for root in range(12):
            t = np.zeros(12)
            t[[(root + o) % 12 for o in offsets]] = 1.0
            rows.append(t / np.linalg.norm(t))
            labels.append((root, quality))
    return np.array(rows), labels


_TEMPLATES, _LABELS = _templates()


def match_chord(chroma: np.ndarray) -> Chord | None:
    """Best chord template for a 12-bin chroma vector by cosine similarity; None when silent."""
    c = np.asarray(chroma, dtype=np.float64)
    norm = np.linalg.norm(c)
    if norm <= 1e-9:
        return None
    scores = _TEMPLATES @ (c / norm)
    return _LABELS[int(np.argmax(scores >= scores.max() - 1e-9))]  # first of the best


def beat_chroma(seq: NoteSequence, beats: np.ndarray) -> np.ndarray:
    """(beats - 1, 12): seconds each pitch class sounds inside each beat interval."""
    b = np.asarray(beats, dtype=np.float64)
    out = np.zeros((max(b.size - 1, 0), 12))
    if b.size < 2:
        return out
    for n in seq.notes:
        first = max(int(np.searchsorted(b, n.start, side="right")) - 1, 0)
        last = min(int(np.searchsorted(b, n.end, side="left")), b.size - 1)
        for k in range(first, last):
            overlap = min(n.end, b[k + 1]) - max(n.start, b[k])
            if overlap > 0:
                out[k, n.pitch % 12] += overlap
    return out


def chord_sequence(seq: NoteSequence, beats: object = None) -> list[Chord | None]:
    """One chord (or None) per beat of the piece."""
    ((_, b),) = beats_per_piece(seq, beats)
    return [match_chord(row) for row in beat_chroma(seq, b)]


def transition_index(a: Chord, b: Chord) -> int:
    """Flat index of the key-independent class ``(quality_a, (root_b - root_a) % 12, quality_b)``."""
    qa, qb = QUALITY_NAMES.index(a[1]), QUALITY_NAMES.index(b[1])
    return (qa * 12 + (b[0] - a[0]) % 12) * N_QUALITIES + qb


def transition_counts(pieces: Pieces, beats: object = None) -> np.ndarray:
    """Counts of chord transitions per class (flat, length 972), pooled over pieces."""
    counts = np.zeros(N_TRANSITIONS)
    for seq, b in beats_per_piece(pieces, beats):
        chords = [c for c in (match_chord(row) for row in beat_chroma(seq, b)) if c is not None]
        for a, c in itertools.pairwise(chords):
            if a != c:
                counts[transition_index(a, c)] += 1
    return counts


def chord_transition_matrix(pieces: Pieces, beats: object = None) -> np.ndarray:
    """Normalised transition distribution, shaped (quality_from, interval, quality_to) = (9, 12, 9)."""
    counts = transition_counts(pieces, beats)
    total = counts.sum()
    return (counts / total if total > 0 else counts).reshape(N_QUALITIES, 12, N_QUALITIES)


def harmonic_consistency(
    pieces: Pieces, reference: Pieces, beats: object = None, reference_beats: object = None
) -> float:
    """Overlap (%) of the chord-transition distributions of the music and the reference.

    NaN when either has no chord change.
    """
    return histogram_overlap(transition_counts(pieces, beats), transition_counts(reference, reference_beats))


def chord_transition_accuracy(
    pieces: Pieces, reference: Pieces, beats: object = None, reference_beats: object = None
) -> float:
    """Share (%) of the music's chord transitions whose class also occurs in the reference.

    NaN when the music or the reference has no chord change.
    """
    return transition_accuracy(transition_counts(pieces, beats), transition_counts(reference, reference_beats))


def transition_accuracy(counts: np.ndarray, reference_counts: np.ndarray) -> float:
    """``100 * sum(counts where the reference count > 0) / sum(counts)``; NaN when either is empty."""
    if counts.sum() <= 0 or reference_counts.sum() <= 0:
        return NAN
    return float(100.0 * counts[reference_counts > 0].sum() / counts.sum())


def chord_names(chords: list[Chord | None]) -> list[str]:
    """Readable labels such as 'C maj', 'F# min7', '-' for silence."""
    from musestudio.core.keys import PITCH_CLASS_NAMES

    return ["-" if c is None else f"{PITCH_CLASS_NAMES[c[0]]} {c[1]}" for c in chords]


__all__ = [
    "CHORD_QUALITIES",
    "beat_chroma",
    "chord_names",
    "chord_sequence",
    "chord_transition_accuracy",
    "chord_transition_matrix",
    "harmonic_consistency",
    "match_chord",
    "transition_counts",
]
