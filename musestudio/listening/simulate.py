"""Synthetic listeners with known preferences, to check the analysis.

Each simulated participant p has a personal bias b_p ~ N(0, participant_sd)
(some people rate everything higher) and a personal tendency u_p ~ N(0,
logit_sd) to answer "human".  A rating of a clip of category c is
``clip(round(mu_c + b_p + e), 1, 5)`` with e ~ N(0, noise_sd), drawn
independently for each of the four scales; the human/AI answer is a Bernoulli
draw with probability ``sigmoid(logit(q_c) + u_p)``.

The true population means are known in closed form (:func:`true_rating_mean`,
:func:`true_human_rate`), so the intervals' coverage can be measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from musestudio.listening.manifest import DIMENSIONS, MOS_MAX, MOS_MIN
from musestudio.listening.stats import Record

DEFAULT_MEANS = {"human": 4.2, "transformer": 3.6, "lstm": 3.0, "gan": 2.5}
DEFAULT_HUMAN_RATES = {"human": 0.75, "transformer": 0.5, "lstm": 0.35, "gan": 0.2}


@dataclass
class Population:
    means: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MEANS))
    human_rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_HUMAN_RATES))
    participant_sd: float = 0.4
    noise_sd: float = 0.9
    logit_sd: float = 0.5


def true_rating_mean(mu: float, sd: float) -> float:
    """E[clip(round(X), 1, 5)] for X ~ N(mu, sd): the mean a population of listeners would give."""
    from scipy.stats import norm

    total = 0.0
    for k in range(MOS_MIN, MOS_MAX + 1):
        lo = -math.inf if k == MOS_MIN else k - 0.5
        hi = math.inf if k == MOS_MAX else k + 0.5
        total += k * (norm.cdf(hi, mu, sd) - norm.cdf(lo, mu, sd))
    return total


def true_human_rate(q: float, logit_sd: float) -> float:
    """E[sigmoid(logit(q) + u)] for u ~ N(0, logit_sd), by Gauss-Hermite quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(60)
    z = math.log(q / (1 - q)) + logit_sd * x
    return float(np.sum(w / (1 + np.exp(-z))) / math.sqrt(2 * math.pi))


def true_values(pop: Population) -> dict[str, dict[str, float]]:
    """category -> measure -> true population mean."""
    sd = math.hypot(pop.participant_sd, pop.noise_sd)
    out = {}
    for cat, mu in pop.means.items():
        m = true_rating_mean(mu, sd)
        out[cat] = {**{d: m for d in DIMENSIONS}, "overall": m,
                    "judged_human": true_human_rate(pop.human_rates[cat], pop.logit_sd)}
    return out


def simulate_records(
    pop: Population, *, n_participants: int = 30, clips_per_category: int = 10, rng: np.random.Generator
) -> list[Record]:
    records = []
    for p in range(n_participants):
        bias = rng.normal(0, pop.participant_sd)
        tendency = rng.normal(0, pop.logit_sd)
        for cat, mu in pop.means.items():
            q = pop.human_rates[cat]
            prob = 1 / (1 + math.exp(-(math.log(q / (1 - q)) + tendency)))
            for _ in range(clips_per_category):
                raw = mu + bias + rng.normal(0, pop.noise_sd, size=len(DIMENSIONS))
                ratings = {d: int(np.clip(np.round(v), MOS_MIN, MOS_MAX)) for d, v in zip(DIMENSIONS, raw)}
                records.append(Record(f"sim{p:03d}", cat, ratings, bool(rng.random() < prob)))
    return records
