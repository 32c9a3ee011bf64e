"""Beats, tempo stability, rubato, empty beats and groove.

All of these need beat times.  They come, in order of preference, from

1. beat times passed in (an ASAP ``*_annotations.txt`` file, or a score grid);
2. the file's own tempo map, when the notes sit on its sixteenth grid (a
   score MIDI or a quantized generation): beats are then exact;
3. the learned beat tracker (:func:`musestudio.ml.beats.analyze`), beat
   F-measure about 0.9 on held-out ASAP performances where the onset
   follower below scores about 0.45 (``tests/benchmarks/bench_beats.py``);
4. where the tracker cannot run (fewer than four notes, no checkpoint), the
   onset follower :func:`track_beats`, which starts from the autocorrelation
   beat estimate :func:`musestudio.core.timing.estimate_beat_seconds`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from musestudio.core.notes import NoteSequence
from musestudio.metrics.symbolic import NAN, Pieces, as_pieces, onset_groups

#: A beat whose local tempo is more than 10 % away from the piece's median
#: tempo counts as rubato.
RUBATO_THRESHOLD = 0.10
#: The tracker looks for the next beat within ±20 % of the current period.
TRACK_TOLERANCE = 0.20
#: Safety bounds for absurd inputs (a note 140 years in): at most this many
#: beats per piece, and at most this many filled beats across one silence;
#: past it the tracker restarts at the next onset.
MAX_BEATS = 200_000
MAX_GAP_BEATS = 256
#: Positions per beat for groove consistency (sixteenths of a quarter beat).
GROOVE_STEPS_PER_BEAT = 4

Beats = np.ndarray | Sequence[float] | None


def read_beat_annotations(path: str | os.PathLike[str]) -> np.ndarray:
    """Beat times (s) from an ASAP annotation file: ``time<TAB>time<TAB>b|db|bR,...`` per line."""
    times = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.strip().split("\t")
            if len(parts) >= 3 and parts[2].split(",")[0] in {"b", "db", "bR"}:
                times.append(float(parts[0]))
    return np.array(sorted(times))


def on_tempo_grid(seq: NoteSequence) -> bool:
    """True when at least 80 % of onsets lie within 15 ms of the tempo map's sixteenth (or triplet) grid."""
    from musestudio.core.timing import onsets_on_grid

    return onsets_on_grid(seq.tempo_map, [n.start for n in seq.notes])


def grid_beats(seq: NoteSequence) -> np.ndarray:
    """Quarter-note beats of the tempo map that cover the notes."""
    tm = seq.tempo_map
    first = int(np.floor(tm.seconds_to_beats(seq.start_time)))
    last = min(int(np.ceil(tm.seconds_to_beats(seq.duration))), first + MAX_BEATS - 1)
    return tm.ticks_to_seconds_array(np.arange(first, last + 1, dtype=np.float64) * tm.ppq)


def track_beats(seq: NoteSequence, beat_seconds: float | None = None) -> np.ndarray:
    """Beat times followed through a performance's chord onsets.

    Start on the first onset with period ``P`` (estimated when not given).
    Repeatedly predict ``t + P``; if a chord onset lies within ±20 % of ``P``
    around the prediction, the closest one becomes the beat and ``P`` moves
    30 % of the way towards the new interval (clamped to 0.5 to 2 times the first
    estimate); otherwise the beat is placed at the prediction.  Stops after
    the last onset.  Across a silence longer than ``MAX_GAP_BEATS`` periods
    the tracker restarts at the next onset, and it never returns more than
    ``MAX_BEATS`` beats, so absurd files cannot make it run for ever.
    """
    times, _ = onset_groups(seq)
    if times.size < 2:
        return times
    if beat_seconds is None:
        from musestudio.core.timing import estimate_beat_seconds

        beat_seconds = estimate_beat_seconds(seq)
    if not beat_seconds > 0:
        raise ValueError("beat_seconds must be positive")
    period0 = period = float(beat_seconds)
    t = float(times[0])
    beats = [t]
    last = float(times[-1])
    while t + (1 - TRACK_TOLERANCE) * period <= last and len(beats) < MAX_BEATS:
        predicted = t + period
        nxt = int(np.searchsorted(times, t, side="right"))
        if nxt < times.size and times[nxt] - t > MAX_GAP_BEATS * period:
            beats.extend(t + period * np.arange(1, MAX_GAP_BEATS + 1))
            t = float(times[nxt])
            beats.append(t)
            continue
        lo = np.searchsorted(times, predicted - TRACK_TOLERANCE * period, side="left")
        hi = np.searchsorted(times, predicted + TRACK_TOLERANCE * period, side="right")
        window = times[lo:hi]
        if window.size:
            new = float(window[np.argmin(np.abs(window - predicted))])
            period = float(np.clip(0.7 * period + 0.3 * (new - t), 0.5 * period0, 2.0 * period0))
        else:
            new = predicted
        beats.append(new)
        t = new
    return np.array(beats)


def beat_times(seq: NoteSequence, beats: Beats = None) -> np.ndarray:
    """Beat times for one piece: the given ones (clipped to the notes), the tempo grid, or tracked."""
    if beats is not None:
        b = np.sort(np.asarray(beats, dtype=np.float64))
        if seq.notes and b.size:
            # Keep the beats that cover the notes: from the last one at or
            # before the first onset to the first one at or after the end.
            lo = max(int(np.searchsorted(b, seq.start_time + 1e-6, side="right")) - 1, 0)
            hi = int(np.searchsorted(b, seq.duration - 1e-6, side="left"))
            b = b[lo : hi + 1]
        return b
    if on_tempo_grid(seq):
        return grid_beats(seq)
    return tracked_beats(seq)


def tracked_beats(seq: NoteSequence) -> np.ndarray:
    """Beats from the learned tracker; the onset follower where the tracker cannot run."""
    from musestudio.core.errors import MusestudioError

    try:
        from musestudio.ml.beats import analyze

        return analyze(seq).beats
    except MusestudioError:  # too few notes, one chord, no checkpoint: the simple follower still answers
        return track_beats(seq)


def beats_per_piece(pieces: Pieces, beats: object) -> list[tuple[NoteSequence, np.ndarray]]:
    seqs = as_pieces(pieces)
    if beats is None:
        per: list = [None] * len(seqs)
    elif isinstance(pieces, NoteSequence):
        per = [beats]
    else:
        per = list(beats)  # type: ignore[call-overload]
        if len(per) != len(seqs):
            raise ValueError("give one beat array per piece")
    return [(s, beat_times(s, b)) for s, b in zip(seqs, per, strict=True)]


def local_tempo_ratios(pieces: Pieces, beats: object = None) -> np.ndarray:
    """Per-beat local tempo divided by the piece's median local tempo, pooled over pieces.

    Local tempo of beat ``k`` is ``60 / (b[k+1] - b[k])`` BPM.
    """
    parts = []
    for _, b in beats_per_piece(pieces, beats):
        ibi = np.diff(b)
        ibi = ibi[ibi > 1e-6]
        if ibi.size < 2:
            continue
        tempo = 60.0 / ibi
        parts.append(tempo / np.median(tempo))
    return np.concatenate(parts) if parts else np.zeros(0)


def tempo_stability(pieces: Pieces, beats: object = None) -> float:
    """``100 * max(0, 1 - CV)`` (%), CV = std / mean of the local tempo ratios.

    A metronomic performance scores 100; one whose beat-to-beat tempo wanders
    by 10 % (one standard deviation) scores about 90.  NaN with fewer than
    three beats.
    """
    r = local_tempo_ratios(pieces, beats)
    if r.size < 2:
        return NAN
    return float(100.0 * max(0.0, 1.0 - r.std() / r.mean()))


def rubato_usage(pieces: Pieces, beats: object = None) -> float:
    """Share of beats (%) whose local tempo departs from the median by more than 10 %.

    ``100 * mean(|tempo_k / median_tempo - 1| > 0.10)``.  NaN with fewer than three beats.
    """
    r = local_tempo_ratios(pieces, beats)
    if r.size < 2:
        return NAN
    return float(100.0 * np.mean(np.abs(r - 1.0) > RUBATO_THRESHOLD))


def empty_beat_rate(pieces: Pieces, beats: object = None) -> float:
    """Share of beats (%) in which no note starts, over the beats from the first onset to the last.

    Beat ``k`` is the interval ``[b[k], b[k+1])``.
    """
    empty = total = 0
    for seq, b in beats_per_piece(pieces, beats):
        if b.size < 2 or not seq.notes:
            continue
        onsets = np.array([n.start for n in seq.notes])
        idx = np.searchsorted(b, onsets, side="right") - 1
        idx = idx[(idx >= 0) & (idx < b.size - 1)]
        hit = np.zeros(b.size - 1, dtype=bool)
        hit[idx] = True
        empty += int((~hit).sum())
        total += hit.size
    return 100.0 * empty / total if total else NAN


def groove_consistency(pieces: Pieces, beats: object = None, beats_per_bar: int | None = None) -> float:
    """``100 * (1 - mean Hamming distance)`` (%) between the onset patterns of consecutive bars.

    Each bar (``beats_per_bar`` beats, from the time signature) is split into
    4 steps per beat; an onset's step is its position between the two beats
    around it, rounded.  The bar's pattern is the binary vector of steps that
    hold an onset.  The distance between consecutive bars is the share of
    steps that differ.  NaN with fewer than two bars.
    """
    distances: list[float] = []
    for seq, b in beats_per_piece(pieces, beats):
        if b.size < 3 or not seq.notes:
            continue
        per_bar = beats_per_bar or _beats_per_bar(seq)
        onsets = np.array([n.start for n in seq.notes])
        pos = np.interp(onsets, b, np.arange(b.size), left=np.nan, right=np.nan)
        pos = pos[np.isfinite(pos)]
        steps = np.round(pos * GROOVE_STEPS_PER_BEAT).astype(np.int64)
        n_bars = (b.size - 1) // per_bar
        if n_bars < 2:
            continue
        width = per_bar * GROOVE_STEPS_PER_BEAT
        patterns = np.zeros((n_bars, width), dtype=bool)
        steps = steps[steps < n_bars * width]
        patterns[steps // width, steps % width] = True
        distances.extend(np.mean(patterns[1:] != patterns[:-1], axis=1).tolist())
    return float(100.0 * (1.0 - np.mean(distances))) if distances else NAN


def _beats_per_bar(seq: NoteSequence) -> int:
    return seq.time_signature.beats_per_bar  # compound metre: dotted-quarter beats
