"""The running loudness normaliser at the transcriber's input (musestudio.dsp.features)."""

from __future__ import annotations

import numpy as np
import pytest

from musestudio.dsp.features import (
    LOUDNESS_MAX_GAIN_DB,
    LOUDNESS_REF_DB,
    FeatureConfig,
    LoudnessNormalizer,
    compute_features,
    frames_from_padded,
)

SR = 16000
NORM = FeatureConfig(loudness="running")


def piano_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Decaying harmonic tones at random pitches, 4 per second, peak about 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = np.zeros(n)
    t = np.arange(int(0.8 * SR)) / SR
    for start in np.arange(0.1, seconds - 0.8, 0.25):
        f0 = 440.0 * 2 ** ((rng.integers(30, 80) - 69) / 12)
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6) if f0 * h < 7000)
        a = int(start * SR)
        x[a : a + len(t)] += tone * np.exp(-4 * t) * rng.uniform(0.3, 1.0)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def test_level_does_not_matter() -> None:
    x = piano_like(6.0)
    loud = compute_features(x, SR, NORM)
    for db in (-20.0, -40.0):  # the range; see LoudnessNormalizer for the floor
        quiet = compute_features(x * np.float32(10 ** (db / 20)), SR, NORM)
        np.testing.assert_allclose(quiet, loud, atol=2e-3)
    # without normalisation (v4 and older checkpoints) level moves every feature
    raw = FeatureConfig()
    assert np.abs(compute_features(x * np.float32(0.01), SR, raw) - compute_features(x, SR, raw)).max() > 1.0


def test_old_configs_load_and_compute_as_before() -> None:
    legacy = {k: v for k, v in FeatureConfig().to_dict().items() if k != "loudness"}
    assert FeatureConfig.from_dict(legacy).loudness == "none"
    with pytest.raises(ValueError, match="loudness"):
        FeatureConfig(loudness="lufs")


def test_streaming_with_one_normaliser_matches_the_whole_clip() -> None:
    x = piano_like(7.0, seed=3) * np.float32(0.05)
    whole = compute_features(x, SR, NORM)
    padded = np.concatenate([np.zeros(NORM.n_fft // 2, np.float32), x, np.zeros(NORM.n_fft, np.float32)])
    norm = LoudnessNormalizer(NORM)
    hop, parts, first = NORM.hop_length, [], 0
    for last in (13, 14, 60, 61, 150, len(whole)):
        parts.append(frames_from_padded(padded[first * hop : (last - 1) * hop + NORM.n_fft], NORM, norm))
        first = last
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-4)


def test_estimate_follows_the_playing_level_and_ignores_silence() -> None:
    cfg = NORM
    norm = LoudnessNormalizer(cfg)
    fps = cfg.frame_rate
    mag = np.zeros((int(30 * fps), cfg.n_bins), np.float32)
    mag[: int(10 * fps)] = 10 ** (-20 / 20)  # loud: -20 dB
    mag[int(20 * fps) :] = 10 ** (-50 / 20)  # quiet after 10 s of digital silence
    gains = 20 * np.log10(norm.gains(mag))
    assert gains[5] == pytest.approx(LOUDNESS_REF_DB + 20, abs=0.5)  # the first loud frames set it
    assert gains[int(15 * fps)] == pytest.approx(gains[int(10 * fps) - 1], abs=1e-6)  # silence moves nothing
    # a 30 dB drop is inside the relative gate: the estimate falls with the 8 s release
    quiet = gains[int(20 * fps) :]
    assert np.all(np.diff(quiet) >= -1e-9) and quiet[-1] > quiet[0] + 10
    assert gains.max() <= LOUDNESS_MAX_GAIN_DB + 1e-9


def test_silence_and_bad_samples_stay_finite() -> None:
    assert np.all(compute_features(np.zeros(SR, np.float32), SR, NORM) == 0.0)
    x = piano_like(2.0)
    x[100:200] = np.nan
    x[500] = np.inf
    assert np.isfinite(compute_features(x, SR, NORM)).all()
    one = compute_features(np.ones(1, np.float32), SR, NORM)
    assert one.shape == (1, NORM.n_bins) and np.isfinite(one).all()


def test_the_normaliser_keeps_the_level_it_took_away_frame_by_frame() -> None:
    norm = LoudnessNormalizer(NORM)
    fps = NORM.frame_rate
    mag = np.full((int(12 * fps), NORM.n_bins), 10 ** (-50 / 20), np.float32)
    mag[int(6 * fps) :] = 10 ** (-30 / 20)  # 20 dB louder after 6 s
    first = norm.gains(mag[:100])
    second = norm.gains(mag[100:])
    removed = norm.removed_level()
    assert removed.shape == (len(mag),)
    np.testing.assert_allclose(removed, -20 * np.log10(np.concatenate([first, second])), atol=1e-4)
    assert removed[-1] - removed[int(5 * fps)] == pytest.approx(20.0, abs=0.5)  # the louder playing shows
