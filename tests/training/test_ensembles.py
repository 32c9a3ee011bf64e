"""Output ensembles of transcribers and beat trackers (config `members`, `python -m training ensemble`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from musestudio.core.errors import ModelError
from musestudio.dsp.features import FeatureConfig
from musestudio.ml.checkpoint import load_model, save_checkpoint
from musestudio.ml.models.transcriber import TranscriberConfig, TranscriberModel
from training.__main__ import main
from training.export import build_ensemble

SMALL = {"conv1": 4, "conv2": 4, "hidden": 16, "temporal_layers": 2, "harmonics": (2.0, 3.0)}


def _member(folder: Path, seed: int, **config: object) -> Path:
    torch.manual_seed(seed)
    cfg = TranscriberConfig(**{**SMALL, **config})
    model = TranscriberModel(cfg).eval()
    return save_checkpoint(folder, "transcriber", dataclasses.asdict(cfg), model.state_dict(),
                           extra={"features": FeatureConfig().to_dict(), "name": folder.name,
                                  "decode": {"onset_threshold": 0.6}})


def test_ensemble_predicts_the_mean_of_its_members(tmp_path: Path) -> None:
    a, b = _member(tmp_path / "a", 1), _member(tmp_path / "b", 2)
    folder = build_ensemble([a, b], tmp_path / "ab")
    ens, info = load_model(folder)
    assert info.config["members"] == 2
    ma, mb = load_model(a)[0], load_model(b)[0]
    x = torch.rand(1, 80, 192) * 3
    pe, pa, pb = ens.predict(x), ma.predict(x), mb.predict(x)
    assert set(pe) == {"onset", "frame", "offset", "velocity", "pedal"}
    for k in pe:
        torch.testing.assert_close(pe[k], (pa[k] + pb[k]) / 2)
    assert not torch.allclose(pa["onset"], pb["onset"])  # the members differ, so the mean is not trivially either
    assert ens.receptive_frames == ma.receptive_frames
    # forward's log-odds are those of the averaged probabilities, so training-side losses score what predict returns
    out, _ = ens({"features": x})
    torch.testing.assert_close(torch.sigmoid(out["frame"]), pe["frame"], atol=1e-5, rtol=0)
    # the first member's decoding block is carried over, to be re-tuned
    assert json.loads((folder / "config.json").read_text())["decode"]["onset_threshold"] == 0.6


def test_ensemble_transcribes_through_the_app_path(tmp_path: Path) -> None:
    from musestudio.ml.transcribe import run_inference

    folder = build_ensemble([_member(tmp_path / "a", 1), _member(tmp_path / "b", 2)], tmp_path / "ab")
    x = (np.random.default_rng(0).standard_normal(16000 * 3) * 0.1).astype(np.float32)
    acts = run_inference(x, folder, chunk_frames=40)
    whole = run_inference(x, folder, chunk_frames=100_000)
    np.testing.assert_allclose(acts.onset.astype(np.float32), whole.onset.astype(np.float32), atol=2e-3)
    assert acts.onset.shape[1] == 88 and np.isfinite(acts.frame.astype(np.float32)).all()


def test_ensemble_refuses_members_that_cannot_be_averaged(tmp_path: Path) -> None:
    a = _member(tmp_path / "a", 1)
    wider = _member(tmp_path / "wide", 2, hidden=24)
    with pytest.raises(ValueError, match="settings differ"):
        build_ensemble([a, wider], tmp_path / "bad")
    with pytest.raises(ValueError, match="at least two"):
        build_ensemble([a], tmp_path / "one")
    pair = build_ensemble([a, _member(tmp_path / "b", 3)], tmp_path / "ab")
    with pytest.raises(ValueError, match="itself an ensemble"):
        build_ensemble([pair, a], tmp_path / "nested")
    # the command line answers with one line, not a traceback
    assert main(["ensemble", str(tmp_path / "cli"), str(a), str(wider)]) == 2


def test_members_must_be_a_small_whole_number() -> None:
    from musestudio.ml.registry import build_config

    for bad in (0, 9, 1.5, True):
        with pytest.raises(ModelError):
            build_config("transcriber", {**SMALL, "members": bad})
        with pytest.raises(ModelError):
            build_config("beat_tracker", {"channels": 8, "members": bad})


def test_warm_start_from_an_ensemble_is_refused(tmp_path: Path) -> None:
    from musestudio.ml.checkpoint import load_state_dict, read_info
    from training.tasks import get_task

    pair = build_ensemble([_member(tmp_path / "a", 1), _member(tmp_path / "b", 2)], tmp_path / "ab")
    model = TranscriberModel(TranscriberConfig(**SMALL))
    with pytest.raises(SystemExit, match="none of its tensors fit"):
        get_task("transcriber").init_from(model, load_state_dict(read_info(pair)))
    assert "copied" in get_task("transcriber").init_from(model, load_state_dict(read_info(tmp_path / "a")))


def test_beat_tracker_ensemble_averages_probabilities_and_tracks(tmp_path: Path) -> None:
    from musestudio.ml.beats import analyze
    from musestudio.ml.models.beat_tracker import BeatTrackerConfig, BeatTrackerModel
    from tests.ml.beat_fixtures import march

    folders = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        cfg = BeatTrackerConfig(channels=8, dilations=(1, 2, 4))
        folders.append(save_checkpoint(tmp_path / f"b{seed}", "beat_tracker", dataclasses.asdict(cfg),
                                       BeatTrackerModel(cfg).eval().state_dict()))
    with pytest.raises(ValueError, match="settings differ"):
        build_ensemble([folders[0], _member(tmp_path / "t", 1)], tmp_path / "mixed")
    pair = build_ensemble(folders, tmp_path / "pair")
    ens = load_model(pair)[0]
    a, b = load_model(folders[0])[0], load_model(folders[1])[0]
    x = torch.rand(1, 120, 182)
    with torch.no_grad():
        got = torch.sigmoid(ens.logits(x))
        want = (torch.sigmoid(a.logits(x)) + torch.sigmoid(b.logits(x))) / 2
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    seq, _, _ = march(bars=12)
    result = analyze(seq, checkpoint=pair)
    assert len(result.beats) > 10  # an ensemble runs through the app's analysis path
