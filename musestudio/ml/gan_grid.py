"""The GAN's beat grid and piano rolls: notes <-> rolls on beats of a seed's grid.

Split out of :mod:`musestudio.ml.gan_generate` (issue #17: grid code apart).
:class:`BeatGrid` here is the GAN's uniform view of a grid: beat ``i`` at
``times[i]`` with a fixed number of beats per bar.  A seed is read on its own
grid once, by :func:`musestudio.ml.seed.read_seed` (tempo map for a DAW part,
beat tracker for a performance), the same reading the token models use;
:func:`from_reading` turns that reading into the GAN's beats.
:func:`seed_beat_grid` (a beat estimated from the onsets) remains for callers
without a reading.  The rasterisation here is the one :mod:`training.tasks.gan`
uses to build its training bars.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from musestudio.core.notes import PIANO_HIGH, PIANO_LOW, Note, NoteSequence

N_KEYS = PIANO_HIGH - PIANO_LOW + 1  # 88


# --- beat grids ----------------------------------------------------------------


@dataclass
class BeatGrid:
    """Beat onsets in seconds (beat ``i`` at ``times[i]``) and the meter.

    Outside the listed beats the grid continues at the nearest end's spacing,
    so a continuation can run past the seed.  ``first_downbeat`` is the index
    of a beat that starts a bar; bars repeat every ``beats_per_bar`` beats.
    """

    times: np.ndarray
    beats_per_bar: int = 4
    first_downbeat: int = 0

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64)
        if len(self.times) < 2 or np.any(np.diff(self.times) <= 0):
            raise ValueError("a beat grid needs at least two strictly increasing beat times")

    def beats_at(self, seconds: np.ndarray | float) -> np.ndarray:
        """Fractional beat index of times (linear inside, extrapolated outside)."""
        t = np.asarray(seconds, dtype=np.float64)
        idx = np.arange(len(self.times), dtype=np.float64)
        out = np.interp(t, self.times, idx)
        first = (self.times[1] - self.times[0]) or 1.0
        last = (self.times[-1] - self.times[-2]) or 1.0
        out = np.where(t < self.times[0], (t - self.times[0]) / first, out)
        return np.where(t > self.times[-1], len(self.times) - 1 + (t - self.times[-1]) / last, out)

    def seconds_at(self, beats: np.ndarray | float) -> np.ndarray:
        b = np.asarray(beats, dtype=np.float64)
        idx = np.arange(len(self.times), dtype=np.float64)
        out = np.interp(b, idx, self.times)
        first = self.times[1] - self.times[0]
        last = self.times[-1] - self.times[-2]
        out = np.where(b < 0, self.times[0] + b * first, out)
        return np.where(b > len(self.times) - 1, self.times[-1] + (b - len(self.times) + 1) * last, out)

    def is_downbeat(self, beat: int) -> bool:
        return (beat - self.first_downbeat) % self.beats_per_bar == 0


def meter_beats(numerator: int, denominator: int, max_beats: int = 4) -> tuple[int, float]:
    """(beats per bar, quarter notes per beat) of a time signature, folded to at most ``max_beats``.

    Compound meters (6/8, 9/8, 12/8) count dotted beats; long bars (6/4, 5/4)
    are folded into shorter units because the model's bars hold at most
    ``max_beats`` beats.
    """
    quarters = 4.0 / denominator
    beats = numerator
    if denominator >= 8 and numerator % 3 == 0 and numerator > 3:
        beats, quarters = numerator // 3, quarters * 3
    while beats > max_beats:
        beats = beats // 2 if beats % 2 == 0 else max_beats
    return max(beats, 1), quarters


def _tempo_map_fits(seq: NoteSequence) -> bool:
    """Do the notes sit on their file's sixteenth grid (a score rather than a performance)?"""
    if not seq.notes:
        return True
    tm = seq.tempo_map
    beats = tm.seconds_to_ticks_array(np.array([n.start for n in seq.notes[:2000]])) / tm.ppq
    err = np.abs(beats * 4 - np.round(beats * 4)) / 4 * 60.0 / tm.initial_qpm
    return float(np.mean(err < 0.015)) > 0.8


def seed_beat_grid(seed: NoteSequence, until: float, max_beats: int = 4) -> BeatGrid:
    """A beat grid covering ``[seed start, until]`` (see the module doc for how it is chosen)."""
    from musestudio.core.timing import estimate_beat_seconds

    ts = seed.time_signature
    beats_per_bar, quarters_per_beat = meter_beats(ts.numerator, ts.denominator, max_beats)
    if _tempo_map_fits(seed):
        tm = seed.tempo_map
        ts_beat = tm.seconds_to_beats(ts.time) / quarters_per_beat
        last = tm.seconds_to_beats(max(until, seed.duration)) / quarters_per_beat + 2
        times = np.array([tm.beats_to_seconds(i * quarters_per_beat) for i in range(math.ceil(last) + 2)])
        return BeatGrid(times, beats_per_bar, round(ts_beat) % beats_per_bar)
    beat = max(estimate_beat_seconds(seed), 0.1)
    onsets = np.array([n.start for n in seed.notes])
    weights = np.array([n.velocity for n in seed.notes], dtype=np.float64)
    # Phase: the offset in [0, beat) that puts most onset weight near a beat.
    phases = np.linspace(0, beat, 24, endpoint=False)
    fit = [np.sum(weights * np.cos(2 * np.pi * (onsets - p) / beat)) for p in phases]
    phase = phases[int(np.argmax(fit))]
    origin = phase + beat * math.floor((seed.start_time - phase) / beat + 1e-6)
    count = math.ceil((max(until, seed.duration) - origin) / beat) + 3
    times = origin + beat * np.arange(count)
    # Downbeat: the bar position whose beats carry the most onset weight (accents fall on bar lines).
    beat_idx = np.round((onsets - origin) / beat).astype(int)
    strength = [float(weights[(beat_idx % beats_per_bar) == k].sum()) for k in range(beats_per_bar)]
    return BeatGrid(times, beats_per_bar, int(np.argmax(strength)))


# --- notes <-> rolls -------------------------------------------------------------


def rasterize(notes: Iterable[Note], grid: BeatGrid, steps_per_beat: int, n_steps: int) -> np.ndarray:
    """Notes -> uint8 roll [3, n_steps, 88]: onset (0/1), frame (0/1), velocity (0..127).

    Step ``s`` is beat ``s / steps_per_beat`` of ``grid``.  Onsets and ends are
    rounded to the nearest step; a note lasts at least one step.
    """
    roll = np.zeros((3, n_steps, N_KEYS), dtype=np.uint8)
    notes = [n for n in notes if PIANO_LOW <= n.pitch <= PIANO_HIGH]
    if not notes or n_steps <= 0:
        return roll
    starts = np.rint(grid.beats_at(np.array([n.start for n in notes])) * steps_per_beat).astype(np.int64)
    ends = np.rint(grid.beats_at(np.array([n.end for n in notes])) * steps_per_beat).astype(np.int64)
    ends = np.maximum(ends, starts + 1)
    for n, a, b in zip(notes, starts, ends, strict=False):
        if b <= 0 or a >= n_steps:
            continue
        k = n.pitch - PIANO_LOW
        lo, hi = max(a, 0), min(b, n_steps)
        roll[1, lo:hi, k] = 1
        roll[2, lo:hi, k] = np.maximum(roll[2, lo:hi, k], n.velocity)
        if a >= 0:
            roll[0, a, k] = 1
            roll[2, a:hi, k] = n.velocity  # a new strike sets the velocity of what follows
    return roll


def roll_to_notes(
    roll: np.ndarray, grid: BeatGrid, steps_per_beat: int, first_step: int = 0, default_velocity: int = 80
) -> list[Note]:
    """Binary roll [3 or 2, steps, 88] -> notes: a note starts at an onset and lasts while its frame holds."""
    onset, frame = roll[0] > 0, roll[1] > 0
    velocity = roll[2] if roll.shape[0] > 2 else None
    n_steps = onset.shape[0]
    out: list[Note] = []
    for s, k in zip(*np.nonzero(onset), strict=False):
        e = s + 1
        while e < n_steps and frame[e, k] and not onset[e, k]:
            e += 1
        vel = int(velocity[s, k]) if velocity is not None else default_velocity
        start, end = grid.seconds_at(np.array([first_step + s, first_step + e]) / steps_per_beat)
        out.append(Note(int(k) + PIANO_LOW, float(start), float(end), int(np.clip(vel, 1, 127))))
    out.sort(key=lambda n: (n.start, n.pitch))
    return out


def window(roll: np.ndarray, start_step: int, length: int, pad_to: int) -> np.ndarray:
    """roll[:, start:start+length] zero-padded on both sides to ``pad_to`` steps (missing history is silence)."""
    c, total, p = roll.shape
    out = np.zeros((c, pad_to, p), dtype=np.float32)
    lo, hi = max(start_step, 0), min(start_step + length, total)
    if hi > lo:
        out[:, lo - start_step : hi - start_step] = roll[:, lo:hi]
    return out


def to_model_input(roll: np.ndarray, channels: int) -> np.ndarray:
    """uint8 roll -> float32 in [0, 1] with the model's channel count."""
    x = roll[:channels].astype(np.float32)
    if channels > 2:
        x[2] /= 127.0
    return x


def from_reading(reading: Any, max_beats: int = 4) -> tuple[BeatGrid, float, float]:
    """(the GAN's grid, start beat, end beat) for a :class:`musestudio.ml.seed.SeedReading`.

    Beats are counted from a bar line at or before the seed's first note, so beat 0
    is a downbeat; the continuation's start and end are the reading's (first beat
    after the seed, and with ``--bars`` a bar line).
    """
    g = reading.grid
    num, den = g.bar_ts[g.bar_index(reading.start_q)]
    bpb, qpb = meter_beats(num, den, max_beats)
    first_q = float(g.to_quarters(reading.seq.start_time)) if reading.seq.notes else reading.start_q
    q0 = g.bar_quarters[g.bar_index(first_q)]
    count = int(math.ceil((reading.end_q - q0) / qpb)) + 2 * bpb + 2
    times = np.asarray(g.to_seconds(q0 + qpb * np.arange(count)))
    start_beat = (reading.start_q - q0) / qpb
    end_beat = (reading.end_q - q0) / qpb
    return BeatGrid(times, bpb, 0), start_beat, end_beat



def snap_to_bar_sixteenths(notes: list[Note], grid: Any, end_q: float, *, hold_last_to: float | None = None) -> list[Note]:
    """Grid mode for the GAN: onsets and ends on sixteenths counted from their bar line, cut at ``end_q``.

    The GAN's 4 steps per beat are sixteenths only in simple meters; in 6/8 (a dotted-quarter
    beat) they fall on 3/32 notes and in 3/8 on 32nds, so a quantized 6/8 seed got continuations
    with 15-20 % of their onsets off the seed's grid.  Rounding half up keeps the four steps of a
    compound beat apart (0, 2, 3 and 5 sixteenths of 6).  A note whose snapped onset collides
    with another of the same key is merged into it.  ``hold_last_to`` (quarters: the ``--bars``
    end) holds the last onset's notes to the bar line when they stop short of it in the last bar,
    as the token models do.  ``grid`` is the seed reading's :class:`musestudio.ml.beatgrid.BeatGrid`.
    """
    if not notes:
        return notes

    def snap(q: float) -> float:
        bar = float(grid.bar_quarters[grid.bar_index(q)])
        return bar + math.floor((q - bar) * 4 + 0.5 + 1e-9) / 4

    by_key: dict[tuple[int, float], tuple[float, Note]] = {}
    for n in notes:
        on = snap(float(grid.to_quarters(n.start)))
        if on >= end_q - 1e-6:
            continue
        off = min(max(snap(float(grid.to_quarters(n.end))), on + 0.25), end_q)
        prev = by_key.get((n.pitch, on))
        if prev is None or off > prev[0]:
            by_key[(n.pitch, on)] = (off, n)
    ons = np.array([on for (_, on) in by_key], dtype=np.float64)
    offs = np.array([off for off, _ in by_key.values()], dtype=np.float64)
    if hold_last_to is not None:
        offs = grid.held_to_bar_line(ons, offs, hold_last_to)
    out: list[Note] = []
    for ((pitch, on), (_, n)), off in zip(by_key.items(), offs, strict=True):
        start, stop = (float(x) for x in grid.to_seconds(np.array([on, off])))
        out.append(dataclasses.replace(n, pitch=pitch, start=start, end=stop))
    out.sort(key=lambda x: (x.start, x.pitch))
    return out
