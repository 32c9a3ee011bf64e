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


def test_ring_buffer_attends_to_exactly_the_last_max_len_tokens() -> None:
    # With one layer, a token older than the window can reach the output only through
    # attention, so two histories that differ only there must give identical logits.
    torch.manual_seed(0)
    model = TransformerModel(TransformerConfig(d_model=32, n_heads=4, n_layers=1, d_ff=64, max_len=8)).eval()
    x = torch.randint(3, 313, (1, 40))
    y = x.clone()
    y[0, :25] = torch.randint(3, 313, (25,))  # only tokens more than 8 steps before the end differ
    outs = []
    for seq in (x, y):
        logits, cache = model.prime(seq[:, :3])
        for i in range(3, 40):
            logits, cache = model.step(seq[:, i], cache)
        outs.append(logits)
    torch.testing.assert_close(outs[0], outs[1])
    # ... and a token inside the window does change them
    z = x.clone()
    z[0, 35] = (int(x[0, 35]) + 1 - 3) % 310 + 3
    logits, cache = model.prime(z[:, :3])
    for i in range(3, 40):
        logits, cache = model.step(z[:, i], cache)
    assert not torch.allclose(logits, outs[0])


def test_one_layer_ring_buffer_equals_a_full_forward_over_the_window() -> None:
    torch.manual_seed(1)
    window = 8
    model = TransformerModel(TransformerConfig(d_model=32, n_heads=4, n_layers=1, d_ff=64, max_len=window)).eval()
    x = torch.randint(3, 313, (1, 40))
    logits, cache = model.prime(x[:, :3])
    with torch.no_grad():
        for i in range(3, 40):
            logits, cache = model.step(x[:, i], cache)
            ref, _ = model(torch.cat([x[:, max(0, i - window + 1) : i + 1], x[:, :1]], dim=1))
            torch.testing.assert_close(logits, ref[:, -1], atol=1e-5, rtol=1e-4)
