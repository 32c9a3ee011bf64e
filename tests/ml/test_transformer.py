"""Transformer: KV-cached sampling equals the full causal forward; the cache slides past max_len."""

from __future__ import annotations

import torch

from musestudio.ml.models.transformer import TransformerConfig, TransformerModel


def _model(max_len: int = 64) -> TransformerModel:
    torch.manual_seed(0)
    return TransformerModel(TransformerConfig(d_model=32, n_heads=4, n_layers=2, d_ff=64, max_len=max_len)).eval()


def test_cached_steps_match_the_full_forward() -> None:
    model = _model()
    x = torch.randint(3, 313, (2, 60))
    full, _ = model(torch.cat([x, x[:, :1]], dim=1))  # logits for positions 0..59
    logits, cache = model.prime(x[:, :7])
    torch.testing.assert_close(logits, full[:, 6], atol=1e-5, rtol=1e-4)
    for i in range(7, 60):
        logits, cache = model.step(x[:, i], cache)
        torch.testing.assert_close(logits, full[:, i], atol=1e-5, rtol=1e-4)


def test_causal_future_tokens_do_not_change_the_past() -> None:
    model = _model()
    x = torch.randint(3, 313, (1, 30))
    y = x.clone()
    y[0, 20:] = 5
    a, _ = model(x)
    b, _ = model(y)
    torch.testing.assert_close(a[:, :19], b[:, :19])


def test_sampling_goes_on_past_the_window() -> None:
    model = _model(max_len=16)
    logits, cache = model.prime(torch.randint(3, 313, (1, 40)))  # longer seed than the window
    for _ in range(100):
        logits, cache = model.step(torch.tensor([7]), cache)
    assert torch.isfinite(logits).all() and cache["pos"] == 16 + 100
