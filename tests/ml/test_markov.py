"""Markov n-gram: proper distributions, vectorised scoring equals step-by-step, counts survive saving."""

from __future__ import annotations

import numpy as np
import pytest

from musestudio.ml.models.markov import MarkovConfig, MarkovModel


@pytest.fixture(scope="module")
def model() -> MarkovModel:
    rng = np.random.default_rng(0)
    pieces = [np.tile(rng.integers(3, 40, size=7), 30), rng.integers(3, 313, size=500)]
    return MarkovModel.fit(pieces, MarkovConfig(order=4))


def test_distributions_sum_to_one(model) -> None:
    for ctx in ([], [5], [5, 9, 11], list(range(3, 20))):
        p = model.next_distribution(np.array(ctx, dtype=np.int64))
        assert p.shape == (model.config.vocab_size,) and np.all(p > 0)
        assert p.sum() == pytest.approx(1.0)


def test_vectorised_scoring_equals_step_by_step(model) -> None:
    rng = np.random.default_rng(1)
    seq = np.concatenate([np.tile(rng.integers(3, 40, size=7), 3), rng.integers(3, 313, size=20)])
    fast = model.token_probabilities(seq)
    slow = [model.next_distribution(seq[:i])[seq[i]] for i in range(1, len(seq))]
    np.testing.assert_allclose(fast, slow, rtol=1e-10)


def test_repeated_pattern_is_learned(model) -> None:
    rng = np.random.default_rng(0)
    pattern = np.tile(rng.integers(3, 40, size=7), 2)
    assert model.token_probabilities(pattern)[5:].mean() > 0.5


def test_tensors_round_trip(model) -> None:
    again = MarkovModel(model.config, model.tensors())
    seq = np.arange(3, 60)
    np.testing.assert_allclose(again.token_probabilities(seq), model.token_probabilities(seq))
