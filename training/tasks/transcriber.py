"""The transcriber as a training Task: presets, cached audio datasets, held-out note F1.

``python -m training.audio.prepare`` renders the caches first; then
``python -m training train --model transcriber --preset desktop --out runs/transcriber``
trains with the generic loop, ``python -m training export`` writes the
checkpoint, and ``python -m training evaluate models/transcriber`` scores it
on the held-out test clips (test pieces, SoundFont and room never trained on).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from musestudio.dsp.features import FeatureConfig
from musestudio.ml.models.transcriber import TranscriberConfig, TranscriberModel
from training.audio.dataset import DEFAULT_CACHE, WindowDataset, collate
from training.tasks.base import Task

PRESETS: dict[str, dict[str, Any]] = {
    # Small enough to train on a 2-core CPU and to run >100x real time: harmonic stacking
    # (sub-octave + harmonics 2-8 as input channels) and four dilated temporal blocks (~1 s of context).
    # Features are loudness-normalised since v5 (musestudio/dsp/features.py); v4 and older had none.
    "desktop": {"features": {"loudness": "running"}, "model": {"onset_pos_weight": 8.0, "harmonics": (0.5, 2, 3, 4, 5, 6, 7, 8),
                                          "temporal_layers": 4}},
    # desktop with 1.5x the convolution channels (fifth session): ~1.4x the CPU time per frame, still
    # well inside the >=100x real-time budget.  Grown from a desktop checkpoint by init_from.
    "wide": {"features": {"loudness": "running"}, "model": {"onset_pos_weight": 8.0, "harmonics": (0.5, 2, 3, 4, 5, 6, 7, 8),
                                       "temporal_layers": 4, "conv1": 24, "conv2": 48}},
    # The reference paper's set-up: mel spectrogram, a wider CNN and dense layer.
    "paper": {
        "features": {"scale": "mel", "n_bins": 228, "fmin": 30.0, "fmax": 8000.0},
        "model": {"n_bins": 228, "conv1": 48, "conv2": 96, "hidden": 768, "temporal_layers": 3},
    },
    # For tests: a few thousand parameters.
    "tiny": {"features": {}, "model": {"conv1": 4, "conv2": 4, "hidden": 16, "temporal_layers": 1}},
}


def feature_config(preset: str) -> FeatureConfig:
    return FeatureConfig(**PRESETS[preset]["features"])


class TranscriberTask(Task):
    name = "transcriber"
    grad_clip = 3.0
    preset_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "desktop": {"batch_size": 8, "lr": 1e-3, "seq_len": 256},
        "wide": {"batch_size": 8, "lr": 1e-3, "seq_len": 256},
        "paper": {"batch_size": 16, "lr": 6e-4, "seq_len": 640},
        "tiny": {"batch_size": 2, "lr": 1e-3, "seq_len": 64},
    }

    def __init__(self) -> None:
        self.preset = "desktop"
        self.features = feature_config("desktop")

    def build_model(self, preset: str) -> tuple[str, dict[str, Any], nn.Module]:
        if preset not in PRESETS:
            raise SystemExit(f"unknown transcriber preset '{preset}' (known: {', '.join(PRESETS)})")
        self.preset = preset
        self.features = feature_config(preset)
        config = TranscriberConfig(**PRESETS[preset]["model"])
        return "transcriber", dataclasses.asdict(config), TranscriberModel(config)

    def init_from(self, model: nn.Module, weights: dict[str, Any]) -> str:
        """Grow a smaller transcriber into this one, starting from (almost) the same function.

        New harmonic input channels start at zero (the generic slice copy); new
        temporal blocks are residual, so scaling their fresh weights by 0.02
        makes each start close to the identity while still passing gradients
        (all-zero weights would sit on ReLU's flat side and never move).

        Wider convolutions (the ``wide`` preset from a ``desktop`` checkpoint): the new output
        channels keep their fresh initialisation (and batch norms their fresh 1/0 statistics), while
        the weights by which later layers read those channels start at zero, so the grown network
        computes exactly the old function and the new channels still receive gradients.  The
        generic copy would zero the new filters too, and zero filters behind a ReLU never move.
        """
        fresh = {k: v.clone() for k, v in model.state_dict().items()}
        report = super().init_from(model, weights)
        with torch.no_grad():
            for name, tensor in model.state_dict().items():
                old = weights.get(name)
                if name.startswith("temporal.") and old is None:
                    tensor.mul_(0.02)
                elif old is not None and old.shape != tensor.shape and old.shape[0] < tensor.shape[0]:
                    tensor[old.shape[0]:] = fresh[name][old.shape[0]:]
        return report

    def _folders(self, args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
        """Cache folders for (train, validation); ``--data`` names cache folders or 'asap'."""
        sources = args.data or ["asap"]
        train: list[Path] = []
        val: list[Path] = []
        for src in sources:
            base = DEFAULT_CACHE if src == "asap" else Path(src)
            if (base / "train").is_dir():
                train.append(base / "train")
                if (base / "validation").is_dir():
                    val.append(base / "validation")
            else:
                train.append(base)
        if not val:
            val = train[:1]
        for folder in train + val:
            self._check_features(folder)
        return train, val

    def _check_features(self, folder: Path) -> None:
        meta = folder / "meta.json"
        if not meta.is_file():
            raise SystemExit(f"{folder}: no transcriber cache here; run `python -m training.audio.prepare` first")
        cached = FeatureConfig.from_dict(json.loads(meta.read_text())["features"])
        if cached != self.features:
            raise SystemExit(f"{folder}: cached features {cached} do not match preset '{self.preset}' ({self.features})")

    def datasets(self, args: argparse.Namespace) -> tuple[Any, Any]:
        train, val = self._folders(args)
        window = int(args.seq_len or 256)
        return (
            _EpochWindows(train, window=window, length=100 * int(args.batch_size or 8), seed=args.seed),
            WindowDataset(val, window=window, random_windows=False),
        )

    def collate(self, items: list[Any]) -> Any:
        return collate(items)

    def export_extra(self) -> dict[str, Any]:
        return {"features": self.features.to_dict()}

    def test_metrics(self, folder: str, args: argparse.Namespace) -> dict[str, float]:
        from training.audio.evaluate import evaluate_folder

        test_dir = DEFAULT_CACHE / "test"
        if not (test_dir / "meta.json").is_file():
            raise SystemExit(f"{test_dir}: no held-out clips; run `python -m training.audio.prepare` first")
        return evaluate_folder(folder, test_dir)["mean"]

    def model_card(self, metrics: dict[str, float], facts: dict[str, Any]) -> str:
        from training.audio.evaluate import model_card

        return model_card(metrics, facts)


class _EpochWindows(WindowDataset):
    """Training windows; each epoch picks up shards the cache builder has written since."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.epoch = 0
        self.seed = int(kw.get("seed", 0))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.refresh()

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        # Deterministic per (seed, epoch, index), so resumed runs and DataLoader workers agree.
        self.rng = np.random.default_rng((self.seed, self.epoch, int(i)))
        return super().__getitem__(i)
