"""Pitch, rhythm, duration and velocity statistics of symbolic music.

Every function takes one :class:`NoteSequence` *or* a list of them.  A list is
a corpus: its statistics are pooled (histograms are summed before they are
normalised, durations are concatenated), which is what a "compare against a
reference corpus" metric needs.  Intervals between onsets are only taken
within a piece, never across the junction of two pieces.

The reference paper names these metrics but its formulas are not in the text
we have, so each definition below is ours and is stated in its docstring.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from musestudio.core.notes import NoteSequence

Pieces = NoteSequence | Sequence[NoteSequence]

#: Onsets closer than this to the first onset of a group are one "chord onset":
#: a pianist's chord is spread over a few tens of milliseconds.
ONSET_GROUP_S = 0.03
#: Width of one inter-onset-interval bin for rhythmic entropy (seconds).
IOI_BIN_S = 0.025
#: Intervals at or above this fall into one overflow bin (long rests).
IOI_MAX_S = 2.0
NAN = float("nan")


def as_pieces(pieces: Pieces) -> list[NoteSequence]:
    """One sequence or a corpus, always as a list."""
    if isinstance(pieces, NoteSequence):
        return [pieces]
    return list(pieces)


def note_count(pieces: Pieces) -> int:
    return sum(len(p.notes) for p in as_pieces(pieces))


# --- distributions -----------------------------------------------------------


def entropy_bits(weights: np.ndarray) -> float:
    """Shannon entropy ``-sum p log2 p`` of non-negative weights (normalised here); 0 for none."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    total = w.sum()
    if total <= 0:
        return 0.0
    p = w[w > 0] / total
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def histogram_overlap(p: np.ndarray, q: np.ndarray) -> float:
    """Percentage overlap ``100 * sum_i min(p_i, q_i)`` of two distributions.

    Both are normalised to sum 1 first, so the result is 100 for identical
    shapes and 0 for disjoint supports.  NaN when either one is empty.
    """
    p = np.asarray(p, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    if p.sum() <= 0 or q.sum() <= 0:
        return NAN
    return float(100.0 * np.minimum(p / p.sum(), q / q.sum()).sum())


def pitch_class_histogram(pieces: Pieces) -> np.ndarray:
    """Duration-weighted 12-bin pitch-class histogram, summing to 1 (zeros when empty).

    Duration weighting (seconds as written, pedal not applied) lets a held
    bass note count more than a grace note, as a listener hears it.
    """
    hist = np.zeros(12)
    for seq in as_pieces(pieces):
        if not seq.notes:
            continue
        a = seq.as_arrays()
        hist += np.bincount(a["pitch"] % 12, weights=np.maximum(a["end"] - a["start"], 0.0), minlength=12)
    total = hist.sum()
    return hist / total if total > 0 else hist


def pitch_class_entropy(pieces: Pieces) -> float:
    """Entropy in bits (0..log2 12 = 3.585) of :func:`pitch_class_histogram`; NaN for no notes."""
    hist = pitch_class_histogram(pieces)
    return entropy_bits(hist) if hist.sum() > 0 else NAN


def pitch_class_similarity(pieces: Pieces, reference: Pieces) -> float:
    """``100 * sum_pc min(p(pc), q(pc))`` of the duration-weighted pitch-class histograms (%).

    ``p`` is the histogram of ``pieces`` and ``q`` that of the reference (the
    seed, or a pooled corpus).  100 means the same pitch-class balance.
    """
    return histogram_overlap(pitch_class_histogram(pieces), pitch_class_histogram(reference))


# --- rhythm -------------------------------------------------------------------


def onset_groups(seq: NoteSequence, window: float = ONSET_GROUP_S) -> tuple[np.ndarray, np.ndarray]:
    """Chord onsets: (times, note counts).

    Sorted onsets are grouped greedily: an onset joins the current group when
    it is at most ``window`` seconds after the group's *first* onset.  The
    group's time is that first onset.
    """
    onsets = np.sort(np.array([n.start for n in seq.notes], dtype=np.float64))
    times: list[float] = []
    counts: list[int] = []
    for t in onsets:
        if times and t - times[-1] <= window:
            counts[-1] += 1
        else:
            times.append(float(t))
            counts.append(1)
    return np.array(times), np.array(counts, dtype=np.int64)


def inter_onset_intervals(pieces: Pieces) -> np.ndarray:
    """Seconds between consecutive chord onsets (see :func:`onset_groups`), within each piece."""
    parts = [np.diff(onset_groups(seq)[0]) for seq in as_pieces(pieces)]
    parts = [p for p in parts if p.size]
    return np.concatenate(parts) if parts else np.zeros(0)


def ioi_histogram(pieces: Pieces) -> np.ndarray:
    """Counts of inter-onset intervals per bin.

    Bin ``k`` holds intervals with ``round(ioi / 25 ms) == k`` for
    ``k < 80``; bin 80 holds every interval of 2 s or more.  81 bins.
    """
    n_bins = round(IOI_MAX_S / IOI_BIN_S) + 1
    ioi = inter_onset_intervals(pieces)
    idx = np.minimum(np.round(ioi / IOI_BIN_S).astype(np.int64), n_bins - 1)
    return np.bincount(idx, minlength=n_bins).astype(np.float64)


def rhythmic_entropy(pieces: Pieces) -> float:
    """Shannon entropy in bits of the quantized inter-onset intervals.

    Intervals are measured between chord onsets (onsets within 30 ms are one
    chord), rounded to 25 ms bins, with one overflow bin for 2 s and more
    (:func:`ioi_histogram`).  A metronomic piece scores 0; the most varied
    possible scores log2(81) = 6.34 bits.  NaN with fewer than two chord onsets.
    """
    hist = ioi_histogram(pieces)
    return entropy_bits(hist) if hist.sum() > 0 else NAN


def note_durations(pieces: Pieces) -> np.ndarray:
    """Note lengths in seconds as written (sustain pedal not applied)."""
    parts = [p.as_arrays() for p in as_pieces(pieces) if p.notes]
    if not parts:
        return np.zeros(0)
    return np.concatenate([a["end"] - a["start"] for a in parts])


def avg_note_duration(pieces: Pieces) -> float:
    """Mean note length in seconds (as written, no pedal); NaN for no notes."""
    d = note_durations(pieces)
    return float(d.mean()) if d.size else NAN


def note_duration_variance(pieces: Pieces) -> float:
    """Population variance of note lengths in s² (``mean((d - mean d)²)``); NaN for no notes."""
    d = note_durations(pieces)
    return float(d.var()) if d.size else NAN


def velocities(pieces: Pieces) -> np.ndarray:
    parts = [p.as_arrays()["velocity"].astype(np.float64) for p in as_pieces(pieces) if p.notes]
    return np.concatenate(parts) if parts else np.zeros(0)


def velocity_mean(pieces: Pieces) -> float:
    """Mean MIDI velocity (1..127); NaN for no notes."""
    v = velocities(pieces)
    return float(v.mean()) if v.size else NAN


def velocity_std(pieces: Pieces) -> float:
    """Population standard deviation of MIDI velocity; NaN for no notes."""
    v = velocities(pieces)
    return float(v.std()) if v.size else NAN


# --- standard extras ----------------------------------------------------------


def polyphony(pieces: Pieces) -> float:
    """Time-weighted mean number of sounding notes, over the time when at least one sounds.

    Notes [0, 2] and [1, 3] give (1·1 + 2·1 + 1·1) / 3 = 4/3.
    """
    weighted = 0.0
    covered = 0.0
    for seq in as_pieces(pieces):
        if not seq.notes:
            continue
        a = seq.as_arrays()
        times = np.concatenate([a["start"], a["end"]])
        deltas = np.concatenate([np.ones(len(seq.notes)), -np.ones(len(seq.notes))])
        order = np.lexsort((deltas, times))  # at equal times, ends (-1) before starts
        times, deltas = times[order], deltas[order]
        counts = np.cumsum(deltas)[:-1]
        spans = np.diff(times)
        weighted += float((counts * spans).sum())
        covered += float(spans[counts > 0].sum())
    return weighted / covered if covered > 0 else NAN


def scale_consistency(pieces: Pieces) -> float:
    """Share of notes (%) that fit the best-matching major scale (its relative minor is the same set).

    Computed per piece (each piece may be in its own key) and pooled by note
    count: ``100 * sum_pieces max_key inscale(piece, key) / sum_pieces notes``.
    """
    major = np.zeros(12, dtype=bool)
    major[[0, 2, 4, 5, 7, 9, 11]] = True
    fit = 0
    total = 0
    for seq in as_pieces(pieces):
        if not seq.notes:
            continue
        counts = np.bincount(seq.as_arrays()["pitch"] % 12, minlength=12)
        fit += max(int(counts[np.roll(major, tonic)].sum()) for tonic in range(12))
        total += len(seq.notes)
    return 100.0 * fit / total if total else NAN


def note_density(pieces: Pieces) -> float:
    """Notes per second of music (first onset to last note end, summed over pieces)."""
    span = 0.0
    count = 0
    for seq in as_pieces(pieces):
        if seq.notes:
            span += max(n.end for n in seq.notes) - seq.start_time
            count += len(seq.notes)
    return count / span if span > 0 else NAN


def pitch_range(pieces: Pieces) -> float:
    """Highest minus lowest MIDI pitch, averaged over the pieces that have notes (semitones)."""
    ranges = [max(n.pitch for n in s.notes) - min(n.pitch for n in s.notes) for s in as_pieces(pieces) if s.notes]
    return float(np.mean(ranges)) if ranges else NAN
