"""A piece's musical time: seconds <-> quarter notes, and where the bars are.

Every continuation model reads its seed on the seed's own grid and writes on
it.  A :class:`BeatGrid` is a piecewise-linear map between seconds and
quarter-note positions (exact for a MIDI tempo map, which is piecewise
constant in tempo; a beat-by-beat map for a performance whose beats were
annotated or tracked) plus the bar lines.  Past its last breakpoint the map
continues at its last tempo, and past the last known bar the last bar's
meter repeats, so a continuation can run beyond the seed.

Sources: :meth:`BeatGrid.from_sequence` (a DAW file: its tempo map and time
signatures are authoritative), :meth:`BeatGrid.from_beats` (beat and downbeat
times, e.g. ASAP's annotation files or the beat tracker's analysis).
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from musestudio.core.errors import MusestudioError
from musestudio.core.notes import NoteSequence

MAX_BAR_QUARTERS = 8.0  # longest bar the tokens can express (e.g. 8/4, 16/8); longer ones are split
# More bars than any real piece (3 hours of 4/4 at 240 qpm is 10,800): a file whose tempo map puts its
# notes millions of bars apart (a 1-microsecond quarter note, a note 140 years on) is refused, not walked.
MAX_BARS = 50_000


class GridError(MusestudioError):
    """A grid too long to read (an absurd tempo map or note time)."""


def _too_many_bars(count: int) -> GridError:
    return GridError(f"the music spans more than {MAX_BARS:,} bars on its tempo map ({count:,} asked): "
                     "its tempo or note times are implausible")


def ts_for_length(quarters: float, denominator: int = 4) -> tuple[int, int]:
    """A time signature (numerator, denominator) whose bar lasts ``quarters`` (denominator kept if it can be)."""
    for den in (denominator, 4, 8, 16):
        num = quarters * den / 4.0
        if abs(num - round(num)) < 1e-6 and round(num) >= 1:
            return int(round(num)), den
    return max(1, int(round(quarters * 4))), 16


@dataclass
class BeatGrid:
    """Seconds <-> quarters (breakpoints ``seconds``/``quarters``) and bars (``bar_quarters``, ``bar_ts``)."""

    seconds: np.ndarray  # [K] increasing breakpoint times
    quarters: np.ndarray  # [K] increasing quarter positions of the breakpoints
    bar_quarters: list[float] = field(default_factory=list)  # bar-line positions, increasing
    bar_ts: list[tuple[int, int]] = field(default_factory=list)  # meter of each bar

    def __post_init__(self) -> None:
        self.seconds = np.asarray(self.seconds, dtype=np.float64)
        self.quarters = np.asarray(self.quarters, dtype=np.float64)
        if len(self.seconds) < 2:
            # a single tempo: extend with one more point at 120 qpm when nothing else is known
            s0 = float(self.seconds[0]) if len(self.seconds) else 0.0
            q0 = float(self.quarters[0]) if len(self.quarters) else 0.0
            self.seconds = np.array([s0, s0 + 0.5])
            self.quarters = np.array([q0, q0 + 1.0])
        if not self.bar_quarters:
            self.bar_quarters, self.bar_ts = [0.0], [(4, 4)]
        self._split_long_bars()

    def _split_long_bars(self) -> None:
        bq, ts = [], []
        for i, (q, (num, den)) in enumerate(zip(self.bar_quarters, self.bar_ts, strict=True)):
            length = num * 4.0 / den
            if i + 1 < len(self.bar_quarters):
                length = self.bar_quarters[i + 1] - q
            if length <= MAX_BAR_QUARTERS + 1e-9:
                bq.append(q)
                ts.append((num, den))
                continue
            pieces = int(np.ceil(length / MAX_BAR_QUARTERS - 1e-9))
            part = length / pieces
            for k in range(pieces):
                bq.append(q + k * part)
                ts.append(ts_for_length(part, den))
        self.bar_quarters, self.bar_ts = bq, ts

    # --- time conversion ----------------------------------------------------
    def _slopes(self) -> tuple[float, float]:
        s, q = self.seconds, self.quarters
        first = (q[1] - q[0]) / max(s[1] - s[0], 1e-9)
        last = (q[-1] - q[-2]) / max(s[-1] - s[-2], 1e-9)
        return first, last

    def to_quarters(self, seconds: np.ndarray | float) -> np.ndarray:
        t = np.asarray(seconds, dtype=np.float64)
        first, last = self._slopes()
        out = np.interp(t, self.seconds, self.quarters)
        out = np.where(t < self.seconds[0], self.quarters[0] + (t - self.seconds[0]) * first, out)
        return np.where(t > self.seconds[-1], self.quarters[-1] + (t - self.seconds[-1]) * last, out)

    def to_seconds(self, quarters: np.ndarray | float) -> np.ndarray:
        q = np.asarray(quarters, dtype=np.float64)
        first, last = self._slopes()
        out = np.interp(q, self.quarters, self.seconds)
        out = np.where(q < self.quarters[0], self.seconds[0] + (q - self.quarters[0]) / first, out)
        return np.where(q > self.quarters[-1], self.seconds[-1] + (q - self.quarters[-1]) / last, out)

    def qpm_between(self, q0: float, q1: float) -> float:
        """Mean tempo (quarters per minute) over [q0, q1]."""
        dt = float(self.to_seconds(q1) - self.to_seconds(q0))
        return 60.0 * (q1 - q0) / max(dt, 1e-6)

    # --- bars ---------------------------------------------------------------
    def bar_length(self, i: int) -> float:
        self.extend_to_bar(i + 1)
        return self.bar_quarters[i + 1] - self.bar_quarters[i]

    def extend_to_bar(self, index: int) -> None:
        """Make sure bars up to ``index`` exist (the last bar's meter repeats)."""
        if index > MAX_BARS:
            raise _too_many_bars(index)
        while len(self.bar_quarters) <= index:
            num, den = self.bar_ts[-1]
            self.bar_quarters.append(self.bar_quarters[-1] + num * 4.0 / den)
            self.bar_ts.append((num, den))

    def extend_to_quarter(self, q: float) -> None:
        num, den = self.bar_ts[-1]
        if q > self.bar_quarters[-1]:
            more = int(np.ceil((q - self.bar_quarters[-1]) / (num * 4.0 / den))) + 1
            self.extend_to_bar(len(self.bar_quarters) + more)

    def bar_index(self, q: float) -> int:
        """Index of the bar holding quarter ``q`` (bar 0 also holds anything before it)."""
        self.extend_to_quarter(q)
        return max(bisect.bisect_right(self.bar_quarters, q + 1e-9) - 1, 0)

    def held_to_bar_line(self, on_q: np.ndarray, off_q: np.ndarray, end_q: float) -> np.ndarray:
        """Note ends (quarters) with the last onset's notes held to ``end_q`` when that onset lies in the
        bar before it, so that a continuation asked for in bars ends on the bar line (the token models'
        and the GAN's ``--bars``)."""
        on_q, off_q = np.asarray(on_q, dtype=np.float64), np.asarray(off_q, dtype=np.float64)
        if not len(on_q):
            return off_q
        last = float(on_q.max())
        if end_q - last > self.bar_length(self.bar_index(last)) + 1e-6:
            return off_q
        return np.where(on_q >= last - 1e-6, np.maximum(off_q, end_q), off_q)

    def next_bar_line(self, q: float) -> float:
        """The first bar line at or after ``q``."""
        i = self.bar_index(q)
        if abs(self.bar_quarters[i] - q) < 1e-6:
            return self.bar_quarters[i]
        self.extend_to_bar(i + 1)
        return self.bar_quarters[i + 1]

    def next_beat(self, q: float, beat: float = 1.0) -> float:
        """The first beat (``beat`` quarters, counted from the bar line) at or after ``q``."""
        i = self.bar_index(q)
        start = self.bar_quarters[i]
        k = np.ceil((q - start) / beat - 1e-6)
        out = start + k * beat
        self.extend_to_bar(i + 1)
        return float(min(out, self.bar_quarters[i + 1]))

    def beat_length(self, q: float) -> float:
        """Quarters per counted beat at ``q``: a dotted quarter in 6/8, 9/8, 12/8; else the denominator's note."""
        num, den = self.bar_ts[self.bar_index(q)]
        if den == 8 and num % 3 == 0 and num > 3:
            return 1.5
        return 4.0 / den

    def shifted(self, dq: float) -> BeatGrid:
        """The same grid with every quarter position moved by ``dq`` (keeps the seconds)."""
        return BeatGrid(self.seconds.copy(), self.quarters + dq, [q + dq for q in self.bar_quarters], list(self.bar_ts))

    # --- constructors -----------------------------------------------------------
    @classmethod
    def from_sequence(cls, seq: NoteSequence) -> BeatGrid:
        """The grid a DAW file states: its tempo map (exact) and time signatures (bars from the first)."""
        tm = seq.tempo_map
        changes = tm.tempo_changes_seconds()
        secs = [t for t, _ in changes]
        quarters = [float(tm.seconds_to_beats(t)) for t in secs]
        last_qpm = changes[-1][1]
        secs.append(secs[-1] + 60.0 / last_qpm)
        quarters.append(quarters[-1] + 1.0)
        tss = sorted(seq.time_signatures, key=lambda t: t.time) or []
        bar_q: list[float] = []
        bar_ts: list[tuple[int, int]] = []
        end_q = float(tm.seconds_to_beats(max(seq.duration, 0.0))) + 1.0
        if not tss:
            tss_q = [(0.0, 4, 4)]
        else:
            tss_q = [(float(tm.seconds_to_beats(t.time)), t.numerator, t.denominator) for t in tss]
            if tss_q[0][0] > 1e-6:
                tss_q.insert(0, (0.0, tss_q[0][1], tss_q[0][2]))
        for k, (q0, num, den) in enumerate(tss_q):
            length = num * 4.0 / den
            q_stop = tss_q[k + 1][0] if k + 1 < len(tss_q) else end_q
            if (q_stop - q0) / length + len(bar_q) > MAX_BARS:
                raise _too_many_bars(int((q_stop - q0) / length) + len(bar_q))
            q = q0
            while q < q_stop - 1e-9 or (k + 1 == len(tss_q) and q == q0):
                bar_q.append(q)
                bar_ts.append((num, den))
                q += length
        return cls(np.asarray(secs), np.asarray(quarters), bar_q, bar_ts)

    @classmethod
    def from_beats(
        cls,
        beats: np.ndarray,
        downbeats: np.ndarray,
        time_signatures: list[tuple[float, int, int]],
    ) -> BeatGrid:
        """A grid through beat times (seconds) with bar lines at the downbeats.

        ``time_signatures``: (time in seconds, numerator, denominator), the meter from
        that time on.  How many quarters a beat lasts is read from the meter and the
        usual count of beats per bar in it (ASAP counts 6/8 in two, 3/8 in three);
        bars with more or fewer beats (pickups, cadenzas) keep their real length.
        """
        beats = np.unique(np.asarray(beats, dtype=np.float64))
        down = np.asarray(downbeats, dtype=np.float64)
        if len(beats) < 2:
            raise ValueError("need at least two beats")
        is_down = np.zeros(len(beats), bool)
        for d in down:
            j = int(np.argmin(np.abs(beats - d)))
            if abs(beats[j] - d) < 1e-3:
                is_down[j] = True
        if not is_down.any():
            is_down[0] = True
        tss = sorted(time_signatures) or [(0.0, 4, 4)]
        tss_times = [t for t, _, _ in tss]

        def ts_at(t: float) -> tuple[int, int]:
            i = max(bisect.bisect_right(tss_times, t + 1e-6) - 1, 0)
            return tss[i][1], tss[i][2]

        down_idx = np.flatnonzero(is_down)
        counts: dict[tuple[int, int], Counter] = {}
        for a, b in itertools.pairwise(down_idx):
            counts.setdefault(ts_at(beats[a]), Counter())[int(b - a)] += 1

        def quarters_per_beat(ts: tuple[int, int]) -> float:
            num, den = ts
            c = counts.get(ts)
            nominal = c.most_common(1)[0][0] if c else num
            return num * 4.0 / den / max(nominal, 1)

        # quarter position of every beat; the first downbeat sits at a whole bar of its meter
        qpb = np.array([quarters_per_beat(ts_at(t)) for t in beats])
        q = np.concatenate([[0.0], np.cumsum(qpb[:-1])])
        first_down = int(down_idx[0])
        q -= q[first_down]
        bar_q: list[float] = []
        bar_ts: list[tuple[int, int]] = []
        if first_down > 0:  # pickup bar
            bar_q.append(float(q[0]))
            bar_ts.append(ts_for_length(-float(q[0]), ts_at(beats[first_down])[1]))
        for k, a in enumerate(down_idx):
            nominal_ts = ts_at(beats[a])
            length = float(q[down_idx[k + 1]] - q[a]) if k + 1 < len(down_idx) else nominal_ts[0] * 4.0 / nominal_ts[1]
            full = nominal_ts[0] * 4.0 / nominal_ts[1]
            ts = nominal_ts if abs(length - full) < 1e-6 else ts_for_length(length, nominal_ts[1])
            bar_q.append(float(q[a]))
            bar_ts.append(ts)
        # the bar after the last downbeat keeps the meter; beyond the last beat the last tempo holds
        return cls(beats, q, bar_q, bar_ts)


def read_asap_annotations(path: str) -> tuple[np.ndarray, np.ndarray, list[tuple[float, int, int]], list[tuple[float, int]]]:
    """(beats, downbeats, [(time, num, den)], [(time, sharps)]) from an ASAP ``*_annotations.txt``.

    Lines are ``time<TAB>time<TAB>b|db[,num/den[,sharps]]``.
    """
    beats, downs, tss, keys = [], [], [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            t = float(parts[0])
            fields = parts[2].split(",")
            kind = fields[0]
            if kind not in ("b", "db", "bR"):
                continue
            beats.append(t)
            if kind == "db":
                downs.append(t)
            if len(fields) > 1 and "/" in fields[1]:
                num, den = fields[1].split("/")
                tss.append((t, int(num), int(den)))
            if len(fields) > 2 and fields[2].strip().lstrip("-").isdigit():
                keys.append((t, int(fields[2])))
    return np.asarray(beats), np.asarray(downs), tss, keys
