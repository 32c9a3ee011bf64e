"""Synthetic steady performances with known beats: the simple, clicked or quantized phrases DAW users bring.

ASAP is concert repertoire played with rubato.  What a composer sketches in a
DAW is often far plainer: block chords on every beat, an oom-pah bass, an
Alberti figure, a tune over held chords, at a steady tempo and often
quantized.  A tracker trained on ASAP alone can take such a phrase's bar for
its beat (the first 128-channel tracker tracked a 97 BPM waltz at 32 BPM), so
these patterns are mixed into the beat tracker's training data.

Each pattern draws a meter (2, 3 or 4 beats a bar, simple or compound), a
tempo (45-200 beats a minute), a key and a diatonic chord progression, an
accompaniment figure (a held or a short bass), an optional melody, accents of random strength
(sometimes none) and timing jitter of 0-15 ms (sometimes none, as quantized).
Everything is random per pattern; no pattern copies a test fixture.

With ``swell_share`` > 0 that share of patterns is played without a click: the beat period follows a
slow swell (a sine of 3-12 % depth over 8-48 beats) or a ramp (up to 15 % faster or slower over the
phrase), the way a sketch played in by hand breathes.  The ninth session added it because every earlier
phrase was metronomic and the trackers trained on them halved the tempo in the slow half of a swelling
phrase.  With ``swell_share`` = 0 the draws are exactly those of before (validation phrases unchanged).
"""

from __future__ import annotations

import numpy as np

from training.data.beats import Annotated

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
FIGURES = ("block", "oompah", "alberti", "arpeggio", "held", "bass_chord_subdiv", "pulse")


def _chord(scale: np.ndarray, tonic: int, degree: int) -> list[int]:
    """Pitch classes (as offsets from the tonic's octave) of the diatonic triad on ``degree``."""
    return [tonic + int(scale[(degree + k) % 7]) + 12 * ((degree + k) // 7) for k in (0, 2, 4)]


def _beat_clock(rng: np.random.Generator, ioi: float, n: int) -> np.ndarray:
    """Seconds from the first beat to beats 0..n of a phrase whose beat period swells or ramps."""
    k = np.arange(n)
    if rng.random() < 0.6:
        depth, period, phase = rng.uniform(0.03, 0.12), rng.uniform(8, 48), rng.uniform(0, 2 * np.pi)
        scale = 1.0 + depth * np.sin(2 * np.pi * k / period + phase)
    else:
        scale = 1.0 + rng.uniform(-0.15, 0.15) * k / max(n - 1, 1)
    return np.concatenate([[0.0], np.cumsum(ioi * scale)])


def pattern(rng: np.random.Generator, index: int = 0, swell_share: float = 0.0) -> Annotated:
    """One synthetic performance with its beats and downbeats: steady, or (``swell_share``) breathing."""
    per_bar = int(rng.choice([2, 3, 4], p=[0.25, 0.3, 0.45]))
    ternary = bool(rng.random() < 0.2)
    sub = 3 if ternary else int(rng.choice([2, 4]))  # steps per beat for figures
    bpm = float(np.exp(rng.uniform(np.log(45 if ternary else 55), np.log(130 if ternary else 200))))
    ioi = 60.0 / bpm
    bars = int(rng.integers(12, 40))
    tonic = int(rng.integers(0, 12))
    scale = MINOR if rng.random() < 0.35 else MAJOR
    figure = str(rng.choice(FIGURES))
    melody = figure == "held" or rng.random() < 0.7  # held chords alone would leave beats 2.. unheard
    accent = float(rng.choice([0.0, rng.uniform(5, 30)]))  # velocity added on the downbeat
    jitter = 0.0 if rng.random() < 0.4 else float(rng.uniform(0.002, 0.015))
    legato = float(rng.uniform(0.3, 1.0))
    # A bass held to the next bass note (a pedal-like left hand, common in DAW sketches; the fifth session's
    # 128-channel tracker, trained without it, took a held-bass waltz's bar for its beat).
    hold_bass = bool(rng.random() < 0.35)
    base_vel = float(rng.uniform(40, 90))
    pickup = int(rng.integers(1, per_bar)) if (per_bar > 1 and rng.random() < 0.2) else 0
    t0 = float(rng.uniform(0.0, 1.0))
    progression = [int(rng.choice([0, 3, 4, 5, 1])) if i % 4 else 0 for i in range(bars)]
    # beat position -> seconds after t0; a straight line unless this phrase breathes
    clock = _beat_clock(rng, ioi, bars * per_bar + 2) if (swell_share > 0 and rng.random() < swell_share) else None

    def at(pos: float) -> float:
        return pos * ioi if clock is None else float(np.interp(pos, np.arange(len(clock)), clock))

    pitch: list[int] = []
    start: list[float] = []
    dur: list[float] = []
    vel: list[float] = []

    def add(p: int, beat_pos: float, length_beats: float, v: float) -> None:
        pitch.append(int(np.clip(p, 21, 108)))
        start.append(t0 + at(beat_pos))
        dur.append(max(0.05, (at(beat_pos + length_beats) - at(beat_pos)) * legato))
        vel.append(v)

    first_beat = per_bar - pickup if pickup else 0  # a pickup starts late in a bar that is left out
    for bar in range(bars):
        chord = _chord(scale, tonic, progression[bar])
        bass = chord[0] + 36 + (12 if rng.random() < 0.3 else 0)
        mid = [c + 60 for c in chord]
        for beat in range(per_bar):
            b = bar * per_bar + beat - first_beat
            if b < 0:
                continue
            acc = accent if beat == 0 else (accent / 2 if per_bar == 4 and beat == 2 else 0.0)
            v = base_vel + acc + float(rng.normal(0, 6))
            bass_beats = 1.0
            if hold_bass:  # until the next bass onset: the next beat, or the next strong beat for oom-pah/pulse
                strong = figure in ("oompah", "pulse") and beat in (0, 2) and per_bar == 4
                bass_beats = 2.0 if strong else (per_bar if figure in ("oompah", "pulse", "alberti") else 1.0)
            if figure == "block":
                add(bass, b, bass_beats, v)
                for p in mid:
                    add(p, b, 1.0, v - 8)
            elif figure == "oompah":
                if beat == 0 or (per_bar == 4 and beat == 2):
                    add(bass, b, bass_beats, v + 5)
                else:
                    for p in mid:
                        add(p, b, 0.6, v - 12)
            elif figure == "alberti":
                order = [0, 2, 1, 2] if sub != 3 else [0, 2, 1]
                for k in range(sub):
                    add(mid[order[k % len(order)]] - 12, b + k / sub, 1.0 / sub, v - 10 + (6 if k == 0 else 0))
                if beat == 0:
                    add(bass - 12, b, per_bar, v)
            elif figure == "pulse":  # repeated chord tones on every subdivision, bass on the strong beats
                if beat == 0 or (per_bar == 4 and beat == 2):
                    add(bass, b, bass_beats, v + 6)
                for k in range(sub):
                    add(mid[(beat * sub + k) % 2], b + k / sub, 0.9 / sub, v - 16 + (4 if k == 0 else 0))
            elif figure == "arpeggio":
                notes = [bass, *mid, mid[0] + 12]
                for k in range(sub):
                    add(notes[(beat * sub + k) % len(notes)], b + k / sub, 1.0 / sub, v - 10 + (6 if k == 0 else 0))
            elif figure == "held":
                if beat == 0:
                    add(bass, b, per_bar, v)
                    for p in mid:
                        add(p, b, per_bar, v - 10)
            else:  # bass on the beat, chords on the subdivisions
                add(bass, b, bass_beats if hold_bass else 1.0 / sub, v + 4)
                for k in range(1, sub):
                    for p in mid:
                        add(p, b + k / sub, 1.0 / sub, v - 14)
            if melody:
                rhythm = [[1.0], [0.5, 0.5], [0.75, 0.25], [1.0]][int(rng.integers(0, 4))] if not ternary else \
                    [[1.0], [2 / 3, 1 / 3], [1 / 3, 1 / 3, 1 / 3]][int(rng.integers(0, 3))]
                pos = 0.0
                for r in rhythm:
                    deg = int(rng.integers(0, 10))
                    p = tonic + 72 + int(scale[deg % 7]) + 12 * (deg // 7)
                    add(p, b + pos, r, v + 4 + (4 if pos == 0 else 0))
                    pos += r
    s = np.array(start)
    s = s + (rng.normal(0, jitter, len(s)).clip(-3 * jitter, 3 * jitter) if jitter else 0.0)
    s = np.maximum(s, 0.0)
    order = np.argsort(s, kind="stable")
    n_beats = bars * per_bar - first_beat
    beats = t0 + np.array([at(k) for k in range(n_beats)])
    down_idx = np.arange(n_beats)[(np.arange(n_beats) + first_beat) % per_bar == 0]
    num = {(2, False): "2/4", (3, False): "3/4", (4, False): "4/4", (2, True): "6/8", (3, True): "9/8",
           (4, True): "12/8"}[(per_bar, ternary)]
    return Annotated(
        name=f"synthetic/{index:05d}_{figure}.mid", piece="synthetic",
        pitch=np.array(pitch, np.int16)[order], start=s[order], end=(s + np.array(dur))[order],
        velocity=np.clip(np.array(vel), 1, 127).astype(np.int16)[order], beats=beats, downbeats=beats[down_idx],
        time_signature=num, beats_per_bar=per_bar, ternary=ternary, key_sharps=None, quantized=True)


def patterns(n: int, seed: int = 0, swell_share: float = 0.0) -> list[Annotated]:
    """``n`` synthetic performances (deterministic for a seed); ``swell_share`` of them breathe."""
    rng = np.random.default_rng(seed)
    return [pattern(rng, i, swell_share) for i in range(n)]
