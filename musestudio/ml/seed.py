"""Reading a seed on its own grid: where its beats and bars are, where the continuation starts and ends.

* A seed whose onsets sit on its tempo map's sixteenth/triplet grid is a DAW
  part: its tempo map and time signatures are authoritative, and it is
  continued in grid mode unless humanize is asked for.
* Any other seed is a performance: its beats come from the beat tracker
  (:func:`musestudio.ml.beats.analyze`); when that is not available or cannot
  read the seed, the file's own tempo map is used and the reading says so.

The continuation starts on the first beat at or after the seed's end and keeps
the seed's tempo and meter (the grid's last tempo and bar repeat past its
end).  With ``bars`` it ends on a bar line: the rest of the current bar (when
it starts mid-bar) plus ``bars`` whole bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from musestudio.core.errors import MusestudioError
from musestudio.core.notes import NoteSequence
from musestudio.ml.beatgrid import BeatGrid

ON_GRID_TOLERANCE = 0.03  # quarters: an onset this close to a sixteenth/triplet counts as on the grid
# A seed is "quantized" when this share of its onsets lies within QUANTIZED_TOLERANCE quarters of a
# 32nd or a sixteenth-triplet of its tempo map.  Measured on the 43 validation+test pieces of ASAP:
# score MIDIs 0.93 (10th percentile) to 1.0, performances (one nominal tempo) at most 0.35.
QUANTIZED_SHARE = 0.75
QUANTIZED_TOLERANCE = 0.01
SEED_TAIL_SECONDS = 90.0  # only the seed's last minute and a half is read (a 3-hour seed costs no more)
MAX_SECONDS = 600.0
MAX_CONTINUATION_BARS = 4000  # 600 s of 2/4 at 300 quarter notes per minute is 1,500


class SeedError(MusestudioError):
    """A seed that cannot be continued (empty, drums only)."""


@dataclass
class SeedReading:
    seq: NoteSequence  # the seed (tail), with the tempo map the continuation is written on
    grid: BeatGrid
    quantized: bool
    timing_source: str  # "tempo map", "beat tracker", "tempo map (beat tracker unavailable: ...)"
    end_time: float  # seconds: the seed's end (or the playhead)
    start_q: float  # first beat of the continuation, quarters
    end_q: float  # end of the continuation, quarters

    @property
    def start_time(self) -> float:
        return float(self.grid.to_seconds(self.start_q))

    @property
    def end_seconds(self) -> float:
        return float(self.grid.to_seconds(self.end_q))


def grid_share(seq: NoteSequence, tolerance: float = ON_GRID_TOLERANCE) -> float:
    """Share of onsets on the sixteenth/triplet-eighth grid of ``seq``'s own tempo map (1.0 for no notes)."""
    if not seq.notes:
        return 1.0
    q = np.asarray([seq.tempo_map.seconds_to_beats(n.start) for n in seq.notes])
    return float(on_grid(q, tolerance).mean())


def on_grid(quarters: np.ndarray, tolerance: float = ON_GRID_TOLERANCE) -> np.ndarray:
    q = np.asarray(quarters, dtype=np.float64)
    d16 = np.abs(q * 4 - np.round(q * 4)) / 4
    d3 = np.abs(q * 3 - np.round(q * 3)) / 3
    return np.minimum(d16, d3) <= tolerance


def quantized_share(seq: NoteSequence) -> float:
    """Share of onsets on 32nds or sixteenth-triplets of the tempo map (a DAW part scores near 1)."""
    if not seq.notes:
        return 1.0
    q = np.asarray([seq.tempo_map.seconds_to_beats(n.start) for n in seq.notes])
    ok = np.zeros(len(q), dtype=bool)
    for per_quarter in (8, 12):
        ok |= np.abs(q * per_quarter - np.round(q * per_quarter)) / per_quarter <= QUANTIZED_TOLERANCE
    return float(ok.mean())


def _tail(seed: NoteSequence, end: float) -> NoteSequence:
    lo = end - SEED_TAIL_SECONDS
    if seed.start_time >= lo:
        return seed
    return seed.copy(notes=[n for n in seed.notes if n.start >= lo], pedals=[p for p in seed.pedals if p.time >= lo])


def read_seed(
    seed: NoteSequence,
    *,
    start: float | None = None,
    seconds: float | None = 20.0,
    bars: float | None = None,
    timing: str = "auto",
) -> SeedReading:
    """The seed's grid and the continuation's time window.

    ``start``: continue from here (the playhead or the selection's end), default the seed's end.
    ``timing``: "auto" (tempo map for quantized seeds, beat tracker otherwise), "tempo-map" or "beats".
    """
    if not seed.notes:
        if seed.drum_notes:
            raise SeedError("the seed has only drum notes: give it a pitched part to continue")
        raise SeedError("the seed has no notes to continue")
    end = float(seed.duration if start is None else start)
    seq, grid, quantized, source = sequence_grid(_tail(seed, end), timing)
    end_q = float(grid.to_quarters(end))
    start_q = grid.next_beat(end_q - 1e-6, grid.beat_length(end_q))
    if bars is not None:
        i = grid.bar_index(start_q)
        mid_bar = abs(grid.bar_quarters[i] - start_q) > 1e-6
        last = i + int(math.ceil(bars - 1e-9)) + (1 if mid_bar else 0)
        grid.extend_to_bar(last)
        stop_q = grid.bar_quarters[last]
        if float(grid.to_seconds(stop_q) - grid.to_seconds(start_q)) > MAX_SECONDS:
            raise MusestudioError(f"{bars:g} bars at this tempo run past {MAX_SECONDS:.0f} s: ask for fewer")
    else:
        length = min(float(seconds or 20.0), MAX_SECONDS)
        stop_q = float(grid.to_quarters(float(grid.to_seconds(start_q)) + length))
    num, den = grid.bar_ts[grid.bar_index(start_q)]
    n_bars = (stop_q - start_q) / (num * 4.0 / den)
    if n_bars > MAX_CONTINUATION_BARS:
        qpm = grid.qpm_between(max(start_q - 1.0, grid.bar_quarters[0]), start_q)
        raise MusestudioError(f"the seed's tempo map ({qpm:,.0f} quarter notes per minute) makes this continuation "
                              f"{n_bars:,.0f} bars long; fix the file's tempo or use --timing beats")
    return SeedReading(seq, grid, quantized, source, end, start_q, stop_q)


def sequence_grid(seq: NoteSequence, timing: str = "auto") -> tuple[NoteSequence, BeatGrid, bool, str]:
    """(the sequence with the tempo map it is read on, its grid, quantized?, where the beats came from)."""
    quantized = quantized_share(seq) >= QUANTIZED_SHARE
    source = "tempo map"
    if timing == "beats" or (timing == "auto" and not quantized):
        seq, source = _with_tracked_beats(seq, strict=timing == "beats")
    return seq, BeatGrid.from_sequence(seq), quantized, source


def _with_tracked_beats(seq: NoteSequence, *, strict: bool) -> tuple[NoteSequence, str]:
    """The seed with the beat tracker's tempo map, or unchanged when it cannot be tracked."""
    from musestudio.ml import beats

    try:
        analysis = beats.analyze(seq)
        return beats.with_tempo_map(seq, analysis), "beat tracker"
    except MusestudioError as exc:
        if strict:
            raise
        return seq, f"tempo map (beat tracker: {exc})"
