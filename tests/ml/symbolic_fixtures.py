"""Tiny, randomly initialised token-model checkpoints for fast generation tests (REMI tokens)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from musestudio.ml.remi import RemiTokenizer
from musestudio.ml.tokenizer import PerformanceTokenizer

TK = RemiTokenizer()


def demo_tokens() -> np.ndarray:
    from musestudio.io.midi import read_midi
    from musestudio.ml.beatgrid import BeatGrid
    from tests.conftest import DEMO_MIDI

    seq = read_midi(DEMO_MIDI)
    grid = BeatGrid.from_sequence(seq)
    return np.r_[TK.encode(seq, grid, humanized=False), TK.encode(seq, grid, humanized=True)]


def tiny_checkpoint(folder: Path, kind: str) -> Path:
    import torch

    from musestudio.ml.checkpoint import save_checkpoint

    extra = {"tokenizer": TK.to_dict(), "name": f"tiny-{kind}"}
    if kind == "markov":
        from musestudio.ml.models.markov import MarkovConfig, MarkovModel

        cfg = MarkovConfig(vocab_size=TK.vocab_size, order=3)
        model = MarkovModel.fit([demo_tokens()], cfg)
        tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.tensors().items()}
        return save_checkpoint(folder, "markov", asdict(cfg), tensors, extra=extra)
    torch.manual_seed(0)
    if kind == "lstm":
        from musestudio.ml.models.lstm import LSTMConfig, LSTMModel

        cfg = LSTMConfig(vocab_size=TK.vocab_size, embed_dim=16, hidden_size=32, num_layers=2, dropout=0.0)
        model = LSTMModel(cfg)
    else:
        from musestudio.ml.models.transformer import TransformerConfig, TransformerModel

        cfg = TransformerConfig(vocab_size=TK.vocab_size, d_model=32, n_heads=2, n_layers=2, d_ff=64, max_len=128)
        model = TransformerModel(cfg)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    return save_checkpoint(folder, kind, asdict(cfg), state, extra=extra)


def round1_checkpoint(folder: Path) -> Path:
    """A tiny checkpoint in the round-1 format (event tokens in seconds)."""
    import torch

    from musestudio.ml.checkpoint import save_checkpoint
    from musestudio.ml.models.transformer import TransformerConfig, TransformerModel

    tk = PerformanceTokenizer()
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=tk.vocab_size, d_model=32, n_heads=2, n_layers=2, d_ff=64, max_len=128)
    state = {k: v.clone() for k, v in TransformerModel(cfg).state_dict().items()}
    return save_checkpoint(folder, "transformer", asdict(cfg), state, extra={"tokenizer": tk.to_dict(), "name": "r1"})
