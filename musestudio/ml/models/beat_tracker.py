"""Beat and downbeat tracker for symbolic performances: a non-causal TCN over a piano roll.

The input is a frame-rate piano roll of the performance (see
:func:`musestudio.ml.beats.note_features`): per frame, the velocity of each
key's onsets and whether each key sounds, plus six summary channels that carry
the cues of metrical weight directly (how many notes start, how long they
last, how loud and how low the loudest and lowest are).  A 1x1 convolution
mixes them into ``channels`` features; a stack of residual, dilated 1-D
convolutions over time (dilations 1, 2, 4, ... 128 with kernel 5: about 40 s
of context at 25 frames/s) follows, as in the TCN beat trackers of the audio literature,
which suits performance MIDI as well: beats are inferred from the periodicity
of onsets, accents and bass notes over several bars.  Two heads give, per
frame, the probability of a beat and of a downbeat.  A third, piece-level
head is not used: the meter comes from decoding the downbeat activation.

``context > 0`` adds a whole-piece context head (sixteenth session).  The TCN sees about 40 s, too little
to tell a slow piece's beat from its eighth notes or to hold one bar phase through a movement (the
thirteenth session's diagnosis: 17 validation performances tracked at double tempo, F 0.947 at twice the
annotated rate).  So the TCN's features are average-pooled to ``context_pool`` frames (1 s), a small
dilated stack runs over the pooled sequence (about a minute each way), and its mean over the whole piece
is added; a per-frame MLP reads [TCN features, pooled context at that second, whole-piece mean] and ADDS
its output to the TCN's beat and downbeat log-odds.  Its last layer starts at zero, so a head added to a
trained tracker starts as exactly that tracker.  The context blocks have no GroupNorm: the TCN's
GroupNorm normalises over the whole window, which would make the context depend on the piece's length.
Inference runs the TCN chunk by chunk and the head over the whole piece (musestudio.ml.beats).

``members > 1`` is an output ensemble of that many networks of one shape: the
beat and downbeat probabilities are averaged (``training ensemble`` builds one;
the same design as the transcriber's, see its module).

``note_network`` (nineteenth session) attaches a note-level network (:mod:`musestudio.ml.models.note_beat`,
its config as a dict) whose per-note probabilities are put on their frames and blended with this TCN's:
``(1 - w) x TCN + w x notes``, ``w`` = ``note_beat_weight`` for beats and ``note_downbeat_weight`` for
downbeats (chosen on validation).  It is trained on its own (``python -m training.note_beats``); the blend
runs in :func:`musestudio.ml.beats.run_activations`, so every decoder and fitted read-out sees it.

``forward(batch)`` returns ``(outputs, losses)``; losses only when the batch
carries targets.  No file I/O here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional

N_KEYS = 88


@dataclass
class BeatTrackerConfig:
    n_keys: int = N_KEYS
    in_channels: int = 2 * N_KEYS + 6  # onset velocity + sounding per key, and 6 summary channels
    channels: int = 64
    kernel: int = 5
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)
    dropout: float = 0.1
    frame_rate: float = 25.0
    beat_pos_weight: float = 4.0  # beats are ~4% of frames; up-weight them
    downbeat_pos_weight: float = 8.0
    downbeat_weight: float = 1.0
    # GroupNorm groups in each block.  1 normalises all channels together (every shipped 64-channel
    # tracker); a tracker widened from one keeps the old channels in a group of their own, so that
    # growing it leaves its function unchanged (training/tasks/beats.py, ``--init-from``).
    norm_groups: int = 1
    members: int = 1  # >1: an output ensemble of this many networks (probabilities averaged)
    context: int = 0  # >0: width of the whole-piece context head (module docstring); 0: none
    context_pool: int = 25  # frames per pooled context step (1 s at 25 frames/s)
    context_dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)  # kernel 3 over pooled steps: +-63 s
    note_network: dict[str, Any] | None = None  # a NoteBeatConfig as a dict: the blended note network
    note_beat_weight: float = 0.5
    note_downbeat_weight: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.members, int) or isinstance(self.members, bool) or not 1 <= self.members <= 8:
            raise ValueError("members must be a whole number from 1 to 8")
        if not isinstance(self.context, int) or isinstance(self.context, bool) or not 0 <= self.context <= 512:
            raise ValueError("context must be a whole number from 0 to 512")
        if self.context and self.members > 1:
            raise ValueError("a context head and an ensemble (members > 1) cannot be combined")
        if self.context and (not isinstance(self.context_pool, int) or self.context_pool < 1):
            raise ValueError("context_pool must be a whole number of frames >= 1")
        if self.note_network is not None:
            if not isinstance(self.note_network, dict):
                raise ValueError("note_network must be a note network config (an object)")
            if self.members > 1:
                raise ValueError("a note network and an ensemble (members > 1) cannot be combined")
            for name in ("note_beat_weight", "note_downbeat_weight"):
                w = getattr(self, name)
                if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0:
                    raise ValueError(f"{name} must be a number from 0 to 1")


class _Block(nn.Module):
    """Residual dilated conv: x + W2 * gelu(W1 *_d x)."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float, norm_groups: int = 1) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.conv = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.norm = nn.GroupNorm(norm_groups, channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, C, T]
        return x + self.drop(self.mix(functional.gelu(self.norm(self.conv(x)))))


class _ContextBlock(nn.Module):
    """Residual dilated conv over pooled steps, without normalisation (see the module docstring)."""

    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, H, S]
        return x + self.drop(self.mix(functional.gelu(self.conv(x))))


class BeatTrackerModel(nn.Module):
    def __init__(self, config: BeatTrackerConfig) -> None:
        super().__init__()
        if config.kernel % 2 != 1:
            raise ValueError("kernel must be odd (centred, non-causal convolutions)")
        self.config = config
        if config.members > 1:
            single = dataclasses.replace(config, members=1)
            self.members = nn.ModuleList([BeatTrackerModel(single) for _ in range(config.members)])
            return
        self.inp = nn.Conv1d(config.in_channels, config.channels, 1)
        if config.channels % config.norm_groups:
            raise ValueError("channels must be a multiple of norm_groups")
        self.blocks = nn.ModuleList(_Block(config.channels, config.kernel, d, config.dropout, config.norm_groups)
                                    for d in config.dilations)
        self.head = nn.Conv1d(config.channels, 2, 1)
        if config.note_network is not None:
            from musestudio.ml.models.note_beat import NoteBeatConfig, NoteBeatModel

            self.note = NoteBeatModel(NoteBeatConfig(**config.note_network))
        if config.context:
            h = config.context
            self.ctx_in = nn.Conv1d(config.channels, h, 1)
            self.ctx_blocks = nn.ModuleList(_ContextBlock(h, d, config.dropout) for d in config.context_dilations)
            self.ctx_mix = nn.Conv1d(config.channels + 2 * h, h, 1)
            self.ctx_out = nn.Conv1d(h, 2, 1)
            nn.init.zeros_(self.ctx_out.weight)  # starts as the TCN alone
            nn.init.zeros_(self.ctx_out.bias)

    def trunk(self, features: torch.Tensor) -> torch.Tensor:
        """features [B, T, in_channels] -> the TCN's features [B, C, T] (single networks only)."""
        x = self.inp(features.transpose(1, 2))  # [B, C, T]
        for block in self.blocks:
            x = block(x)
        return x

    def context(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """TCN features [B, C, T] (mask [B, T]: 1 on real frames) -> pooled context [B, H, S], piece mean [B, H]."""
        pool = self.config.context_pool
        if mask is not None:
            x = x * mask[:, None, :]
        c = self.ctx_in(functional.avg_pool1d(x, pool, pool, ceil_mode=True))  # [B, H, S], S = ceil(T / pool)
        for block in self.ctx_blocks:
            c = block(c)
        if mask is None:
            return c, c.mean(-1)
        steps = functional.max_pool1d(mask[:, None, :], pool, pool, ceil_mode=True)  # [B, 1, S]
        return c, (c * steps).sum(-1) / steps.sum(-1).clamp_min(1.0)

    def context_logits(self, x: torch.Tensor, c: torch.Tensor, g: torch.Tensor, first_frame: int = 0) -> torch.Tensor:
        """The head's added log-odds [B, T, 2] for frames first_frame.. of the piece whose context is (c, g)."""
        t = x.shape[-1]
        step = torch.div(torch.arange(first_frame, first_frame + t, device=x.device), self.config.context_pool,
                         rounding_mode="floor").clamp_max(c.shape[-1] - 1)
        z = torch.cat([x, c.index_select(-1, step), g[:, :, None].expand(-1, -1, t)], dim=1)
        return self.ctx_out(functional.gelu(self.ctx_mix(z))).transpose(1, 2)

    def logits(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """features [B, T, in_channels] -> logits [B, T, 2] (beat, downbeat)."""
        if self.config.members > 1:  # the log-odds of the members' mean probabilities
            mean = torch.stack([torch.sigmoid(m.logits(features)) for m in self.members]).mean(0)
            return torch.logit(mean, eps=1e-6)
        x = self.trunk(features)
        out = self.head(x).transpose(1, 2)  # [B, T, 2]
        if self.config.context:
            out = out + self.context_logits(x, *self.context(x, mask))
        return out

    def forward(self, batch: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        cfg = self.config
        logits = self.logits(batch["features"])  # [B, T, 2]
        outputs = {"beat": torch.sigmoid(logits[..., 0]), "downbeat": torch.sigmoid(logits[..., 1])}
        losses: dict[str, torch.Tensor] = {}
        if "beat" in batch:
            mask = batch.get("mask")
            weight = mask if mask is not None else None
            losses["beat"] = functional.binary_cross_entropy_with_logits(
                logits[..., 0], batch["beat"], weight=weight,
                pos_weight=torch.tensor(cfg.beat_pos_weight, device=logits.device),
            )
            losses["downbeat"] = cfg.downbeat_weight * functional.binary_cross_entropy_with_logits(
                logits[..., 1], batch["downbeat"], weight=weight,
                pos_weight=torch.tensor(cfg.downbeat_pos_weight, device=logits.device),
            )
        return outputs, losses
