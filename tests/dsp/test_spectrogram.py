"""Display spectrograms (Qt-free): a tone lands on the row of its pitch, in both kinds."""

from __future__ import annotations

import numpy as np
import pytest

from musestudio.core.errors import Cancelled
from musestudio.core.progress import CancelToken, run_work
from musestudio.dsp.spectrogram import SpectrogramConfig, hz_to_pitch, pitch_to_hz, spectrogram_work


def _tone(hz: float, seconds: float = 1.0, sr: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_pitch_hz_inverse():
    assert pitch_to_hz(69) == pytest.approx(440.0)
    assert hz_to_pitch(261.6255653) == pytest.approx(60.0, abs=1e-6)


@pytest.mark.parametrize("kind", ["cqt", "mel"])
@pytest.mark.parametrize("pitch", [45, 69, 93])
def test_tone_peaks_on_its_pitch_row(kind, pitch):
    cfg = SpectrogramConfig(kind=kind)
    spec = run_work(spectrogram_work(_tone(float(pitch_to_hz(pitch))), cfg))
    assert spec.db.dtype == np.float32 and -6.0 < spec.db.max() <= 1e-4  # 0 dB is the loudest bin (before mel interpolation)
    middle = spec.db[:, spec.frames // 2]
    peak_pitch = spec.pitch_lo + int(np.argmax(middle)) / spec.bins_per_semitone
    # the CQT resolves half semitones; mel bands are coarser below ~500 Hz
    tolerance = 0.5 if kind == "cqt" else (1.0 if pitch > 60 else 3.0)
    assert abs(peak_pitch - pitch) <= tolerance
    assert spec.duration == pytest.approx(1.0, abs=0.05)


def test_cqt_separates_neighbouring_semitones():
    sr = 22050
    spec = run_work(spectrogram_work(_tone(float(pitch_to_hz(40)), sr=sr), SpectrogramConfig(kind="cqt")))
    col = spec.db[:, spec.frames // 2]
    row = lambda p: int(round((p - spec.pitch_lo) * spec.bins_per_semitone))  # noqa: E731
    assert col[row(40)] - col[row(42)] > 10.0  # a whole tone away is >10 dB down, even in the bass


def test_cancel_stops_the_work():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_work(spectrogram_work(_tone(440.0), SpectrogramConfig(kind="cqt"), token))
