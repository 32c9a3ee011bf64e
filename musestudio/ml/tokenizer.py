"""Round-1 event-based performance tokens (Performance RNN / Music Transformer style).

Since round 2 the models use REMI tokens on the beat grid (:mod:`musestudio.ml.remi`); this
tokenizer stays so that round-1 checkpoints can still be scored (bits per note) and refused
with one line when asked to continue a seed.

Vocabulary (``PerformanceTokenizer.vocab_size`` = 313 with the defaults)::

    0 PAD, 1 BOS, 2 EOS
    NOTE_ON  p  for p in pitch_low..pitch_high     (88)
    NOTE_OFF p  for p in pitch_low..pitch_high     (88)
    TIME_SHIFT k * 10 ms for k in 1..100           (100)
    VELOCITY  bin 0..31                            (32)
    PEDAL_ON, PEDAL_OFF (sustain, CC64)            (2)

Why our own instead of miditok's ``MIDILike``/``Performance`` tokenizers:
miditok measures time in beats of a tempo map, which for expressive
performances (ASAP, MAESTRO: one nominal tempo, all timing in the onsets)
mixes a notational grid with performed time; we want absolute seconds, which
is what the seed's piano roll shows and what the continuation must follow.
We also need things miditok does not expose: token-class ranges for the
sampler's constraint masks (key lock, pitch range, density, silence and
polyphony limits), token-level transposition for augmentation on a cached
array, and a decoder that *repairs* any token stream instead of raising.

Round trip: ``decode(encode(seq)) == canonical(seq)`` exactly, where
``canonical`` quantizes times to ``time_step``, bins velocities, keeps only
piano-range notes, removes duplicate/overlapping copies of a key and reduces
the sustain pedal to down/up changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from musestudio.core.notes import SUSTAIN_CC, Note, NoteSequence, PedalEvent

PAD, BOS, EOS = 0, 1, 2


@dataclass(frozen=True)
class TokenizerConfig:
    time_step: float = 0.01  # seconds per time-shift unit
    max_shift_steps: int = 100  # longest single TIME_SHIFT token (1 s)
    velocity_bins: int = 32
    pitch_low: int = 21
    pitch_high: int = 108
    use_pedal: bool = True
    version: int = 1


class PerformanceTokenizer:
    """Encode a :class:`NoteSequence` to int tokens and back."""

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = c = config or TokenizerConfig()
        self.n_pitches = c.pitch_high - c.pitch_low + 1
        self.note_on_offset = 3
        self.note_off_offset = self.note_on_offset + self.n_pitches
        self.shift_offset = self.note_off_offset + self.n_pitches
        self.velocity_offset = self.shift_offset + c.max_shift_steps
        self.pedal_on = self.velocity_offset + c.velocity_bins
        self.pedal_off = self.pedal_on + 1
        self.vocab_size = self.pedal_off + 1

    # --- serialisation ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"type": "performance", **asdict(self.config)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerformanceTokenizer:
        fields = {k: v for k, v in data.items() if k != "type"}
        return cls(TokenizerConfig(**fields))

    # --- token classes (for masks and augmentation) -----------------------
    def note_on(self, pitch: int) -> int:
        return self.note_on_offset + pitch - self.config.pitch_low

    def note_off(self, pitch: int) -> int:
        return self.note_off_offset + pitch - self.config.pitch_low

    def time_shift(self, steps: int) -> int:
        return self.shift_offset + steps - 1

    def velocity(self, bin_index: int) -> int:
        return self.velocity_offset + bin_index

    def is_note_on(self, tokens: np.ndarray) -> np.ndarray:
        return (tokens >= self.note_on_offset) & (tokens < self.note_off_offset)

    def is_note_off(self, tokens: np.ndarray) -> np.ndarray:
        return (tokens >= self.note_off_offset) & (tokens < self.shift_offset)

    def is_time_shift(self, tokens: np.ndarray) -> np.ndarray:
        return (tokens >= self.shift_offset) & (tokens < self.velocity_offset)

    def shift_steps(self, tokens: np.ndarray) -> np.ndarray:
        """Time-shift steps carried by each token (0 for other tokens)."""
        tokens = np.asarray(tokens)
        return np.where(self.is_time_shift(tokens), tokens - self.shift_offset + 1, 0)

    def velocity_to_bin(self, velocity: np.ndarray | int) -> np.ndarray:
        v = np.clip(np.asarray(velocity), 1, 127)
        return np.minimum((v * self.config.velocity_bins) // 128, self.config.velocity_bins - 1)

    def bin_to_velocity(self, bin_index: np.ndarray | int) -> np.ndarray:
        width = 128 / self.config.velocity_bins
        return np.clip(np.round((np.asarray(bin_index) + 0.5) * width).astype(int), 1, 127)

    def transpose_tokens(self, tokens: np.ndarray, semitones: int) -> np.ndarray:
        """Shift note-on/off tokens; the caller picks a shift that keeps pitches in range."""
        out = np.array(tokens, copy=True)
        pitched = self.is_note_on(out) | self.is_note_off(out)
        out[pitched] += semitones
        return out

    def pitch_span(self, tokens: np.ndarray) -> tuple[int, int] | None:
        """(lowest, highest) pitch mentioned by note tokens, or None."""
        tokens = np.asarray(tokens)
        on = tokens[self.is_note_on(tokens)] - self.note_on_offset
        off = tokens[self.is_note_off(tokens)] - self.note_off_offset
        both = np.concatenate([on, off])
        if both.size == 0:
            return None
        return int(both.min()) + self.config.pitch_low, int(both.max()) + self.config.pitch_low

    # --- canonical form ---------------------------------------------------
    def _steps(self, seconds: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(seconds, dtype=np.float64) / self.config.time_step).astype(np.int64)

    def canonical(self, seq: NoteSequence, origin: float = 0.0) -> NoteSequence:
        """What a round trip through the tokens returns (times relative to ``origin``)."""
        return self.decode(self.encode(seq, origin=origin), origin=origin, template=seq)

    # --- encoding ---------------------------------------------------------
    def encode(self, seq: NoteSequence, origin: float = 0.0, *, add_bos: bool = False) -> np.ndarray:
        """Tokens for ``seq``; time starts at ``origin`` (events before it are clamped there)."""
        c = self.config
        arr = seq.as_arrays()
        keep = (arr["pitch"] >= c.pitch_low) & (arr["pitch"] <= c.pitch_high)
        pitch = arr["pitch"][keep].astype(np.int64)
        on = np.maximum(self._steps(arr["start"][keep] - origin), 0)
        off = np.maximum(self._steps(arr["end"][keep] - origin), on + 1)
        vel_bin = self.velocity_to_bin(arr["velocity"][keep])
        # One sounding copy per key: a new onset of a sounding pitch ends the earlier note
        # (piano semantics); an exact duplicate onset is dropped.
        order = np.lexsort((-off, on, pitch))
        pitch, on, off, vel_bin = pitch[order], on[order], off[order], vel_bin[order]
        same = np.r_[False, pitch[1:] == pitch[:-1]]
        dup = same & np.r_[False, on[1:] == on[:-1]]
        if dup.any():
            keep_idx = ~dup
            pitch, on, off, vel_bin = pitch[keep_idx], on[keep_idx], off[keep_idx], vel_bin[keep_idx]
            same = np.r_[False, pitch[1:] == pitch[:-1]]
        nxt_same = np.r_[same[1:], False]
        nxt_on = np.r_[on[1:], 0]
        off = np.where(nxt_same & (off > nxt_on), nxt_on, off)

        # events: (time, kind order, pitch/value); at one instant: offs, pedal, velocity+on
        ev_time = [off, on]
        ev_kind = [np.zeros_like(off), np.full_like(on, 3)]
        ev_tok = [self.note_off_offset + pitch - c.pitch_low, self.note_on_offset + pitch - c.pitch_low]
        ev_vel = [np.full_like(off, -1), vel_bin]
        if c.use_pedal:
            ptime, pdown = self._pedal_changes(seq, origin)
            ev_time.append(ptime)
            ev_kind.append(np.where(pdown, 2, 1))  # pedal up before note-ons, down after offs
            ev_tok.append(np.where(pdown, self.pedal_on, self.pedal_off))
            ev_vel.append(np.full_like(ptime, -1))
        t = np.concatenate(ev_time)
        k = np.concatenate(ev_kind)
        tok = np.concatenate(ev_tok)
        vel = np.concatenate(ev_vel)
        order = np.lexsort((tok, k, t))
        t, tok, vel = t[order], tok[order], vel[order]

        # velocity tokens only where the bin changes between consecutive note-ons
        is_on = vel >= 0
        on_vel = vel[is_on]
        changed = np.r_[True, on_vel[1:] != on_vel[:-1]] if on_vel.size else np.zeros(0, bool)
        need_vel = np.zeros(len(tok), bool)
        need_vel[np.flatnonzero(is_on)[changed]] = True

        # time shifts before each event, split into chunks of at most max_shift_steps
        delta = np.diff(np.r_[0, t])
        n_full = delta // c.max_shift_steps
        rest = delta % c.max_shift_steps
        n_shift = n_full + (rest > 0)
        counts = n_shift + need_vel + 1
        out = np.empty(int(counts.sum()), dtype=np.int64)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        # fill: event token at the end of each group, velocity just before it
        out[starts + counts - 1] = tok
        vpos = (starts + counts - 2)[need_vel]
        out[vpos] = self.velocity_offset + vel[need_vel]
        # time-shift tokens: full chunks then the remainder
        total_shift = int(n_shift.sum())
        if total_shift:
            grp = np.repeat(np.arange(len(t)), n_shift)
            within = np.arange(total_shift) - np.repeat(np.r_[0, np.cumsum(n_shift)[:-1]], n_shift)
            is_full = within < n_full[grp]
            steps = np.where(is_full, c.max_shift_steps, rest[grp])
            out[starts[grp] + within] = self.shift_offset + steps - 1
        if add_bos:
            out = np.r_[BOS, out]
        return out

    def _pedal_changes(self, seq: NoteSequence, origin: float) -> tuple[np.ndarray, np.ndarray]:
        times, downs = [], []
        state = False
        for p in seq.pedals:
            if p.controller != SUSTAIN_CC:
                continue
            if p.is_down != state:
                state = p.is_down
                times.append(p.time)
                downs.append(state)
        if not times:
            return np.zeros(0, np.int64), np.zeros(0, bool)
        steps = np.maximum(self._steps(np.array(times) - origin), 0)
        down = np.array(downs)
        # changes that collapse onto one step: keep the last state of that step, then drop non-changes
        last_of_step = np.r_[steps[1:] != steps[:-1], True]
        steps, down = steps[last_of_step], down[last_of_step]
        real = np.r_[down[0], down[1:] != down[:-1]]
        return steps[real], down[real]

    # --- decoding ---------------------------------------------------------
    def decode(
        self,
        tokens: np.ndarray | list[int],
        origin: float = 0.0,
        *,
        template: NoteSequence | None = None,
        initial_velocity: int = 64,
        max_note_seconds: float | None = None,
    ) -> NoteSequence:
        """Notes for any token stream; invalid tokens are repaired or dropped, never raised on.

        Repairs: a note-off with no sounding note is dropped; a note-on of a
        sounding key ends the earlier note first; notes still sounding at the
        end close at the final time (at least one step long); PAD/BOS/EOS and
        out-of-vocabulary values are ignored; a pedal-on while down is ignored.
        """
        c = self.config
        toks = np.asarray(tokens, dtype=np.int64).ravel()
        t = 0
        vel = int(self.velocity_to_bin(initial_velocity))
        sounding: dict[int, tuple[int, int]] = {}
        notes: list[tuple[int, int, int, int]] = []
        pedals: list[tuple[int, bool]] = []
        pedal_down = False
        for tok in toks.tolist():
            if tok < self.note_on_offset or tok >= self.vocab_size:
                continue
            if tok < self.note_off_offset:
                pitch = tok - self.note_on_offset + c.pitch_low
                prev = sounding.pop(pitch, None)
                if prev is not None and t > prev[0]:
                    notes.append((pitch, prev[0], t, prev[1]))
                sounding[pitch] = (t, vel)
            elif tok < self.shift_offset:
                pitch = tok - self.note_off_offset + c.pitch_low
                prev = sounding.get(pitch)
                if prev is not None and t > prev[0]:
                    del sounding[pitch]
                    notes.append((pitch, prev[0], t, prev[1]))
                # a note-off at its own onset instant, or with no note, is dropped
            elif tok < self.velocity_offset:
                t += tok - self.shift_offset + 1
            elif tok < self.pedal_on:
                vel = tok - self.velocity_offset
            elif tok == self.pedal_on:
                if not pedal_down:
                    pedal_down = True
                    pedals.append((t, True))
            elif pedal_down:
                pedal_down = False
                pedals.append((t, False))
        for pitch, (start, v) in sounding.items():
            notes.append((pitch, start, max(t, start + 1), v))
        step = c.time_step
        limit = None if max_note_seconds is None else max(1, round(max_note_seconds / step))
        out_notes = []
        for pitch, s, e, v in notes:
            end = e if limit is None else min(e, s + limit)
            out_notes.append(Note(pitch, origin + s * step, origin + end * step, int(self.bin_to_velocity(v))))
        out_pedals = [PedalEvent(origin + s * step, 127 if d else 0, SUSTAIN_CC) for s, d in pedals]
        if template is not None:
            return template.copy(notes=out_notes, pedals=out_pedals, drum_notes=[])
        return NoteSequence(notes=out_notes, pedals=out_pedals)

    def duration_of(self, tokens: np.ndarray) -> float:
        """Seconds spanned by the time shifts in ``tokens``."""
        return float(self.shift_steps(tokens).sum()) * self.config.time_step
