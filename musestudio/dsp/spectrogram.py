"""Spectrograms for display, on a pitch axis (Qt-free: numpy + soxr only).

Both kinds come out on the same grid, rows at ``pitch_lo + k / bins_per_semitone``
(MIDI pitch, fractional), so the piano roll's notes line up with the
fundamental and the harmonics (+12, +19, +24 semitones) of what sounds.

* ``cqt``: a constant-Q transform computed octave by octave on a signal
  halved in rate each octave (the multirate scheme of Schörkhuber & Klapuri),
  so every octave uses the same short FFT.  Hand-written because no CQT
  library (librosa, nnAudio) is a dependency and this is ~40 lines.
* ``mel``: an STFT through a triangular mel filterbank (229 bands, as in
  onsets-and-frames), resampled onto the pitch grid for display.

These are display features.  The transcription model's input features live in
``musestudio.dsp.features``; the view does not reuse them because they run on
``torch.stft`` (the window must open without importing torch) and are an
STFT filterbank compressed for a network, where a display wants a true
constant-Q resolution and decibels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musestudio.core.progress import CancelToken, Progress, Work

A4_PITCH = 69
A4_HZ = 440.0


def pitch_to_hz(pitch: np.ndarray | float) -> np.ndarray | float:
    return A4_HZ * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - A4_PITCH) / 12.0)


def hz_to_pitch(hz: np.ndarray | float) -> np.ndarray | float:
    return A4_PITCH + 12.0 * np.log2(np.maximum(np.asarray(hz, dtype=np.float64), 1e-9) / A4_HZ)


@dataclass(frozen=True)
class SpectrogramConfig:
    kind: str = "cqt"  # "cqt" or "mel"
    sample_rate: int = 22050
    hop_length: int = 512  # 23 ms at 22.05 kHz; divisible by 2**octaves for the CQT
    pitch_lo: float = 21.0  # A0
    pitch_hi: float = 120.0  # C9 (8.4 kHz): room for the harmonics of the top notes
    bins_per_semitone: int = 2
    n_fft: int = 2048  # mel only
    n_mels: int = 229
    mel_fmin: float = 30.0
    mel_fmax: float = 8000.0


@dataclass
class Spectrogram:
    db: np.ndarray  # float32 [bins, frames], 0 dB = the loudest bin of the file
    hop_seconds: float
    pitch_lo: float
    bins_per_semitone: int
    kind: str

    @property
    def frames(self) -> int:
        return int(self.db.shape[1])

    @property
    def duration(self) -> float:
        return self.frames * self.hop_seconds


def _frames(x: np.ndarray, n_fft: int, hop: int, n_frames: int) -> np.ndarray:
    """Frames centred on j * hop (zero padded), shape [n_frames, n_fft], as a strided view."""
    pad = n_fft // 2
    need = (n_frames - 1) * hop + n_fft
    padded = np.zeros(max(need, len(x) + 2 * pad), dtype=np.float32)
    padded[pad : pad + len(x)] = x
    return np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, n_fft), strides=(padded.strides[0] * hop, padded.strides[0]), writeable=False
    )


def _to_db(mag: np.ndarray) -> np.ndarray:
    ref = float(mag.max()) if mag.size else 1.0
    return (20.0 * np.log10(np.maximum(mag, ref * 1e-6) / max(ref, 1e-12))).astype(np.float32)


def cqt_work(samples: np.ndarray, cfg: SpectrogramConfig, cancel: CancelToken | None = None) -> Work[Spectrogram]:
    import soxr

    bps = cfg.bins_per_semitone
    bins_per_octave = 12 * bps
    q = 1.0 / (2.0 ** (1.0 / bins_per_octave) - 1.0)
    pitches = cfg.pitch_lo + np.arange(round((cfg.pitch_hi - cfg.pitch_lo) * bps) + 1) / bps
    n_frames = int(len(samples) // cfg.hop_length) + 1
    out = np.zeros((len(pitches), n_frames), dtype=np.float32)
    octaves = int(np.ceil((cfg.pitch_hi - cfg.pitch_lo + 1e-9) / 12.0))
    if cfg.hop_length % (2 ** (octaves - 1)):
        raise ValueError("hop_length must be divisible by 2**(octaves-1) for the multirate CQT")
    x = samples.astype(np.float32, copy=False)
    sr = float(cfg.sample_rate)
    hop = cfg.hop_length
    for o in range(octaves):
        if cancel is not None:
            cancel.check()
        top = cfg.pitch_hi - 12.0 * o
        rows = np.nonzero((pitches <= top + 1e-9) & (pitches > top - 12.0 + 1e-9))[0]
        if len(rows):
            freqs = pitch_to_hz(pitches[rows])
            lengths = np.ceil(q * sr / freqs).astype(int)
            n_fft = int(2 ** np.ceil(np.log2(lengths.max())))
            kernels = np.zeros((len(rows), n_fft), dtype=np.complex64)
            for i, (f, n) in enumerate(zip(freqs, lengths, strict=True)):
                t = np.arange(n) - (n - 1) / 2.0
                w = np.hanning(n)
                start = (n_fft - n) // 2
                kernels[i, start : start + n] = w / w.sum() * np.exp(2j * np.pi * f * t / sr)
            spectra = np.conj(np.fft.fft(kernels, axis=1)) / n_fft  # Parseval: <x, k> = X . conj(K) / N
            frames = _frames(x, n_fft, hop, n_frames)
            for a in range(0, n_frames, 4096):  # bounded memory on long files
                chunk = np.fft.fft(frames[a : a + 4096], axis=1)
                out[rows, a : a + 4096] = np.abs(chunk @ spectra.T).T * 2.0
        yield Progress(o + 1, octaves, f"CQT octave {o + 1}/{octaves}")
        if o + 1 < octaves:  # halve the rate for the next octave down
            x = soxr.resample(x, sr, sr / 2.0, quality="HQ").astype(np.float32)
            sr /= 2.0
            hop //= 2
    return Spectrogram(_to_db(out), cfg.hop_length / cfg.sample_rate, cfg.pitch_lo, bps, "cqt")


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangular HTK-mel filters [n_mels, n_fft//2+1] and their centre frequencies."""

    def to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def from_mel(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = from_mel(np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2))
    fft_freqs = np.linspace(0, sample_rate / 2.0, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (fft_freqs[None, :] - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - fft_freqs[None, :]) / np.maximum(hi - mid, 1e-9)
    fb = np.maximum(0.0, np.minimum(up, down))
    fb *= (2.0 / (hi - lo))  # equal area (Slaney-style normalisation)
    return fb.astype(np.float32), edges[1:-1]


def mel_work(samples: np.ndarray, cfg: SpectrogramConfig, cancel: CancelToken | None = None) -> Work[Spectrogram]:
    n_frames = int(len(samples) // cfg.hop_length) + 1
    fb, centres = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.mel_fmin, cfg.mel_fmax)
    window = np.hanning(cfg.n_fft).astype(np.float32)
    frames = _frames(samples.astype(np.float32, copy=False), cfg.n_fft, cfg.hop_length, n_frames)
    mel = np.zeros((cfg.n_mels, n_frames), dtype=np.float32)
    step = 2048
    for a in range(0, n_frames, step):
        if cancel is not None:
            cancel.check()
        spec = np.abs(np.fft.rfft(frames[a : a + step] * window, axis=1)) ** 2
        mel[:, a : a + step] = (spec @ fb.T).T
        yield Progress(min(a + step, n_frames), n_frames, "mel spectrogram")
    # Onto the pitch grid: interpolate each display row's frequency between mel band centres.
    pitches = cfg.pitch_lo + np.arange(round((cfg.pitch_hi - cfg.pitch_lo) * cfg.bins_per_semitone) + 1) / cfg.bins_per_semitone
    pos = np.interp(pitch_to_hz(pitches), centres, np.arange(cfg.n_mels), left=np.nan, right=np.nan)
    db_mel = _to_db(np.sqrt(mel))
    floor = float(db_mel.min()) if db_mel.size else -120.0
    out = np.full((len(pitches), n_frames), floor, dtype=np.float32)
    ok = ~np.isnan(pos)
    i0 = np.floor(pos[ok]).astype(int)
    i1 = np.minimum(i0 + 1, cfg.n_mels - 1)
    frac = (pos[ok] - i0)[:, None].astype(np.float32)
    out[ok] = db_mel[i0] * (1 - frac) + db_mel[i1] * frac
    return Spectrogram(out, cfg.hop_length / cfg.sample_rate, cfg.pitch_lo, cfg.bins_per_semitone, "mel")


def spectrogram_work(samples: np.ndarray, cfg: SpectrogramConfig, cancel: CancelToken | None = None) -> Work[Spectrogram]:
    if cfg.kind == "cqt":
        return (yield from cqt_work(samples, cfg, cancel))
    if cfg.kind == "mel":
        return (yield from mel_work(samples, cfg, cancel))
    raise ValueError(f"unknown spectrogram kind {cfg.kind!r} (expected 'cqt' or 'mel')")


def audio_spectrogram_work(path: str, cfg: SpectrogramConfig, cancel: CancelToken | None = None) -> Work[Spectrogram]:
    """Load the audio (mono, resampled) and compute its spectrogram."""
    from musestudio.io.audio import load_audio

    yield Progress(0, 1, "reading audio")
    samples, _ = load_audio(path, cfg.sample_rate)
    return (yield from spectrogram_work(samples, cfg, cancel))
