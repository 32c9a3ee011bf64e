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
    TEST_CONDITION,
    TRAIN_SOUNDFONTS,
    add_noise,
    concatenate_excerpts,
    equalize,
    excerpt,
    random_train_condition,
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
