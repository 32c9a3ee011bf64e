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
SF_MUSESCORE = "/usr/share/sounds/sf3/MuseScore_General.sf3"
SF_TIMGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"
TRAIN_SOUNDFONTS = (SF_FLUID, SF_MUSESCORE)
TEST_SOUNDFONTS = (SF_TIMGM,)
TRAIN_ROOM_SIZE_MAX = 0.6  # the held-out room (0.9) lies outside the training range


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


def random_train_condition(rng: random.Random) -> RenderCondition:
    """A random training condition: seen SoundFonts, small-to-medium rooms, mild EQ/noise/detune."""
    return RenderCondition(
        soundfont=rng.choice(TRAIN_SOUNDFONTS),
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
    audio = equalize(audio, sample_rate, condition.eq_low_db, condition.eq_high_db)
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


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = float(np.mean(audio.astype(np.float64) ** 2)) if len(audio) else 0.0
    if power <= 0:
        return audio
    noise = rng.standard_normal(len(audio)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (audio + noise).astype(np.float32)


def soundfont_available(path: str | Path) -> bool:
    return Path(path).is_file()
