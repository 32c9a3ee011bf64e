"""Tempo map: exact conversions between MIDI ticks, seconds and beats.

Ticks are the ground truth of a MIDI file, so every conversion goes through
them.  Seconds are computed with ``fractions.Fraction`` internally and only
rounded to float at the edge, which keeps tick -> seconds -> tick lossless.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from musestudio.core.notes import NoteSequence

DEFAULT_PPQ = 480
DEFAULT_QPM = 120.0
MICROSECONDS_PER_MINUTE = 60_000_000


@dataclass(frozen=True, slots=True)
class TempoChange:
    """A tempo that holds from ``tick`` on, in microseconds per quarter note."""

    tick: int
    us_per_quarter: int

    @property
    def qpm(self) -> float:
        return MICROSECONDS_PER_MINUTE / self.us_per_quarter


@dataclass(frozen=True, slots=True)
class TimeSignature:
    time: float  # seconds
    numerator: int = 4
    denominator: int = 4

    @property
    def compound(self) -> bool:
        """6/8, 9/8, 12/8: each beat is three eighths (a dotted quarter)."""
        return self.denominator == 8 and self.numerator % 3 == 0 and self.numerator > 3

    @property
    def beats_per_bar(self) -> int:
        """Counted beats in a bar: 6/8 has two, 3/4 three."""
        return self.numerator // 3 if self.compound else max(1, self.numerator)

    @property
    def bar_quarters(self) -> float:
        """Length of one bar in quarter notes: 3.0 for 3/4 and 6/8, 0.75 for 3/16."""
        return 4.0 * self.numerator / self.denominator

    @property
    def beat_quarters(self) -> float:
        """Length of one counted beat in quarter notes: 1.0 in 3/4, 1.5 in 6/8."""
        return self.bar_quarters / self.beats_per_bar


def is_pickup(first: TimeSignature, first_span_quarters: float, following: TimeSignature) -> bool:
    """True when the piece opens with a pickup: its first signature lasts exactly one bar, and that bar is
    shorter than a bar of the signature after it (1/4 before 3/4, 3/8 or 3/16 before 6/8).

    The one rule for both readers of a tempo map's lead-in (MusicXML's anacrusis, the beat grid's bar
    positions); the beat grid once counted beats instead of lengths and took a 3/8 pickup before 6/8
    (three eighths against two dotted beats) for a full bar.
    """
    return (
        abs(first_span_quarters - first.bar_quarters) < 1e-3
        and 0.0 < first_span_quarters < following.bar_quarters - 1e-6
    )


@dataclass(frozen=True, slots=True)
class KeySignature:
    """``key`` is a tonic name such as ``"D"`` or ``"Bb"``; ``mode`` is major/minor."""

    time: float
    key: str = "C"
    mode: str = "major"

    def __str__(self) -> str:
        return f"{self.key} {self.mode}"


def qpm_to_us(qpm: float) -> int:
    if not (qpm > 0):
        raise ValueError(f"tempo must be positive, got {qpm}")
    return max(1, round(MICROSECONDS_PER_MINUTE / qpm))


@dataclass
class TempoMap:
    """Piecewise-constant tempo over ticks.

    ``changes`` is sorted by tick and always starts at tick 0 (a missing
    initial tempo means the MIDI default, 120 quarter notes per minute).
    """

    ppq: int = DEFAULT_PPQ
    changes: list[TempoChange] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.ppq <= 0:
            raise ValueError(f"PPQ must be positive, got {self.ppq}")
        cleaned: dict[int, int] = {}
        for change in sorted(self.changes, key=lambda c: c.tick):
            if change.us_per_quarter <= 0:
                raise ValueError("tempo must be positive")
            cleaned[max(0, int(change.tick))] = int(change.us_per_quarter)
        if 0 not in cleaned:
            cleaned[0] = qpm_to_us(DEFAULT_QPM)
        self.changes = [TempoChange(t, u) for t, u in sorted(cleaned.items())]
        self._rebuild()

    @classmethod
    def constant(cls, qpm: float = DEFAULT_QPM, ppq: int = DEFAULT_PPQ) -> TempoMap:
        return cls(ppq=ppq, changes=[TempoChange(0, qpm_to_us(qpm))])

    def _rebuild(self) -> None:
        # Exact start time (seconds, as Fraction) of each tempo segment.
        self._ticks = [c.tick for c in self.changes]
        self._starts: list[Fraction] = [Fraction(0)]
        for prev, nxt in zip(self.changes, self.changes[1:]):
            span = nxt.tick - prev.tick
            self._starts.append(self._starts[-1] + Fraction(span * prev.us_per_quarter, self.ppq * 1_000_000))
        self._starts_float = [float(s) for s in self._starts]

    @property
    def initial_qpm(self) -> float:
        return self.changes[0].qpm

    def tick_to_seconds_exact(self, tick: int) -> Fraction:
        i = bisect.bisect_right(self._ticks, tick) - 1
        i = max(i, 0)
        c = self.changes[i]
        return self._starts[i] + Fraction((tick - c.tick) * c.us_per_quarter, self.ppq * 1_000_000)

    def tick_to_seconds(self, tick: float) -> float:
        i = max(bisect.bisect_right(self._ticks, tick) - 1, 0)
        c = self.changes[i]
        return self._starts_float[i] + (tick - c.tick) * c.us_per_quarter / (self.ppq * 1_000_000)

    def ticks_to_seconds_array(self, ticks: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`tick_to_seconds` for many ticks at once."""
        import numpy as np

        t = np.asarray(ticks, dtype=np.float64)
        idx = np.clip(np.searchsorted(np.asarray(self._ticks), t, side="right") - 1, 0, None)
        base_tick = np.asarray(self._ticks, dtype=np.float64)[idx]
        us = np.asarray([c.us_per_quarter for c in self.changes], dtype=np.float64)[idx]
        return np.asarray(self._starts_float)[idx] + (t - base_tick) * us / (self.ppq * 1_000_000)

    def seconds_to_ticks_array(self, seconds: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`seconds_to_tick` (nearest tick, int64)."""
        import numpy as np

        s = np.asarray(seconds, dtype=np.float64)
        starts = np.asarray(self._starts_float)
        idx = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, None)
        base_tick = np.asarray(self._ticks, dtype=np.float64)[idx]
        us = np.asarray([c.us_per_quarter for c in self.changes], dtype=np.float64)[idx]
        return np.rint(base_tick + (s - starts[idx]) * self.ppq * 1_000_000 / us).astype(np.int64)

    def seconds_to_tick(self, seconds: float) -> int:
        """Nearest tick to ``seconds`` (inverse of :meth:`tick_to_seconds`)."""
        return round(self.seconds_to_tick_float(seconds))

    def seconds_to_tick_float(self, seconds: float) -> float:
        i = max(bisect.bisect_right(self._starts_float, seconds) - 1, 0)
        c = self.changes[i]
        return c.tick + (seconds - self._starts_float[i]) * self.ppq * 1_000_000 / c.us_per_quarter

    def tick_to_beats(self, tick: float) -> float:
        return tick / self.ppq

    def beats_to_tick(self, beats: float) -> int:
        return round(beats * self.ppq)

    def seconds_to_beats(self, seconds: float) -> float:
        return self.seconds_to_tick_float(seconds) / self.ppq

    def beats_to_seconds(self, beats: float) -> float:
        return self.tick_to_seconds(beats * self.ppq)

    def qpm_at(self, seconds: float) -> float:
        i = max(bisect.bisect_right(self._starts_float, seconds) - 1, 0)
        return self.changes[i].qpm

    def tempo_changes_seconds(self) -> list[tuple[float, float]]:
        """(time in seconds, quarter notes per minute) for each change."""
        return [(self._starts_float[i], c.qpm) for i, c in enumerate(self.changes)]

    def scaled(self, factor: float) -> TempoMap:
        """Same ticks, every tempo multiplied by ``factor`` (faster when > 1)."""
        return TempoMap(self.ppq, [TempoChange(c.tick, qpm_to_us(c.qpm * factor)) for c in self.changes])


#: Grid test: an onset within 15 ms of the tempo map's sixteenth grid is "on the grid".
GRID_TOLERANCE_S = 0.015
GRID_SHARE = 0.8


def onsets_on_grid(tempo_map: TempoMap, onsets: Sequence[float], *, divisions: int = 4, share: float = GRID_SHARE,
                   limit: int = 2000) -> bool:
    """True when at least ``share`` of the (first ``limit``) onsets sit within 15 ms of the map's
    ``1/divisions``-beat grid (or its triplet grid): the file's own tempo map is then trustworthy."""
    import numpy as np

    t = np.asarray(list(onsets)[:limit], dtype=np.float64)
    if len(t) < 4:
        return False
    beats = tempo_map.seconds_to_ticks_array(t) / tempo_map.ppq
    hits = np.zeros(len(t), dtype=bool)
    for div in (divisions, 3):
        snapped = np.round(beats * div) / div
        back = tempo_map.ticks_to_seconds_array(snapped * tempo_map.ppq)
        hits |= np.abs(back - t) <= GRID_TOLERANCE_S
    return bool(hits.mean() >= share)


def estimate_beat_seconds(seq: NoteSequence, *, low_bpm: float = 50.0, high_bpm: float = 180.0) -> float:
    """Beat length of a performance from the autocorrelation of its onset train (a fallback where the
    learned tracker is not wanted: no torch, or too few notes for it)."""
    return onset_beat_seconds([n.start for n in seq.notes], low_bpm=low_bpm, high_bpm=high_bpm,
                              fallback=60.0 / seq.tempo_map.initial_qpm)


def onset_beat_seconds(onsets: Sequence[float] | np.ndarray, *, low_bpm: float = 50.0, high_bpm: float = 180.0,
                       fallback: float = 0.5) -> float:
    """The beat period (s) the onset train's autocorrelation suggests, or ``fallback`` for fewer than 8 onsets.

    A log-normal prior centred on 100 BPM breaks ties between metrical
    levels (half and double tempo score alike in an autocorrelation).
    """
    import numpy as np

    onsets = np.asarray(onsets, dtype=np.float64)
    if len(onsets) < 8:
        return fallback
    fs = 100.0
    frames = int(np.ceil(onsets.max() * fs)) + 2
    env = np.zeros(frames)
    np.add.at(env, np.round(np.maximum(onsets, 0.0) * fs).astype(int), 1.0)
    # Smooth slightly so that near-simultaneous chord notes reinforce each other.
    kernel = np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2)
    env = np.convolve(env, kernel, mode="same")
    env -= env.mean()
    n = 1 << int(np.ceil(np.log2(2 * len(env))))
    spec = np.fft.rfft(env, n)
    ac = np.fft.irfft(spec * np.conj(spec), n)[: len(env)]
    lags = np.arange(len(ac)) / fs
    valid = (lags >= 60.0 / high_bpm) & (lags <= 60.0 / low_bpm)
    if not valid.any() or ac[valid].max() <= 0:
        return fallback
    bpm = 60.0 / np.maximum(lags, 1e-9)
    prior = np.exp(-0.5 * (np.log2(bpm / 100.0) / 0.6) ** 2)
    score = np.where(valid, ac * prior, -np.inf)
    return float(lags[int(np.argmax(score))])


def meter_signature(beats_per_bar: int, ternary: bool) -> tuple[int, int]:
    """(numerator, denominator) of a bar of ``beats_per_bar`` beats: 3/4, or 6/8 when beats divide in three."""
    return (3 * beats_per_bar, 8) if ternary else (beats_per_bar, 4)


def pickup_signature(ticks: int, ppq: int, ternary: bool) -> tuple[int, int]:
    """The signature of a pickup bar ``ticks`` long (whole sixteenths, as ``musestudio.ml.beats.build_tempo_map`` makes them):
    whole beats where it holds them, else the coarsest note value that divides it: 720 ticks at 960 per
    quarter -> 3/16, 480 -> 1/8, 1920 -> 2/4."""
    beat = ppq * 3 // 2 if ternary else ppq
    if ticks % beat == 0:
        return meter_signature(ticks // beat, ternary)
    for den in (4, 8, 16):
        if (ticks * den) % (4 * ppq) == 0:
            return ticks * den // (4 * ppq), den
    return max(1, round(ticks * 16 / (4 * ppq))), 16
