"""REMI-family tokens: time in bars and beats, with microtiming and a grid/humanized switch.

Vocabulary (``RemiTokenizer.vocab_size`` = 367 with the defaults)::

    0 PAD, 1 BOS, 2 EOS, 3 GRID, 4 HUMAN (mode control), 5 BAR
    TS num/den      meters whose bar fits MAX_BAR_QUARTERS    (42)
    TEMPO k         32 log-spaced quarter-note tempi 30-300   (32)
    POS p           position in the bar, 12 per quarter note  (96)
    MICRO m         onset offset from its position, 1/8 of a position steps, -4..3 without 0 (7)
    PITCH p         MIDI 21-108                               (88)
    VEL v           32 velocity bins                          (32)
    DUR d           32 durations in positions (1/12 .. 32 quarters) (32)
    PEDAL_ON, PEDAL_OFF (sustain)                             (2)
    (+ 30 spare slots, reserved so later versions stay compatible in size)

A piece reads ``[GRID|HUMAN] BAR TS TEMPO (POS [PEDAL] ([MICRO] PITCH VEL DUR)+)* BAR ...``:
every bar states its meter and tempo, so a window that starts at any bar line is
self-contained.  Twelve positions per quarter hold sixteenths (3) and triplet
eighths (4).  GRID sequences (score MIDIs, DAW parts) sit exactly on the
sixteenth/triplet grid and carry no MICRO tokens; HUMAN sequences (performances
placed on their beats) keep their feel in MICRO offsets of 1/96 quarter.

Why our own instead of MidiTok's REMI/PerTok (MidiTok 3.1 installs with the
pinned torch/numpy): MidiTok reads time from a MIDI tempo map, while our
performances get their time from beat annotations or the beat tracker, a
beat-by-beat map that MidiTok has no input for (we would have to write a
synthetic tempo map per performance and still lose the microtiming REMI rounds
away); PerTok has microtiming but no bar/position tokens for ``--bars`` and the
meter.  The sampler also needs what MidiTok does not expose: token-class ranges
for its grammar and musical masks (key, grid, meter, polyphony), token-level
transposition on a cached array for augmentation, a decoder that repairs any
stream instead of raising, and a grid/humanized control token.  The config is
saved as JSON beside every checkpoint (``tokenizer`` in config.json).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from musestudio.core.notes import SUSTAIN_CC, Note, NoteSequence, PedalEvent
from musestudio.ml.beatgrid import MAX_BAR_QUARTERS, BeatGrid

PAD, BOS, EOS, GRID, HUMAN, BAR = 0, 1, 2, 3, 4, 5
N_SPECIAL = 6
DEFAULT_DURATIONS = (1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, 18, 20, 24, 30, 32, 36, 42, 48, 54, 60, 72, 84, 96,
                     120, 144, 168, 192, 240, 288, 384)  # fmt: skip
GRID_POSITIONS = (0, 3, 4, 6, 8, 9)  # per quarter (of 12): sixteenths and triplet eighths


def _all_meters(max_quarters: float) -> list[tuple[int, int]]:
    out = []
    for den in (2, 4, 8, 16):
        for num in range(1, 16):
            if num * 4.0 / den <= max_quarters + 1e-9:
                out.append((num, den))
    return out


@dataclass(frozen=True)
class RemiConfig:
    positions_per_quarter: int = 12
    max_bar_quarters: float = MAX_BAR_QUARTERS
    micro_steps: int = 8  # MICRO resolution: 1/micro_steps of a position
    n_tempos: int = 32
    tempo_low: float = 30.0
    tempo_high: float = 300.0
    velocity_bins: int = 32
    pitch_low: int = 21
    pitch_high: int = 108
    durations: tuple[int, ...] = DEFAULT_DURATIONS
    use_pedal: bool = True
    spare: int = 30
    version: int = 2
    meters: tuple[tuple[int, int], ...] = field(default=())


class RemiTokenizer:
    """Encode a :class:`NoteSequence` on a :class:`BeatGrid` to int tokens and back."""

    def __init__(self, config: RemiConfig | None = None) -> None:
        c = config or RemiConfig()
        if not c.meters:
            c = RemiConfig(**{**asdict(c), "meters": tuple(_all_meters(c.max_bar_quarters))})
        self.config = c
        self.meters = [tuple(m) for m in c.meters]
        self.meter_index = {m: i for i, m in enumerate(self.meters)}
        self.n_pitches = c.pitch_high - c.pitch_low + 1
        self.n_positions = int(round(c.max_bar_quarters * c.positions_per_quarter))
        self.n_micro = c.micro_steps - 1
        self.ts_offset = N_SPECIAL
        self.tempo_offset = self.ts_offset + len(self.meters)
        self.pos_offset = self.tempo_offset + c.n_tempos
        self.micro_offset = self.pos_offset + self.n_positions
        self.pitch_offset = self.micro_offset + self.n_micro
        self.vel_offset = self.pitch_offset + self.n_pitches
        self.dur_offset = self.vel_offset + c.velocity_bins
        self.pedal_on = self.dur_offset + len(c.durations)
        self.pedal_off = self.pedal_on + 1
        self.vocab_size = self.pedal_off + 1 + c.spare
        self.durations = np.asarray(c.durations, dtype=np.float64)
        self.tempi = np.exp(np.linspace(np.log(c.tempo_low), np.log(c.tempo_high), c.n_tempos))
        self.kind = np.zeros(self.vocab_size, dtype=np.int8)  # token class per id (see KIND_*)
        for lo, hi, k in self._ranges():
            self.kind[lo:hi] = k

    # token classes
    K_SPECIAL, K_MODE, K_BAR, K_TS, K_TEMPO, K_POS, K_MICRO, K_PITCH, K_VEL, K_DUR, K_PEDAL, K_SPARE = range(12)

    def _ranges(self) -> list[tuple[int, int, int]]:
        return [
            (0, 3, self.K_SPECIAL), (GRID, HUMAN + 1, self.K_MODE), (BAR, BAR + 1, self.K_BAR),
            (self.ts_offset, self.tempo_offset, self.K_TS), (self.tempo_offset, self.pos_offset, self.K_TEMPO),
            (self.pos_offset, self.micro_offset, self.K_POS), (self.micro_offset, self.pitch_offset, self.K_MICRO),
            (self.pitch_offset, self.vel_offset, self.K_PITCH), (self.vel_offset, self.dur_offset, self.K_VEL),
            (self.dur_offset, self.pedal_on, self.K_DUR), (self.pedal_on, self.pedal_off + 1, self.K_PEDAL),
            (self.pedal_off + 1, self.vocab_size, self.K_SPARE),
        ]  # fmt: skip

    # --- serialisation ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self.config)
        d["durations"] = list(d["durations"])
        d["meters"] = [list(m) for m in d["meters"]]
        return {"type": "remi", **d}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RemiTokenizer:
        fields = {k: v for k, v in data.items() if k != "type"}
        fields["durations"] = tuple(fields.get("durations", DEFAULT_DURATIONS))
        fields["meters"] = tuple(tuple(m) for m in fields.get("meters", ()))
        return cls(RemiConfig(**fields))

    # --- single tokens ----------------------------------------------------
    def ts(self, num: int, den: int) -> int:
        m = (int(num), int(den))
        if m not in self.meter_index:
            m = self.nearest_meter(num * 4.0 / den, den)
        return self.ts_offset + self.meter_index[m]

    def nearest_meter(self, quarters: float, den: int = 4) -> tuple[int, int]:
        best = min(self.meters, key=lambda m: (abs(m[0] * 4.0 / m[1] - quarters), m[1] != den))
        return best

    def meter_of(self, tok: int) -> tuple[int, int]:
        return self.meters[tok - self.ts_offset]

    def bar_positions(self, tok: int) -> int:
        num, den = self.meter_of(tok)
        return int(round(num * 4.0 / den * self.config.positions_per_quarter))

    def tempo(self, qpm: float) -> int:
        return self.tempo_offset + int(np.argmin(np.abs(np.log(self.tempi) - np.log(max(qpm, 1e-3)))))

    def qpm_of(self, tok: int) -> float:
        return float(self.tempi[tok - self.tempo_offset])

    def pos(self, p: int) -> int:
        return self.pos_offset + int(p)

    def pitch(self, p: int) -> int:
        return self.pitch_offset + int(p) - self.config.pitch_low

    def micro(self, m: int) -> int:
        """MICRO token for offset ``m`` (in 1/micro_steps of a position, -4..3, not 0)."""
        half = self.config.micro_steps // 2
        return self.micro_offset + (m + half if m < 0 else m + half - 1)

    def micro_value(self, tok: int) -> int:
        half = self.config.micro_steps // 2
        k = tok - self.micro_offset
        return k - half if k < half else k - half + 1

    def velocity_to_bin(self, velocity: np.ndarray | int) -> np.ndarray:
        v = np.clip(np.asarray(velocity), 1, 127)
        return np.minimum((v * self.config.velocity_bins) // 128, self.config.velocity_bins - 1)

    def bin_to_velocity(self, bin_index: np.ndarray | int) -> np.ndarray:
        width = 128 / self.config.velocity_bins
        return np.clip(np.round((np.asarray(bin_index) + 0.5) * width).astype(int), 1, 127)

    def duration_index(self, positions: np.ndarray) -> np.ndarray:
        p = np.maximum(np.asarray(positions, dtype=np.float64), 0.5)
        return np.argmin(np.abs(np.log(p)[:, None] - np.log(self.durations)[None, :]), axis=1)

    def is_pitch(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens)
        return (tokens >= self.pitch_offset) & (tokens < self.vel_offset)

    def transpose_tokens(self, tokens: np.ndarray, semitones: int) -> np.ndarray:
        """Shift PITCH tokens; the caller picks a shift that keeps pitches in range."""
        out = np.array(tokens, copy=True)
        out[self.is_pitch(out)] += semitones
        return out

    def pitch_span(self, tokens: np.ndarray) -> tuple[int, int] | None:
        tokens = np.asarray(tokens)
        p = tokens[self.is_pitch(tokens)]
        if p.size == 0:
            return None
        return int(p.min()) - self.pitch_offset + self.config.pitch_low, int(p.max()) - self.pitch_offset + self.config.pitch_low

    def count_notes(self, tokens: np.ndarray) -> int:
        return int(self.is_pitch(tokens).sum())

    # --- encoding ---------------------------------------------------------
    def snap_to_grid(self, positions: np.ndarray) -> np.ndarray:
        """Nearest sixteenth or triplet-eighth position (12 per quarter) for float positions."""
        ppq = self.config.positions_per_quarter
        p = np.asarray(positions, dtype=np.float64)
        s16 = np.round(p / (ppq / 4)) * (ppq / 4)
        s3 = np.round(p / (ppq / 3)) * (ppq / 3)
        return np.where(np.abs(p - s3) < np.abs(p - s16) - 1e-9, s3, s16).round().astype(np.int64)

    def encode(
        self,
        seq: NoteSequence,
        grid: BeatGrid,
        *,
        humanized: bool = True,
        first_bar: int | None = None,
        last_bar: int | None = None,
        with_mode: bool = True,
    ) -> np.ndarray:
        """Tokens of ``seq`` read on ``grid``, from bar ``first_bar`` (default: the first note's) on.

        ``humanized=False`` snaps onsets to the sixteenth/triplet grid and drops MICRO.
        """
        c = self.config
        ppq = c.positions_per_quarter
        arr = seq.as_arrays()
        keep = (arr["pitch"] >= c.pitch_low) & (arr["pitch"] <= c.pitch_high)
        pitch = arr["pitch"][keep].astype(np.int64)
        q_on = grid.to_quarters(arr["start"][keep])
        q_off = grid.to_quarters(arr["end"][keep])
        vel = self.velocity_to_bin(arr["velocity"][keep])
        p_float = q_on * ppq
        if humanized:
            p_int = np.round(p_float).astype(np.int64)
            micro = np.clip(np.round((p_float - p_int) * c.micro_steps), -(c.micro_steps // 2), c.micro_steps // 2 - 1)
            micro = micro.astype(np.int64)
        else:
            p_int = self.snap_to_grid(p_float)
            micro = np.zeros_like(p_int)
        dur = self.duration_index(np.maximum((q_off - q_on) * ppq, 0.5))
        if len(pitch):
            grid.extend_to_quarter(float(p_int.max()) / ppq + 1)
        bar_pos = np.round(np.asarray(grid.bar_quarters) * ppq).astype(np.int64)
        bar_of = np.clip(np.searchsorted(bar_pos, p_int, side="right") - 1, 0, None)
        pos_in = np.maximum(p_int - bar_pos[bar_of], 0)  # notes before the grid's first bar start it
        # pedal changes (sustain only), on positions
        ped_t, ped_down = self._pedal_changes(seq)
        if len(ped_t):
            ped_f = grid.to_quarters(ped_t) * ppq
            ped_p = np.round(ped_f).astype(np.int64) if humanized else self.snap_to_grid(ped_f)
        else:
            ped_p = np.zeros(0, np.int64)
        ped_bar = np.clip(np.searchsorted(bar_pos, ped_p, side="right") - 1, 0, None)
        ped_p = np.maximum(ped_p, bar_pos[ped_bar])
        # order notes by onset, then pitch; drop same-pitch duplicates at one onset
        order = np.lexsort((pitch, p_int))
        pitch, p_int, micro, dur, vel, bar_of, pos_in = (x[order] for x in (pitch, p_int, micro, dur, vel, bar_of, pos_in))
        dup = np.r_[False, (p_int[1:] == p_int[:-1]) & (pitch[1:] == pitch[:-1])]
        if dup.any():
            pitch, p_int, micro, dur, vel, bar_of, pos_in = (x[~dup] for x in (pitch, p_int, micro, dur, vel, bar_of, pos_in))
        if first_bar is None:
            first_bar = int(bar_of[0]) if len(bar_of) else 0
        if last_bar is None:
            last_bar = int(bar_of[-1]) if len(bar_of) else first_bar
        grid.extend_to_bar(last_bar + 1)
        out: list[int] = [GRID if not humanized else HUMAN] if with_mode else []
        note_i = int(np.searchsorted(bar_of, first_bar, side="left"))
        ped_i = int(np.searchsorted(ped_bar, first_bar, side="left")) if len(ped_bar) else 0
        n, n_ped = len(pitch), len(ped_p)
        pitch_l, pos_l, micro_l, dur_l, vel_l, bar_l = (x.tolist() for x in (pitch, pos_in, micro, dur, vel, bar_of))
        max_pos = self.n_positions - 1
        for b in range(first_bar, last_bar + 1):
            q0, q1 = grid.bar_quarters[b], grid.bar_quarters[b + 1]
            num, den = grid.bar_ts[b]
            out += [BAR, self.ts(num, den), self.tempo(grid.qpm_between(q0, q1))]
            bar_len = int(round((q1 - q0) * ppq))
            last_pos = -1
            events: list[tuple[int, int, int]] = []  # (pos, kind 0 pedal / 1 note, index)
            while ped_i < n_ped and ped_bar[ped_i] == b:
                events.append((min(int(ped_p[ped_i] - bar_pos[b]), max_pos), 0, ped_i))
                ped_i += 1
            while note_i < n and bar_l[note_i] == b:
                events.append((min(pos_l[note_i], max_pos, max(bar_len - 1, 0)), 1, note_i))
                note_i += 1
            events.sort()
            for p, kind, i in events:
                if p != last_pos:
                    out.append(self.pos_offset + p)
                    last_pos = p
                if kind == 0:
                    out.append(self.pedal_on if ped_down[i] else self.pedal_off)
                    continue
                if micro_l[i]:
                    out.append(self.micro(micro_l[i]))
                out += [self.pitch_offset + pitch_l[i] - c.pitch_low, self.vel_offset + vel_l[i], self.dur_offset + dur_l[i]]
        return np.asarray(out, dtype=np.int64)

    def first_bar(self, seq: NoteSequence, grid: BeatGrid) -> int:
        """The bar :meth:`encode` starts at by default (the one holding the first note)."""
        if not seq.notes:
            return 0
        return grid.bar_index(float(grid.to_quarters(min(n.start for n in seq.notes))))

    def _pedal_changes(self, seq: NoteSequence) -> tuple[np.ndarray, np.ndarray]:
        if not self.config.use_pedal:
            return np.zeros(0), np.zeros(0, bool)
        times, downs = [], []
        state = False
        for p in sorted((p for p in seq.pedals if p.controller == SUSTAIN_CC), key=lambda p: p.time):
            if p.is_down != state:
                state = p.is_down
                times.append(p.time)
                downs.append(state)
        return np.asarray(times, dtype=np.float64), np.asarray(downs, dtype=bool)

    # --- decoding ---------------------------------------------------------
    def decode_events(self, tokens: np.ndarray | list[int], first_bar_quarter: float = 0.0) -> dict[str, np.ndarray]:
        """Notes of any token stream in quarters: arrays pitch, on_q, off_q, velocity; pedals; bar lines.

        Repairs instead of raising: tokens out of grammar are skipped, a note
        without VEL takes the last velocity, a note without DUR lasts a sixteenth,
        a position at or past the bar's end is clamped into the bar.
        """
        c = self.config
        ppq = c.positions_per_quarter
        bar_start = first_bar_quarter - 0.0
        bar_len = 4 * ppq
        started = False
        pos = 0
        micro = 0
        vel = 64
        pend: list[float] | None = None  # [pitch, on_q, vel]
        notes: list[tuple[int, float, float, int]] = []
        pedals: list[tuple[float, bool]] = []
        bars: list[float] = []
        tempi: list[float] = []

        def close_pending(dur_q: float) -> None:
            nonlocal pend
            if pend is not None:
                notes.append((int(pend[0]), pend[1], pend[1] + dur_q, int(pend[2])))
                pend = None

        kind = self.kind
        for tok in np.asarray(tokens, dtype=np.int64).ravel().tolist():
            if tok < 0 or tok >= self.vocab_size:
                continue
            k = kind[tok]
            if k == self.K_BAR:
                close_pending(3 / ppq)
                if started:
                    bar_start += bar_len / ppq
                started = True
                bars.append(bar_start)
                pos, micro = 0, 0
            elif k == self.K_TS:
                bar_len = self.bar_positions(tok)
            elif k == self.K_TEMPO:
                tempi.append(self.qpm_of(tok))
            elif k == self.K_POS:
                close_pending(3 / ppq)
                pos = min(tok - self.pos_offset, max(bar_len - 1, 0))
                micro = 0
            elif k == self.K_MICRO:
                close_pending(3 / ppq)
                micro = self.micro_value(tok)
            elif k == self.K_PITCH:
                close_pending(3 / ppq)
                on = bar_start + (pos + micro / c.micro_steps) / ppq
                pend = [tok - self.pitch_offset + c.pitch_low, on, vel]
            elif k == self.K_VEL:
                vel = int(self.bin_to_velocity(tok - self.vel_offset))
                if pend is not None:
                    pend[2] = vel
            elif k == self.K_DUR:
                if pend is not None:
                    close_pending(self.durations[tok - self.dur_offset] / ppq)
                micro = 0
            elif k == self.K_PEDAL:
                pedals.append((bar_start + pos / ppq, tok == self.pedal_on))
        close_pending(3 / ppq)
        if started:
            bars.append(bar_start + bar_len / ppq)  # the end of the last bar
        a = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
        return {
            "pitch": a[:, 0].astype(np.int64), "on_q": a[:, 1], "off_q": a[:, 2], "velocity": a[:, 3].astype(np.int64),
            "pedal_q": np.asarray([p[0] for p in pedals]), "pedal_down": np.asarray([p[1] for p in pedals], bool),
            "bars": np.asarray(bars), "tempi": np.asarray(tempi),
        }  # fmt: skip

    def decode(
        self,
        tokens: np.ndarray | list[int],
        grid: BeatGrid,
        first_bar_quarter: float = 0.0,
        *,
        template: NoteSequence | None = None,
    ) -> NoteSequence:
        """Notes in seconds through ``grid``; one sounding copy per key (a re-strike ends the earlier note)."""
        ev = self.decode_events(tokens, first_bar_quarter)
        on = grid.to_seconds(ev["on_q"])
        off = grid.to_seconds(ev["off_q"])
        notes = _one_copy_per_key(ev["pitch"], on, off, ev["velocity"])
        pedals = [PedalEvent(float(t), 127 if d else 0, SUSTAIN_CC)
                  for t, d in zip(grid.to_seconds(ev["pedal_q"]), ev["pedal_down"], strict=True)]
        if template is not None:
            return template.copy(notes=notes, pedals=pedals, drum_notes=[])
        return NoteSequence(notes=notes, pedals=pedals)


def _one_copy_per_key(pitch: np.ndarray, on: np.ndarray, off: np.ndarray, vel: np.ndarray) -> list[Note]:
    order = np.lexsort((on, pitch))
    out: list[Note] = []
    p_l, on_l, off_l, v_l = pitch[order].tolist(), on[order].tolist(), off[order].tolist(), vel[order].tolist()
    for i in range(len(p_l)):
        end = off_l[i]
        if i + 1 < len(p_l) and p_l[i + 1] == p_l[i] and on_l[i + 1] < end:
            end = on_l[i + 1]
        if end - on_l[i] < 1e-4:
            if i + 1 < len(p_l) and p_l[i + 1] == p_l[i] and on_l[i + 1] - on_l[i] < 1e-4:
                continue  # an exact duplicate
            end = on_l[i] + 1e-3
        out.append(Note(int(p_l[i]), float(on_l[i]), float(end), int(v_l[i])))
    out.sort(key=lambda n: (n.start, n.pitch))
    return out
