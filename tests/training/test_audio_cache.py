"""Palette-v3 cache builds: resumable after a crash, and a tagged second draw beside the first."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from musestudio.dsp.features import FeatureConfig
from training.audio import dataset
from training.audio.render import SF_FLUID


@pytest.fixture
def fake_asap(midi_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from musestudio.io.synth import fluidsynth_available

    if not fluidsynth_available() or not Path(SF_FLUID).is_file():
        pytest.skip("FluidSynth or its SoundFont is not installed")
    perfs = [SimpleNamespace(piece=p.stem, performance_midi=p) for p in sorted(midi_folder.glob("*.mid"))]
    import training.splits

    monkeypatch.setattr(training.splits, "asap_split", lambda split, root=None: perfs)


def build(out: Path, **kw) -> dict:  # type: ignore[no-untyped-def]
    dataset.build_rendered_cache(out, "train", n_excerpts=4, seconds=4.0, per_group=2, seed=5, palette="v3",
                                 config=FeatureConfig(loudness="running"), log=lambda m: None, **kw)
    return json.loads((out / (f"meta_{kw['tag']}.json" if kw.get("tag") else "meta.json")).read_text())


def test_resume_keeps_written_shards_and_renders_the_rest_as_a_full_run(fake_asap: None, tmp_path: Path) -> None:
    full = build(tmp_path / "full")
    part = tmp_path / "part"
    build(part)
    (part / "shard_0001.npz").unlink()  # as if the run had died during its second shard
    stamp = (part / "shard_0000.npz").stat().st_mtime_ns
    resumed = build(part, resume=True)
    assert (part / "shard_0000.npz").stat().st_mtime_ns == stamp  # kept, not re-rendered
    assert [s["condition"] for s in resumed["shards"]] == [s["condition"] for s in full["shards"]]
    with np.load(part / "shard_0001.npz") as a, np.load(tmp_path / "full" / "shard_0001.npz") as b:
        np.testing.assert_array_equal(a["onset"], b["onset"])
        np.testing.assert_allclose(a["features"].astype(np.float32), b["features"].astype(np.float32), atol=0.02)


def test_tagged_draw_sits_beside_the_first(fake_asap: None, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="first one"):
        build(tmp_path / "c", tag="b")
    first = build(tmp_path / "c")
    second = build(tmp_path / "c", tag="b")
    assert json.loads((tmp_path / "c" / "meta.json").read_text()) == first
    assert [s["file"] for s in second["shards"]] == ["shard_b0000.npz", "shard_b0001.npz"]
    ds = dataset.WindowDataset([tmp_path / "c"], window=16)
    assert len(ds.arrays) == 4  # training reads both draws


def _shard(folder: Path, name: str, velocity: np.ndarray) -> None:
    n = len(velocity)
    np.savez(folder / name, features=np.zeros((n, 4), np.float16), onset=(velocity > 0).astype(np.uint8),
             frame=(velocity > 0).astype(np.uint8), offset=np.zeros_like(velocity), velocity=velocity,
             pedal=np.zeros(n, np.uint8), segments=np.array([[0, n]]))


@pytest.mark.parametrize("labels", [None, "played"])
def test_old_caches_get_played_velocity_labels_when_loaded(tmp_path: Path, labels: str | None) -> None:
    vel = np.zeros((16, 88), np.uint8)
    vel[2, 40], vel[9, 60] = 64, 100
    _shard(tmp_path, "shard_0000.npz", vel)
    _shard(tmp_path, "shard_0001.npz", vel)
    shards = [{"file": "shard_0000.npz", "condition": {"instrument": {"velocity_gamma": 1.5}}},
              {"file": "shard_0001.npz", "condition": {"instrument": None}}]  # a palette-v1/v2 shard
    meta = {"features": {}, "shards": shards, **({"velocity_labels": labels} if labels else {})}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    ds = dataset.WindowDataset([tmp_path], window=16, random_windows=False)
    got = {int(s[0]): a["velocity"] for s, a in zip(ds.starts, ds.arrays)}
    if labels is None:  # written before the labels were the played velocities: mapped on load
        assert got[0][2, 40] == round(127 * (64 / 127) ** 1.5) and got[0][9, 60] == round(127 * (100 / 127) ** 1.5)
    else:
        np.testing.assert_array_equal(got[0], vel)
    np.testing.assert_array_equal(got[1], vel)
    assert got[0].sum() > 0 and (got[0] > 0).sum() == 2


@pytest.mark.parametrize("split", ["train", "validation"])
def test_prepare_renders_clips_of_either_split_and_nothing_else(split: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """``--clips-split train`` renders a fit set of training-split clips (for the decoder's read-outs) into
    CACHE/train_clips, without the test clips, validation shards or training shards."""
    from training.audio import prepare

    calls = []
    monkeypatch.setattr(dataset, "render_clip_set", lambda out, which, conds, **kw: calls.append((out, which, conds, kw)))
    for name in ("build_test_files", "build_rendered_cache"):
        monkeypatch.setattr(prepare, name, lambda *a, **kw: pytest.fail("only the clips are rendered"))
    args = ["--cache", str(tmp_path), "--train", "0", "--validation", "0", "--test", "0", "--val-clips", "3",
            "--val-clips-seed", "161", "--val-clips-palettes", "v3,v5"]
    assert prepare.main(args + (["--clips-split", split] if split == "train" else [])) == 0
    (out, which, conds, kw), = calls
    assert out == tmp_path / f"{split}_clips" and which == split and kw["seed"] == 161
    assert [c.name.split()[1] for c in conds] == ["v3", "v5", "v3"]
