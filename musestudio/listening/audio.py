"""Clips matched in length and loudness, so that neither is a cue.

Loudness is measured as integrated loudness (ITU-R BS.1770, LUFS) with
pyloudnorm: K-weighting and gating follow how loud piano music sounds, which a
plain RMS does not (a few loud chords dominate RMS; silences drag it down).
"""

from __future__ import annotations

import io
import math

import numpy as np

FADE_IN_SECONDS = 0.02  # a click guard where an excerpt is cut out of running audio
FADE_OUT_SECONDS = 1.0  # every clip ends the same way, whatever its source
PEAK_CEILING_DB = -1.0  # no clip may peak above this after normalisation
SILENCE_LUFS = -70.0  # BS.1770's absolute gate: below this there is nothing to measure


def fit_length(samples: np.ndarray, sample_rate: int, seconds: float, *, fade_in: bool = False) -> np.ndarray:
    """Exactly ``seconds`` long: cut (or pad with silence), then fade out."""
    n = int(round(seconds * sample_rate))
    out = np.zeros(n, dtype=np.float32)
    m = min(n, len(samples))
    out[:m] = samples[:m]
    fo = min(int(FADE_OUT_SECONDS * sample_rate), n)
    if fo > 0:
        out[n - fo :] *= np.linspace(1.0, 0.0, fo, dtype=np.float32)
    if fade_in:
        fi = min(int(FADE_IN_SECONDS * sample_rate), n)
        out[:fi] *= np.linspace(0.0, 1.0, fi, dtype=np.float32)
    return out


def loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS; -inf-ish (SILENCE_LUFS) for silence or very short clips."""
    import pyloudnorm

    x = np.asarray(samples, dtype=np.float64)
    if len(x) < int(0.4 * sample_rate) or not np.any(x):  # BS.1770 needs one 400 ms block
        return SILENCE_LUFS
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns about possible clipping; we handle peaks ourselves
        value = float(pyloudnorm.Meter(sample_rate).integrated_loudness(x))
    return value if math.isfinite(value) else SILENCE_LUFS


def peak_db(samples: np.ndarray) -> float:
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def matching_gains(loudness_values: list[float], peaks_db: list[float], target_lufs: float) -> tuple[list[float], float]:
    """(gain in dB per clip, the target actually used).

    All clips are brought to one loudness.  If that would push some clip's
    peak over PEAK_CEILING_DB, the common target is lowered for every clip
    (rather than limiting the one clip), so that the clips still match.
    """
    target = target_lufs
    for lu, pk in zip(loudness_values, peaks_db):
        if lu <= SILENCE_LUFS or not math.isfinite(pk):
            continue
        headroom = PEAK_CEILING_DB - (pk + target - lu)
        if headroom < 0:
            target += headroom
    gains = [0.0 if lu <= SILENCE_LUFS else target - lu for lu in loudness_values]
    return gains, target


def apply_gain(samples: np.ndarray, gain_db: float) -> np.ndarray:
    out = samples.astype(np.float32) * np.float32(10 ** (gain_db / 20))
    return np.clip(out, -1.0, 1.0)


def encode_ogg(samples: np.ndarray, sample_rate: int) -> bytes:
    """Ogg Vorbis bytes (no metadata tags): small enough to embed 40 clips in one HTML page."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(samples, dtype=np.float32), int(sample_rate), format="OGG", subtype="VORBIS")
    return buf.getvalue()


def decode(data: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    samples, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return samples, int(sr)
