"""Harmonic stacking in the transcriber, and growing a trained model into a larger one (--init-from)."""

from __future__ import annotations

import math

import pytest
import torch

from musestudio.core.errors import ModelError
from musestudio.ml.models.transcriber import TranscriberConfig, TranscriberModel
from musestudio.ml.registry import build_config
from training.tasks.transcriber import TranscriberTask

SMALL = {"conv1": 4, "conv2": 4, "hidden": 16, "temporal_layers": 1}


def test_harmonic_channels_hold_the_input_shifted_by_each_harmonic() -> None:
    model = TranscriberModel(TranscriberConfig(harmonics=(0.5, 2, 3), **SMALL)).eval()
    x = torch.rand(1, 1, 5, 192)
    stacked = model._stack_harmonics(x)
    assert stacked.shape == (1, 4, 5, 192)
    assert model.config.harmonic_shifts() == [-24, 24, round(24 * math.log2(3))]
    torch.testing.assert_close(stacked[:, 0], x[:, 0])
    torch.testing.assert_close(stacked[:, 2, :, :168], x[:, 0, :, 24:])  # octave above, moved down
    assert (stacked[:, 2, :, 168:] == 0).all()  # nothing above the top bin
    torch.testing.assert_close(stacked[:, 1, :, 24:], x[:, 0, :, :168])  # octave below, moved up
    assert (stacked[:, 1, :, :24] == 0).all()
    torch.testing.assert_close(stacked[:, 3, :, :154], x[:, 0, :, 38:])  # 3rd harmonic: 38 bins up


def test_harmonics_change_the_output_and_keep_shapes() -> None:
    torch.manual_seed(0)
    model = TranscriberModel(TranscriberConfig(harmonics=(2, 3), **SMALL)).eval()
    out = model.predict(torch.rand(2, 40, 192))
    assert out["onset"].shape == (2, 40, 88) and out["pedal"].shape == (2, 40)


@pytest.mark.parametrize("bad", [(1.0,), (0.0,), (-2.0,), (17.0,), tuple(range(2, 20))])
def test_absurd_harmonics_are_refused(bad: tuple) -> None:
    with pytest.raises(ModelError):
        build_config("transcriber", {"harmonics": list(bad)})


def test_a_checkpoint_config_with_harmonics_as_a_json_list_builds() -> None:
    cfg = build_config("transcriber", {"harmonics": [0.5, 2, 3], **SMALL})
    assert cfg.harmonics == (0.5, 2.0, 3.0)


def test_growing_the_input_channels_keeps_the_function() -> None:
    torch.manual_seed(0)
    small = TranscriberModel(TranscriberConfig(**SMALL))
    small.train()
    small({"features": torch.rand(2, 32, 192)})  # move the BatchNorm statistics off their defaults
    small.eval()
    big = TranscriberModel(TranscriberConfig(harmonics=(0.5, 2, 3, 4), **SMALL))
    report = TranscriberTask().init_from(big, {k: v.clone() for k, v in small.state_dict().items()})
    assert "1 grown" in report
    big.eval()
    x = torch.rand(1, 50, 192) * 4
    a, b = small.predict(x), big.predict(x)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)


def test_new_temporal_blocks_start_near_the_identity_and_still_learn() -> None:
    torch.manual_seed(0)
    small = TranscriberModel(TranscriberConfig(**SMALL)).eval()
    big = TranscriberModel(TranscriberConfig(**{**SMALL, "temporal_layers": 3}))
    TranscriberTask().init_from(big, {k: v.clone() for k, v in small.state_dict().items()})
    big.eval()
    x = torch.rand(1, 50, 192) * 4
    a, b = small.predict(x), big.predict(x)
    assert float((a["onset"] - b["onset"]).abs().max()) < 0.05
    assert float(big.temporal[2].conv.weight.detach().abs().max()) > 0  # not zeroed: gradients can reach it


def test_a_tensor_that_cannot_be_grown_is_refused() -> None:
    small = TranscriberModel(TranscriberConfig(**{**SMALL, "hidden": 32}))
    big = TranscriberModel(TranscriberConfig(**SMALL))  # narrower: 16 hidden units
    with pytest.raises(SystemExit):
        TranscriberTask().init_from(big, small.state_dict())


def test_wider_convolutions_keep_the_function_and_their_new_channels_learn() -> None:
    torch.manual_seed(0)
    small = TranscriberModel(TranscriberConfig(**SMALL))
    small.train()
    small({"features": torch.rand(2, 32, 192)})
    small.eval()
    big = TranscriberModel(TranscriberConfig(**{**SMALL, "conv1": 6, "conv2": 8}))
    report = TranscriberTask().init_from(big, {k: v.clone() for k, v in small.state_dict().items()})
    assert "grown" in report and "0 grown" not in report
    big.eval()
    x = torch.rand(1, 50, 192) * 4
    a, b = small.predict(x), big.predict(x)
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)
    first, second, third = (big.conv[i].weight.detach() for i in (0, 4, 9))
    assert float(first[4:].abs().max()) > 0 and float(third[4:].abs().max()) > 0  # fresh new filters
    assert float(big.conv[1].weight.detach()[4:].min()) == 1.0  # and their batch norms a fresh scale of 1
    assert float(second[:4, 4:].abs().max()) == 0  # old outputs ignore the new channels...
    assert float(third[:4, 4:].abs().max()) == 0
    assert float(big.fc.weight.detach()[:, 4 * 48 :].abs().max()) == 0
    big.train()
    out, _ = big({"features": x})
    out["onset"].sum().backward()
    assert float(big.conv[4].weight.grad[:, 4:].abs().max()) > 0  # ...until training moves them
