"""CNN piano transcriber: convolutions on the spectrogram, then fully connected layers.

The acoustic model follows the reference paper (conv layers on a time-frequency
input, then dense layers); the heads follow Onsets and Frames: per key an
onset, a frame (key sounding, sustain included), an offset and a velocity,
plus one sustain-pedal output.  The frame head also sees the onset
probabilities, so a note's body is anchored to its attack.  A short stack of
dilated 1-D convolutions over time gives every frame ~0.5 s of context without
a recurrent layer, which keeps CPU inference far faster than real time.

Harmonic stacking (the idea behind Basic Pitch's front end): on a
log-frequency axis the h-th harmonic of a key sits a fixed number of bins
above it, ``bins_per_octave * log2(h)``, whatever the key.  Copies of the
input shifted down by those amounts become extra input channels, so the first
3x3 convolution sees a key's fundamental and its harmonics in one place.
This gives the network the evidence it needs against octave errors (a note's
octave above shares most of its partials) at the cost of a wider first layer
only.  ``harmonics=()`` is the original single-channel model.

``members > 1`` makes an output ensemble of that many networks of the same shape
(``training ensemble`` builds one from trained checkpoints): every head's
probabilities are averaged over the members.  Why outputs rather than weights:
two runs trained in different rooms (v9m and t14 in the card) lose some of what
each is good at when their weights are averaged.  Averaging their predictions
costs one network's CPU time per member; on validation it matched or beat v9m
alone everywhere, by too little to ship (the card's fifteenth-session section).

``forward(batch)`` returns ``(outputs, losses)``; losses are only computed when
the batch carries labels.  No file I/O here: checkpoints are handled by
:mod:`musestudio.ml.checkpoint`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional

N_KEYS = 88
HEADS = ("onset", "frame", "offset", "velocity")


@dataclass
class TranscriberConfig:
    n_bins: int = 192  # must match the FeatureConfig the features come from
    n_keys: int = N_KEYS
    conv1: int = 16  # channels of the two first 3x3 conv layers
    conv2: int = 32  # channels of the third conv layer
    hidden: int = 256  # width of the fully connected layer
    temporal_layers: int = 2  # residual dilated conv1d blocks over time (dilations 1, 2, 4, ...)
    harmonics: tuple[float, ...] = ()  # harmonic stacking: extra input channels at these multiples
    bins_per_octave: int = 24  # of the features; used to place the harmonics
    temporal_kernel: int = 3
    dropout: float = 0.2
    onset_weight: float = 1.0
    onset_pos_weight: float = 1.0  # >1 up-weights the rare onset frames (speeds up short trainings)
    frame_weight: float = 1.0
    offset_weight: float = 0.5
    velocity_weight: float = 0.5
    pedal_weight: float = 0.5
    members: int = 1  # >1: an output ensemble of this many networks (probabilities averaged)

    def __post_init__(self) -> None:
        if not isinstance(self.members, int) or isinstance(self.members, bool) or not 1 <= self.members <= 8:
            raise ValueError("members must be a whole number from 1 to 8")
        if self.n_bins % 4:
            raise ValueError("n_bins must be a multiple of 4 (two 2x frequency poolings)")
        self.harmonics = tuple(float(h) for h in self.harmonics)
        if len(self.harmonics) > 16 or any(not 0.0 < h <= 16.0 or h == 1.0 for h in self.harmonics):
            raise ValueError("harmonics must be at most 16 multiples in (0, 16], other than 1")
        if self.bins_per_octave <= 0:
            raise ValueError("bins_per_octave must be positive")

    def harmonic_shifts(self) -> list[int]:
        """Bins between a key's fundamental and each stacked harmonic."""
        return [round(self.bins_per_octave * math.log2(h)) for h in self.harmonics]


class _TemporalBlock(nn.Module):
    def __init__(self, width: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, hidden, T]
        return x + self.drop(functional.relu(self.conv(x)))


class TranscriberModel(nn.Module):
    def __init__(self, config: TranscriberConfig) -> None:
        super().__init__()
        self.config = c = config
        if c.members > 1:
            single = dataclasses.replace(c, members=1)
            self.members = nn.ModuleList([TranscriberModel(single) for _ in range(c.members)])
            return
        self.input_norm = nn.BatchNorm2d(1)
        # Pool frequency early (2 bins/semitone -> 1 -> 1/2): the convs at full resolution are what
        # costs CPU time, and one bin per semitone already separates the keys.
        self.conv = nn.Sequential(
            nn.Conv2d(1 + len(c.harmonics), c.conv1, 3, padding=1),
            nn.BatchNorm2d(c.conv1),
            nn.ReLU(),
            nn.MaxPool2d((1, 2)),
            nn.Conv2d(c.conv1, c.conv1, 3, padding=1),
            nn.BatchNorm2d(c.conv1),
            nn.ReLU(),
            nn.MaxPool2d((1, 2)),
            nn.Dropout(c.dropout / 2),
            nn.Conv2d(c.conv1, c.conv2, 3, padding=1),
            nn.BatchNorm2d(c.conv2),
            nn.ReLU(),
            nn.Dropout(c.dropout / 2),
        )
        self.fc = nn.Linear(c.conv2 * (c.n_bins // 4), c.hidden)
        self.fc_drop = nn.Dropout(c.dropout)
        self.temporal = nn.Sequential(
            *[_TemporalBlock(c.hidden, c.temporal_kernel, 2**i, c.dropout) for i in range(c.temporal_layers)]
        )
        self.onset = nn.Linear(c.hidden, c.n_keys)
        self.offset = nn.Linear(c.hidden, c.n_keys)
        self.velocity = nn.Linear(c.hidden, c.n_keys)
        self.frame = nn.Linear(c.hidden + c.n_keys, c.n_keys)
        self.pedal = nn.Linear(c.hidden, 1)

    @property
    def receptive_frames(self) -> int:
        """Frames of context on each side that influence one output frame."""
        c = self.config
        return 3 + sum((c.temporal_kernel - 1) // 2 * 2**i for i in range(c.temporal_layers))

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        if self.config.members > 1:  # the log-odds of the averaged probabilities, so losses score what predict returns
            probs = self._mean([m({"features": batch["features"]})[0] for m in self.members])  # no member losses
            outputs = {k: torch.logit(v, eps=1e-6) for k, v in probs.items()}
        else:
            outputs = self._heads(batch["features"], self.conv)
        losses: dict[str, torch.Tensor] = {}
        if "onset" in batch:
            losses = self.losses(outputs, batch)
        return outputs, losses

    def _heads(self, feats: torch.Tensor, conv: nn.Module) -> dict[str, torch.Tensor]:
        # feats: [B, T, n_bins]
        x = self.input_norm(feats.unsqueeze(1))  # [B, 1, T, n_bins]
        if self.config.harmonics:
            x = self._stack_harmonics(x)  # [B, 1 + len(harmonics), T, n_bins]
        x = conv(x)  # [B, conv2, T, n_bins/4]
        b, ch, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, ch * f)  # [B, T, conv2 * n_bins/4]
        h = self.fc_drop(functional.relu(self.fc(x)))  # [B, T, hidden]
        h = self.temporal(h.transpose(1, 2)).transpose(1, 2)  # [B, T, hidden]
        onset = self.onset(h)  # logits [B, T, 88]
        frame = self.frame(torch.cat([h, torch.sigmoid(onset).detach()], dim=-1))  # logits [B, T, 88]
        return {
            "onset": onset,
            "frame": frame,
            "offset": self.offset(h),  # logits [B, T, 88]
            "velocity": self.velocity(h),  # logits [B, T, 88]; sigmoid -> velocity / 127
            "pedal": self.pedal(h).squeeze(-1),  # logits [B, T]
        }

    def _stack_harmonics(self, x: torch.Tensor) -> torch.Tensor:
        # x: [B, 1, T, F]; channel j+1 at bin f holds bin f + shift_j (zero past either edge)
        n_bins = x.shape[-1]
        channels = [x]
        for shift in self.config.harmonic_shifts():
            if shift >= 0:
                moved = functional.pad(x[..., shift:], (0, min(shift, n_bins)))
            else:
                moved = functional.pad(x[..., : n_bins + shift], (min(-shift, n_bins), 0))
            channels.append(moved[..., :n_bins])
        return torch.cat(channels, dim=1)

    def losses(self, out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        bce = functional.binary_cross_entropy_with_logits
        onset_target = batch["onset"].float()  # [B, T, 88] in {0, 1}
        losses = {
            "onset": c.onset_weight * bce(out["onset"], onset_target, pos_weight=self._onset_pos_weight(out["onset"])),
            "frame": c.frame_weight * bce(out["frame"], batch["frame"].float()),
            "offset": c.offset_weight * bce(out["offset"], batch["offset"].float()),
            "pedal": c.pedal_weight * bce(out["pedal"], batch["pedal"].float()),
        }
        # Velocity is only defined where a note starts (Onsets and Frames weights it by the onset label).
        vel_err = (torch.sigmoid(out["velocity"]) - batch["velocity"].float()) ** 2
        losses["velocity"] = c.velocity_weight * (vel_err * onset_target).sum() / onset_target.sum().clamp(min=1.0)
        return losses

    def _onset_pos_weight(self, like: torch.Tensor) -> torch.Tensor | None:
        w = self.config.onset_pos_weight
        return None if w == 1.0 else torch.full((like.shape[-1],), float(w), dtype=like.dtype, device=like.device)

    def train(self, mode: bool = True) -> TranscriberModel:
        # Weights may change: rebuild the inference copy when next needed.  Stored with
        # object.__setattr__ so that it is not a registered submodule (not in state_dict).
        object.__setattr__(self, "_fused", None)
        return super().train(mode)

    def _fused_conv(self) -> nn.Module:
        """The conv stack with each BatchNorm folded into its conv and dropout removed (eval only).

        Same outputs as ``self.conv`` in eval mode, ~30% less CPU time: BatchNorm over a
        [B, C, T, bins] tensor is a full memory pass of its own.
        """
        from torch.nn.utils.fusion import fuse_conv_bn_eval

        if getattr(self, "_fused", None) is None:
            layers: list[nn.Module] = []
            mods = list(self.conv)
            i = 0
            while i < len(mods):
                m = mods[i]
                if isinstance(m, nn.Conv2d) and i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d):
                    layers.append(fuse_conv_bn_eval(m, mods[i + 1]))
                    i += 2
                    continue
                if not isinstance(m, nn.Dropout):
                    layers.append(m)
                i += 1
            object.__setattr__(self, "_fused", nn.Sequential(*layers).eval())
        return self._fused  # type: ignore[no-any-return]

    @staticmethod
    def _mean(outputs: list[dict[str, torch.Tensor]], logits: bool = True) -> dict[str, torch.Tensor]:
        """Each head's probability averaged over members' outputs (logits, or probabilities if not ``logits``)."""
        return {k: torch.stack([torch.sigmoid(o[k]) if logits else o[k] for o in outputs]).mean(0) for k in outputs[0]}

    @torch.no_grad()
    def predict(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """Probabilities (velocity as a 0..1 fraction of 127) for features [B, T, n_bins]."""
        if self.config.members > 1:
            return self._mean([m.predict(features) for m in self.members], logits=False)
        out = self._heads(features, self.conv if self.training else self._fused_conv())
        return {k: torch.sigmoid(v) for k, v in out.items()}


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
