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
from training.audio.augment import CODECS, Instrument, played_velocity
from training.audio.piano_model import MODEL_PIANO, PianoModel, random_piano, render_sequence

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
PALETTES = ("v1", "v2", "v3", "v4", "v5")
#: Palette v4: the share of renders played on the modelled piano (training/audio/piano_model.py) instead of a SoundFont.
MODEL_PIANO_SHARE = 0.5


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
    # Palette v3 (training/audio/augment.py); the defaults change nothing, so v1/v2 render as before.
    instrument: Instrument | None = None  # tuning, velocity curve, brightness, start jitter (via the MIDI)
    resonance_db: float | None = None  # sympathetic resonance, dB below the piano
    pedal_noise_db: float | None = None  # pedal thumps, dB re. the piano's RMS
    room_rt60: float | None = None  # early reflections + diffuse tail (booth 0.15 s .. hall 3 s)
    room_reflections_ms: float = 10.0
    room_drr_db: float = 3.0  # direct-to-reverberant ratio: the microphone's distance
    room_lowpass_hz: float = 6000.0
    compress_ratio: float = 1.0
    compress_threshold_db: float = -20.0
    noise_colour: str = "white"
    hum_db: float | None = None  # mains hum, dB re. the piano's RMS
    hum_hz: float = 50.0
    record_rate: int | None = None  # band-limited as if recorded at this rate (8000, 11025)
    level_dbfs: float | None = None  # peak level of the recording
    codec: str | None = None  # "mp3", "vorbis" or "opus"
    codec_quality: float = 0.5  # soundfile compression level (0 best .. 1 smallest)
    name: str = ""
    piano: PianoModel | None = None  # palette v4: the modelled piano played instead of ``soundfont``

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
    if palette == "v3":
        return _v3_condition(rng)
    if palette == "v4":
        return _v4_condition(rng)
    if palette == "v5":
        return _v5_condition(rng)
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


def v3_soundfonts() -> tuple[str, ...]:
    """Every usable Debian piano except the held-out TimGM6mb (and csound's sf_GMbank, its twin)."""
    return TRAIN_SOUNDFONTS + tuple(f for f in EXTRA_TRAIN_SOUNDFONTS if soundfont_available(f))


def _v3_condition(rng: random.Random) -> RenderCondition:
    """Palette v3: every training piano (GM programs 0-3) varied as an instrument, in a random room, through a
    random signal chain (see training/audio/augment.py).  The held-out FluidSynth hall is never drawn: rooms
    are either FluidSynth's at room size <= TRAIN_ROOM_SIZE_MAX or synthetic."""
    offset = rng.uniform(-8.0, 8.0) if rng.random() < 0.5 else 0.0
    spread = rng.uniform(0.0, 4.0) if rng.random() < 0.5 else 0.0
    instrument = Instrument(
        program=rng.choice((0, 0, 0, 1, 1, 2, 3)),
        stretch_cents=rng.uniform(0.0, 15.0),
        channel_detune=tuple(offset + rng.gauss(0.0, spread) for _ in range(12)),
        velocity_gamma=float(np.exp(rng.uniform(np.log(0.6), np.log(1.6)))),
        brightness_cents=rng.uniform(0.0, 3000.0) if rng.random() < 0.5 else 0.0,
        start_jitter_samples=rng.randrange(0, 400) if rng.random() < 0.5 else 0,
    )
    room = rng.random()
    fluid_reverb = room < 0.2
    rt60 = float(np.exp(rng.uniform(np.log(0.15), np.log(3.0))))
    codec = rng.choice(CODECS) if rng.random() < 0.3 else None
    record_rate = rng.choice((8000, 11025)) if rng.random() < 0.25 else None
    return RenderCondition(
        soundfont=rng.choice(v3_soundfonts()),
        program=instrument.program,
        reverb=fluid_reverb,
        room_size=rng.uniform(0.0, TRAIN_ROOM_SIZE_MAX),
        damping=rng.uniform(0.0, 1.0),
        reverb_level=rng.uniform(0.05, 0.6),
        reverb_width=rng.uniform(0.0, 100.0),
        gain=rng.uniform(0.3, 0.8),
        eq_low_db=rng.uniform(-6.0, 6.0),
        eq_high_db=rng.uniform(-10.0, 4.0),
        noise_snr_db=rng.uniform(15.0, 50.0) if rng.random() < 0.6 else None,
        peaks=tuple((150.0 * 40.0 ** rng.random(), rng.uniform(-6.0, 6.0), rng.uniform(0.7, 2.0)) for _ in range(3)),
        instrument=instrument,
        resonance_db=rng.uniform(-40.0, -20.0) if rng.random() < 0.6 else None,
        pedal_noise_db=rng.uniform(-40.0, -22.0) if rng.random() < 0.5 else None,
        room_rt60=rt60 if 0.2 <= room < 0.9 else None,
        room_reflections_ms=3.0 + rt60 * rng.uniform(8.0, 25.0),
        room_drr_db=rng.uniform(-8.0, 12.0),
        room_lowpass_hz=rng.uniform(2500.0, 9000.0),
        compress_ratio=rng.uniform(2.0, 6.0) if rng.random() < 0.4 else 1.0,
        compress_threshold_db=rng.uniform(-30.0, -10.0),
        noise_colour=rng.choice(("white", "pink", "brown")),
        hum_db=rng.uniform(-50.0, -30.0) if rng.random() < 0.3 else None,
        hum_hz=rng.choice((50.0, 60.0)),
        record_rate=record_rate,
        level_dbfs=rng.uniform(-45.0, 0.0),
        codec=codec,
        codec_quality=rng.uniform(0.2, 0.9),
        name="train v3",
    )


def _v4_condition(rng: random.Random) -> RenderCondition:
    """Palette v4: palette v3, but half the renders play a modelled piano drawn afresh for each render, so
    that the instrument itself (inharmonicity, hammer, decays, unisons, dampers) varies as widely as real
    pianos do, not only three sampled ones."""
    base = _v3_condition(rng)
    if rng.random() >= MODEL_PIANO_SHARE:
        return base
    piano = random_piano(np.random.default_rng(rng.randrange(2**32)))
    return dataclasses.replace(base, soundfont=MODEL_PIANO, program=0, reverb=False, piano=piano,
                               name="train v4 (modelled piano)")


def _v5_condition(rng: random.Random) -> RenderCondition:
    """Palette v5: palette v4 in wider and more often reverberant rooms.

    Palette v3/v4 put a synthetic room on 70 % of renders, RT60 log-uniform over 0.15-3 s and the
    microphone's direct-to-reverberant ratio over -8..12 dB, so only about 3 % of renders are a distant
    microphone in a hall (RT60 > 1.5 s, DRR < -4 dB).  Real recordings are often exactly that (a concert
    hall from the audience), and the shipped model's onset recall drops most there (card, twelfth
    session).  v5 draws a synthetic room on 90 % of renders, RT60 log-uniform over 0.15-4.5 s and DRR over
    -14..12 dB, with the reflections and the air's high-frequency loss widened to match."""
    base = _v4_condition(rng)
    base = dataclasses.replace(base, name="train v5" + (" (modelled piano)" if base.piano is not None else ""))
    if rng.random() >= 0.9:
        return base
    rt60 = float(np.exp(rng.uniform(np.log(0.15), np.log(4.5))))
    return dataclasses.replace(
        base, reverb=False, room_rt60=rt60, room_reflections_ms=3.0 + rt60 * rng.uniform(8.0, 30.0),
        room_drr_db=rng.uniform(-14.0, 12.0), room_lowpass_hz=rng.uniform(2000.0, 9000.0))


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

    if condition.instrument is not None:
        return _render_v3(seq, condition, sample_rate, rng)
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


def render_midi_bytes(data: bytes, duration: float, condition: RenderCondition, sample_rate: int) -> np.ndarray:
    """Mono audio of a MIDI file (bytes) through FluidSynth with the condition's font, gain and reverb."""
    import shutil
    import tempfile

    from musestudio.core.errors import MusestudioError
    from musestudio.io.audio import load_audio
    from musestudio.io.synth import RENDER_TAIL_SECONDS, _run_with_size_limit

    exe = shutil.which("fluidsynth")
    if exe is None:
        raise MusestudioError("FluidSynth is not installed (apt-get install fluidsynth)")
    with tempfile.TemporaryDirectory(prefix="musestudio-v3-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        mid.write_bytes(data)
        cmd = [exe, "-ni", "-q", "-F", str(wav), "-r", str(int(sample_rate)), "-g", f"{condition.gain:.3f}"]
        settings = {"synth.chorus.active": 0, "audio.file.format": "s16", **condition.fluidsynth_settings()}
        for k, v in settings.items():
            cmd += ["-o", f"{k}={v}"]
        cmd += [condition.soundfont, str(mid)]
        seconds = duration + RENDER_TAIL_SECONDS
        result = _run_with_size_limit(cmd, wav, limit_bytes=int(seconds * sample_rate * 4 * 1.5) + (1 << 20))
        if result is None or not wav.exists():
            raise MusestudioError("FluidSynth failed or did not finish")
        audio, _ = load_audio(wav)
    return audio[: int(seconds * sample_rate)]


def _render_v3(seq: NoteSequence, c: RenderCondition, sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, NoteSequence]:
    """Palette v3: the varied instrument, then room, EQ, compression, noise, band limit, level and codec."""
    from training.audio import augment

    assert c.instrument is not None
    if c.piano is not None:
        audio = render_sequence(seq, c.piano, sample_rate, rng, stretch_cents=c.instrument.stretch_cents,
                                velocity_gamma=c.instrument.velocity_gamma)
    else:
        audio = render_midi_bytes(augment.instrument_midi(seq, c.instrument, rng), seq.duration, c, sample_rate)
    if c.resonance_db is not None:
        audio = augment.add_resonance(audio, seq, sample_rate, c.resonance_db, rng)
    if c.pedal_noise_db is not None:
        audio = augment.add_pedal_noise(audio, seq, sample_rate, c.pedal_noise_db, rng)
    if c.room_rt60:
        audio = augment.apply_room(audio, sample_rate, c.room_rt60, c.room_reflections_ms, c.room_drr_db,
                                   c.room_lowpass_hz, rng)
    audio = equalize(audio, sample_rate, c.eq_low_db, c.eq_high_db)
    for freq, gain_db, q in c.peaks:
        audio = peaking(audio, sample_rate, freq, gain_db, q)
    if c.compress_ratio > 1.0:
        audio = augment.compress(audio, sample_rate, c.compress_threshold_db, c.compress_ratio)
    rms = augment._rms(audio)
    if c.noise_snr_db is not None and rms > 0:
        audio = audio + augment.coloured_noise(len(audio), c.noise_colour, rng) * rms * 10 ** (-c.noise_snr_db / 20)
    if c.hum_db is not None and rms > 0:
        audio = audio + augment.hum(len(audio), sample_rate, c.hum_hz, rng) * rms * 10 ** (c.hum_db / 20)
    audio = np.asarray(audio, dtype=np.float32)
    if c.record_rate:
        audio = augment.band_limit(audio, sample_rate, c.record_rate)
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > 0:
        audio = audio * (10 ** ((c.level_dbfs if c.level_dbfs is not None else -1.0) / 20) / peak)
    if c.codec:
        audio = augment.lossy(audio, sample_rate, c.codec, c.codec_quality)
    return np.clip(audio, -1.0, 1.0).astype(np.float32), played_labels(seq, c.instrument.velocity_gamma)


def played_labels(seq: NoteSequence, gamma: float) -> NoteSequence:
    """``seq`` with the velocities the instrument received (see :func:`training.audio.augment.played_velocity`)."""
    if gamma == 1.0:
        return seq
    return seq.copy(notes=[dataclasses.replace(n, velocity=int(played_velocity(int(n.velocity), gamma)))
                           for n in seq.notes])


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


def heldout_room_conditions() -> dict[str, RenderCondition]:
    """The held-out piano (TimGM6mb, never trained on) in four rooms, for the benchmark only.

    ``fluid_hall`` is the old test condition (FluidSynth reverb at room size 0.9); the others are
    synthetic rooms with early reflections from a close-miked booth to a distant hall, the plain
    instrument (no tuning, velocity or brightness changes) and a clean signal chain at -3 dBFS.
    """
    plain = Instrument()

    def room(name: str, rt60: float, er_ms: float, drr: float, lowpass: float) -> RenderCondition:
        return RenderCondition(soundfont=SF_TIMGM, reverb=False, gain=0.6, instrument=plain, room_rt60=rt60,
                               room_reflections_ms=er_ms, room_drr_db=drr, room_lowpass_hz=lowpass, level_dbfs=-3.0,
                               name=f"held out: TimGM6mb, {name}")

    return {
        "fluid_hall": TEST_CONDITION,
        "booth": room("booth (RT60 0.25 s, close mic)", 0.25, 4.0, 8.0, 8000.0),
        "room": room("living room (RT60 0.7 s)", 0.7, 12.0, 2.0, 6000.0),
        "hall": room("concert hall (RT60 2.2 s, distant mic)", 2.2, 45.0, -6.0, 4500.0),
    }
