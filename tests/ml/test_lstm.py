"""LSTM: the cell-by-cell sampling step equals the fused nn.LSTM."""

from __future__ import annotations

import torch

from musestudio.ml.models.lstm import LSTMConfig, LSTMModel


def test_step_matches_full_forward_and_loss_is_finite() -> None:
    torch.manual_seed(0)
    model = LSTMModel(LSTMConfig(embed_dim=16, hidden_size=24, num_layers=3, dropout=0.0)).eval()
    x = torch.randint(3, 313, (2, 40))
    full, _ = model.logits(x)  # [2, 40, V]
    logits, state = model.prime(x[:, :10])
    torch.testing.assert_close(logits, full[:, 9])
    for i in range(10, 40):
        logits, state = model.step(x[:, i], state)
        torch.testing.assert_close(logits, full[:, i], atol=1e-5, rtol=1e-4)
    _, losses = model(x)
    assert torch.isfinite(losses["nll"]) and abs(float(losses["nll"].detach()) - torch.log(torch.tensor(313.0))) < 0.5
