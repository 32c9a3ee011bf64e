"""Streaming inference: chunking is invisible, bad audio never crashes, the shipped model works."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musestudio.core.errors import Cancelled, InputFileError
from musestudio.core.notes import Note, NoteSequence
from musestudio.core.progress import CancelToken, run_work
from musestudio.dsp.features import FeatureConfig, compute_features
from musestudio.ml.decode import DecodeSettings, decode
from musestudio.ml.transcribe import default_checkpoint, run_inference, run_inference_work, transcribe

SR = 16000


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised small transcriber saved as a real checkpoint folder."""
    import torch

    from musestudio.ml.checkpoint import save_checkpoint
    from musestudio.ml.models.transcriber import TranscriberConfig, TranscriberModel

    torch.manual_seed(0)
    config = TranscriberConfig(conv1=4, conv2=4, hidden=16, temporal_layers=2)
    model = TranscriberModel(config).eval()
    folder = tmp_path_factory.mktemp("tiny") / "transcriber"
    save_checkpoint(folder, "transcriber", dataclasses.asdict(config), model.state_dict(),
                    extra={"features": FeatureConfig().to_dict()})
    return folder


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * 0.1).astype(np.float32)


def test_chunked_equals_whole_file(tiny_checkpoint: Path) -> None:
    x = noise(12.3)
    whole = run_inference(x, tiny_checkpoint, chunk_frames=100_000)
    chunked = run_inference(x, tiny_checkpoint, chunk_frames=37)
    assert whole.n_frames == chunked.n_frames == len(compute_features(x, SR))
    for k in ("onset", "frame", "offset", "velocity", "pedal"):
        np.testing.assert_allclose(getattr(chunked, k).astype(np.float32), getattr(whole, k).astype(np.float32), atol=2e-3)


def test_file_streaming_equals_in_memory(tiny_checkpoint: Path, tmp_path: Path) -> None:
    x = noise(5.0, seed=1)
    wav = tmp_path / "x.wav"
    sf.write(wav, x, SR, subtype="FLOAT")
    from_file = run_inference(wav, tiny_checkpoint, chunk_frames=50)
    in_memory = run_inference(x, tiny_checkpoint)
    np.testing.assert_allclose(from_file.frame.astype(np.float32), in_memory.frame.astype(np.float32), atol=2e-3)


def test_note_crossing_a_chunk_edge_is_one_note(tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Model outputs are replaced by a held note; chunking must not split it."""
    import torch

    from musestudio.ml import transcribe as tr

    model, _ = tr.load_transcriber(tiny_checkpoint)

    def fake_predict(features: torch.Tensor) -> dict[str, torch.Tensor]:
        # A per-frame deterministic function of the input: loud frames "sound" key 40.
        loud = (features.mean(dim=-1) > 0.5).float()  # [B, T]
        z = torch.zeros(*features.shape[:2], 88)
        frame = z.clone()
        frame[..., 40] = loud
        onset = z.clone()
        onset[..., 40] = torch.diff(loud, dim=1, prepend=torch.zeros_like(loud[:, :1])).clamp(min=0)
        return {"onset": onset, "frame": frame, "offset": z, "velocity": z + 0.5, "pedal": z[..., 0]}

    monkeypatch.setattr(model, "predict", fake_predict)
    x = np.zeros(8 * SR, np.float32)
    x[2 * SR : 6 * SR] = noise(4.0)  # sounds across several 37-frame chunks
    seq = decode(run_inference(x, tiny_checkpoint, chunk_frames=37))
    assert len(seq.notes) == 1
    assert seq.notes[0].start == pytest.approx(2.0, abs=0.1)
    assert seq.notes[0].end == pytest.approx(6.0, abs=0.1)


def test_progress_and_cancel(tiny_checkpoint: Path) -> None:
    seen = []
    run_work(run_inference_work(noise(6.0), tiny_checkpoint, chunk_frames=40), seen.append)
    assert len(seen) >= 4 and seen[-1].fraction == 1.0
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_work(run_inference_work(noise(6.0), tiny_checkpoint, chunk_frames=40), cancel=token)


def write(path: Path, data: np.ndarray, sr: int) -> Path:
    sf.write(path, data, sr, subtype="FLOAT")
    return path


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("silence", lambda: (np.zeros(SR * 2, np.float32), SR)),
        ("one_sample", lambda: (np.array([0.3], np.float32), SR)),
        ("clipping", lambda: (np.clip(noise(2.0) * 100, -1, 1), SR)),
        ("nan", lambda: (np.where(np.arange(SR) % 7 == 0, np.nan, 0.1).astype(np.float32), SR)),
        ("six_channels", lambda: (np.tile(noise(1.5)[:, None], (1, 6)), SR)),
        ("8khz", lambda: (noise(1.0)[:8000], 8000)),
        ("192khz", lambda: (np.tile(noise(0.5), 24)[: 192000 // 2], 192000)),
    ],
)
def test_bad_audio_gives_sensible_output(name: str, make, tiny_checkpoint: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, sr = make()
    wav = write(tmp_path / f"{name}.wav", data, sr)
    seq = transcribe(wav, checkpoint=tiny_checkpoint)
    assert isinstance(seq, NoteSequence)
    for n in seq.notes:
        assert 21 <= n.pitch <= 108 and n.end > n.start and 1 <= n.velocity <= 127
    if name == "silence":
        acts = run_inference(wav, tiny_checkpoint)
        assert acts.n_frames == 1 + 2 * SR // 512


def test_unreadable_audio_is_a_clear_error(tiny_checkpoint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not audio at all")
    with pytest.raises(InputFileError):
        transcribe(bad, checkpoint=tiny_checkpoint)
    with pytest.raises(InputFileError):
        transcribe(tmp_path / "missing.wav", checkpoint=tiny_checkpoint)


def _shipped_or_skip() -> Path:
    folder = default_checkpoint()
    if not (folder / "model.safetensors").is_file():
        pytest.skip("no shipped transcriber checkpoint")
    return folder


def test_shipped_checkpoint_transcribes_a_rendered_clip() -> None:
    from musestudio.io.synth import find_soundfont, fluidsynth_available, render_with_fluidsynth
    from musestudio.metrics.transcription import note_scores

    folder = _shipped_or_skip()
    soundfont = find_soundfont()
    if soundfont is None or not fluidsynth_available():
        pytest.skip("FluidSynth or a SoundFont is not installed")
    rng = np.random.default_rng(3)
    notes = []
    t = 0.2
    for _ in range(24):  # a broken-chord melody with a few dyads, mid-register
        pitch = int(rng.integers(48, 84))
        dur = float(rng.choice([0.25, 0.4, 0.6]))
        notes.append(Note(pitch, t, t + dur, int(rng.integers(50, 110))))
        if rng.random() < 0.3:
            notes.append(Note(pitch - int(rng.choice([3, 4, 7])), t, t + dur, 70))
        t += dur + 0.05
    ref = NoteSequence(notes=notes)
    audio = render_with_fluidsynth(ref, soundfont, 22050)
    est = transcribe((audio, 22050), DecodeSettings(), folder)
    scores = note_scores(est, ref)
    assert scores["onset_f1"] > 0.6, scores


def test_activations_from_cached_features_match_audio_inference(tiny_checkpoint: Path) -> None:
    from musestudio.ml.transcribe import activations_from_features, load_transcriber

    x = noise(4.0, seed=5)
    model, fc = load_transcriber(tiny_checkpoint)
    from_audio = run_inference(x, tiny_checkpoint, chunk_frames=30)
    from_features = activations_from_features(model, compute_features(x, SR, fc), fc.frame_rate, chunk_frames=45)
    np.testing.assert_allclose(from_features.onset.astype(np.float32), from_audio.onset.astype(np.float32), atol=2e-3)


def test_cli_transcribe(tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from musestudio.cli import main
    from musestudio.io.midi import read_midi

    a = write(tmp_path / "a.wav", noise(2.0), SR)
    b = tmp_path / "b.flac"
    sf.write(b, np.tile(noise(1.0, seed=2), 3)[:44100], 44100, subtype="PCM_16")
    out = tmp_path / "out.mid"
    ck = ["--checkpoint", str(tiny_checkpoint)]
    assert main(["transcribe", str(a), "-o", str(out), "--onset-threshold", "0.2", "--save-note-events", str(tmp_path / "n.csv"), *ck]) == 0
    assert read_midi(out) is not None
    assert (tmp_path / "n.csv").read_text().startswith("start_s,end_s,pitch,velocity")
    assert main(["transcribe", str(a), "-o", str(out), *ck]) == 1  # refuses to overwrite
    assert "already exists" in capsys.readouterr().err
    folder = tmp_path / "dir"
    folder.mkdir()
    assert main(["transcribe", str(a), str(b), "--out-dir", str(folder), "--no-pedal", *ck]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.mid", "b.mid"]
    assert main(["transcribe", str(a), "-o", str(tmp_path / "x.mid"), "--frame-threshold", "1.5", *ck]) == 1
    assert main(["transcribe", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "y.mid"), *ck]) == 1
    assert main(["transcribe", str(a), "-o", str(tmp_path / "z.mid"), "--checkpoint", str(tmp_path)]) == 1


def _with_decode(src: Path, dst: Path, block: object) -> Path:
    import json
    import shutil

    shutil.copytree(src, dst)
    meta = json.loads((dst / "config.json").read_text())
    meta["decode"] = block
    (dst / "config.json").write_text(json.dumps(meta))
    return dst


def test_decode_defaults_come_from_the_checkpoint(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from musestudio.core.errors import ModelError
    from musestudio.ml.transcribe import decode_defaults

    assert decode_defaults(tiny_checkpoint) == DecodeSettings()  # no "decode" block: built-in values
    tuned = _with_decode(tiny_checkpoint, tmp_path / "tuned", {"onset_threshold": 0.45, "repeat_threshold": None,
                                                               "tuned_on": "validation"})
    d = decode_defaults(tuned)
    assert d.onset_threshold == 0.45 and d.repeat_threshold is None
    assert d.frame_threshold == DecodeSettings().frame_threshold  # keys not given keep the built-in value
    bad = _with_decode(tiny_checkpoint, tmp_path / "bad", {"frame_threshold": 3})
    with pytest.raises(ModelError, match=r"decode\.frame_threshold"):
        decode_defaults(bad)
    level = _with_decode(tiny_checkpoint, tmp_path / "level", {"level_velocity": 2.5, "level_lag_ms": 500})
    assert (decode_defaults(level).level_velocity, decode_defaults(level).level_lag_ms) == (2.5, 500.0)
    for key, value in (("level_velocity", -1), ("level_lag_ms", 5000)):
        with pytest.raises(ModelError, match=key):
            decode_defaults(_with_decode(tiny_checkpoint, tmp_path / key, {key: value}))
    from musestudio.ml.decode import VELOCITY_FEATURES

    n = len(VELOCITY_FEATURES)
    model = {"mean": [0.0] * n, "scale": [1.0] * n, "weights": [0.5] * n}
    fitted = _with_decode(tiny_checkpoint, tmp_path / "vmodel", {"velocity_model": model})
    assert decode_defaults(fitted).velocity_model == model
    for name, broken in (("weights", {**model, "weights": [0.5] * (n - 1)}), ("scale", {**model, "scale": [0.0] * n}),
                         ("mean", {**model, "mean": [float("nan")] * n}), ("kind", {**model, "kind": "tree"}),
                         ("", [1, 2])):
        with pytest.raises(ModelError, match=rf"velocity_model\.{name}" if name else "velocity_model must be an object"):
            decode_defaults(_with_decode(tiny_checkpoint, tmp_path / f"v{name}{len(str(broken))}", {"velocity_model": broken}))
    with pytest.raises(ModelError):
        decode_defaults(tmp_path / "missing")


def test_transcription_uses_the_checkpoint_thresholds(tiny_checkpoint: Path, tmp_path: Path) -> None:
    x = noise(3.0, seed=4)
    acts = run_inference(x, tiny_checkpoint)
    low = _with_decode(tiny_checkpoint, tmp_path / "low", {"onset_threshold": 0.05, "frame_threshold": 0.05,
                                                           "repeat_threshold": None})
    expected = decode(acts, DecodeSettings(onset_threshold=0.05, frame_threshold=0.05, repeat_threshold=None))
    assert len(expected.notes) != len(decode(acts, DecodeSettings()).notes)  # the thresholds matter here
    assert [(n.pitch, n.start) for n in transcribe(x, None, low).notes] == [(n.pitch, n.start) for n in expected.notes]


def test_cli_defaults_are_the_checkpoint_thresholds(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from musestudio.cli import main
    from musestudio.io.midi import read_midi

    a = write(tmp_path / "a.wav", noise(3.0, seed=4), SR)
    low = _with_decode(tiny_checkpoint, tmp_path / "low", {"onset_threshold": 0.05, "frame_threshold": 0.05,
                                                           "repeat_threshold": None, "min_note_ms": 0})
    # --tempo-map none: each file would get its own tracked map, and MIDI ticks round times differently
    assert main(["transcribe", str(a), "-o", str(tmp_path / "low.mid"), "--checkpoint", str(low), "--tempo-map", "none"]) == 0
    assert main(["transcribe", str(a), "-o", str(tmp_path / "flag.mid"), "--checkpoint", str(tiny_checkpoint),
                 "--onset-threshold", "0.05", "--frame-threshold", "0.05", "--min-note-ms", "0", "--tempo-map", "none"]) == 0
    by_default = read_midi(tmp_path / "low.mid").notes
    by_flags = read_midi(tmp_path / "flag.mid").notes
    assert len(by_default) > 0
    # same thresholds whether from config.json or from flags (repeat differs: flags keep the built-in 0.7)
    assert {(n.pitch, round(n.start, 2)) for n in by_flags} <= {(n.pitch, round(n.start, 2)) for n in by_default}


def _settings_spy(monkeypatch: pytest.MonkeyPatch) -> list:
    """The DecodeSettings each transcribe_to_file call gets, in order (the call still runs)."""
    import musestudio.ml.transcribe as tr

    seen = []
    real = tr.transcribe_to_file

    def spy(*args, **kw):  # type: ignore[no-untyped-def]
        seen.append(kw.get("settings", args[2] if len(args) > 2 else None))
        return real(*args, **kw)

    monkeypatch.setattr(tr, "transcribe_to_file", spy)
    return seen


def test_cli_key_release_offsets_reach_the_decoder(tiny_checkpoint: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from musestudio.cli import main

    seen = _settings_spy(monkeypatch)
    a = write(tmp_path / "a.wav", noise(1.0), SR)
    ck = ["--checkpoint", str(tiny_checkpoint)]
    assert main(["transcribe", str(a), "-o", str(tmp_path / "a.mid"), *ck]) == 0
    assert main(["transcribe", str(a), "-o", str(tmp_path / "b.mid"), "--key-release-offsets", *ck]) == 0
    assert [s.sustain_offsets for s in seen] == [True, False]


def test_cli_keeps_the_note_filter_unless_an_onset_threshold_is_given(tiny_checkpoint: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The note filter looks for onsets at its own thresholds, so an onset or repeat threshold given on the
    command line decodes without it (the flag means what it says)."""
    from musestudio.cli import main
    from musestudio.ml.decode import NOTE_FILTER_FEATURES

    n = len(NOTE_FILTER_FEATURES)
    note_filter = {"onset_threshold": 0.4, "keep_threshold": 0.5, "kind": "mlp", "mean": [0.0] * n,
                   "scale": [1.0] * n, "members": [[[[[0.0]] * n, [1.0]]]]}
    ck = ["--checkpoint", str(_with_decode(tiny_checkpoint, tmp_path / "filtered", {"note_filter": note_filter}))]
    seen = _settings_spy(monkeypatch)
    a = write(tmp_path / "a.wav", noise(1.0), SR)
    assert main(["transcribe", str(a), "-o", str(tmp_path / "a.mid"), *ck]) == 0
    assert main(["transcribe", str(a), "-o", str(tmp_path / "b.mid"), "--onset-threshold", "0.5", *ck]) == 0
    assert main(["transcribe", str(a), "-o", str(tmp_path / "c.mid"), "--repeat-threshold", "0.9", *ck]) == 0
    assert [s.note_filter is not None for s in seen] == [True, False, False]


def test_cli_keeps_the_note_end_model_unless_a_frame_threshold_is_given(tiny_checkpoint: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The note-end read-out chooses among ends the tuned frame threshold gives, so a frame threshold given on the
    command line ends notes without it; --key-release-offsets keeps it in the settings, where decode() skips it."""
    from musestudio.cli import main
    from musestudio.ml.decode import NOTE_END_FEATURES

    n = len(NOTE_END_FEATURES)
    model = {"kind": "mlp", "mean": [0.0] * n, "scale": [1.0] * n, "members": [[[[[0.0]] * n, [1.0]]]]}
    ck = ["--checkpoint", str(_with_decode(tiny_checkpoint, tmp_path / "ended", {"note_end_model": model}))]
    seen = _settings_spy(monkeypatch)
    a = write(tmp_path / "a.wav", noise(1.0), SR)
    assert main(["transcribe", str(a), "-o", str(tmp_path / "a.mid"), *ck]) == 0
    assert main(["transcribe", str(a), "-o", str(tmp_path / "b.mid"), "--frame-threshold", "0.4", *ck]) == 0
    assert main(["transcribe", str(a), "-o", str(tmp_path / "c.mid"), "--onset-threshold", "0.5", *ck]) == 0
    assert [s.note_end_model is not None for s in seen] == [True, False, True]
