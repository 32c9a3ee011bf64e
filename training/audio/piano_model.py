"""A modelled piano: additive synthesis of struck strings, with every physical knob drawn per render.

Why it exists.  Debian ships three usable sampled pianos besides the held-out one, and a transcriber
trained on three pianos learns those pianos: on a piano it never heard its errors are false alarms on
partials and resonance that piano has and the palette's did not (issue 16).  Sampled pianos cannot be
varied in what matters there (how inharmonic the strings are, which partials the hammer excites, how fast
each partial dies, how the unison strings beat); a model of the string can, so each render is a different
instrument.  It is written here because no maintained Python library synthesises a piano from MIDI with
these parameters exposed (FluidSynth plays samples; physical-model synths such as Pianoteq are closed).

The model, per note (Fletcher and Rossing, *The Physics of Musical Instruments*, ch. 12, for the physics):
- partials at ``k f0 sqrt(1 + B k^2)`` with the string's inharmonicity ``B`` rising from bass to treble;
- one to three unison strings per key, a few cents apart, so partials beat;
- partial amplitudes: a spectral tilt that flattens with velocity (louder is brighter) times the comb
  ``|sin(pi k x)|`` of a hammer striking at ``x`` of the string's length;
- a two-stage decay (fast prompt sound, slow aftersound), shorter for higher partials and higher keys;
- dampers: after the key (and pedal) are released the note dies in tens of milliseconds, except in the top
  register, which has no dampers;
- a hammer knock: a short low-passed noise burst at the onset, louder with velocity;
- the hammer felt's low-pass on the partials, whose corner rises with velocity (a harder blow is shorter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musestudio.core.notes import NoteSequence

#: ``RenderCondition.soundfont`` of a modelled-piano render (no SoundFont is read).
MODEL_PIANO = "model:piano"
MAX_NOTE_SECONDS = 12.0  # a note is rendered for at most this long (a low A0 rings longer; -60 dB is reached)
MAX_PARTIAL_HZ = 7600.0  # the transcriber's input stops at 8 kHz


@dataclass(frozen=True)
class PianoModel:
    """One instrument: drawn by :func:`random_piano`, fixed for a whole render."""

    inharmonicity: float = 4e-4  # B at middle C; x10 per 40 semitones up
    unison_cents: float = 1.0  # spread of the unison strings' tuning
    hammer_position: float = 1 / 8  # strike point, fraction of the string's length
    tilt: float = 1.4  # partial k's amplitude ~ k**-tilt at velocity 0 ...
    brightness: float = 0.8  # ... and k**-(tilt - brightness * v/127) at velocity v
    t60_middle: float = 8.0  # seconds for middle C's fundamental to fall 60 dB
    t60_slope: float = 0.8  # octaves: T60 halves every 1/slope octaves up
    partial_damping: float = 0.15  # higher partials die faster: tau_k = tau / (1 + d (k - 1))
    prompt_share: float = 0.7  # share of the level in the fast (prompt) decay stage
    prompt_ratio: float = 5.0  # the prompt stage is this many times faster
    damper_seconds: float = 0.06  # time constant of a damped string
    damper_top: int = 89  # keys above this have no damper
    loudness_gamma: float = 2.0  # amplitude ~ (v/127)**gamma
    knock_db: float = -24.0  # hammer knock, dB re. the note's peak
    knock_hz: float = 1500.0  # its low-pass corner
    hammer_hz: float = 0.0  # felt low-pass on the partials at mezzo-forte, an octave up at ff (0 = off)


def random_piano(rng: np.random.Generator) -> PianoModel:
    """A random instrument, from a spinet to a concert grand (ranges around published measurements)."""
    return PianoModel(
        inharmonicity=float(np.exp(rng.uniform(np.log(1e-4), np.log(2e-3)))),
        unison_cents=float(rng.uniform(0.0, 3.0)),
        hammer_position=float(rng.uniform(1 / 12, 1 / 6)),
        tilt=float(rng.uniform(0.8, 2.2)),
        brightness=float(rng.uniform(0.2, 1.2)),
        t60_middle=float(np.exp(rng.uniform(np.log(3.0), np.log(15.0)))),
        t60_slope=float(rng.uniform(0.5, 1.1)),
        partial_damping=float(rng.uniform(0.03, 0.4)),
        prompt_share=float(rng.uniform(0.4, 0.9)),
        prompt_ratio=float(rng.uniform(2.0, 10.0)),
        damper_seconds=float(rng.uniform(0.02, 0.15)),
        damper_top=int(rng.integers(84, 93)),
        loudness_gamma=float(rng.uniform(1.4, 2.6)),
        knock_db=float(rng.uniform(-36.0, -14.0)),
        knock_hz=float(rng.uniform(600.0, 4000.0)),
        hammer_hz=float(np.exp(rng.uniform(np.log(700.0), np.log(3500.0)))),
    )


def partial_frequencies(pitch: int, model: PianoModel, f0: float, sample_rate: int) -> np.ndarray:
    """Frequencies of the partials of one string below the band limit."""
    b = model.inharmonicity * 10.0 ** ((pitch - 60) / 40.0)
    top = min(MAX_PARTIAL_HZ, 0.45 * sample_rate)
    k = np.arange(1, 61, dtype=np.float64)
    f = k * f0 * np.sqrt(1.0 + b * k * k)
    return f[f < top]


def _t60(pitch: int, model: PianoModel) -> float:
    """Seconds for the key's fundamental to fall 60 dB."""
    return model.t60_middle * 2.0 ** (-model.t60_slope * (pitch - 60) / 12.0)


def _key_partials(pitch: int, n: int, base: np.ndarray, model: PianoModel, sample_rate: int,
                  rng: np.random.Generator) -> np.ndarray:
    """(partials, n) waveforms of one key whose first string has partials ``base`` (Hz), its unison strings
    summed, with the two-stage decay applied.

    Each partial is the imaginary part of ``exp((i w - 1/tau) t)``, computed in blocks as a product of a
    block-start value and one block's worth of steps: a complex multiply per sample instead of an exp and a
    sine (``render_sequence`` would otherwise take longer than real time).
    """
    tau = min(_t60(pitch, model), 40.0) / np.log(1000.0)
    strings = 1 if pitch < 35 else 2 if pitch < 48 else 3
    k = np.arange(1, len(base) + 1, dtype=np.float64)
    tau_k = tau / (1.0 + model.partial_damping * (k - 1.0))
    block = 2048
    n_blocks = -(-n // block)
    j = np.arange(block) / sample_rate
    b = np.arange(n_blocks) * block / sample_rate
    out = np.zeros((len(base), n_blocks * block), dtype=np.float32)
    for s in range(strings):
        freqs = base * (2.0 ** (rng.normal(0.0, model.unison_cents) / 1200.0) if s else 1.0)
        phase = np.exp(1j * rng.uniform(0.0, 2 * np.pi, len(freqs)))
        for share, rate in ((model.prompt_share, model.prompt_ratio / tau_k), (1.0 - model.prompt_share, 1.0 / tau_k)):
            c = (2j * np.pi * freqs - rate)[:, None]
            z = (np.exp(c * b[None, :]) * phase[:, None])[:, :, None] * np.exp(c * j[None, :])[:, None, :]
            out += (share / strings) * z.imag.reshape(len(freqs), -1).astype(np.float32)
    return out[:, :n]


def _knock(n: int, model: PianoModel, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """The hammer's knock: 5-20 ms of low-passed noise, peak 1."""
    from scipy.signal import lfilter

    m = max(2, min(n, int(rng.uniform(0.005, 0.02) * sample_rate)))
    pole = np.exp(-2 * np.pi * model.knock_hz / sample_rate)
    knock = lfilter([1.0 - pole], [1.0, -pole], rng.standard_normal(m) * np.exp(-np.arange(m) / (0.3 * m)))
    return knock / max(float(np.abs(knock).max()), 1e-9)


def render_sequence(seq: NoteSequence, model: PianoModel, sample_rate: int, rng: np.random.Generator, *,
                    stretch_cents: float = 0.0, velocity_gamma: float = 1.0, tail: float = 2.0) -> np.ndarray:
    """Mono audio of ``seq`` on the modelled piano: pedal holds notes as it does on a piano.

    ``stretch_cents`` tunes the keyboard's ends flat (bass) and sharp (treble) as a tuner's stretch does;
    ``velocity_gamma`` is the instrument's velocity curve (see ``training.audio.augment.played_velocity``).
    Each key's partials are computed once, for its longest note, and every note of that key reads them with
    its own velocity's spectrum, its own length and its damper.
    """
    sounding = seq.with_sustain_applied()
    total = int((sounding.duration + tail) * sample_rate) + 1
    out = np.zeros(total, dtype=np.float64)
    by_key: dict[int, list] = {}
    for note in sounding.notes:
        by_key.setdefault(note.pitch, []).append(note)
    attack = int(0.002 * sample_rate)
    for pitch, notes in sorted(by_key.items()):
        t60 = _t60(pitch, model)
        damped = pitch <= model.damper_top
        lengths = []
        for note in notes:
            hold = note.end - note.start
            ring = min(hold + 6.0 * model.damper_seconds, t60) if damped else t60
            lengths.append(max(int(min(ring, MAX_NOTE_SECONDS) * sample_rate), attack + 16))
        cents = stretch_cents * float(np.clip((pitch - 64) / 44.0, -1.0, 1.0))
        freqs_k = partial_frequencies(pitch, model, 440.0 * 2.0 ** ((pitch - 69 + cents / 100.0) / 12.0), sample_rate)
        partials = _key_partials(pitch, max(lengths), freqs_k, model, sample_rate, rng)
        k = np.arange(1, len(partials) + 1, dtype=np.float64)
        comb = np.abs(np.sin(np.pi * k * model.hammer_position)) + 0.05
        for note, n in zip(notes, lengths):
            i = int(round(note.start * sample_rate))
            if i >= total or not len(partials):
                continue
            v = (127.0 * (max(note.velocity, 1) / 127.0) ** velocity_gamma) / 127.0
            amp = k ** -(model.tilt - model.brightness * v) * comb
            if model.hammer_hz > 0:  # a harder (faster) blow has a shorter felt contact: a higher corner
                amp = amp / (1.0 + (freqs_k / (model.hammer_hz * 2.0 ** (2.0 * v - 1.0))) ** 2)
            y = (amp / amp.sum()).astype(np.float32) @ partials[:, :n]
            y = y.astype(np.float64)
            y[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False)
            hold = int((note.end - note.start) * sample_rate)
            if damped and hold < n:
                y[hold:] *= np.exp(-np.arange(n - hold) / (model.damper_seconds * sample_rate))
            knock = _knock(n, model, sample_rate, rng)
            y[: len(knock)] += knock * 10.0 ** (model.knock_db / 20.0) * (0.3 + 0.7 * v) * float(np.abs(y).max() or 1.0)
            y = y[: total - i] * v ** model.loudness_gamma
            out[i : i + len(y)] += y
    peak = float(np.abs(out).max())
    return (out / peak * 0.9 if peak > 0 else out).astype(np.float32)
