"""Turning next-token scores into a token: temperature, top-k, top-p and constraints.

Works on numpy log-scores for every model (the neural models' logits and the
Markov model's log-probabilities alike), with a numpy ``Generator`` so that a
random seed reproduces a result exactly whatever the model.

:class:`SamplerState` tracks what the generated tokens mean musically (time,
sounding notes, recent onsets) so that constraints can be enforced *while*
sampling rather than patched afterwards:

* key lock and pitch range: note-ons outside are masked;
* at most ``max_polyphony`` sounding notes: note-ons are masked when full;
* no note held past ``max_note_seconds``: its note-off is forced;
* no silence longer than ``max_silence``: time shifts are masked when nothing
  sounds and the gap would grow past it;
* density hint (notes per second): the log-score of every note-on is nudged
  up or down in proportion to how far the recent onset rate is from the target;
* release nudge: a key held past ``release_after`` seconds has its note-off
  favoured more and more (small models forget which keys are down);
* register guard: note-ons outside the seed's register lose
  ``register_strength`` nats per semitone outside it.  Sampled freely, the
  shipped token models climb away from the seed (on 20 held-out seeds the
  Transformer's last 10 s sat +25 semitones above the seed's mean pitch, the
  human continuations +0.4), so the guard is on by default and can be turned off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musestudio.ml.tokenizer import BOS, EOS, PAD, PerformanceTokenizer


@dataclass
class Constraints:
    pitch_range: tuple[int, int] = (21, 108)
    allowed_pitch_classes: frozenset[int] | None = None  # key lock
    max_polyphony: int = 16
    max_note_seconds: float = 8.0
    max_silence: float = 4.0
    density: float | None = None  # notes per second hint
    density_strength: float = 1.5
    # small models lose track of which keys are down and leave notes hanging until the 8 s limit;
    # past ``release_after`` seconds a held key's note-off gains ``release_strength`` nats per second
    release_after: float = 1.5
    release_strength: float = 2.0
    register: tuple[float, float] | None = None  # soft (low, high) pitch band, usually the seed's
    register_strength: float = 0.5  # nats per semitone outside the band


@dataclass
class SamplerState:
    """Musical meaning of the tokens so far (time in tokenizer steps)."""

    time: int = 0
    sounding: dict[int, int] = field(default_factory=dict)  # pitch -> onset step
    last_sound_end: int = 0  # step at which something last stopped (or started) sounding
    onsets: list[int] = field(default_factory=list)  # recent onset steps (for density)

    def update(self, tok: int, tk: PerformanceTokenizer) -> None:
        c = tk.config
        if tk.note_on_offset <= tok < tk.note_off_offset:
            pitch = tok - tk.note_on_offset + c.pitch_low
            self.sounding[pitch] = self.time
            self.onsets.append(self.time)
            if len(self.onsets) > 64:
                del self.onsets[:32]
            self.last_sound_end = self.time
        elif tk.note_off_offset <= tok < tk.shift_offset:
            pitch = tok - tk.note_off_offset + c.pitch_low
            if self.sounding.pop(pitch, None) is not None:
                self.last_sound_end = self.time
        elif tk.shift_offset <= tok < tk.velocity_offset:
            if self.sounding:
                self.last_sound_end = self.time + tok - tk.shift_offset + 1
            self.time += tok - tk.shift_offset + 1

    @classmethod
    def from_tokens(cls, tokens: np.ndarray, tk: PerformanceTokenizer) -> SamplerState:
        st = cls()
        for tok in np.asarray(tokens).tolist():
            st.update(int(tok), tk)
        return st


class Sampler:
    def __init__(
        self,
        tokenizer: PerformanceTokenizer,
        constraints: Constraints,
        *,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        rng: np.random.Generator,
    ) -> None:
        self.tk = tk = tokenizer
        self.c = constraints
        self.temperature = max(float(temperature), 1e-4)
        self.top_k = int(top_k)
        self.top_p = float(top_p)
        self.rng = rng
        v = tk.vocab_size
        cfg = tk.config
        # the static part of the mask: special tokens, key lock, pitch range
        self.static_mask = np.zeros(v, dtype=bool)
        self.static_mask[[PAD, BOS, EOS]] = True
        lo, hi = constraints.pitch_range
        for p in range(cfg.pitch_low, cfg.pitch_high + 1):
            outside = p < lo or p > hi
            off_key = constraints.allowed_pitch_classes is not None and p % 12 not in constraints.allowed_pitch_classes
            if outside or off_key:
                self.static_mask[tk.note_on(p)] = True
        self.note_on_slice = slice(tk.note_on_offset, tk.note_off_offset)
        pitches = np.arange(cfg.pitch_low, cfg.pitch_high + 1, dtype=np.float64)
        if constraints.register is not None:
            low, high = constraints.register
            outside = np.maximum(low - pitches, 0.0) + np.maximum(pitches - high, 0.0)
            self.register_penalty = constraints.register_strength * outside  # per note-on token
        else:
            self.register_penalty = None
        self.shift_steps = np.arange(1, cfg.max_shift_steps + 1)
        self.step_seconds = cfg.time_step

    def _forced(self, st: SamplerState) -> int | None:
        """A note-off that must come now (a note held too long), else None."""
        limit = round(self.c.max_note_seconds / self.step_seconds)
        for pitch, onset in st.sounding.items():
            if st.time - onset >= limit:
                return self.tk.note_off(pitch)
        return None

    def choose(self, scores: np.ndarray, st: SamplerState) -> int:
        forced = self._forced(st)
        if forced is not None:
            return forced
        tk = self.tk
        s = np.asarray(scores, dtype=np.float64).copy()
        mask = self.static_mask.copy()
        if len(st.sounding) >= self.c.max_polyphony:
            mask[self.note_on_slice] = True
        # note-offs of keys that are not sounding are meaningless: mask them
        off = np.ones(tk.n_pitches, dtype=bool)
        if st.sounding:
            off[np.fromiter(st.sounding, dtype=np.int64) - tk.config.pitch_low] = False
        mask[tk.note_off_offset : tk.shift_offset] = off
        # silence: nothing sounds, so a time shift lengthens the gap
        if not st.sounding:
            gap_steps = st.time - st.last_sound_end
            max_gap = round(self.c.max_silence / self.step_seconds)
            too_long = gap_steps + self.shift_steps > max_gap
            mask[tk.shift_offset : tk.velocity_offset] |= too_long
        # a held note must not outlast the limit inside one shift
        if st.sounding:
            limit = round(self.c.max_note_seconds / self.step_seconds)
            oldest = min(st.sounding.values())
            mask[tk.shift_offset : tk.velocity_offset] |= st.time - oldest + self.shift_steps > limit
        if self.c.density is not None and st.onsets:
            window = max(1, st.time - st.onsets[0]) * self.step_seconds
            rate = len(st.onsets) / max(window, 1.0)
            ratio = np.log((self.c.density + 0.1) / (rate + 0.1))
            s[self.note_on_slice] += self.c.density_strength * float(np.clip(ratio, -2, 2))
        if self.register_penalty is not None:
            s[self.note_on_slice] -= self.register_penalty
        if st.sounding and self.c.release_strength > 0:
            for pitch, onset in st.sounding.items():
                held = (st.time - onset) * self.step_seconds
                if held > self.c.release_after:
                    s[tk.note_off(pitch)] += self.c.release_strength * (held - self.c.release_after)
        s[mask] = -np.inf
        if not np.isfinite(s).any():  # every option masked: advance time by the smallest step
            return tk.time_shift(1)
        return self.sample(s)

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
        # Inverse-CDF draw: exactly what Generator.choice(len(p), p=p) computes (same stream,
        # same result) without its argument checks, which cost more than the draw per token.
        cdf = np.cumsum(p)
        cdf /= cdf[-1]
        return min(int(cdf.searchsorted(self.rng.random(), side="right")), len(p) - 1)
