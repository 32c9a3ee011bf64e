"""Run folder -> musestudio checkpoint, and held-out evaluation written into the card."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from training.tasks import get_task


def _facts(run: dict[str, Any]) -> dict[str, Any]:
    best = run.get("best", {})
    return {
        "architecture": run["architecture"],
        "preset": run.get("preset"),
        "parameters": f"{run.get('parameters', 0):,}",
        "training data": ", ".join(run.get("data") or ["asap"]),
        "training time": f"{best.get('train_seconds', 0) / 60:.1f} min",
        "hardware": run.get("hardware"),
        "best step": best.get("step", "n/a"),
        "config": json.dumps(run["config"]),
    }


def export_run(run_dir: str | os.PathLike[str], to: str | os.PathLike[str], name: str | None = None,
               weights: str = "best") -> Path:
    """Export a run's best weights (lowest validation loss), or with ``weights="last"`` the weights
    at the last step (``last.pt``: the end of an annealed schedule is often better than a noisy
    validation-loss minimum)."""
    from safetensors.torch import load_file

    from musestudio.ml.checkpoint import save_checkpoint

    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    task = get_task(run["task"])
    if weights == "last":
        import torch

        from training.trainer import _untie

        blob = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)  # our own file: tensors only
        state = {k: v.contiguous() for k, v in blob["model"].items()}
        _untie(state)
        run["best"] = {"step": f"{blob['state']['step']} (last)", "train_seconds": blob["state"].get("train_seconds", 0)}
    elif weights == "best":
        state = load_file(str(run_dir / "best.safetensors"))
    else:
        raise ValueError(f"weights must be 'best' or 'last', not {weights!r}")
    val = {k: float(v) for k, v in run.get("best", {}).items() if k.startswith("val_")}
    facts = _facts(run)
    extra = {
        "name": name or Path(to).name,
        **run.get("extra", {}),
        "training": {k: v for k, v in facts.items() if k != "config"},
        "metrics": val,
    }
    folder = save_checkpoint(to, run["architecture"], run["config"], state, extra=extra, card=task.model_card(val, facts))
    _refresh_manifest(Path(folder))  # exporting into models/ replaces files the manifest pins
    return folder


ENSEMBLE_ARCHITECTURES = ("transcriber", "beat_tracker")  # models whose config has ``members``


def build_ensemble(members: list[str | os.PathLike[str]], to: str | os.PathLike[str], name: str | None = None) -> Path:
    """An output ensemble (config ``members``) of trained checkpoints of one architecture and shape.

    The new folder takes the first member's config.json blocks (feature settings, decoding); its decoding must be
    tuned again (transcriber: ``tune-decoding``, ``tune-velocity``, ``fit-velocity``; beat tracker: ``beats_eval
    tune`` and ``fit-meter``), since averaged probabilities are less extreme than one network's.  Raises
    ValueError for members that cannot be averaged."""
    from musestudio.ml.checkpoint import load_state_dict, read_info, save_checkpoint
    from musestudio.ml.registry import build_model

    if len(members) < 2:
        raise ValueError("an ensemble needs at least two checkpoints")
    infos = [read_info(m) for m in members]
    first = infos[0]
    for info in infos:
        if info.architecture not in ENSEMBLE_ARCHITECTURES:
            raise ValueError(f"{info.path}: a {info.architecture} checkpoint cannot be ensembled "
                             f"(only {', '.join(ENSEMBLE_ARCHITECTURES)})")
        if int(info.config.get("members", 1)) != 1:
            raise ValueError(f"{info.path}: is itself an ensemble")
        if (info.architecture != first.architecture or info.config != first.config
                or info.meta.get("features") != first.meta.get("features")):
            raise ValueError(f"{info.path}: architecture, network or feature settings differ from {first.path}'s")
    state = {f"members.{i}.{k}": v for i, info in enumerate(infos) for k, v in load_state_dict(info).items()}
    config = {**first.config, "members": len(infos)}
    params = sum(p.numel() for p in build_model(first.architecture, config).parameters())
    names = [str(info.meta.get("name") or Path(info.path).name) for info in infos]
    extra = {k: v for k, v in first.meta.items() if k not in ("format_version", "architecture", "config", "sha256")}
    extra["name"] = name or Path(to).name
    extra["training"] = {
        "architecture": first.architecture,
        "ensemble of": ", ".join(f"{n} ({Path(info.path)})" for n, info in zip(names, infos, strict=True)),
        "parameters": f"{params:,}",
        "members' training": [info.meta.get("training", {}) for info in infos],
    }
    extra.pop("metrics", None)
    card = (f"# {extra['name']}: an output ensemble of {len(infos)} {first.architecture} networks\n\nMembers: "
            f"{', '.join(names)}; {params:,} parameters in all.  Their probabilities are averaged.\n")
    folder = save_checkpoint(to, first.architecture, config, state, extra=extra, card=card)
    _refresh_manifest(Path(folder))
    return folder


def evaluate_checkpoint(folder: str | os.PathLike[str], args: argparse.Namespace) -> dict[str, float]:
    from musestudio.ml.checkpoint import CARD_FILE, CONFIG_FILE

    folder = Path(folder)
    meta = json.loads((folder / CONFIG_FILE).read_text())
    task_name = {"lstm": "lstm", "transformer": "transformer", "markov": "markov"}.get(meta["architecture"],
                                                                                        meta["architecture"])
    task = get_task(task_name)
    metrics = task.test_metrics(str(folder), args)
    if not args.no_write:
        meta.setdefault("metrics", {}).update(metrics)
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        facts = dict(meta.get("training", {}))
        facts["config"] = json.dumps(meta["config"])
        (folder / CARD_FILE).write_text(task.model_card(meta["metrics"], facts))
        _refresh_manifest(folder)
    return metrics


def _refresh_manifest(folder: Path) -> None:
    """Rewriting config.json and the card changes their sha256: keep models/manifest.json in step."""
    from musestudio.ml.checkpoint import MANIFEST_FILE, write_manifest

    if (folder.parent / MANIFEST_FILE).is_file():
        write_manifest(folder.parent)
