"""Tasks for the token models: LSTM, Transformer (gradients) and the Markov baseline (counts)."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from musestudio.ml.remi import RemiTokenizer
from training.data.symbolic import BarWindowDataset, TokenCache, load_split
from training.tasks.base import Task

EVAL_WINDOW = 512  # tokens per held-out scoring window, the same for every model


HUMAN_MODE, GRID_MODE = 4, 3  # the REMI mode tokens (musestudio.ml.remi.HUMAN / GRID)


def bar_windows(cache: TokenCache, i: int, window: int, count: int = 0) -> list[np.ndarray]:
    """Scoring windows of piece ``i``: ``[mode] + up to window tokens``, each starting at a bar line and
    tiling the piece (a token is predicted once); only ``count`` evenly spread ones when > 0."""
    from musestudio.ml.remi import BAR

    toks = np.asarray(cache.piece_tokens(i), dtype=np.int64)
    mode = toks[0]
    bars = np.flatnonzero(toks == BAR)
    starts, s = [], int(bars[0]) if len(bars) else 1
    while s < len(toks):
        starts.append(s)
        nxt = bars[(bars > s) & (bars <= s + window)]
        s = int(nxt[-1]) if len(nxt) and int(nxt[-1]) > s and s + window < len(toks) else s + window
    if count and len(starts) > count:
        starts = [starts[int(k)] for k in np.linspace(0, len(starts) - 1, count).round()]
    out = []
    for k, a in enumerate(starts):
        b = min(a + window, len(toks))
        if not count and k + 1 < len(starts):
            b = min(b, starts[k + 1])
        out.append(np.r_[mode, toks[a:b]])
    return out


def _spread_windows(tokens: np.ndarray, count: int, window: int) -> list[np.ndarray]:
    """The piece as scoring windows of ``window + 1`` tokens; only ``count`` evenly spread ones when > 0."""
    starts = list(range(0, max(len(tokens) - 1, 0), window))
    if count and len(starts) > count:
        starts = [starts[int(i)] for i in np.linspace(0, len(starts) - 1, count).round()]
    return [tokens[a : a + window + 1] for a in starts]


class SymbolicTask(Task):
    """Shared data handling: cached token windows from ``--data`` sources."""

    training_note = (
        "- Trained on the train split (windows from a random bar line, transposed into all 12 keys as "
        "augmentation); weights chosen on the validation split only; numbers below on the test split, never "
        "trained on."
    )

    def __init__(self) -> None:
        self.tokenizer = RemiTokenizer()

    def apply_preset_defaults(self, args: argparse.Namespace) -> None:
        if getattr(args, "data", None) is None:
            args.data = ["asap-beats"]  # performances on their annotated beats + score MIDIs
        super().apply_preset_defaults(args)

    def datasets(self, args: argparse.Namespace) -> tuple[BarWindowDataset, BarWindowDataset]:
        self.apply_preset_defaults(args)
        train = load_split(args.data, "train", self.tokenizer, args.cache)
        val = load_split(args.data, "validation", self.tokenizer, args.cache)
        return (
            BarWindowDataset(train, self.tokenizer, args.seq_len, augment=True, seed=args.seed),
            BarWindowDataset(val, self.tokenizer, args.seq_len, augment=False),
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
        cache = load_split(args.data or ["asap-beats"], args.split, self.tokenizer, args.cache)
        per_piece = int(getattr(args, "windows_per_piece", 0) or 0)
        out: dict[str, float] = {}
        for label, want in (("human", HUMAN_MODE), ("score", GRID_MODE)):
            windows = [
                w
                for i in range(len(cache))
                if int(cache.piece_tokens(i)[0]) == want
                for w in bar_windows(cache, i, EVAL_WINDOW, per_piece)
            ]
            if not windows:
                continue
            total_nll, total_tokens = score_windows(loaded, windows)
            notes = sum(self.tokenizer.count_notes(w[1:]) for w in windows)
            mean = total_nll / max(total_tokens, 1)
            out[f"{args.split}_{label}_bits_per_note"] = total_nll / math.log(2) / max(notes, 1)
            out[f"{args.split}_{label}_nll_per_token"] = mean
            out[f"{args.split}_{label}_tokens"] = float(total_tokens)
            out[f"{args.split}_{label}_notes"] = float(notes)
        out[f"{args.split}_pieces"] = float(len(cache))
        if per_piece:
            out[f"{args.split}_windows_per_piece"] = float(per_piece)
        return out

    def model_card(self, metrics: dict[str, float], facts: dict[str, Any]) -> str:
        tk = self.tokenizer
        lines = [
            f"# {self.name} — seeded piano continuation",
            "",
            f"REMI-family tokens ({tk.vocab_size} ids, `musestudio.ml.remi`, config in config.json's `tokenizer`): "
            "a GRID/HUMAN control token, then per bar BAR, time signature, tempo (32 log bins), and per onset a "
            "position (12 per quarter note), optional microtiming (1/96 quarter), pitch, velocity (32 bins), "
            "duration (32 values), sustain pedal on/off.",
            "",
            "## Data and split",
            "",
            "- ASAP (`../shared/data/asap`): every performance placed on its annotated beats and downbeats "
            "(`*_annotations.txt`; HUMAN mode, microtiming kept) and every piece's score MIDI on its annotations "
            "(GRID mode, onsets on sixteenths/triplets), split by piece (the `folder` column) with "
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
            f"Bits per note = the summed token NLL (bits) of held-out music divided by its notes, scored in windows "
            f"of up to {EVAL_WINDOW} tokens that start at bar lines (the context restarts at each window for every "
            "model); unlike per-token perplexity it compares across tokenizers.  `human` = test-split "
            "performances, `score` = test-split score MIDIs.",
        ]
        return "\n".join(lines) + "\n"


class LSTMTask(SymbolicTask):
    name = "lstm"
    preset_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"seq_len": 512, "batch_size": 64, "lr": 1e-3},
        "desktop": {"seq_len": 256, "batch_size": 16, "lr": 2e-3},
        "tiny": {"seq_len": 32, "batch_size": 4, "lr": 3e-3},
    }
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"embed_dim": 256, "hidden_size": 512, "num_layers": 2, "dropout": 0.3},
        # the paper's 2x512 (3.9M parameters); dropout 0.1 because a CPU run sees the data less than once
        "desktop": {"embed_dim": 256, "hidden_size": 512, "num_layers": 2, "dropout": 0.1},
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
        "desktop": {"seq_len": 512, "batch_size": 8, "lr": 1e-3},
        "tiny": {"seq_len": 32, "batch_size": 4, "lr": 3e-3},
    }
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"d_model": 512, "n_heads": 8, "n_layers": 6, "d_ff": 2048, "dropout": 0.1, "max_len": 1024},
        # 8 heads like the paper, 4 layers of 256 (3.3M parameters): one CPU thread trains ~1,100 tokens/s,
        # and batch-1 sampling stays well under 1 s for 4 bars
        "desktop": {"d_model": 256, "n_heads": 8, "n_layers": 4, "d_ff": 1024, "dropout": 0.1, "max_len": 512},
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
