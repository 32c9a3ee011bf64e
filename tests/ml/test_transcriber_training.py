"""The transcriber's training side: labels, held-out conditions, shards, windows, a few steps."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from musestudio.core.notes import Note, NoteSequence, PedalEvent
from musestudio.dsp.features import FeatureConfig
from training.audio.dataset import WindowDataset, collate, render_group
from training.audio.labels import frame_labels
from training.audio.render import (
    EXTRA_TRAIN_SOUNDFONTS,
    SF_TIMGM,
    TEST_CONDITION,
    TRAIN_SOUNDFONTS,
    add_noise,
    concatenate_excerpts,
    equalize,
    excerpt,
    peaking,
    random_train_condition,
    room_response,
    room_reverb,
)

FPS = 31.25


def test_labels_follow_the_sustain_pedal() -> None:
    seq = NoteSequence(
        notes=[Note(60, 1.0, 2.0, 90), Note(64, 4.0, 4.5, 40)],
        pedals=[PedalEvent(1.5, 127), PedalEvent(3.0, 0)],
    )
    lab = frame_labels(seq, 200, FPS)
    k = 60 - 21
    assert lab["onset"][:, k].nonzero()[0].tolist() == [round(1.0 * FPS)]
    assert lab["velocity"][round(1.0 * FPS), k] == 90
    sounding = lab["frame"][:, k].nonzero()[0]
    assert sounding[0] == round(1.0 * FPS) and sounding[-1] == round(3.0 * FPS) - 1  # held by the pedal to 3 s
    assert lab["offset"][:, k].nonzero()[0].tolist() == [round(3.0 * FPS)]
    assert lab["pedal"][round(2.0 * FPS)] == 1 and lab["pedal"][round(3.5 * FPS)] == 0
    assert lab["frame"][:, 64 - 21].sum() == round(0.5 * FPS)


def test_test_condition_is_never_drawn_for_training() -> None:
    rng = random.Random(0)
    for _ in range(500):
        c = random_train_condition(rng)
        assert c.soundfont in TRAIN_SOUNDFONTS and c.soundfont != TEST_CONDITION.soundfont
        assert c.room_size < TEST_CONDITION.room_size


def test_v2_palette_keeps_the_test_piano_and_room_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import training.audio.render as render_mod

    monkeypatch.setattr(render_mod, "soundfont_available", lambda path: True)
    rng = random.Random(0)
    conds = [random_train_condition(rng, "v2") for _ in range(500)]
    fonts = {c.soundfont for c in conds}
    assert fonts == set(TRAIN_SOUNDFONTS + EXTRA_TRAIN_SOUNDFONTS) and SF_TIMGM not in fonts
    assert all(c.room_size < TEST_CONDITION.room_size for c in conds)
    synthetic = [c for c in conds if c.ir_rt60]
    assert 150 < len(synthetic) < 350 and all(not c.reverb and 0.4 <= c.ir_rt60 <= 2.5 for c in synthetic)
    assert all(len(c.peaks) == 3 and all(150 <= f <= 6000 and abs(g) <= 6 for f, g, _ in c.peaks) for c in conds)
    with pytest.raises(ValueError, match="palette"):
        random_train_condition(rng, "v9")


def test_first_palette_draws_are_unchanged() -> None:
    # v1 caches must stay reproducible from their seed: the v2 code path may not disturb v1 draws.
    a = [random_train_condition(random.Random(3)) for _ in range(3)]
    b = [random_train_condition(random.Random(3), "v1") for _ in range(3)]
    assert a == b and all(not c.peaks and c.ir_rt60 is None for c in a)


def test_synthetic_room_decays_at_its_rt60() -> None:
    sr = 16000
    ir = room_response(sr, 1.0, 8000.0, np.random.default_rng(0))
    assert len(ir) == sr and np.sum(ir**2) == pytest.approx(1.0)
    energy = np.convolve(ir**2, np.ones(800) / 800, mode="same")
    drop_db = 10 * np.log10(energy[int(0.1 * sr)] / energy[int(0.6 * sr)])
    assert 25 < drop_db < 35  # -60 dB per second -> about -30 dB over half a second
    click = np.zeros(2 * sr, np.float32)
    click[100] = 1.0
    wet = room_reverb(click, sr, 1.0, 0.5, 8000.0, np.random.default_rng(0))
    assert wet.shape == click.shape and np.abs(wet[sr // 2 : sr]).max() > 0  # a tail after the click
    assert np.sqrt(np.mean(wet**2)) == pytest.approx(np.sqrt(np.mean(click**2)), rel=0.05)


def test_peaking_filter_boosts_only_near_its_frequency() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    near = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    far = np.sin(2 * np.pi * 100 * t).astype(np.float32)
    gain = lambda x: 20 * np.log10(np.abs(peaking(x, sr, 1000.0, 6.0, 1.5))[sr // 2 :].max() / np.abs(x).max())  # noqa: E731
    assert gain(near) == pytest.approx(6.0, abs=0.3)
    assert abs(gain(far)) < 0.5
    np.testing.assert_allclose(peaking(near, sr, 1000.0, 0.0, 1.0), near)


def test_excerpts_release_the_pedal_and_concatenate() -> None:
    seq = NoteSequence(notes=[Note(60, t, t + 0.4) for t in np.arange(0, 20, 0.5)], pedals=[PedalEvent(3.0, 127)])
    part = excerpt(seq, 5.0, 4.0)
    assert part.notes[0].start == pytest.approx(0.0) and all(n.start < 4.0 for n in part.notes)
    assert part.pedals[0].time == pytest.approx(0.0) and part.pedals[0].is_down  # carried in
    assert part.pedals[-1].time == pytest.approx(4.0) and not part.pedals[-1].is_down
    joined, spans = concatenate_excerpts([part, part], gap=2.0)
    assert spans[1][0] == pytest.approx(spans[0][1] + 2.0)
    assert len(joined.notes) == 2 * len(part.notes)


def test_audio_augmentations() -> None:
    rng = np.random.default_rng(0)
    x = (np.sin(np.arange(16000) * 0.05) * 0.3).astype(np.float32)
    np.testing.assert_allclose(equalize(x, 16000, 0.0, 0.0), x, atol=1e-6)
    loud_low = equalize(x, 16000, 6.0, 0.0)  # ~127 Hz tone sits under the 250 Hz low shelf
    assert np.abs(loud_low).max() > 1.6 * np.abs(x).max()
    noisy = add_noise(x, 20.0, rng)
    snr = 10 * np.log10(np.mean(x**2) / np.mean((noisy - x) ** 2))
    assert abs(snr - 20.0) < 0.5


def _tiny_shard(folder: Path, frames: int = 300) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    seq = NoteSequence(notes=[Note(int(p), t, t + 0.3, 80) for p, t in zip(rng.integers(40, 90, 30), np.arange(30) * 0.3, strict=True)])
    lab = frame_labels(seq, frames, FPS)
    feats = rng.random((frames, 192)).astype(np.float16)
    np.savez(folder / "shard_0000.npz", features=feats, **lab, segments=np.array([[0, 150], [160, frames]]))


def test_window_dataset_and_collate(tmp_path: Path) -> None:
    _tiny_shard(tmp_path)
    ds = WindowDataset([tmp_path], window=64, length=10)
    item = ds[0]
    assert item["features"].shape == (64, 192) and item["onset"].shape == (64, 88)
    fixed = WindowDataset([tmp_path], window=64, random_windows=False)
    assert len(fixed) == 2 + 2  # whole windows inside each excerpt: starts 0, 64 and 160, 224
    batch = collate([ds[i] for i in range(4)])
    assert batch["features"].dtype.is_floating_point and float(batch["velocity"].max()) <= 1.0


def test_a_few_steps_lower_the_loss(tmp_path: Path) -> None:
    import torch

    from musestudio.ml.models.transcriber import TranscriberConfig, TranscriberModel

    _tiny_shard(tmp_path)
    torch.manual_seed(0)
    model = TranscriberModel(TranscriberConfig(conv1=4, conv2=8, hidden=32, temporal_layers=1, dropout=0.0))
    batch = collate([WindowDataset([tmp_path], window=64, random_windows=False)[i] for i in range(2)])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        _, parts = model(batch)
        loss = sum(parts.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_render_group_aligns_audio_and_labels() -> None:
    from musestudio.io.synth import fluidsynth_available
    from training.audio.render import SF_FLUID, RenderCondition

    if not fluidsynth_available() or not Path(SF_FLUID).is_file():
        pytest.skip("FluidSynth or FluidR3_GM is not installed")
    part = NoteSequence(notes=[Note(60 + i, i * 0.5, i * 0.5 + 0.4, 90) for i in range(6)])
    cond = RenderCondition(SF_FLUID, detune_cents=15.0, noise_snr_db=30.0, eq_low_db=3.0)
    arrays = render_group([part, part], cond, FeatureConfig(), np.random.default_rng(0))
    n = len(arrays["features"])
    assert all(len(arrays[k]) == n for k in ("onset", "frame", "offset", "velocity", "pedal"))
    assert arrays["onset"].sum() == 12
    # The loudest frames sit on the labelled notes, not elsewhere.
    energy = arrays["features"].astype(np.float32).sum(axis=1)
    sounding = arrays["frame"].any(axis=1)
    assert energy[sounding].mean() > 3 * energy[~sounding].mean()


def test_tune_decoding_writes_thresholds_the_app_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m training tune-decoding --write` on a (tiny) rendered-style validation cache."""
    import dataclasses
    import json

    import torch

    from musestudio.dsp.features import compute_features
    from musestudio.io.midi import write_midi
    from musestudio.ml.checkpoint import save_checkpoint
    from musestudio.ml.models.transcriber import TranscriberConfig, TranscriberModel
    from musestudio.ml.transcribe import decode_defaults
    from training.__main__ import main

    torch.manual_seed(0)
    config = TranscriberConfig(conv1=4, conv2=4, hidden=16, temporal_layers=1)
    ckpt = tmp_path / "models" / "transcriber"
    save_checkpoint(ckpt, "transcriber", dataclasses.asdict(config), TranscriberModel(config).eval().state_dict(),
                    extra={"features": FeatureConfig().to_dict()})
    val = tmp_path / "validation"
    val.mkdir()
    midi = write_midi(NoteSequence(notes=[Note(60 + i % 12, 0.3 * i, 0.3 * i + 0.25, 80) for i in range(20)]), tmp_path / "v.mid")
    rng = np.random.default_rng(0)
    feats = compute_features((rng.standard_normal(16000 * 7) * 0.1).astype(np.float32), 16000, FeatureConfig())
    np.savez(val / "shard_0000.npz", features=feats.astype(np.float16), segments=np.array([[0, len(feats)]]))
    meta = {"seconds": 6.0, "features": FeatureConfig().to_dict(),
            "shards": [{"file": "shard_0000.npz", "condition": {}, "excerpts": [{"midi": str(midi), "start": 0.0}]}]}
    (val / "meta.json").write_text(json.dumps(meta))
    argv = ["tune-decoding", str(ckpt), "--val", str(val), "--onset", "0.4", "0.6", "--frame", "0.3",
            "--repeat", "off", "0.8", "--harmonic", "off", "--write"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("onset F1") == 8  # 4 grid points, 3 pedal thresholds + the best line
    block = json.loads((ckpt / "config.json").read_text())["decode"]
    assert block["onset_threshold"] in (0.4, 0.6) and block["repeat_threshold"] in (None, 0.8)
    assert block["pedal_threshold"] in (0.3, 0.5, 0.7) and decode_defaults(ckpt).pedal_threshold == block["pedal_threshold"]
    assert decode_defaults(ckpt).onset_threshold == block["onset_threshold"]
