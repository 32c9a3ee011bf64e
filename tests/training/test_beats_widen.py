"""Growing a 64-channel beat tracker into the 128-channel 'wide' preset keeps its function and trains."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from musestudio.ml.models.beat_tracker import BeatTrackerConfig, BeatTrackerModel
from training.tasks.beats import PRESETS, BeatTrackerTask


def _small(channels: int, groups: int = 1) -> BeatTrackerModel:
    torch.manual_seed(channels + groups)
    return BeatTrackerModel(BeatTrackerConfig(channels=channels, norm_groups=groups, dilations=(1, 2, 4)))


def test_a_grown_tracker_computes_what_the_narrow_one_did_and_its_new_channels_learn() -> None:
    narrow = _small(8).eval()
    with torch.no_grad():  # make the narrow model's norms and biases non-trivial
        for p in narrow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    wide = _small(16, 2)
    summary = BeatTrackerTask().init_from(wide, narrow.state_dict())
    assert "function kept" in summary
    wide.eval()
    x = torch.rand(2, 60, narrow.config.in_channels)
    with torch.no_grad():
        assert torch.allclose(wide.logits(x), narrow.logits(x), atol=1e-5)
    # the new channels are not dead: a loss step moves the weights that read them into the old ones
    wide.train()
    batch = {"features": x, "beat": (torch.rand(2, 60) > 0.9).float(), "downbeat": torch.zeros(2, 60)}
    _, losses = wide(batch)
    sum(losses.values()).backward()
    grad = wide.blocks[1].conv.weight.grad
    assert grad[:8, 8:].abs().sum() > 0 and wide.head.weight.grad[:, 8:].abs().sum() > 0
    # and the fresh model, before the warm start, computed something else (the check above can fail)
    assert not torch.allclose(_small(16, 2).eval().logits(x), narrow.logits(x), atol=1e-3)


def test_growing_into_one_norm_group_is_refused_with_a_clear_message() -> None:
    with pytest.raises(SystemExit, match="wide"):
        BeatTrackerTask().init_from(_small(16, 1), _small(8).state_dict())


def test_the_wide_preset_puts_the_shipped_width_in_each_norm_group() -> None:
    shipped = BeatTrackerConfig()
    wide = dataclasses.replace(shipped, **PRESETS["wide"])
    assert wide.channels // wide.norm_groups == shipped.channels and shipped.norm_groups == 1
