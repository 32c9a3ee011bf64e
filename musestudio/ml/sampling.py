"""Turning next-token scores into REMI tokens: grammar, musical constraints, temperature, top-k/p.

Works on numpy log-scores for every model (the neural models' logits and the
Markov model's log-probabilities alike), with a numpy ``Generator`` so that a
random seed reproduces a result exactly whatever the model.

:class:`RemiState` follows what the tokens mean (bar, position, sounding
notes, recent onsets), so that constraints are enforced *while* sampling:

* grammar: ``BAR TS TEMPO (POS [PEDAL] ([MICRO] PITCH VEL DUR)+)*``; the meter and
  tempo of every new bar are forced to the seed's grid (the continuation keeps
  the seed's tempo and meter), positions only move forward inside the bar, and
  notes at one position come in rising pitch order, as in training;
* time window: no position before the continuation's start beat, nothing at or
  after its end; choosing BAR when the next bar starts at the end stops;
* grid mode: positions and note lengths only on the sixteenth/triplet grid, no MICRO tokens;
* key: PITCH tokens outside the key lose ``key_strength`` nats (``inf`` = a hard lock);
* pitch range (hard), register guard (soft: ``register_strength`` nats per
  semitone outside the seed's band), at most ``max_polyphony`` sounding notes,
  no DUR longer than ``max_note_quarters``, no silence longer than ``max_gap_quarters``;
* density: when the recent onset rate is below the target (the seed's, by default) the
  next position is pulled nearer, when above pushed further, by up to
  ``density_strength * log(target / rate)`` nats (chord sizes are left to the model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from musestudio.ml.remi import BAR, GRID_POSITIONS, RemiTokenizer


@dataclass
class Constraints:
    start_q: float = 0.0  # first onset allowed (the continuation's first beat), quarters
    end_q: float = float("inf")  # nothing starts at or after this, quarters
    grid: bool = False  # quantized output: sixteenth/triplet positions, no MICRO
    pitch_range: tuple[int, int] = (21, 108)
    key_pitch_classes: frozenset[int] | None = None
    key_strength: float = 1.0  # nats off an out-of-key PITCH; inf = hard lock
    register: tuple[float, float] | None = None
    register_strength: float = 0.5
    max_polyphony: int = 16
    max_note_quarters: float = 16.0
    max_gap_quarters: float = 8.0
    density: float | None = None  # target onsets per quarter note
    density_strength: float = 2.0
    density_window: float = 8.0  # quarters of recent music the rate is measured over
    chord_density_share: float = 0.5  # part of the density bias also given to one more note at the same onset


@dataclass
class RemiState:
    """What the tokens so far mean (positions in quarters from the grid's origin)."""

    bar_index: int = -1
    bar_start: float = 0.0
    bar_len: int = 48  # positions
    pos: int = -1
    last_kind: int = -1
    last_pitch: int = -1  # last PITCH at the current position (chords rise)
    micro: int = 0
    pending: list[float] | None = None  # [pitch, on_q]
    sounding: list[tuple[int, float, float]] = field(default_factory=list)  # (pitch, on_q, end_q)
    onsets: list[float] = field(default_factory=list)
    last_sound_end: float = float("-inf")
    first_bar_quarter: float = 0.0
    generated_notes: int = 0

    @property
    def time(self) -> float:
        return self.bar_start + max(self.pos, 0) / 12.0

    def update(self, tok: int, tk: RemiTokenizer, bar_start_of: Callable[[int], float] | None = None) -> None:
        k = int(tk.kind[tok])
        if k == tk.K_BAR:
            self.bar_index += 1
            if bar_start_of is not None:
                self.bar_start = bar_start_of(self.bar_index)
            elif self.bar_index > 0:
                self.bar_start += self.bar_len / 12.0
            else:
                self.bar_start = self.first_bar_quarter
            self.pos, self.last_pitch, self.micro = -1, -1, 0
        elif k == tk.K_TS:
            self.bar_len = tk.bar_positions(tok)
        elif k == tk.K_POS:
            self.pos = tok - tk.pos_offset
            self.last_pitch, self.micro = -1, 0
        elif k == tk.K_MICRO:
            self.micro = tk.micro_value(tok)
        elif k == tk.K_PITCH:
            on = self.bar_start + (max(self.pos, 0) + self.micro / tk.config.micro_steps) / 12.0
            self.pending = [tok - tk.pitch_offset + tk.config.pitch_low, on]
            self.last_pitch = int(self.pending[0])
            self.onsets.append(on)
            if len(self.onsets) > 256:
                del self.onsets[:128]
        elif k == tk.K_DUR:
            if self.pending is not None:
                end = self.pending[1] + tk.durations[tok - tk.dur_offset] / 12.0
                self.sounding.append((int(self.pending[0]), self.pending[1], end))
                self.last_sound_end = max(self.last_sound_end, end)
                self.pending = None
                self.generated_notes += 1
            self.micro = 0
        self.last_kind = k

    def prune(self, now: float) -> None:
        self.sounding = [s for s in self.sounding if s[2] > now + 1e-9]

    @classmethod
    def from_tokens(cls, tokens: np.ndarray, tk: RemiTokenizer, first_bar_quarter: float,
                    bar_start_of: Callable[[int], float] | None = None) -> RemiState:
        st = cls(first_bar_quarter=first_bar_quarter)
        for tok in np.asarray(tokens).tolist():
            if 0 <= tok < tk.vocab_size:
                st.update(int(tok), tk, bar_start_of)
        st.generated_notes = 0
        return st


class Sampler:
    """REMI sampler: ``choose(scores, state)`` returns the next token, or None when the continuation is complete."""

    def __init__(
        self,
        tokenizer: RemiTokenizer,
        constraints: Constraints,
        bar_header: Callable[[int], tuple[int, int, float]],
        *,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        rng: np.random.Generator,
    ) -> None:
        """``bar_header(i)`` gives bar ``i``'s (TS token, TEMPO token, start in quarters) on the seed's grid."""
        self.tk = tk = tokenizer
        self.c = c = constraints
        self.bar_header = bar_header
        self.temperature = max(float(temperature), 1e-4)
        self.top_k, self.top_p, self.rng = int(top_k), float(top_p), rng
        v = tk.vocab_size
        kind = tk.kind
        self.is_pos = kind == tk.K_POS
        self.is_pitch = kind == tk.K_PITCH
        self.is_micro = kind == tk.K_MICRO
        self.is_dur = kind == tk.K_DUR
        self.is_vel = kind == tk.K_VEL
        self.is_pedal = kind == tk.K_PEDAL
        pitches = np.arange(tk.config.pitch_low, tk.config.pitch_high + 1)
        self.pitch_bias = np.zeros(tk.n_pitches)
        lo, hi = c.pitch_range
        self.pitch_block = (pitches < lo) | (pitches > hi)
        if c.key_pitch_classes is not None:
            off_key = np.array([p % 12 not in c.key_pitch_classes for p in pitches])
            if np.isinf(c.key_strength):
                self.pitch_block |= off_key
            else:
                self.pitch_bias -= c.key_strength * off_key
        if c.register is not None:
            rlo, rhi = c.register
            self.pitch_bias -= c.register_strength * (np.maximum(rlo - pitches, 0.0) + np.maximum(pitches - rhi, 0.0))
        self.pitch_values = pitches
        positions = np.arange(tk.n_positions)
        self.on_grid = np.isin(positions % 12, GRID_POSITIONS)
        self.dur_block = tk.durations / 12.0 > c.max_note_quarters
        if c.grid:  # note ends on the grid too: lengths in whole sixteenths or triplet eighths
            self.dur_block |= (tk.durations % 3 != 0) & (tk.durations % 4 != 0)
        if self.dur_block.all():
            self.dur_block[0] = False
        self.vocab = v

    # --- the allowed set ----------------------------------------------------
    def _pos_mask(self, st: RemiState) -> np.ndarray:
        """Allowed POS values (bool over positions) in the current bar."""
        tk, c = self.tk, self.c
        n = tk.n_positions
        p = np.arange(n)
        t = st.bar_start + p / 12.0
        ok = (p > st.pos) & (p < st.bar_len) & (t >= c.start_q - 1e-6) & (t < c.end_q - 1e-6)
        if c.grid:
            ok &= self.on_grid
        return ok

    def _gap_ok(self, st: RemiState, t: np.ndarray | float) -> np.ndarray | bool:
        """Times at which a new event keeps the silence under the limit."""
        if not st.sounding and np.isfinite(st.last_sound_end):
            return np.asarray(t) <= st.last_sound_end + self.c.max_gap_quarters + 1e-9
        return np.ones_like(np.asarray(t), dtype=bool)

    def choose(self, scores: np.ndarray, st: RemiState) -> int | None:
        tk, c = self.tk, self.c
        k = st.last_kind
        if k == tk.K_BAR:
            return self.bar_header(st.bar_index)[0]
        if k == tk.K_TS:
            return self.bar_header(st.bar_index)[1]
        st.prune(st.time)
        s = np.asarray(scores, dtype=np.float64)[: self.vocab].copy()
        allow = np.zeros(self.vocab, dtype=bool)
        can_note = k in (tk.K_POS, tk.K_PEDAL, tk.K_DUR) and st.pos >= 0 and st.time >= c.start_q - 1e-6
        can_move = k in (tk.K_TEMPO, tk.K_PEDAL, tk.K_DUR, -1, tk.K_MODE, tk.K_SPECIAL)
        if k in (tk.K_MICRO,):
            allow |= self.is_pitch
        elif k == tk.K_PITCH:
            allow |= self.is_vel
        elif k == tk.K_VEL:
            allow |= self.is_dur
            allow[self.is_dur] &= ~self.dur_block
        if can_note and k == tk.K_DUR and st.last_pitch >= 0:
            # another note at this onset must lie above the last one: none left, none allowed
            above = (self.pitch_values > st.last_pitch) & ~self.pitch_block
            can_note = bool(above.any())
        if can_note:
            full = len(st.sounding) >= c.max_polyphony
            if not full:
                allow |= self.is_pitch
                if not c.grid:
                    allow |= self.is_micro
            if k == tk.K_POS:
                allow |= self.is_pedal
        if k in (tk.K_MICRO,) or (can_note and not (len(st.sounding) >= c.max_polyphony)):
            pmask = ~self.pitch_block.copy()
            if k in (tk.K_DUR, tk.K_MICRO) and st.last_pitch >= 0 and st.pos >= 0:
                pmask &= self.pitch_values > st.last_pitch  # notes of one onset rise, as in training
            allow[tk.pitch_offset : tk.vel_offset] &= pmask
            if not pmask.any() and k == tk.K_MICRO:  # nothing can follow this MICRO: take the lowest allowed
                allow[tk.pitch_offset : tk.vel_offset] = ~self.pitch_block
            s[tk.pitch_offset : tk.vel_offset] += self.pitch_bias
        if can_move:
            pos_ok = self._pos_mask(st)
            if pos_ok.any():
                gap = self._gap_ok(st, st.bar_start + np.arange(tk.n_positions) / 12.0)
                if (pos_ok & gap).any():
                    pos_ok &= gap
                allow[tk.pos_offset : tk.pos_offset + tk.n_positions] = pos_ok
            bar_end = st.bar_start + st.bar_len / 12.0
            if self._gap_ok(st, bar_end) or not pos_ok.any():
                allow[BAR] = True
            if c.density is not None and c.density > 0:
                # too sparse: the next onset is pulled nearer (positions within one target inter-onset
                # interval gain up to `bias` nats, far ones lose); too dense: pushed further away
                recent = [t for t in st.onsets if t > st.time - c.density_window]
                span = max(min(c.density_window, st.time - (st.onsets[0] if st.onsets else st.time)), 1.0)
                rate = len(recent) / span
                bias = c.density_strength * float(np.clip(np.log((c.density + 0.05) / (rate + 0.05)), -2, 2))
                ioi = 1.0 / c.density
                ahead = np.maximum(st.bar_start + np.arange(tk.n_positions) / 12.0 - st.time, 0.0)
                s[tk.pos_offset : tk.pos_offset + tk.n_positions] += bias * np.clip(1.0 - ahead / ioi, -2.0, 1.0)
                bar_ahead = st.bar_start + st.bar_len / 12.0 - st.time
                s[BAR] += bias * float(np.clip(1.0 - bar_ahead / ioi, -2.0, 1.0))
                if k in (tk.K_DUR, tk.K_PEDAL) and c.chord_density_share > 0:  # another note at this onset
                    s[self.is_pitch | self.is_micro] += c.chord_density_share * bias
        if not allow.any():
            allow[BAR] = True
        s[~allow] = -np.inf
        tok = self.sample(s)
        if tok == BAR and self.bar_header(st.bar_index + 1)[2] >= c.end_q - 1e-6:
            return None  # the next bar starts at the end: done
        return tok

    def sample(self, scores: np.ndarray) -> int:
        s = scores / self.temperature
        if 0 < self.top_k < len(s):
            kth = np.partition(s, -self.top_k)[-self.top_k]
            s = np.where(s < kth, -np.inf, s)
        s = s - s.max()
        p = np.exp(s)
        p /= p.sum()
        if self.top_p < 1.0:
            order = np.argsort(-p)
            cum = np.cumsum(p[order])
            keep = order[: int(np.searchsorted(cum, self.top_p)) + 1]
            q = np.zeros_like(p)
            q[keep] = p[keep]
            p = q / q.sum()
        # inverse-CDF draw: what Generator.choice(len(p), p=p) computes, without its per-call checks
        cdf = np.cumsum(p)
        cdf /= cdf[-1]
        return min(int(cdf.searchsorted(self.rng.random(), side="right")), len(p) - 1)
