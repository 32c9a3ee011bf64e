"""Beat and downbeat probabilities per *note*: a convolutional + bidirectional GRU network over the note list.

The frame TCN (:mod:`musestudio.ml.models.beat_tracker`) sees about 40 s of a piece, and the beat tracker's
card traces most of its validation errors to that: slow pieces tracked at twice their tempo, and bar phase
lost where a passage is ambiguous.  A recurrent network over the notes themselves, as in the
performance-MIDI-to-score literature (a CRNN over note events), reads the whole piece at a cost linear in
its notes, and works at the notes' own timing instead of 40 ms frames.

Input: per note, in onset order, :data:`N_NOTE_FEATURES` numbers (see ``musestudio.ml.note_beats.
note_event_features``).  Output: per note, the log-odds that its onset is a beat and that it is a downbeat.

``forward(batch)`` returns ``(outputs, losses)``; losses only when the batch carries targets.  No file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional

N_NOTE_FEATURES = 12


@dataclass
class NoteBeatConfig:
    in_features: int = N_NOTE_FEATURES
    channels: int = 96
    conv_layers: int = 3
    kernel: int = 5
    hidden: int = 96  # GRU units per direction
    gru_layers: int = 2
    dropout: float = 0.1
    downbeat_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kernel % 2 != 1:
            raise ValueError("kernel must be odd")
        for name in ("in_features", "channels", "hidden", "gru_layers"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a whole number >= 1")


class _ConvBlock(nn.Module):
    """Residual conv over neighbouring notes: x + W2 * gelu(norm(W1 * x))."""

    def __init__(self, channels: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        self.norm = nn.BatchNorm1d(channels)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, N]
        return x + self.drop(self.mix(functional.gelu(self.norm(self.conv(x)))))


class NoteBeatModel(nn.Module):
    def __init__(self, config: NoteBeatConfig) -> None:
        super().__init__()
        self.config = config
        self.inp = nn.Conv1d(config.in_features, config.channels, 1)
        self.blocks = nn.ModuleList(_ConvBlock(config.channels, config.kernel, config.dropout)
                                    for _ in range(config.conv_layers))
        self.gru = nn.GRU(config.channels, config.hidden, num_layers=config.gru_layers, batch_first=True,
                          bidirectional=True, dropout=config.dropout if config.gru_layers > 1 else 0.0)
        self.head = nn.Linear(2 * config.hidden, 2)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """features [B, N, in_features] -> logits [B, N, 2] (beat, downbeat)."""
        x = self.inp(features.transpose(1, 2))  # [B, C, N]
        for block in self.blocks:
            x = block(x)
        h, _ = self.gru(x.transpose(1, 2))  # [B, N, 2H]
        return self.head(h)  # [B, N, 2]

    def forward(self, batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        logits = self.logits(batch["features"])
        outputs = {"beat": torch.sigmoid(logits[..., 0]), "downbeat": torch.sigmoid(logits[..., 1])}
        losses: dict[str, torch.Tensor] = {}
        if "beat" in batch:
            mask = batch.get("mask")
            losses["beat"] = functional.binary_cross_entropy_with_logits(logits[..., 0], batch["beat"], weight=mask)
            losses["downbeat"] = self.config.downbeat_weight * functional.binary_cross_entropy_with_logits(
                logits[..., 1], batch["downbeat"], weight=mask)
        return outputs, losses
