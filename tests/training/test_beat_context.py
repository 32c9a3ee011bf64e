"""The beat tracker's whole-piece context head (config ``context``; python -m training.beats_context)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from musestudio.core.errors import ModelError
from musestudio.ml.beats import CHUNK_FRAMES, note_features, run_activations, trunk_features
from musestudio.ml.checkpoint import load_model, save_checkpoint
from musestudio.ml.models.beat_tracker import BeatTrackerConfig, BeatTrackerModel

TINY = {"channels": 8, "dilations": (1, 2, 4)}


def _notes(seconds: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = int(seconds * 3)
    start = np.sort(rng.uniform(0, seconds, n))
    return rng.integers(40, 90, n), start, start + 0.3, rng.integers(30, 100, n).astype(np.float64)


def _tracker(context: int, seed: int = 1, live_head: bool = False) -> BeatTrackerModel:
    torch.manual_seed(seed)
    model = BeatTrackerModel(BeatTrackerConfig(**TINY, context=context)).eval()
    if live_head:  # the head starts at zero; give it weights so that it changes the output
        with torch.no_grad():
            model.ctx_out.weight.normal_(0, 0.5)
            model.ctx_out.bias.fill_(0.1)
    return model


def test_a_fresh_head_leaves_the_tracker_unchanged() -> None:
    plain, with_head = _tracker(0), _tracker(16)
    with_head.load_state_dict(plain.state_dict(), strict=False)
    arrays = _notes(90)
    n = 90 * 25
    b0, d0 = run_activations(plain, arrays, n)
    b1, d1 = run_activations(with_head, arrays, n)
    np.testing.assert_array_equal(b0, b1)
    np.testing.assert_array_equal(d0, d1)


def test_chunked_inference_equals_the_whole_piece() -> None:
    model = _tracker(16, live_head=True)
    arrays = _notes(130, seed=3)
    n = 130 * 25
    assert n > 3 * CHUNK_FRAMES  # several chunks, so the head's per-chunk pass is exercised
    beat, down = run_activations(model, arrays, n)
    with torch.no_grad():
        x = trunk_features(model, arrays, n, 25.0)[None]
        logits = model.head(x).transpose(1, 2) + model.context_logits(x, *model.context(x))
    np.testing.assert_allclose(beat, torch.sigmoid(logits[0, :, 0]).numpy(), atol=1e-5)
    np.testing.assert_allclose(down, torch.sigmoid(logits[0, :, 1]).numpy(), atol=1e-5)
    # and within one chunk, the TCN's chunked features are the plain forward pass's
    short = 30 * 25
    feats = note_features(*arrays, first_frame=0, n_frames=short)
    with torch.no_grad():
        torch.testing.assert_close(trunk_features(model, arrays, short, 25.0), model.trunk(torch.from_numpy(feats)[None])[0])


def test_the_head_reads_the_whole_piece() -> None:
    model = _tracker(16, live_head=True)
    a = _notes(120, seed=4)
    # the same first minute, then a different second minute: the first minute's activations change too
    b = tuple(np.concatenate([x[a[1] < 60], y[_notes(120, seed=5)[1] >= 60]])
              for x, y in zip(a, _notes(120, seed=5), strict=True))
    n = 120 * 25
    ba, _ = run_activations(model, a, n)
    bb, _ = run_activations(model, b, n)
    assert not np.allclose(ba[:25 * 10], bb[:25 * 10])  # the first 10 s: far beyond the tiny TCN's reach


def test_context_settings_are_checked() -> None:
    from musestudio.ml.registry import build_config

    for bad in (-1, 1.5, True, 513):
        with pytest.raises(ModelError):
            build_config("beat_tracker", {**TINY, "context": bad})
    with pytest.raises(ModelError):
        build_config("beat_tracker", {**TINY, "context": 8, "members": 2})
    with pytest.raises(ModelError):
        build_config("beat_tracker", {**TINY, "context": 8, "context_pool": 0})


def _fake_features(folder: Path, channels: int, rng: np.random.Generator) -> None:
    folder.mkdir()
    for name, n_items in (("draw0", 6), ("validation", 2)):
        lengths = rng.integers(300, 900, n_items)
        total = int(lengths.sum())
        tgt = np.zeros((total, 2), np.float16)
        tgt[::12, 0] = 1
        tgt[::48, 1] = 1
        np.savez(folder / f"{name}.npz", x=rng.standard_normal((total, channels)).astype(np.float16),
                 base=rng.standard_normal((total, 2)).astype(np.float32), targets=tgt,
                 mask=np.ones(total, bool), lengths=lengths, synthetic=np.arange(n_items) == 0)


def test_training_the_head_writes_a_tracker_the_app_loads(tmp_path: Path) -> None:
    from musestudio.ml.beats import analyze
    from tests.ml.beat_fixtures import march
    from training.beats_context import main

    plain = BeatTrackerConfig(**TINY)
    trunk = BeatTrackerModel(plain).eval()
    ckpt = save_checkpoint(tmp_path / "plain", "beat_tracker", dataclasses.asdict(plain), trunk.state_dict(),
                           extra={"name": "plain"})
    _fake_features(tmp_path / "feats", plain.channels, np.random.default_rng(0))
    out = tmp_path / "ctx"
    assert main(["train", str(ckpt), "--features", str(tmp_path / "feats"), "--to", str(out), "--width", "8",
                 "--steps", "30", "--batch", "2", "--crop", "400", "--lr", "3e-3"]) == 0
    model, info = load_model(out)
    assert info.config["context"] == 8 and "context head" in json.loads((out / "config.json").read_text())["training"]
    # the TCN is untouched and the head has moved from zero
    for k, v in trunk.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v)
    assert model.ctx_out.weight.abs().sum() > 0
    seq, _, _ = march(bars=12)
    assert len(analyze(seq, checkpoint=out).beats) > 10  # runs through the app's analysis path
    with pytest.raises(SystemExit, match="no draw"):
        main(["train", str(ckpt), "--features", str(tmp_path), "--to", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="--crop"):
        main(["train", str(ckpt), "--features", str(tmp_path / "feats"), "--to", str(tmp_path / "x"), "--crop", "3"])
