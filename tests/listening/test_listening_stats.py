"""Statistics on small hand-computed cases, and a simulated study with known preferences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from musestudio.listening.simulate import Population, simulate_records, true_human_rate, true_rating_mean, true_values
from musestudio.listening.stats import Record, analyze, cluster_bootstrap, holm, paired_test


def rec(p, cat, c, h, o, e, human):
    return Record(p, cat, {"coherence": c, "human_likeness": h, "originality": o, "expressiveness": e}, human)


def test_holm_by_hand():
    # sorted: 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> kept monotone at 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_means_and_turing_rate_by_hand():
    records = [
        rec("p1", "human", 5, 5, 4, 4, True), rec("p1", "gan", 2, 1, 3, 2, False),
        rec("p2", "human", 4, 4, 4, 4, True), rec("p2", "gan", 3, 3, 3, 3, True),
        rec("p2", "gan", 1, 1, 1, 1, False),
    ]
    a = analyze(records, ["human", "gan"], n_resamples=200)
    human, gan = a.summary("human"), a.summary("gan")
    assert human.n_answers == 2 and gan.n_answers == 3 and gan.n_participants == 2
    assert human.measures["coherence"].value == pytest.approx(4.5)
    assert human.overall.value == pytest.approx((4.5 + 4.0) / 2)
    # gan overall: answers' means 2.0, 3.0, 1.0 -> 2.0; originality (3+3+1)/3
    assert gan.overall.value == pytest.approx(2.0)
    assert gan.measures["originality"].value == pytest.approx(7 / 3)
    assert gan.judged_human.value == pytest.approx(1 / 3)  # the Turing rate: 1 of 3 GAN clips judged human
    assert human.judged_human.value == 1.0
    assert human.judged_human.low == human.judged_human.high == 1.0  # everyone agrees: no spread to resample
    assert a.ranking() == ["human", "gan"]


def test_wilcoxon_signed_rank_by_hand():
    # five participants, A beats B by 1..5 points: all ranks positive, exact two-sided p = 2/2^5
    records = []
    for i, d in enumerate([1, 2, 3, 4, 5]):
        records.append(rec(f"p{i}", "a", 5, 5, 5, 5, True))
        b = 5 - d
        records.append(rec(f"p{i}", "b", max(b, 1), max(b, 1), max(b, 1), max(b, 1), False))
    t = paired_test(records, "a", "b", "coherence")
    assert t.n == 5
    assert t.statistic == pytest.approx(0.0)
    assert t.p == pytest.approx(2 / 32)
    assert t.mean_difference == pytest.approx(np.mean([1, 2, 3, 4, 4]))
    same = paired_test([rec("p", "a", 3, 3, 3, 3, True), rec("p", "b", 3, 3, 3, 3, True),
                        rec("q", "a", 2, 2, 2, 2, True), rec("q", "b", 2, 2, 2, 2, True)], "a", "b", "overall")
    assert same.p == 1.0 and math.isnan(same.statistic)  # no differences at all: no evidence


def test_cluster_bootstrap_interval_contains_mean_and_widens_with_spread():
    rng = np.random.default_rng(1)
    counts = np.full(30, 10.0)
    narrow = cluster_bootstrap(rng.normal(3, 0.05, 30) * counts, counts)
    wide = cluster_bootstrap(rng.normal(3, 0.8, 30) * counts, counts)
    for iv in (narrow, wide):
        assert iv.low < iv.value < iv.high
    assert (wide.high - wide.low) > 5 * (narrow.high - narrow.low)
    single = cluster_bootstrap(np.array([7.0]), np.array([2.0]))
    assert single.value == 3.5 and math.isnan(single.low)


def test_true_means_closed_form():
    assert true_rating_mean(3.0, 0.9) == pytest.approx(3.0)  # symmetric around the middle of the scale
    assert true_rating_mean(9.0, 0.5) == pytest.approx(5.0)
    assert true_human_rate(0.5, 1.0) == pytest.approx(0.5)
    draws = 1 / (1 + np.exp(-(np.log(0.2 / 0.8) + np.random.default_rng(0).normal(0, 0.7, 200_000))))
    assert true_human_rate(0.2, 0.7) == pytest.approx(draws.mean(), abs=0.003)


def test_simulated_study_recovers_the_order():
    """30 listeners who prefer human > Transformer > LSTM > GAN (with noise): the analysis finds that order."""
    pop = Population(means={"human": 4.0, "transformer": 3.5, "lstm": 3.0, "gan": 2.5},
                     human_rates={"human": 0.7, "transformer": 0.5, "lstm": 0.35, "gan": 0.2})
    truth = true_values(pop)
    recovered = 0
    for seed in range(5):
        records = simulate_records(pop, n_participants=30, clips_per_category=10, rng=np.random.default_rng(seed))
        a = analyze(records, ["gan", "lstm", "human", "transformer"], n_resamples=500, random_seed=seed)
        recovered += a.ranking() == ["human", "transformer", "lstm", "gan"]
        for c in a.categories:
            assert c.n_participants == 30 and c.n_answers == 300
            assert abs(c.overall.value - truth[c.category]["overall"]) < 0.25
        adjacent = {("human", "transformer"), ("lstm", "transformer"), ("gan", "lstm")}
        for t in a.tests:
            if t.measure == "overall" and tuple(sorted((t.a, t.b))) in adjacent:
                assert t.significant, t
    assert recovered == 5
