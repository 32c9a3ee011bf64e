"""Render performances to audio under controlled conditions, with exact labels.

A :class:`RenderCondition` fixes everything that shapes the sound: SoundFont,
General MIDI piano program, FluidSynth reverb (the "room"), output gain, plus
numpy post-processing (EQ, noise, detuning).  Training draws conditions from
:func:`random_train_condition`; the test set uses :data:`TEST_CONDITION`, whose
SoundFont and room never appear in training, so the held-out numbers measure
generalisation to an unseen instrument in an unseen room.

Many short excerpts are rendered in ONE FluidSynth call (excerpts concatenated
with silent gaps): loading a SoundFont costs seconds, rendering a minute of
piano a fraction of one.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musestudio.core.notes import SUSTAIN_CC, NoteSequence, PedalEvent, TrackInfo

SF_FLUID = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# The "small" package's file, named directly: MuseScore_General.sf3 is an alternatives link that
# moves to the Full file once musescore-general-soundfont is installed.
SF_MUSESCORE = "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"
SF_TIMGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"
# One more piano for the "v2" palette (Debian fluidr3mono-gm-soundfont: FluidR3's samples re-cut
# in mono, lossy).  Two candidates are NOT used: csound-soundfont's sf_GMbank.sf2 plays the same
# piano samples as the held-out TimGM6mb (rendered waveforms correlate at 0.98-0.99), so it would
# leak the test instrument; MuseScore_General_Full renders identically to the Lite file.
SF_FLUID_MONO = "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3"
TRAIN_SOUNDFONTS = (SF_FLUID, SF_MUSESCORE)
EXTRA_TRAIN_SOUNDFONTS = (SF_FLUID_MONO,)
TEST_SOUNDFONTS = (SF_TIMGM,)
TRAIN_ROOM_SIZE_MAX = 0.6  # the held-out room (0.9) lies outside the training range
PALETTES = ("v1", "v2")


@dataclass(frozen=True)
class RenderCondition:
    soundfont: str
    program: int = 0  # GM 0-2: acoustic grand, bright acoustic, electric grand
    reverb: bool = True
    room_size: float = 0.2
    damping: float = 0.3
    reverb_level: float = 0.3
    reverb_width: float = 50.0
    gain: float = 0.6  # FluidSynth master gain
    detune_cents: float = 0.0  # whole-render pitch shift (labels are time-scaled to match)
    eq_low_db: float = 0.0  # low shelf (250 Hz) gain
    eq_high_db: float = 0.0  # high shelf (3 kHz) gain
    noise_snr_db: float | None = None  # white noise at this SNR; None = clean
    ir_rt60: float | None = None  # convolve with a synthetic room response of this RT60 (s); None = off
    ir_wet: float = 0.3  # share of the reverberant signal in the mix
    ir_lowpass_hz: float = 6000.0  # damping of the synthetic room's tail
    peaks: tuple[tuple[float, float, float], ...] = ()  # (Hz, dB, Q) peaking filters: another piano's colour
    name: str = ""

    def fluidsynth_settings(self) -> dict[str, str | float | int]:
        return {
            "synth.reverb.active": int(self.reverb),
            "synth.reverb.room-size": round(self.room_size, 3),
            "synth.reverb.damp": round(self.damping, 3),
            "synth.reverb.level": round(self.reverb_level, 3),
            "synth.reverb.width": round(self.reverb_width, 1),
        }


TEST_CONDITION = RenderCondition(
    soundfont=SF_TIMGM, program=0, reverb=True, room_size=0.9, damping=0.1, reverb_level=0.7,
    reverb_width=90.0, gain=0.6, name="test: TimGM6mb, large hall (held out)",
)


def random_train_condition(rng: random.Random, palette: str = "v1") -> RenderCondition:
    """A random training condition: seen SoundFonts, small-to-medium rooms, mild EQ/noise/detune.

    ``palette="v2"`` also draws from :data:`EXTRA_TRAIN_SOUNDFONTS` (those installed), colours
    every render with three random peaking filters (+-6 dB, 150 Hz-6 kHz: the partial balance
    differs from piano to piano) and, in half the conditions, replaces FluidSynth's reverb with a
    synthetic room response (exponentially decaying noise, RT60 0.4-2.5 s), so the model hears
    long tails without ever hearing the held-out FluidSynth room.  ``v1`` draws exactly as the
    first caches were drawn.
    """
    if palette not in PALETTES:
        raise ValueError(f"unknown palette {palette!r}; choose from {', '.join(PALETTES)}")
    if palette == "v2":
        fonts = TRAIN_SOUNDFONTS + tuple(f for f in EXTRA_TRAIN_SOUNDFONTS if soundfont_available(f))
        base = _v1_condition(rng, fonts)
        if rng.random() < 0.5:
            base = dataclasses.replace(
                base,
                reverb=False,
                ir_rt60=rng.uniform(0.4, 2.5),
                ir_wet=rng.uniform(0.15, 0.6),
                ir_lowpass_hz=rng.uniform(2500.0, 8000.0),
            )
        peaks = tuple((150.0 * 40.0 ** rng.random(), rng.uniform(-6.0, 6.0), rng.uniform(0.7, 2.0)) for _ in range(3))
        return dataclasses.replace(base, peaks=peaks)
    return _v1_condition(rng, TRAIN_SOUNDFONTS)


def _v1_condition(rng: random.Random, fonts: tuple[str, ...]) -> RenderCondition:
    return RenderCondition(
        soundfont=rng.choice(fonts),
        program=rng.choice((0, 0, 1, 2)),
        reverb=rng.random() < 0.75,
        room_size=rng.uniform(0.0, TRAIN_ROOM_SIZE_MAX),
        damping=rng.uniform(0.0, 1.0),
        reverb_level=rng.uniform(0.05, 0.6),
        reverb_width=rng.uniform(0.0, 100.0),
        gain=rng.uniform(0.25, 1.0),
        detune_cents=rng.uniform(-20.0, 20.0) if rng.random() < 0.5 else 0.0,
        eq_low_db=rng.uniform(-6.0, 6.0),
        eq_high_db=rng.uniform(-8.0, 4.0),
        noise_snr_db=rng.uniform(20.0, 45.0) if rng.random() < 0.5 else None,
        name="train",
    )


def excerpt(seq: NoteSequence, start: float, seconds: float) -> NoteSequence:
    """``seq`` between ``start`` and ``start + seconds``, shifted to 0, with the pedal released at the end."""
    piece = seq.slice(start, start + seconds, shift_to_zero=True)
    pedals = [p for p in piece.pedals if p.controller == SUSTAIN_CC]
    pedals.append(PedalEvent(seconds, 0, SUSTAIN_CC))
    return piece.copy(pedals=pedals, drum_notes=[])


def concatenate_excerpts(parts: list[NoteSequence], gap: float = 2.0) -> tuple[NoteSequence, list[tuple[float, float]]]:
    """One sequence playing ``parts`` one after another; returns it and each part's (start, end)."""
    out = NoteSequence(tracks=[TrackInfo("Piano")])
    spans: list[tuple[float, float]] = []
    at = 0.0
    for part in parts:
        length = max(part.duration, 0.1)
        out = out.concatenate(part, at=at)
        spans.append((at, at + length))
        at += length + gap
    return out, spans


def with_program(seq: NoteSequence, program: int) -> NoteSequence:
    return seq.copy(tracks=[TrackInfo(t.name or "Piano", program, False) for t in seq.tracks] or [TrackInfo("Piano", program)])


def render(seq: NoteSequence, condition: RenderCondition, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, NoteSequence]:
    """(audio, labels) for ``seq``: labels are ``seq`` time-scaled to match any detuning."""
    from musestudio.io.audio import resample
    from musestudio.io.synth import render_with_fluidsynth

    audio = render_with_fluidsynth(
        with_program(seq, condition.program),
        condition.soundfont,
        sample_rate,
        gain=condition.gain,
        reverb=condition.reverb,
        extra_settings=condition.fluidsynth_settings(),
    )
    labels = seq
    if condition.detune_cents:
        # Play the samples back as if recorded at a slightly different rate: pitch moves by
        # the cents asked for and time stretches by the inverse ratio, which the labels follow.
        ratio = 2.0 ** (condition.detune_cents / 1200.0)
        audio = resample(audio, round(sample_rate * ratio), sample_rate)
        labels = scale_time(seq, 1.0 / ratio)
    if condition.ir_rt60:
        audio = room_reverb(audio, sample_rate, condition.ir_rt60, condition.ir_wet, condition.ir_lowpass_hz, rng)
    audio = equalize(audio, sample_rate, condition.eq_low_db, condition.eq_high_db)
    for freq, gain_db, q in condition.peaks:
        audio = peaking(audio, sample_rate, freq, gain_db, q)
    if condition.noise_snr_db is not None:
        audio = add_noise(audio, condition.noise_snr_db, rng)
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > 1.0:  # keep within full scale as a recording would be
        audio = audio / peak
    return audio.astype(np.float32), labels


def scale_time(seq: NoteSequence, factor: float) -> NoteSequence:
    return seq.copy(
        notes=[dataclasses.replace(n, start=n.start * factor, end=n.end * factor) for n in seq.notes],
        pedals=[dataclasses.replace(p, time=p.time * factor) for p in seq.pedals],
    )


def equalize(audio: np.ndarray, sample_rate: int, low_db: float, high_db: float) -> np.ndarray:
    """Low and high shelving filters (RBJ cookbook biquads, applied with scipy)."""
    from scipy.signal import lfilter

    out = audio.astype(np.float64)
    for freq, gain_db, kind in ((250.0, low_db, "low"), (3000.0, high_db, "high")):
        if abs(gain_db) < 0.1 or freq >= sample_rate / 2:
            continue
        a_gain = 10 ** (gain_db / 40)
        w0 = 2 * np.pi * freq / sample_rate
        alpha = np.sin(w0) / 2 * np.sqrt(2)
        cw, sa = np.cos(w0), 2 * np.sqrt(a_gain) * alpha
        sign = 1 if kind == "low" else -1
        b0 = a_gain * ((a_gain + 1) - sign * (a_gain - 1) * cw + sa)
        b1 = sign * 2 * a_gain * ((a_gain - 1) - sign * (a_gain + 1) * cw)
        b2 = a_gain * ((a_gain + 1) - sign * (a_gain - 1) * cw - sa)
        a0 = (a_gain + 1) + sign * (a_gain - 1) * cw + sa
        a1 = -sign * 2 * ((a_gain - 1) + sign * (a_gain + 1) * cw)
        a2 = (a_gain + 1) + sign * (a_gain - 1) * cw - sa
        out = lfilter([b0 / a0, b1 / a0, b2 / a0], [1.0, a1 / a0, a2 / a0], out)
    return out.astype(np.float32)


def peaking(audio: np.ndarray, sample_rate: int, freq: float, gain_db: float, q: float) -> np.ndarray:
    """One peaking-EQ biquad (RBJ cookbook), applied with scipy."""
    from scipy.signal import lfilter

    if abs(gain_db) < 0.1 or freq >= sample_rate / 2:
        return audio
    a_gain = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / sample_rate
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a_gain, -2 * np.cos(w0), 1 - alpha * a_gain]
    a = [1 + alpha / a_gain, -2 * np.cos(w0), 1 - alpha / a_gain]
    return lfilter(np.array(b) / a[0], np.array(a) / a[0], audio.astype(np.float64)).astype(np.float32)


def room_response(sample_rate: int, rt60: float, lowpass_hz: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response: Gaussian noise under a -60 dB-per-``rt60`` envelope,
    low-passed (one pole) so the tail darkens as a real room's does, normalised to unit energy.

    Hand-written: no maintained library makes parametric room responses, and the model only
    needs a plausible dense tail, not an acoustic simulation.
    """
    from scipy.signal import lfilter

    n = max(1, int(rt60 * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    pole = np.exp(-2 * np.pi * min(lowpass_hz, 0.45 * sample_rate) / sample_rate)
    tail = lfilter([1.0 - pole], [1.0, -pole], tail)
    tail[: int(0.005 * sample_rate)] = 0.0  # the first reflections arrive a few ms after the direct sound
    energy = float(np.sqrt(np.sum(tail**2)))
    return tail / energy if energy > 0 else tail


def room_reverb(audio: np.ndarray, sample_rate: int, rt60: float, wet: float, lowpass_hz: float,
                rng: np.random.Generator) -> np.ndarray:
    """``audio`` mixed with its convolution by :func:`room_response`, at the same RMS level."""
    from scipy.signal import oaconvolve

    if not len(audio):
        return audio
    dry = audio.astype(np.float64)
    tail = oaconvolve(dry, room_response(sample_rate, rt60, lowpass_hz, rng))[: len(dry)]
    dry_rms = float(np.sqrt(np.mean(dry**2)))
    tail_rms = float(np.sqrt(np.mean(tail**2)))
    if tail_rms > 0:
        tail *= dry_rms / tail_rms
    mix = (1.0 - wet) * dry + wet * tail
    mix_rms = float(np.sqrt(np.mean(mix**2)))
    if mix_rms > 0:
        mix *= dry_rms / mix_rms
    return mix.astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = float(np.mean(audio.astype(np.float64) ** 2)) if len(audio) else 0.0
    if power <= 0:
        return audio
    noise = rng.standard_normal(len(audio)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (audio + noise).astype(np.float32)


def soundfont_available(path: str | Path) -> bool:
    return Path(path).is_file()
