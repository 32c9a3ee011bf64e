"""Palette v3: per-render variation of the instrument, the room and the signal chain.

The transcriber learned the few SoundFont pianos it heard; real pianos differ in
tuning, attack, brightness, resonance and noise, and real recordings in room,
microphone, level and codec.  Everything here is generated (no recorded data is
available), cheaply enough to render on one core:

* instrument (through the MIDI FluidSynth plays, see :func:`instrument_midi`):
  stretched tuning and detune (+-15 cents, by register, with per-channel pitch
  bend), a random velocity curve, per-note velocity-to-brightness (the SF2
  filter cutoff), sample-start jitter (the SF2 sample start offset);
* post-processing of the rendered audio: sympathetic resonance (undamped
  strings' partials, stronger while the sustain pedal is down), pedal thumps,
  a room (early reflections + diffuse tail, booth to hall) heard from a
  microphone distance, EQ, compression, gain (-45..0 dBFS), coloured noise and
  mains hum, band-limiting (8 or 11.025 kHz recordings) and lossy codecs
  (MP3, Vorbis, Opus through soundfile).

Labels never move: every change is one a real recording of the same
performance could show.  Hand-written DSP (no maintained library offers these
parametric effects together, e.g. audiomentations lacks pedal- and
note-aware ones), each a few vectorised lines.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from musestudio.core.notes import SUSTAIN_CC, NoteSequence

# MIDI channels notes are spread over, by register (channel 9 is drums in GM).
CHANNELS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12)
MAX_CENTS = 15.0
CODECS = ("mp3", "vorbis", "opus")
# SF2 generator numbers set per note through SoundFont NRPNs (MSB 120, LSB = generator).
GEN_START_OFFSET = 0  # in sample points
GEN_FILTER_FC = 8  # in cents (the NRPN scale is 2 cents per step)


@dataclass(frozen=True)
class Instrument:
    """How the sampled piano is played: tuning, velocity response, attack."""

    program: int = 0
    stretch_cents: float = 0.0  # detune at the keyboard's ends (bass flat, treble sharp)
    channel_detune: tuple[float, ...] = ()  # extra cents per register channel
    velocity_gamma: float = 1.0  # rendered velocity = 127 * (v / 127) ** gamma
    brightness_cents: float = 0.0  # filter cutoff lowered by this much at velocity 1 (0 at 127)
    start_jitter_samples: int = 0  # each note's sample starts up to this many points later


def played_velocity(velocity: np.ndarray | int, gamma: float) -> np.ndarray:
    """The velocity the instrument receives for a performed ``velocity``: 127 * (v / 127) ** gamma, 1..127.

    The render's labels carry this value, not the performed one: with a random curve per render, the
    performed velocity would make the same label sound at different loudness in different renders,
    which no velocity head can learn (the v5 transcriber's velocity F1 fell from 0.61 to 0.51 that way).
    Zeros stay zero, so a label array (0 = no onset) can be mapped whole.
    """
    v = np.asarray(velocity)
    out = np.clip(np.rint(127.0 * (np.maximum(v, 1) / 127.0) ** gamma), 1, 127)
    return np.where(v > 0, out, 0).astype(v.dtype if v.dtype.kind in "iu" else np.int64)


def channel_of(pitch: int) -> int:
    """Register group (index into CHANNELS) of a key: 12 groups of about 7 keys."""
    return min(len(CHANNELS) - 1, max(0, (pitch - 21) * len(CHANNELS) // 88))


def channel_cents(instrument: Instrument) -> np.ndarray:
    """Detune (cents) of each register channel: a cubic stretch curve plus per-channel detune, clipped to +-15."""
    centre = (np.arange(len(CHANNELS)) + 0.5) / len(CHANNELS) * 2.0 - 1.0  # -1 (A0) .. 1 (C8)
    cents = instrument.stretch_cents * centre**3
    if instrument.channel_detune:
        cents = cents + np.asarray(instrument.channel_detune[: len(CHANNELS)], dtype=np.float64)
    return np.clip(cents, -MAX_CENTS, MAX_CENTS)


def instrument_midi(seq: NoteSequence, instrument: Instrument, rng: np.random.Generator) -> bytes:
    """A type-0 MIDI file of ``seq`` played by ``instrument`` (notes spread over register channels)."""
    import mido

    tpq = 960
    tempo = 500_000  # 120 BPM: one tick = 1/1920 s
    per_s = tpq * 1_000_000 / tempo
    events: list[tuple[int, int, mido.Message]] = []  # (tick, order, message)
    cents = channel_cents(instrument)
    for i, ch in enumerate(CHANNELS):
        events.append((0, 0, mido.Message("program_change", channel=ch, program=instrument.program)))
        bend = int(round(cents[i] / 200.0 * 8192))  # default bend range +-2 semitones
        events.append((0, 0, mido.Message("pitchwheel", channel=ch, pitch=max(-8192, min(8191, bend)))))
    for p in seq.pedals:
        if p.controller != SUSTAIN_CC:
            continue
        tick = int(round(p.time * per_s))
        for ch in CHANNELS:
            events.append((tick, 1, mido.Message("control_change", channel=ch, control=64, value=int(p.value))))
    gamma = instrument.velocity_gamma
    for n in seq.notes:
        if not 0 <= n.pitch <= 127:
            continue
        ch = CHANNELS[channel_of(n.pitch)]
        on = int(round(n.start * per_s))
        off = max(on + 1, int(round(n.end * per_s)))
        vel = int(played_velocity(max(int(n.velocity), 1), gamma))
        nrpn: list[tuple[int, int]] = []
        if instrument.start_jitter_samples > 0:
            nrpn.append((GEN_START_OFFSET, int(rng.integers(0, instrument.start_jitter_samples + 1))))
        if instrument.brightness_cents > 0:
            fc = -instrument.brightness_cents * (1.0 - n.velocity / 127.0)
            nrpn.append((GEN_FILTER_FC, int(round(fc / 2.0))))
        for gen, value in nrpn:
            data = int(np.clip(value + 8192, 0, 16383))
            for control, v in ((99, 120), (98, gen), (6, data >> 7), (38, data & 127)):
                events.append((on, 2, mido.Message("control_change", channel=ch, control=control, value=v)))
        events.append((on, 3, mido.Message("note_on", channel=ch, note=n.pitch, velocity=vel)))
        events.append((off, 0, mido.Message("note_off", channel=ch, note=n.pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    mid = mido.MidiFile(type=0, ticks_per_beat=tpq)
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


# --- the recording: post-processing --------------------------------------------------------


def sustain_mask(seq: NoteSequence, n: int, sample_rate: int) -> np.ndarray:
    """[n] 1.0 where the sustain pedal is down, 0.0 where up, smoothed over 20 ms."""
    mask = np.zeros(n, dtype=np.float32)
    events = sorted((p.time, p.value) for p in seq.pedals if p.controller == SUSTAIN_CC)
    state, since = 0.0, 0
    for t, v in events:
        i = min(n, max(0, int(t * sample_rate)))
        mask[since:i] = state
        state, since = (1.0 if v >= 64 else 0.0), i
    mask[since:] = state
    k = max(1, int(0.02 * sample_rate))
    return np.convolve(mask, np.ones(k, np.float32) / k, mode="same").astype(np.float32)


def resonance_response(sample_rate: int, rng: np.random.Generator, seconds: float = 2.0) -> np.ndarray:
    """Impulse response of a bank of undamped strings: decaying harmonic series at random piano keys.

    Unit energy.  Convolving the piano with it excites every string whose partials the
    music contains, as an open (pedalled) piano does.
    """
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    keys = rng.choice(np.arange(21, 109), size=24, replace=False)
    for key in keys:
        f0 = 440.0 * 2.0 ** ((key - 69) / 12.0)
        t60 = float(np.interp(key, (21, 108), (4.0, 0.6))) * rng.uniform(0.7, 1.3)
        env = np.exp(-6.9078 * t / t60)
        for h in range(1, 16):
            f = f0 * h * np.sqrt(1.0 + 1e-4 * h * h)  # slight inharmonicity, as in real strings
            if f >= 0.45 * sample_rate:
                break
            out += env * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) / h
    energy = float(np.sqrt(np.sum(out**2)))
    return out / energy if energy > 0 else out


def add_resonance(audio: np.ndarray, seq: NoteSequence, sample_rate: int, level_db: float, rng: np.random.Generator) -> np.ndarray:
    """Sympathetic resonance ``level_db`` below the piano (RMS), full while the pedal is down, a quarter otherwise."""
    from scipy.signal import oaconvolve

    if not len(audio):
        return audio
    res = oaconvolve(audio.astype(np.float64), resonance_response(sample_rate, rng))[: len(audio)]
    res *= 0.25 + 0.75 * sustain_mask(seq, len(audio), sample_rate)
    return (audio + _scaled_to(res, audio, level_db)).astype(np.float32)


def add_pedal_noise(audio: np.ndarray, seq: NoteSequence, sample_rate: int, level_db: float, rng: np.random.Generator) -> np.ndarray:
    """A dull thump (low-passed noise burst, 30-80 ms) at each sustain-pedal press and release."""
    from scipy.signal import lfilter

    out = audio.astype(np.float64).copy()
    rms = _rms(out)
    if rms <= 0:
        return audio
    down = False
    for p in sorted(seq.pedals, key=lambda p: p.time):
        if p.controller != SUSTAIN_CC or (p.value >= 64) == down:
            continue
        down = p.value >= 64
        i = int(p.time * sample_rate)
        m = int(rng.uniform(0.03, 0.08) * sample_rate)
        if i >= len(out) or m <= 0:
            continue
        burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.25 * m))
        pole = np.exp(-2 * np.pi * rng.uniform(150.0, 600.0) / sample_rate)
        burst = lfilter([1.0 - pole], [1.0, -pole], burst)
        burst *= rms * 10 ** (level_db / 20) / max(_rms(burst), 1e-12)
        end = min(len(out), i + m)
        out[i:end] += burst[: end - i]
    return out.astype(np.float32)


def room_impulse(sample_rate: int, rt60: float, reflections_ms: float, lowpass_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Early reflections (sparse taps within ``reflections_ms``) and a diffuse tail (noise decaying at ``rt60``)."""
    from scipy.signal import lfilter

    n = max(2, int((rt60 + reflections_ms / 1000.0) * sample_rate))
    ir = np.zeros(n)
    for _ in range(int(rng.integers(6, 20))):
        d = rng.uniform(1.0, max(reflections_ms, 1.5)) / 1000.0
        ir[min(n - 1, int(d * sample_rate))] += rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 1.0) * 0.005 / max(d, 0.005)
    start = int(reflections_ms / 1000.0 * sample_rate * 0.5)
    t = np.arange(n - start) / sample_rate
    tail = rng.standard_normal(n - start) * np.exp(-6.9078 * t / rt60)
    tail *= np.minimum(1.0, t / max(reflections_ms / 1000.0, 1e-3))  # the diffuse field builds up
    ir_tail = np.zeros(n)
    ir_tail[start:] = tail
    er_energy = float(np.sqrt(np.sum(ir**2)))
    tail_energy = float(np.sqrt(np.sum(ir_tail**2)))
    if tail_energy > 0:
        ir = ir + ir_tail / tail_energy * max(er_energy, 1e-9) * 2.0
    pole = np.exp(-2 * np.pi * min(lowpass_hz, 0.45 * sample_rate) / sample_rate)
    ir = lfilter([1.0 - pole], [1.0, -pole], ir)
    energy = float(np.sqrt(np.sum(ir**2)))
    return ir / energy if energy > 0 else ir


def apply_room(audio: np.ndarray, sample_rate: int, rt60: float, reflections_ms: float, drr_db: float, lowpass_hz: float,
               rng: np.random.Generator) -> np.ndarray:
    """The direct sound plus the room's response, mixed at a direct-to-reverberant ratio (the mic distance)."""
    from scipy.signal import oaconvolve

    if not len(audio):
        return audio
    dry = audio.astype(np.float64)
    wet = oaconvolve(dry, room_impulse(sample_rate, rt60, reflections_ms, lowpass_hz, rng))[: len(dry)]
    mix = dry + _scaled_to(wet, dry, -drr_db)
    return (mix * _rms(dry) / max(_rms(mix), 1e-12)).astype(np.float32)


def compress(audio: np.ndarray, sample_rate: int, threshold_db: float, ratio: float) -> np.ndarray:
    """Feed-forward compressor: a 10 ms/150 ms envelope of |x|, gain reduction above the threshold (dB re. peak)."""
    from scipy.signal import lfilter

    x = audio.astype(np.float64)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    if peak <= 0 or ratio <= 1.0:
        return audio
    pole = np.exp(-1.0 / (0.15 * sample_rate))
    env = lfilter([1.0 - pole], [1.0, -pole], np.abs(x))
    fast = np.exp(-1.0 / (0.01 * sample_rate))
    env = np.maximum(env, lfilter([1.0 - fast], [1.0, -fast], np.abs(x)))
    thr = peak * 10 ** (threshold_db / 20)
    gain = np.where(env > thr, (np.maximum(env, 1e-12) / thr) ** (1.0 / ratio - 1.0), 1.0)
    return (x * gain).astype(np.float32)


def coloured_noise(n: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS white, pink (1/f) or brown (1/f^2) noise, shaped in the frequency domain."""
    white = rng.standard_normal(n)
    if colour == "white" or n < 4:
        return white
    spec = np.fft.rfft(white)
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec /= f ** (0.5 if colour == "pink" else 1.0)
    out = np.fft.irfft(spec, n)
    return out / max(_rms(out), 1e-12)


def hum(n: int, sample_rate: int, mains_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS mains hum: the mains frequency and a few harmonics with random weights."""
    t = np.arange(n) / sample_rate
    out = sum(rng.uniform(0.2, 1.0) / h * np.sin(2 * np.pi * mains_hz * h * t + rng.uniform(0, 6.3)) for h in range(1, 6))
    return np.asarray(out) / max(_rms(np.asarray(out)), 1e-12)


def band_limit(audio: np.ndarray, sample_rate: int, recording_rate: int) -> np.ndarray:
    """As if recorded at ``recording_rate`` (e.g. 8 kHz): down- and back up-sampled."""
    from musestudio.io.audio import resample

    if recording_rate >= sample_rate or not len(audio):
        return audio
    back = resample(resample(audio, sample_rate, recording_rate), recording_rate, sample_rate)
    out = np.zeros(len(audio), np.float32)
    out[: min(len(back), len(audio))] = back[: len(audio)]
    return out


def lossy(audio: np.ndarray, sample_rate: int, codec: str, quality: float) -> np.ndarray:
    """``audio`` encoded and decoded by libsndfile's MP3/Vorbis/Opus; the codec's delay is removed.

    ``quality`` in [0, 1] is soundfile's compression level (0 = best).  The encoder's delay is
    found by cross-correlating the first seconds, so the labels stay aligned.
    """
    import soundfile as sf

    from musestudio.io.audio import resample

    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
    if not len(audio):
        return audio
    fmt, subtype = {"mp3": ("MP3", "MPEG_LAYER_III"), "vorbis": ("OGG", "VORBIS"), "opus": ("OGG", "OPUS")}[codec]
    x = np.clip(audio, -1.0, 1.0).astype(np.float32)
    # Opus codes only 8/12/16/24/48 kHz: other rates go through 48 kHz and back.
    rate = sample_rate if codec != "opus" or sample_rate in (8000, 12000, 16000, 24000, 48000) else 48000
    coded = resample(x, sample_rate, rate) if rate != sample_rate else x
    buf = io.BytesIO()
    # Written and read in blocks: one sf.write of several minutes crashed libsndfile's encoder
    # (a segfault in the library, seen on a 470 s MP3 render).
    with sf.SoundFile(buf, "w", rate, 1, format=fmt, subtype=subtype,
                      compression_level=float(np.clip(quality, 0.0, 1.0))) as fh:
        for i in range(0, len(coded), 16384):
            fh.write(coded[i : i + 16384])
    buf.seek(0)
    with sf.SoundFile(buf) as fh:
        decoded = np.concatenate(list(fh.blocks(blocksize=16384, dtype="float32", always_2d=True)) or
                                 [np.zeros((0, 1), np.float32)]).mean(axis=1)
    if rate != sample_rate:
        decoded = resample(decoded, rate, sample_rate)
    lag = _lag(x, decoded, sample_rate)
    out = np.zeros(len(x), np.float32)
    part = decoded[lag : lag + len(x)] if lag >= 0 else np.concatenate([np.zeros(-lag, np.float32), decoded])[: len(x)]
    out[: len(part)] = part
    return out


def _lag(ref: np.ndarray, other: np.ndarray, sample_rate: int, max_lag_s: float = 0.1) -> int:
    """Samples by which ``other`` lags ``ref`` (cross-correlation over the loudest few seconds)."""
    from scipy.signal import correlate

    win = min(len(ref), len(other), int(4 * sample_rate))
    if win < 16:
        return 0
    # the loudest 4 s of ref (a silent stretch would correlate at random)
    hop = max(1, win // 2)
    starts = range(0, max(1, min(len(ref), len(other)) - win), hop)
    a = max(starts, key=lambda s: float(np.sum(ref[s : s + win].astype(np.float64) ** 2)))
    m = int(max_lag_s * sample_rate)
    r = ref[a : a + win].astype(np.float64)
    o = other[max(0, a - m) : a + win + m].astype(np.float64)
    c = correlate(o, r, mode="valid", method="fft")
    return int(np.argmax(c)) - (a - max(0, a - m))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def _scaled_to(x: np.ndarray, ref: np.ndarray, level_db: float) -> np.ndarray:
    """``x`` scaled so its RMS is ``level_db`` relative to ``ref``'s."""
    r = _rms(x)
    return x * (_rms(ref) * 10 ** (level_db / 20) / r) if r > 0 else x
