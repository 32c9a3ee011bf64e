"""The note model every other part of musestudio speaks.

Times are in seconds (floats).  A :class:`NoteSequence` also carries the tempo
map of the file it came from, so that beats, bars and ticks can be recovered
exactly when it is written back out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from musestudio.core.timing import KeySignature, TempoMap, TimeSignature

PIANO_LOW = 21  # A0
PIANO_HIGH = 108  # C8
SUSTAIN_CC = 64
SOSTENUTO_CC = 66
SOFT_CC = 67
PEDAL_CCS = (SUSTAIN_CC, SOSTENUTO_CC, SOFT_CC)


@dataclass(frozen=True, slots=True)
class Note:
    pitch: int
    start: float
    end: float
    velocity: int = 80
    track: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start

    def shifted(self, dt: float = 0.0, semitones: int = 0) -> Note:
        return dataclasses.replace(self, start=self.start + dt, end=self.end + dt, pitch=self.pitch + semitones)


@dataclass(frozen=True, slots=True)
class PedalEvent:
    """A pedal controller change (CC64 sustain, CC66 sostenuto, CC67 soft)."""

    time: float
    value: int
    controller: int = SUSTAIN_CC
    track: int = 0

    @property
    def is_down(self) -> bool:
        return self.value >= 64


@dataclass(frozen=True, slots=True)
class TrackInfo:
    name: str = ""
    program: int = 0
    is_drum: bool = False


@dataclass
class NoteSequence:
    """A piece: pitched notes, drum notes kept apart, pedals and meta data."""

    notes: list[Note] = field(default_factory=list)
    pedals: list[PedalEvent] = field(default_factory=list)
    drum_notes: list[Note] = field(default_factory=list)
    tracks: list[TrackInfo] = field(default_factory=lambda: [TrackInfo("Piano")])
    tempo_map: TempoMap = field(default_factory=TempoMap)
    time_signatures: list[TimeSignature] = field(default_factory=list)
    key_signatures: list[KeySignature] = field(default_factory=list)
    title: str = ""

    def __post_init__(self) -> None:
        self.sort()

    # --- basic facts ------------------------------------------------------
    def sort(self) -> None:
        self.notes.sort(key=lambda n: (n.start, n.pitch, n.end))
        self.drum_notes.sort(key=lambda n: (n.start, n.pitch, n.end))
        self.pedals.sort(key=lambda p: (p.time, p.controller))

    @property
    def duration(self) -> float:
        ends = [n.end for n in self.notes] + [n.end for n in self.drum_notes] + [p.time for p in self.pedals]
        return max(ends, default=0.0)

    @property
    def start_time(self) -> float:
        return min((n.start for n in self.notes), default=0.0)

    def __len__(self) -> int:
        return len(self.notes)

    @property
    def time_signature(self) -> TimeSignature:
        return self.time_signatures[0] if self.time_signatures else TimeSignature(0.0)

    @property
    def key_signature(self) -> KeySignature | None:
        return self.key_signatures[0] if self.key_signatures else None

    def copy(self, **changes: object) -> NoteSequence:
        base = dict(
            notes=list(self.notes),
            pedals=list(self.pedals),
            drum_notes=list(self.drum_notes),
            tracks=list(self.tracks),
            tempo_map=self.tempo_map,
            time_signatures=list(self.time_signatures),
            key_signatures=list(self.key_signatures),
            title=self.title,
        )
        base.update(changes)
        return NoteSequence(**base)  # type: ignore[arg-type]

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Column arrays (pitch, start, end, velocity, track) for fast drawing and maths."""
        n = len(self.notes)
        out = {
            "pitch": np.fromiter((x.pitch for x in self.notes), dtype=np.int16, count=n),
            "start": np.fromiter((x.start for x in self.notes), dtype=np.float64, count=n),
            "end": np.fromiter((x.end for x in self.notes), dtype=np.float64, count=n),
            "velocity": np.fromiter((x.velocity for x in self.notes), dtype=np.int16, count=n),
            "track": np.fromiter((x.track for x in self.notes), dtype=np.int16, count=n),
        }
        return out

    # --- transformations (all return new sequences) -----------------------
    def slice(self, start: float, end: float | None = None, *, shift_to_zero: bool = False) -> NoteSequence:
        """Notes whose onset lies in ``[start, end)``, truncated to ``end``.

        Used for seed selection: a note that starts before ``start`` belongs to
        the material before the cut and is left out; one that rings past
        ``end`` is shortened to end there.  Pedal state at ``start`` is carried
        in as an event at ``start``.
        """
        stop = float("inf") if end is None else end
        if stop < start:
            raise ValueError(f"slice end {stop} is before start {start}")
        offset = start if shift_to_zero else 0.0

        def cut(ns: Iterable[Note]) -> list[Note]:
            return [
                dataclasses.replace(n, start=n.start - offset, end=min(n.end, stop) - offset)
                for n in ns
                if start <= n.start < stop
            ]

        pedals: list[PedalEvent] = []
        state: dict[tuple[int, int], PedalEvent] = {}
        for p in self.pedals:
            if p.time < start:
                state[(p.controller, p.track)] = p
            elif p.time < stop:
                pedals.append(dataclasses.replace(p, time=p.time - offset))
        carried = [dataclasses.replace(p, time=start - offset) for p in state.values() if p.is_down]
        tempo = self.tempo_map
        if shift_to_zero and start > 0:
            tempo = TempoMap.constant(self.tempo_map.qpm_at(start), self.tempo_map.ppq)
        return self.copy(
            notes=cut(self.notes),
            drum_notes=cut(self.drum_notes),
            pedals=carried + pedals,
            tempo_map=tempo,
        )

    def transpose(self, semitones: int, *, clamp: bool = True) -> NoteSequence:
        """Shift every pitched note; notes pushed outside 0..127 are dropped when ``clamp``."""
        moved = [n.shifted(semitones=semitones) for n in self.notes]
        if clamp:
            moved = [n for n in moved if 0 <= n.pitch <= 127]
        elif any(not 0 <= n.pitch <= 127 for n in moved):
            raise ValueError("transposition leaves the MIDI pitch range")
        return self.copy(notes=moved)

    def shift_time(self, dt: float) -> NoteSequence:
        return self.copy(
            notes=[n.shifted(dt) for n in self.notes],
            drum_notes=[n.shifted(dt) for n in self.drum_notes],
            pedals=[dataclasses.replace(p, time=p.time + dt) for p in self.pedals],
        )

    def quantize(self, grid_beats: float = 0.25, *, quantize_ends: bool = True) -> NoteSequence:
        """Snap onsets (and ends) to a grid given in beats of the tempo map.

        A note never collapses to zero length: its end is at least one grid
        step after its onset.
        """
        if grid_beats <= 0:
            raise ValueError("grid must be positive")
        tm = self.tempo_map

        def snap(t: float) -> float:
            beats = tm.seconds_to_beats(t)
            return tm.beats_to_seconds(round(beats / grid_beats) * grid_beats)

        def step(t: float) -> float:
            return tm.beats_to_seconds(tm.seconds_to_beats(t) + grid_beats)

        out = []
        for n in self.notes:
            s = snap(n.start)
            e = snap(n.end) if quantize_ends else n.end
            if e <= s:
                e = step(s)
            out.append(dataclasses.replace(n, start=s, end=e))
        return self.copy(notes=out)

    def concatenate(self, other: NoteSequence, at: float | None = None) -> NoteSequence:
        """``self`` followed by ``other`` shifted to start at ``at`` (default: our end)."""
        at = self.duration if at is None else at
        moved = other.shift_time(at)
        return self.copy(
            notes=self.notes + moved.notes,
            drum_notes=self.drum_notes + moved.drum_notes,
            pedals=self.pedals + moved.pedals,
        )

    def merged(self, other: NoteSequence) -> NoteSequence:
        """Union of both note sets at their own times."""
        return self.concatenate(other, at=0.0)

    def without_duplicates(self) -> NoteSequence:
        """Drop repeated onsets of one pitch and overlapping copies of a held key.

        A piano key cannot sound twice at once: when a note starts while the
        same pitch still sounds, the earlier note is cut at the new onset.
        """
        out: list[Note] = []
        last: dict[int, int] = {}
        for n in sorted(self.notes, key=lambda n: (n.start, n.pitch, -n.end)):
            j = last.get(n.pitch)
            if j is not None:
                prev = out[j]
                if abs(prev.start - n.start) < 1e-6:
                    continue  # exact duplicate onset
                if prev.end > n.start:
                    out[j] = dataclasses.replace(prev, end=n.start)
            last[n.pitch] = len(out)
            out.append(n)
        return self.copy(notes=out)

    def sustain_intervals(self, controller: int = SUSTAIN_CC) -> list[tuple[float, float]]:
        """(down, up) intervals of one pedal."""
        intervals: list[tuple[float, float]] = []
        down_at: float | None = None
        for p in self.pedals:
            if p.controller != controller:
                continue
            if p.is_down and down_at is None:
                down_at = p.time
            elif not p.is_down and down_at is not None:
                intervals.append((down_at, p.time))
                down_at = None
        if down_at is not None:
            intervals.append((down_at, max(self.duration, down_at)))
        return intervals

    def with_sustain_applied(self) -> NoteSequence:
        """Extend note ends while the sustain pedal is held (as a listener hears them)."""
        intervals = self.sustain_intervals()
        if not intervals:
            return self.copy()
        starts = np.array([a for a, _ in intervals])
        out = []
        for n in self.notes:
            i = int(np.searchsorted(starts, n.end, side="right")) - 1
            end = n.end
            if i >= 0 and intervals[i][0] <= n.end < intervals[i][1]:
                end = intervals[i][1]
            out.append(dataclasses.replace(n, end=end))
        return self.copy(notes=out).without_duplicates()

    def to_pianoroll(self, fs: float = 100.0, *, low: int = 0, high: int = 127, velocity: bool = True) -> np.ndarray:
        """Array of shape (high - low + 1, frames): velocity (or 1) where a note sounds."""
        frames = int(np.ceil(self.duration * fs)) if self.notes else 0
        roll = np.zeros((high - low + 1, frames), dtype=np.float32)
        for n in self.notes:
            if not low <= n.pitch <= high:
                continue
            a = int(round(n.start * fs))
            b = max(int(round(n.end * fs)), a + 1)
            roll[n.pitch - low, a:b] = np.maximum(roll[n.pitch - low, a:b], n.velocity if velocity else 1.0)
        return roll

    def bars(self) -> list[float]:
        """Bar start times in seconds up to the end of the piece (first time signature)."""
        ts = self.time_signature
        beats_per_bar = ts.numerator * 4.0 / ts.denominator
        total_beats = self.tempo_map.seconds_to_beats(self.duration)
        n = int(np.ceil(total_beats / beats_per_bar)) + 1
        return [self.tempo_map.beats_to_seconds(i * beats_per_bar) for i in range(n)]


def notes_from_arrays(
    pitch: Sequence[int], start: Sequence[float], end: Sequence[float], velocity: Sequence[int] | None = None
) -> list[Note]:
    vel = velocity if velocity is not None else [80] * len(pitch)
    return [Note(int(p), float(s), float(e), int(v)) for p, s, e, v in zip(pitch, start, end, vel)]
