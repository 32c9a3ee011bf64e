"""Stacked LSTM language model over performance tokens.

Training runs the fused ``nn.LSTM`` over whole windows.  Sampling steps one
token at a time with the same weights through :meth:`LSTMModel.step`, which
does the LSTM-cell arithmetic itself: stepping ``nn.LSTM`` per token costs
several times more on a CPU (its per-call setup dominates a length-1 input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)
from torch import nn


@dataclass
class LSTMConfig:
    vocab_size: int = 367  # REMI tokens (musestudio.ml.remi); round-1 event tokens had 313
    embed_dim: int = 256
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float = 0.3


State = list[tuple[torch.Tensor, torch.Tensor]]


def _tokens(batch: Any) -> torch.Tensor:
    return batch["tokens"] if isinstance(batch, dict) else batch


class LSTMModel(nn.Module):
    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)

    def logits(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        x = self.drop(self.embed(tokens))  # [B, T, E]
        hx = None
        if state is not None:
            hx = (torch.stack([h for h, _ in state]), torch.stack([c for _, c in state]))
        y, (h, c) = self.lstm(x, hx)  # y: [B, T, H]; h, c: [L, B, H]
        return self.head(self.drop(y)), [(h[i], c[i]) for i in range(h.shape[0])]  # [B, T, V]

    def forward(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        tokens = _tokens(batch)  # [B, T+1]
        logits, _ = self.logits(tokens[:, :-1])  # [B, T, V]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), ignore_index=0)
        return logits, {"nll": nll}

    # --- sampling ---------------------------------------------------------
    @torch.no_grad()
    def prime(self, tokens: torch.Tensor) -> tuple[torch.Tensor, State]:
        """Run the seed [B, T]; returns logits of the next token [B, V] and the state."""
        logits, state = self.logits(tokens)
        return logits[:, -1], state

    @torch.no_grad()
    def step(self, token: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One token [B] -> next-token logits [B, V], reusing nn.LSTM's weights cell by cell."""
        x = self.embed(token)  # [B, E]
        new_state: State = []
        for layer, (h_prev, c_prev) in enumerate(state):
            lstm = self.lstm
            gates = F.linear(x, getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"bias_ih_l{layer}"))
            gates = gates + F.linear(h_prev, getattr(lstm, f"weight_hh_l{layer}"), getattr(lstm, f"bias_hh_l{layer}"))
            i, f, g, o = gates.chunk(4, dim=-1)  # each [B, H], PyTorch's gate order
            c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            new_state.append((h, c))
            x = h
        return self.head(x), new_state
