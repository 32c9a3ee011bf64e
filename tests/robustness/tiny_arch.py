"""A two-layer model registered only inside the checkpoint tests (see test_robust_checkpoints.py)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class TinyConfig:
    inputs: int = 4
    hidden: int = 8


class TinyModel(nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.encode = nn.Linear(config.inputs, config.hidden)
        self.decode = nn.Linear(config.hidden, config.inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [batch, inputs] -> [batch, inputs]
        return self.decode(torch.relu(self.encode(x)))
