from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from musestudio.core.errors import InputFileError
from musestudio.io.audio import audio_info, iter_audio_blocks, load_audio, write_wav


def tone(sr: int, seconds: float = 1.0, freq: float = 440.0, channels: int = 2) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def dominant_frequency(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[int(np.argmax(spec))])


@pytest.mark.parametrize(
    ("ext", "fmt", "subtype"),
    [(".wav", "WAV", "PCM_16"), (".flac", "FLAC", "PCM_16"), (".ogg", "OGG", "VORBIS"), (".mp3", "MP3", "MPEG_LAYER_III")],
)
@pytest.mark.parametrize("sr", [8000, 44100, 48000])
def test_load_any_format_and_rate(tmp_path, ext, fmt, subtype, sr):
    if fmt == "MP3" and "MP3" not in sf.available_formats():
        pytest.skip("libsndfile without MP3")
    path = tmp_path / f"tone{ext}"
    sf.write(str(path), tone(sr), sr, format=fmt, subtype=subtype)
    x, out_sr = load_audio(path, 16000)
    assert out_sr == 16000 and x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 16000) < 16000 * 0.08  # mp3 adds encoder padding
    assert dominant_frequency(x, 16000) == pytest.approx(440, abs=3)


def test_mono_mix_of_many_channels(tmp_path):
    data = np.zeros((1000, 6), dtype=np.float32)
    data[:, 3] = 0.6
    sf.write(str(tmp_path / "six.wav"), data, 22050)
    x, sr = load_audio(tmp_path / "six.wav")
    assert sr == 22050 and np.allclose(x, 0.1, atol=1e-3)


def test_non_finite_samples_are_cleaned(tmp_path):
    data = np.array([0.1, np.nan, np.inf, -np.inf, 0.2], dtype=np.float32)
    sf.write(str(tmp_path / "nan.wav"), data, 8000, subtype="FLOAT")
    x, _ = load_audio(tmp_path / "nan.wav")
    assert np.isfinite(x).all()


def test_streaming_matches_whole_file(tmp_path):
    sf.write(str(tmp_path / "t.wav"), tone(44100, 3.0, channels=1), 44100)
    whole, _ = load_audio(tmp_path / "t.wav", 16000)
    parts = np.concatenate(list(iter_audio_blocks(tmp_path / "t.wav", 16000, block_seconds=0.7)))
    assert abs(len(parts) - len(whole)) <= 2
    n = min(len(parts), len(whole))
    assert np.abs(parts[:n] - whole[:n]).max() < 0.05


def test_write_wav_and_info(tmp_path):
    out = write_wav(tmp_path / "o.wav", tone(22050, 0.5, channels=1), 22050)
    info = audio_info(out)
    assert info.sample_rate == 22050 and info.channels == 1 and info.duration == pytest.approx(0.5)


@pytest.mark.parametrize(("content", "needle"), [(b"", "empty"), (b"definitely not audio", "cannot decode")])
def test_bad_audio(tmp_path, content, needle):
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(InputFileError, match=needle):
        load_audio(p)


def test_header_promising_hours_over_tiny_body(tmp_path):
    p = tmp_path / "liar.wav"
    sf.write(str(p), np.zeros(100, np.float32), 8000)
    data = bytearray(p.read_bytes())
    data[40:44] = (8000 * 2 * 7200).to_bytes(4, "little")  # data chunk claims 2 hours
    data[4:8] = (len(data) - 8 + 8000 * 2 * 7200).to_bytes(4, "little")
    p.write_bytes(bytes(data))
    x, _ = load_audio(p)
    assert len(x) <= 200
