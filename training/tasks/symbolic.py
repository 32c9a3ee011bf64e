"""Tasks for the token models: LSTM, Transformer (gradients) and the Markov baseline (counts)."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from musestudio.ml.tokenizer import PerformanceTokenizer
from training.data.symbolic import WindowDataset, load_split
from training.tasks.base import Task

EVAL_WINDOW = 512  # tokens per held-out scoring window, the same for every model


def _spread_windows(tokens: np.ndarray, count: int, window: int) -> list[np.ndarray]:
    """The piece as scoring windows of ``window + 1`` tokens; only ``count`` evenly spread ones when > 0."""
    starts = list(range(0, max(len(tokens) - 1, 0), window))
    if count and len(starts) > count:
        starts = [starts[int(i)] for i in np.linspace(0, len(starts) - 1, count).round()]
    return [tokens[a : a + window + 1] for a in starts]


class SymbolicTask(Task):
    """Shared data handling: cached token windows from ``--data`` sources."""

    training_note = (
        "- Trained on the train split (random transposition within ±6 semitones as augmentation); best weights "
        "chosen on the validation split (early stopping); numbers below on the test split, never trained on."
    )

    def __init__(self) -> None:
        self.tokenizer = PerformanceTokenizer()

    def datasets(self, args: argparse.Namespace) -> tuple[WindowDataset, WindowDataset]:
        self.apply_preset_defaults(args)
        train = load_split(args.data, "train", self.tokenizer, args.cache)
        val = load_split(args.data, "validation", self.tokenizer, args.cache)
        return (
            WindowDataset(train, self.tokenizer, args.seq_len, augment=True, seed=args.seed),
            WindowDataset(val, self.tokenizer, args.seq_len, augment=False),
        )

    def collate(self, items: list[Any]) -> torch.Tensor:
        return torch.stack(items)  # [B, seq_len + 1]

    def make_optimizers(self, model: nn.Module, args: argparse.Namespace) -> dict[str, torch.optim.Optimizer]:
        return {"main": torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9)}

    def export_extra(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.to_dict()}

    def test_metrics(self, folder: str, args: argparse.Namespace) -> dict[str, float]:
        from musestudio.ml.generate import load_symbolic_model, score_windows

        loaded = load_symbolic_model(folder)
        cache = load_split(args.data or ["asap"], args.split, self.tokenizer, args.cache)
        per_piece = int(getattr(args, "windows_per_piece", 0) or 0)
        windows = [
            w
            for i in range(len(cache))
            for w in _spread_windows(np.asarray(cache.piece_tokens(i), dtype=np.int64), per_piece, EVAL_WINDOW)
        ]
        total_nll, total_tokens = score_windows(loaded, windows)
        mean = total_nll / max(total_tokens, 1)
        out = {
            f"{args.split}_nll_per_token": mean,
            f"{args.split}_perplexity": math.exp(mean),
            f"{args.split}_tokens": float(total_tokens),
            f"{args.split}_pieces": float(len(cache)),
        }
        if per_piece:
            out[f"{args.split}_windows_per_piece"] = float(per_piece)
        return out

    def model_card(self, metrics: dict[str, float], facts: dict[str, Any]) -> str:
        lines = [
            f"# {self.name} — seeded piano continuation",
            "",
            f"Event-based performance tokens ({self.tokenizer.vocab_size} tokens: note-on/off for MIDI 21-108, "
            "100 time shifts of 10 ms, 32 velocity bins, sustain pedal on/off).",
            "",
            "## Data and split",
            "",
            "- ASAP performances (`../shared/data/asap`), split by piece (the `folder` column) with "
            "`training/splits.py`: 80% train / 10% validation / 10% test by a stable hash of the piece id.",
            self.training_note,
            "",
            "## Facts",
            "",
        ]
        lines += [f"- {k}: {v}" for k, v in facts.items()]
        lines += ["", "## Held-out numbers", ""]
        lines += [f"- {k}: {v:.4f}" if isinstance(v, float) else f"- {k}: {v}" for k, v in sorted(metrics.items())]
        lines += [
            "",
            f"Perplexity is per token of this tokenizer, scored in windows of {EVAL_WINDOW} tokens (the context "
            "restarts at each window for every model); it is not comparable with perplexities measured on "
            "other encodings (e.g. the reference paper's Table 2).",
        ]
        return "\n".join(lines) + "\n"


class LSTMTask(SymbolicTask):
    name = "lstm"
    preset_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"seq_len": 512, "batch_size": 64, "lr": 1e-3},
        "desktop": {"seq_len": 256, "batch_size": 32, "lr": 2e-3},
        "tiny": {"seq_len": 32, "batch_size": 4, "lr": 3e-3},
    }
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"embed_dim": 256, "hidden_size": 512, "num_layers": 2, "dropout": 0.3},
        # ~1M parameters: batch-1 sampling reads every weight per token, so size sets the speed
        "desktop": {"embed_dim": 96, "hidden_size": 256, "num_layers": 2, "dropout": 0.1},
        "tiny": {"embed_dim": 16, "hidden_size": 32, "num_layers": 2, "dropout": 0.0},
    }

    def build_model(self, preset: str) -> tuple[str, dict[str, Any], nn.Module]:
        from musestudio.ml.models.lstm import LSTMConfig, LSTMModel

        cfg = LSTMConfig(vocab_size=self.tokenizer.vocab_size, **self.presets[preset])
        return "lstm", asdict(cfg), LSTMModel(cfg)


class TransformerTask(SymbolicTask):
    name = "transformer"
    preset_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"seq_len": 1024, "batch_size": 32, "lr": 5e-4},
        "desktop": {"seq_len": 256, "batch_size": 16, "lr": 1e-3},
        "tiny": {"seq_len": 32, "batch_size": 4, "lr": 3e-3},
    }
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"d_model": 512, "n_heads": 8, "n_layers": 6, "d_ff": 2048, "dropout": 0.1, "max_len": 1024},
        "desktop": {"d_model": 192, "n_heads": 6, "n_layers": 3, "d_ff": 576, "dropout": 0.1, "max_len": 256},
        "tiny": {"d_model": 32, "n_heads": 2, "n_layers": 2, "d_ff": 64, "dropout": 0.0, "max_len": 64},
    }

    def build_model(self, preset: str) -> tuple[str, dict[str, Any], nn.Module]:
        from musestudio.ml.models.transformer import TransformerConfig, TransformerModel

        cfg = TransformerConfig(vocab_size=self.tokenizer.vocab_size, **self.presets[preset])
        return "transformer", asdict(cfg), TransformerModel(cfg)


class MarkovTask(SymbolicTask):
    name = "markov"
    uses_gradients = False
    training_note = (
        "- n-gram counts over the train split (untransposed); order and pruning chosen on the validation split; "
        "numbers below on the test split, never counted. 'parameters' = stored counts."
    )
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        # measured on the ASAP validation split: order 3 unpruned 36.9 ppl (10 MB as int64 keys),
        # order 4 pruned <2: 49.8, order 5 pruned <8: 105 -- pruning hurts more than the order helps
        "paper": {"order": 4, "min_count": 1},
        "desktop": {"order": 3, "min_count": 1},
        "tiny": {"order": 3, "min_count": 1},
    }

    def build_model(self, preset: str) -> tuple[str, dict[str, Any], nn.Module]:
        raise NotImplementedError("the Markov model is counted, not built: use fit_directly")

    def fit_directly(self, args: argparse.Namespace) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, float]]:
        from musestudio.ml.models.markov import MarkovConfig, MarkovModel

        self.apply_preset_defaults(args)
        train = load_split(args.data, "train", self.tokenizer, args.cache)
        val = load_split(args.data, "validation", self.tokenizer, args.cache)
        cfg = MarkovConfig(vocab_size=self.tokenizer.vocab_size, **self.presets[args.preset])
        model = MarkovModel.fit([np.asarray(train.piece_tokens(i)) for i in range(len(train))], cfg)
        nll, count = 0.0, 0
        for i in range(len(val)):
            toks = np.asarray(val.piece_tokens(i), dtype=np.int64)
            for a in range(0, max(len(toks) - 1, 0), EVAL_WINDOW):
                p = model.token_probabilities(toks[a : a + EVAL_WINDOW + 1])
                nll -= float(np.log(p).sum())
                count += len(p)
        tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.tensors().items()}
        val_nll = nll / max(count, 1)
        return "markov", asdict(cfg), tensors, {"val_loss": val_nll, "val_nll": val_nll,
                                                "val_perplexity": math.exp(val_nll)}
