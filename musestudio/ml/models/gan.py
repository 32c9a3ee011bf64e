"""A conditional bar-by-bar piano-roll GAN (MidiNet-style), trained as a WGAN-GP.

One training example is a bar of piano roll plus the bar(s) before it.  The
generator turns noise ``z`` into the next bar with transposed convolutions; a
conditioner CNN reads the previous bar(s) and feeds its feature maps into every
up-sampling stage (MidiNet's "conditioner" idea), so the new bar follows on
from what was just played.  The critic is a plain convolutional network (no
batch norm: the gradient penalty is computed per sample) that scores a bar
*given* its previous bar(s), so the generator cannot ignore the condition.

Tensor layout everywhere: ``[batch, channel, step, pitch]`` where

* ``step`` is a sixteenth of a beat grid (``steps_per_beat`` per beat, at most
  ``steps_per_bar``); bars shorter than ``steps_per_bar`` (2/4, 3/4) carry a
  ``beats`` count and the steps past their end are masked to zero;
* ``pitch`` is the 88 piano keys, index 0 = A0 (MIDI 21);
* channels are ``onset`` (a key is struck at this step), ``frame`` (the note
  sounds) and ``velocity`` (MIDI velocity / 127 while the note sounds).

The model holds no file I/O; :mod:`musestudio.ml.gan_generate` turns its rolls
into notes and :mod:`training.tasks.gan` trains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

ONSET, FRAME, VELOCITY = 0, 1, 2
LOWEST_PITCH = 21  # A0: pitch index 0


@dataclass
class GANConfig:
    n_pitches: int = 88
    steps_per_bar: int = 16  # must be divisible by 8 (three stride-2 stages)
    steps_per_beat: int = 4
    channels: int = 3  # onset, frame, velocity
    n_prev_bars: int = 1  # bars of context the generator and critic see
    z_dim: int = 64
    gen_width: int = 64  # channels of the generator's widest stage
    cond_width: int = 32  # channels of the conditioner's first stage
    critic_width: int = 64
    pitch_kernel: int = 13  # width (in keys) of the full-resolution convolutions: an octave sees chord shapes
    gp_weight: float = 10.0

    def __post_init__(self) -> None:
        if self.steps_per_bar % 8 or self.n_pitches % 8:
            raise ValueError("steps_per_bar and n_pitches must be divisible by 8")
        if self.steps_per_bar % self.steps_per_beat:
            raise ValueError("steps_per_bar must be a whole number of beats")
        if self.pitch_kernel % 2 == 0:
            raise ValueError("pitch_kernel must be odd")
        if self.channels not in (2, 3):
            raise ValueError("channels must be 2 (onset, frame) or 3 (+ velocity)")

    @property
    def max_beats(self) -> int:
        return self.steps_per_bar // self.steps_per_beat


def step_mask(beats: torch.Tensor, config: GANConfig) -> torch.Tensor:
    """[B] beats per bar -> [B, 1, T, 1] with 1 on the steps the bar really has."""
    steps = torch.arange(config.steps_per_bar, device=beats.device)
    return (steps[None, :] < (beats[:, None] * config.steps_per_beat)).to(torch.float32)[:, None, :, None]


class Conditioner(nn.Module):
    """Previous bar(s) -> feature maps at the four resolutions the generator uses."""

    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        w = c.cond_width
        cin = c.channels * c.n_prev_bars

        def down(a: int, b: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1), nn.BatchNorm2d(b), nn.LeakyReLU(0.2))

        # A wide pitch kernel (an octave) lets the first layer see chord shapes.
        self.stem = nn.Sequential(
            nn.Conv2d(cin, w, (3, c.pitch_kernel), padding=(1, c.pitch_kernel // 2)), nn.LeakyReLU(0.2)
        )
        self.down1 = down(w, w)
        self.down2 = down(w, 2 * w)
        self.down3 = down(2 * w, 2 * w)

    def forward(self, prev: torch.Tensor) -> list[torch.Tensor]:
        # prev: [B, C*n_prev, T, P]
        h0 = self.stem(prev)  # [B, w, T, P]
        h1 = self.down1(h0)  # [B, w, T/2, P/2]
        h2 = self.down2(h1)  # [B, 2w, T/4, P/4]
        h3 = self.down3(h2)  # [B, 2w, T/8, P/8]
        return [h0, h1, h2, h3]


class Generator(nn.Module):
    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        self.config = c
        g, w = c.gen_width, c.cond_width
        self.t0, self.p0 = c.steps_per_bar // 8, c.n_pitches // 8
        self.project = nn.Sequential(
            nn.Linear(c.z_dim + c.max_beats, 2 * g * self.t0 * self.p0),
            nn.BatchNorm1d(2 * g * self.t0 * self.p0),
            nn.ReLU(),
        )

        def up(a: int, b: int) -> nn.Sequential:
            return nn.Sequential(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), nn.BatchNorm2d(b), nn.ReLU())

        self.up1 = up(2 * g + 2 * w, 2 * g)  # -> T/4, P/4
        self.up2 = up(2 * g + 2 * w, g)  # -> T/2, P/2
        self.up3 = up(g + w, g)  # -> T, P
        self.head = nn.Sequential(
            nn.Conv2d(g + w, g, (1, c.pitch_kernel), padding=(0, c.pitch_kernel // 2)),
            nn.ReLU(),
            nn.Conv2d(g, c.channels, 1),
        )

    def forward(self, z: torch.Tensor, beats: torch.Tensor, cond: list[torch.Tensor]) -> torch.Tensor:
        # z: [B, z_dim]; beats: [B] (1..max_beats); cond: conditioner maps (fine -> coarse)
        c = self.config
        onehot = nn.functional.one_hot((beats - 1).clamp(0, c.max_beats - 1), c.max_beats).to(z.dtype)
        h = self.project(torch.cat([z, onehot], 1)).view(z.shape[0], -1, self.t0, self.p0)  # [B, 2g, T/8, P/8]
        h = self.up1(torch.cat([h, cond[3]], 1))  # [B, 2g, T/4, P/4]
        h = self.up2(torch.cat([h, cond[2]], 1))  # [B, g, T/2, P/2]
        h = self.up3(torch.cat([h, cond[1]], 1))  # [B, g, T, P]
        logits = self.head(torch.cat([h, cond[0]], 1))  # [B, C, T, P]
        out = torch.sigmoid(logits) * step_mask(beats, c)
        if c.channels == 3:
            # A velocity only exists where the note sounds.
            out = torch.cat([out[:, :VELOCITY], out[:, VELOCITY:] * out[:, FRAME : FRAME + 1]], 1)
        return out


class Critic(nn.Module):
    """(bar, previous bars, step mask) -> one unbounded score per example."""

    def __init__(self, c: GANConfig) -> None:
        super().__init__()
        w = c.critic_width
        cin = c.channels * (1 + c.n_prev_bars) + 1

        def down(a: int, b: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1), nn.LeakyReLU(0.2))

        self.features = nn.Sequential(
            nn.Conv2d(cin, w, (3, c.pitch_kernel), padding=(1, c.pitch_kernel // 2)),
            nn.LeakyReLU(0.2),
            down(w, w),  # T/2, P/2
            down(w, 2 * w),  # T/4, P/4
            down(2 * w, 4 * w),  # T/8, P/8
        )
        self.score = nn.Linear(4 * w * (c.steps_per_bar // 8) * (c.n_pitches // 8), 1)

    def forward(self, bar: torch.Tensor, prev: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # bar: [B, C, T, P]; prev: [B, C*n_prev, T, P]; mask: [B, 1, T, 1]
        x = torch.cat([bar, prev, mask.expand(-1, 1, -1, bar.shape[-1])], 1)
        return self.score(self.features(x).flatten(1)).squeeze(1)  # [B]


class GANModel(nn.Module):
    """Generator, conditioner and critic in one module, so a checkpoint is one file."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.conditioner = Conditioner(config)
        self.generator = Generator(config)
        self.critic = Critic(config)
        # Onset and frame thresholds for turning the generator's soft roll into notes.  The
        # generator's outputs are not calibrated probabilities, so training sets these on
        # validation bars (see training.tasks.gan.calibrate_thresholds); they travel in the
        # weights file so that every export path carries them.
        self.register_buffer("decode_thresholds", torch.tensor([0.5, 0.5]))

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.conditioner.parameters()) + list(self.generator.parameters())

    def critic_parameters(self) -> list[nn.Parameter]:
        return list(self.critic.parameters())

    def sample_noise(self, batch: int, generator: torch.Generator | None = None, scale: float = 1.0) -> torch.Tensor:
        device = next(self.parameters()).device
        z = torch.randn(batch, self.config.z_dim, generator=generator, device="cpu") * scale
        return z.to(device)

    def generate(self, prev: torch.Tensor, beats: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """prev [B, C*n_prev, T, P], beats [B], z [B, z_dim] -> bar [B, C, T, P] in [0, 1]."""
        return self.generator(z, beats, self.conditioner(prev))

    def critic_score(self, bar: torch.Tensor, prev: torch.Tensor, beats: torch.Tensor) -> torch.Tensor:
        return self.critic(bar, prev, step_mask(beats, self.config))

    def gradient_penalty(
        self, real: torch.Tensor, fake: torch.Tensor, prev: torch.Tensor, beats: torch.Tensor
    ) -> torch.Tensor:
        """Gulrajani et al.'s penalty: (|grad D(x_hat)| - 1)^2 on random interpolates."""
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
        score = self.critic_score(mixed, prev, beats)
        (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """batch: ``bar`` [B, C, T, P], ``prev`` [B, C*n_prev, T, P], ``beats`` [B] (``z`` optional).

        Returns the fake bars and critic scores, and both WGAN-GP losses.  The
        trainer's step optimises them separately (see ``training.tasks.gan``);
        this is what evaluation uses.
        """
        real, prev, beats = batch["bar"], batch["prev"], batch["beats"]
        z = batch.get("z")
        if z is None:
            z = self.sample_noise(real.shape[0])
        fake = self.generate(prev, beats, z)
        d_real = self.critic_score(real, prev, beats)
        d_fake = self.critic_score(fake, prev, beats)
        wasserstein = d_real.mean() - d_fake.mean()
        losses: dict[str, Any] = {"critic": -wasserstein, "generator": -d_fake.mean()}
        if torch.is_grad_enabled():
            losses["gradient_penalty"] = self.config.gp_weight * self.gradient_penalty(real, fake.detach(), prev, beats)
        outputs = {"fake": fake, "critic_real": d_real, "critic_fake": d_fake, "wasserstein": wasserstein.detach()}
        return outputs, losses
