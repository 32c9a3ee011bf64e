"""Feature front end: shapes, conformance of any input, sample-rate independence."""

from __future__ import annotations

import numpy as np
import pytest

from musestudio.dsp.features import FeatureConfig, compute_features, filterbank, frames_from_padded, n_frames


def tone(freq: float, sr: int, seconds: float = 1.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("length", [1, 511, 512, 513, 16000])
def test_frame_count_and_bins(length: int) -> None:
    cfg = FeatureConfig()
    f = compute_features(np.zeros(length, np.float32), cfg.sample_rate, cfg)
    assert f.shape == (n_frames(length, cfg), cfg.n_bins)
    assert f.dtype == np.float32
    assert np.all(f == 0.0)  # silence is exactly zero


def test_empty_input() -> None:
    assert compute_features(np.zeros(0, np.float32), 16000).shape == (0, FeatureConfig().n_bins)


def test_filterbank_rows_sum_to_one() -> None:
    for cfg in (FeatureConfig(), FeatureConfig(scale="mel", n_bins=228)):
        fb = filterbank(cfg)
        assert fb.shape == (cfg.n_bins, cfg.n_fft // 2 + 1)
        np.testing.assert_allclose(fb.sum(axis=1), 1.0, rtol=1e-5)


def test_tone_lands_in_its_bin() -> None:
    cfg = FeatureConfig()
    f = compute_features(tone(440.0, 16000), 16000, cfg)
    expected = round(np.log2(440.0 / cfg.fmin) * cfg.bins_per_octave)  # A4: 4 octaves above A0
    assert abs(int(np.argmax(f[10])) - expected) <= 1


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 192000])
def test_sample_rate_independence(sr: int) -> None:
    cfg = FeatureConfig()
    ref = compute_features(tone(440.0, 16000), 16000, cfg)
    other = compute_features(tone(440.0, sr), sr, cfg)
    assert other.shape == ref.shape
    middle = slice(5, len(ref) - 5)
    assert np.abs(other[middle] - ref[middle]).max() < 0.5  # log1p units; the peak is ~7
    np.testing.assert_array_equal(np.argmax(other[middle], axis=1), np.argmax(ref[middle], axis=1))


def test_channels_are_mixed_and_non_finite_values_zeroed() -> None:
    x = tone(220.0, 16000)
    stereo = np.stack([x, x], axis=1)
    np.testing.assert_allclose(compute_features(stereo, 16000), compute_features(x, 16000), atol=1e-5)
    bad = x.copy()
    bad[100:200] = np.nan
    bad[300] = np.inf
    assert np.isfinite(compute_features(bad, 16000)).all()


def test_frames_from_padded_matches_any_split() -> None:
    """Streaming relies on this: frames of a padded stretch equal the whole-file frames."""
    cfg = FeatureConfig()
    x = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    whole = compute_features(x, 16000, cfg)
    padded = np.concatenate([np.zeros(cfg.n_fft // 2, np.float32), x, np.zeros(cfg.n_fft, np.float32)])
    part = frames_from_padded(padded[20 * cfg.hop_length : 40 * cfg.hop_length + cfg.n_fft], cfg)
    np.testing.assert_allclose(part[:20], whole[20:40], rtol=1e-4, atol=1e-4)
