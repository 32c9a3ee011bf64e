"""Do the listening test's 95 % intervals cover the truth 95 % of the time? (issue #18)

    .venv/bin/python tests/benchmarks/bench_listening_coverage.py [N_SIMULATIONS]
    .venv/bin/python -m pytest -q tests/benchmarks/bench_listening_coverage.py

Each simulation: 30 synthetic listeners whose preferences are known (human >
Transformer > LSTM > GAN, a personal bias per listener, rating noise, rounding
to the 1-5 scale; see musestudio/listening/simulate.py), 10 clips per
category, analysed exactly as a real test.  Reported per measure: the share of
simulations whose interval covers the true population mean (target about
0.95), how often the full order is recovered, and how often each adjacent pair
is significant after Holm's correction.  For comparison, the same coverage
with a naive bootstrap over single answers (ignoring that one listener's
answers hang together) shows why the analysis resamples listeners.
"""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np

from musestudio.listening.simulate import Population, simulate_records, true_values
from musestudio.listening.stats import MEASURES, analyze

ORDER = ["human", "transformer", "lstm", "gan"]


def naive_interval(records, category, measure, rng):
    vals = np.array([r.value(measure) for r in records if r.category == category])
    means = rng.choice(vals, size=(1000, len(vals))).mean(axis=1)
    return np.percentile(means, [2.5, 97.5])


def run(n_sim: int = 200, n_resamples: int = 1000) -> dict[str, float]:
    pop = Population()
    truth = true_values(pop)
    cover = {m: 0 for m in MEASURES}
    naive_cover = 0
    order_ok = 0
    adjacent_sig = 0
    widths = []
    rng = np.random.default_rng(12345)
    t0 = time.perf_counter()
    for sim in range(n_sim):
        records = simulate_records(pop, n_participants=30, clips_per_category=10, rng=rng)
        a = analyze(records, ORDER, n_resamples=n_resamples, random_seed=sim)
        order_ok += a.ranking() == ORDER
        for c in a.categories:
            for m in MEASURES:
                cover[m] += c.measures[m].covers(truth[c.category][m])
            widths.append(c.overall.high - c.overall.low)
            lo, hi = naive_interval(records, c.category, "overall", rng)
            naive_cover += lo <= truth[c.category]["overall"] <= hi
        pairs = {(t.a, t.b): t for t in a.tests if t.measure == "overall"}
        adjacent_sig += all(pairs[(x, y)].significant for x, y in itertools.pairwise(ORDER))
    n = n_sim * len(ORDER)
    result = {f"coverage_{m}": cover[m] / n for m in MEASURES}
    result.update(order_recovered=order_ok / n_sim, adjacent_pairs_significant=adjacent_sig / n_sim,
                  naive_coverage_overall=naive_cover / n, mean_width_overall=float(np.mean(widths)),
                  seconds=time.perf_counter() - t0, simulations=n_sim)
    return result


def report(r: dict[str, float]) -> None:
    print(f"{r['simulations']} simulated studies (30 listeners x 40 clips), {r['seconds']:.0f} s")
    for m in MEASURES:
        print(f"  coverage of the 95 % interval, {m:15s} {r[f'coverage_{m}']:.3f}")
    print(f"  naive bootstrap over answers (overall)   {r['naive_coverage_overall']:.3f}")
    print(f"  mean width of the overall-MOS interval   {r['mean_width_overall']:.3f}")
    print(f"  full order human > Transformer > LSTM > GAN recovered: {r['order_recovered']:.3f}")
    print(f"  all three adjacent pairs significant (Holm, 5 %):      {r['adjacent_pairs_significant']:.3f}")


def test_intervals_cover_about_95_percent():
    r = run(n_sim=200)
    report(r)
    for m in MEASURES:
        assert 0.92 <= r[f"coverage_{m}"] <= 0.98, m
    assert r["order_recovered"] >= 0.95


if __name__ == "__main__":
    report(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
