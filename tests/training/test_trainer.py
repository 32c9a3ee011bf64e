"""The generic trainer: learning, resume, DDP on CPU (gloo), export -> load in musestudio."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.__main__ import main as training_main
from training.tasks import TASKS, get_task

REPO = Path(__file__).resolve().parents[2]


def _train(out: Path, data: Path, cache: Path, model: str = "lstm", *extra: str) -> None:
    training_main([
        "train", "--model", model, "--preset", "tiny", "--data", f"midi:{data}", "--out", str(out),
        "--cache", str(cache), "--threads", "1", "--warmup", "2", "--eval-every", "5", "--eval-batches", "2",
        "--ckpt-every", "5", "--log-every", "5", "--device", "cpu", *extra,
    ])


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_registry_names_every_task() -> None:
    assert {"markov", "lstm", "transformer", "gan", "transcriber"} <= set(TASKS)


@pytest.mark.parametrize("model", ["lstm", "transformer"])
def test_a_few_steps_lower_the_loss_on_a_tiny_batch(model, midi_folder, tmp_path) -> None:
    import argparse

    torch.manual_seed(0)
    task = get_task(model)
    _, _, net = task.build_model("tiny")
    args = argparse.Namespace(preset="tiny", data=[f"midi:{midi_folder}"], cache=str(tmp_path), seed=0,
                              seq_len=None, batch_size=None, lr=None)
    train_ds, _ = task.datasets(args)
    batch = task.collate([train_ds[i] for i in range(4)])
    opts = task.make_optimizers(net, args)
    losses = [task.train_step(net, batch, opts, step, None)["loss"] for step in range(25)]
    assert losses[-1] < losses[0] - 0.5


def test_resume_gives_the_same_state_as_an_uninterrupted_run(midi_folder, tmp_path) -> None:
    cache = tmp_path / "cache"
    _train(tmp_path / "straight", midi_folder, cache, "lstm", "--max-steps", "12")
    _train(tmp_path / "split", midi_folder, cache, "lstm", "--max-steps", "12", "--stop-after", "5")
    _train(tmp_path / "split", midi_folder, cache, "lstm", "--max-steps", "12", "--resume")
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    assert a["state"]["step"] == b["state"]["step"] == 12
    for k, v in a["model"].items():
        torch.testing.assert_close(v, b["model"][k], rtol=0, atol=0)
    assert (tmp_path / "split" / "log.csv").read_text().count("\n") > 3


def test_two_process_gloo_ddp_keeps_ranks_identical(midi_folder, tmp_path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--rdzv-endpoint=localhost:0", "--rdzv-backend=c10d", "-m", "training", "train", "--model", "lstm",
        "--preset", "tiny", "--data", f"midi:{midi_folder}", "--out", str(tmp_path / "ddp"), "--cache",
        str(tmp_path / "cache"), "--threads", "1", "--max-steps", "6", "--eval-every", "3", "--eval-batches", "1",
        "--log-every", "2", "--device", "cpu", "--rank-weights",
    ]
    done = subprocess.run(cmd, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    r0, r1 = _weights(tmp_path / "ddp" / "rank0.safetensors"), _weights(tmp_path / "ddp" / "rank1.safetensors")
    for k in r0:
        torch.testing.assert_close(r0[k], r1[k], rtol=0, atol=0)
    # and training moved them away from the shared initialisation
    torch.manual_seed(0)
    _, _, fresh = get_task("lstm").build_model("tiny")
    assert any(not torch.equal(fresh.state_dict()[k], r0[k]) for k in r0)
    # only rank 0 wrote the run files
    assert (tmp_path / "ddp" / "run.json").is_file() and (tmp_path / "ddp" / "best.safetensors").is_file()


@pytest.mark.parametrize("model", ["lstm", "transformer", "markov"])
def test_export_then_load_and_generate_in_musestudio(model, midi_folder, tmp_path) -> None:
    from musestudio.io.midi import read_midi
    from musestudio.ml.generate import GenerationSettings, generate, load_symbolic_model, score_sequence

    cache = tmp_path / "cache"
    _train(tmp_path / "run", midi_folder, cache, model, "--max-steps", "6")
    training_main(["export", str(tmp_path / "run"), "--to", str(tmp_path / model)])
    assert {p.name for p in (tmp_path / model).iterdir()} >= {"model.safetensors", "config.json", "MODEL_CARD.md"}
    loaded = load_symbolic_model(tmp_path / model)
    assert loaded.kind == model
    training_main(["evaluate", str(tmp_path / model), "--data", f"midi:{midi_folder}", "--cache", str(cache)])
    card = (tmp_path / model / "MODEL_CARD.md").read_text()
    assert "bits_per_note" in card and "parameters" in card
    seed_file = sorted(midi_folder.glob("*.mid"))[0]
    seed = read_midi(seed_file).slice(0, 3)
    out = generate(seed, GenerationSettings(model=model, checkpoint=str(tmp_path / model), seconds=2, random_seed=0))
    assert out[0].notes and min(n.start for n in out[0].notes) >= seed.duration - 1e-9
    assert score_sequence(seed, model, tmp_path / model)["bits_per_note"] > 0


def test_export_last_exports_the_final_step_weights(midi_folder, tmp_path) -> None:
    import torch
    from safetensors.torch import load_file

    from musestudio.ml.checkpoint import load_state_dict, read_info

    _train(tmp_path / "run", midi_folder, tmp_path / "cache", "lstm", "--max-steps", "6")
    training_main(["export", str(tmp_path / "run"), "--to", str(tmp_path / "last"), "--weights", "last"])
    last = load_state_dict(read_info(tmp_path / "last"))
    saved = torch.load(tmp_path / "run" / "last.pt", map_location="cpu", weights_only=True)["model"]
    assert all(torch.equal(last[k], saved[k]) for k in saved)
    assert read_info(tmp_path / "last").meta["training"]["best step"].endswith("(last)")
    best = load_file(str(tmp_path / "run" / "best.safetensors"))
    assert set(best) == set(last)
