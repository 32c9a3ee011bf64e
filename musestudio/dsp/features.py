"""Spectrogram features for transcription: the ONE function training and inference share.

A short-time Fourier transform (``torch.stft``) followed by a fixed triangular
filterbank, either log-frequency (CQT-like: a constant number of bins per
semitone, so a key shift is a shift along the frequency axis, which suits a
CNN) or mel (as in the reference paper).  A filterbank on an STFT is written
here rather than taken from librosa because it is a few lines, needs no extra
runtime dependency, and runs at several hundred times real time on one core.

Frames are centred: frame ``i`` describes the samples around ``i * hop``, with
zero padding at both ends of the file.  :func:`frames_from_padded` computes the
frames of any already-padded stretch of samples, so that streaming inference
(:mod:`musestudio.ml.transcribe`) gets bit-for-bit the frames of a whole-file
call.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SCALES = ("log", "mel")
LOUDNESS_MODES = ("none", "running")
# Running-loudness constants (see LoudnessNormalizer).  The reference is about the level of a
# typical training render's frames, so a model trained without normalisation starts near home.
LOUDNESS_REF_DB = -45.0
LOUDNESS_ATTACK_S = 0.2
LOUDNESS_RELEASE_S = 8.0
LOUDNESS_REL_GATE_DB = 40.0  # frames this far below the estimate (decays, room tails) do not move it
LOUDNESS_ABS_GATE_DB = -110.0  # digital silence never moves it
LOUDNESS_MAX_GAIN_DB = 60.0
LOUDNESS_MIN_GAIN_DB = -30.0


@dataclass(frozen=True)
class FeatureConfig:
    """Front-end parameters; stored in every transcriber checkpoint's config.json."""

    sample_rate: int = 16000
    n_fft: int = 2048
    hop_length: int = 512  # 31.25 frames/s at 16 kHz, as in Onsets and Frames
    scale: str = "log"  # "log" (log-frequency) or "mel"
    n_bins: int = 192
    fmin: float = 27.5  # A0, the lowest piano key
    bins_per_octave: int = 24  # log scale only: two bins per semitone
    fmax: float = 8000.0  # mel scale only
    log_scale: float = 1e4  # features are log1p(log_scale * magnitude): silence is exactly 0
    loudness: str = "none"  # "running": scale by a causal running loudness estimate first

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, not {self.scale!r}")
        if self.loudness not in LOUDNESS_MODES:
            raise ValueError(f"loudness must be one of {LOUDNESS_MODES}, not {self.loudness!r}")
        if self.n_fft <= 0 or self.hop_length <= 0 or self.n_bins <= 0 or self.sample_rate <= 0:
            raise ValueError("n_fft, hop_length, n_bins and sample_rate must be positive")

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        return cls(**data)


def n_frames(num_samples: int, config: FeatureConfig) -> int:
    """Frames :func:`compute_features` returns for ``num_samples`` samples at the config's rate."""
    return 0 if num_samples <= 0 else 1 + num_samples // config.hop_length


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def _centre_frequencies(config: FeatureConfig) -> np.ndarray:
    """n_bins + 2 frequencies: the outer two are only filter edges."""
    k = np.arange(-1, config.n_bins + 1, dtype=np.float64)
    if config.scale == "log":
        return config.fmin * 2.0 ** (k / config.bins_per_octave)
    lo, hi = _hz_to_mel(np.array(config.fmin)), _hz_to_mel(np.array(config.fmax))
    return _mel_to_hz(lo + (hi - lo) * (k + 1) / (config.n_bins + 1))


@functools.lru_cache(maxsize=8)
def filterbank(config: FeatureConfig) -> np.ndarray:
    """[n_bins, n_fft // 2 + 1] triangular filters, each summing to one.

    A filter narrower than the FFT's bin spacing is widened to it, so low
    bins interpolate the spectrum instead of catching nothing.
    """
    freqs = np.arange(config.n_fft // 2 + 1) * config.sample_rate / config.n_fft
    spacing = config.sample_rate / config.n_fft
    c = _centre_frequencies(config)
    weights = np.zeros((config.n_bins, len(freqs)), dtype=np.float64)
    for i in range(config.n_bins):
        left, centre, right = c[i], c[i + 1], c[i + 2]
        lower = max(centre - left, spacing)
        upper = max(right - centre, spacing)
        w = np.minimum((freqs - (centre - lower)) / lower, ((centre + upper) - freqs) / upper)
        w = np.clip(w, 0.0, None)
        total = w.sum()
        weights[i] = w / total if total > 0 else 0.0
    return weights.astype(np.float32)


class LoudnessNormalizer:
    """Causal running loudness of feature frames; the gain each frame gets.

    Per frame, the level is the mean power of its filterbank magnitudes in dB.
    Frames above an absolute gate and no more than ``LOUDNESS_REL_GATE_DB`` below
    the estimate move it, quickly up (attack 0.2 s) and slowly down (release
    8 s), so the estimate follows the playing level, not each note's decay, and
    dynamics within a phrase survive.  The first gated frame sets it.  The
    absolute gate (-110 dB) is what limits exact level invariance: a recording
    whose faintest musical frames fall below it (peaks below about -60 dBFS)
    gates them differently.  (These constants are baked into v5's training
    caches: changing them needs new caches and training.)  Working in
    dB makes it gain-equivariant; the gain is clamped to
    [LOUDNESS_MIN_GAIN_DB, LOUDNESS_MAX_GAIN_DB].

    Hand-written rather than a LUFS meter (pyloudnorm): it must run frame by frame
    on the features' own magnitudes and carry its state across streaming chunks.
    """

    def __init__(self, config: FeatureConfig) -> None:
        rate = config.frame_rate
        self.attack = 1.0 - float(np.exp(-1.0 / (LOUDNESS_ATTACK_S * rate)))
        self.release = 1.0 - float(np.exp(-1.0 / (LOUDNESS_RELEASE_S * rate)))
        self.estimate: float | None = None
        self.removed_db: list[np.ndarray] = []  # per call: the level (dB) each frame's gain took away

    def removed_level(self) -> np.ndarray:
        """The playing level in dB taken out of every frame so far (minus the gain each got)."""
        return np.concatenate(self.removed_db) if self.removed_db else np.zeros(0, np.float32)

    @staticmethod
    def levels(mag: np.ndarray) -> np.ndarray:
        """dB level of each frame of filterbank magnitudes [frames, bins]."""
        power = np.mean(np.square(np.asarray(mag, dtype=np.float64)), axis=1)
        return 10.0 * np.log10(power + 1e-30)

    def gains(self, mag: np.ndarray) -> np.ndarray:
        """Linear gains [frames] for these frames, updating the running state."""
        levels = self.levels(mag)
        out = np.empty(len(levels), dtype=np.float64)
        est = self.estimate
        for i, level in enumerate(levels.tolist()):
            if level > LOUDNESS_ABS_GATE_DB and (est is None or level > est - LOUDNESS_REL_GATE_DB):
                if est is None:
                    est = level
                else:
                    est += (self.attack if level > est else self.release) * (level - est)
            gain_db = 0.0 if est is None else min(LOUDNESS_MAX_GAIN_DB, max(LOUDNESS_MIN_GAIN_DB, LOUDNESS_REF_DB - est))
            out[i] = gain_db
        self.estimate = est
        self.removed_db.append((-out).astype(np.float32))
        return np.power(10.0, out / 20.0)


def frames_from_padded(padded: np.ndarray, config: FeatureConfig, normalizer: LoudnessNormalizer | None = None) -> np.ndarray:
    """Features [frames, n_bins] of samples that already carry their context.

    ``padded`` must start ``n_fft // 2`` samples before the first frame's centre;
    one frame is produced per full window (``1 + (len - n_fft) // hop``).  With
    ``config.loudness == "running"`` the frames are loudness-normalised by
    ``normalizer`` (a fresh one when not given: this call is the whole clip);
    streaming passes the same normaliser for every stretch of one file.
    """
    import torch

    x = np.ascontiguousarray(padded, dtype=np.float32)
    if len(x) < config.n_fft:
        return np.zeros((0, config.n_bins), dtype=np.float32)
    with torch.no_grad():
        t = torch.from_numpy(x)
        window = _window(config.n_fft)
        spec = torch.stft(t, config.n_fft, config.hop_length, window=window, center=False, return_complex=True)
        mag = spec.abs().T  # [frames, n_fft//2+1]
        mag = mag * (2.0 / float(window.sum()))  # a full-scale sine peaks near 1
        fb = torch.from_numpy(filterbank(config))
        bands = mag @ fb.T
        if config.loudness == "running":
            norm = normalizer if normalizer is not None else LoudnessNormalizer(config)
            gains = torch.from_numpy(norm.gains(bands.numpy()).astype(np.float32))
            bands = bands * gains[:, None]
        out = torch.log1p(config.log_scale * bands)
    return out.numpy()


@functools.lru_cache(maxsize=4)
def _window(n_fft: int):  # type: ignore[no-untyped-def]
    import torch

    return torch.hann_window(n_fft, periodic=True)


def prepare_samples(samples: np.ndarray, sample_rate: int, config: FeatureConfig) -> np.ndarray:
    """Mono float32 at the config's rate, non-finite values zeroed: the one place audio is conformed.

    2-D input is (samples, channels), as soundfile returns it; channels are averaged.
    """
    from musestudio.io.audio import resample

    x = np.asarray(samples)
    if x.ndim == 2:
        x = x.mean(axis=1)
    elif x.ndim != 1:
        raise ValueError(f"audio must be 1-D or (samples, channels), got shape {x.shape}")
    x = np.nan_to_num(x.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=-1.0)
    if sample_rate <= 0:
        raise ValueError(f"invalid sample rate {sample_rate}")
    if sample_rate != config.sample_rate and len(x):
        x = resample(x, sample_rate, config.sample_rate)
    return x


def compute_features(samples: np.ndarray, sample_rate: int, config: FeatureConfig | None = None) -> np.ndarray:
    """Log-magnitude filterbank features [frames, n_bins] (float32) of a whole clip."""
    config = config or FeatureConfig()
    x = prepare_samples(samples, sample_rate, config)
    if len(x) == 0:
        return np.zeros((0, config.n_bins), dtype=np.float32)
    half = config.n_fft // 2
    # Zero-pad so that frame i is centred on sample i * hop and the tail gets its own frame.
    total = n_frames(len(x), config)
    need = (total - 1) * config.hop_length + config.n_fft
    padded = np.zeros(need, dtype=np.float32)
    padded[half : half + len(x)] = x[: need - half]
    return frames_from_padded(padded, config)
