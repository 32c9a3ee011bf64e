"""Statistics of a listening test: MOS and Turing rate per category, intervals, tests.

**The unit is the participant.**  One listener's answers are not independent
of each other (some people rate everything high), so every interval and test
treats the participant as the unit that was sampled:

* **Intervals** are 95 % *cluster* bootstrap intervals: participants are
  resampled with all their answers, the statistic being the category's mean
  rating (sum over the resampled participants' ratings / their number of
  ratings).  The bias-corrected and accelerated (BCa) method of
  :func:`scipy.stats.bootstrap` is used because plain percentile intervals
  cover too rarely with 30 participants.  Resampling single answers instead
  would ignore the per-listener bias and give intervals that are far too
  narrow (tests/benchmarks/bench_listening_coverage.py measures the coverage).
* **Significance between categories**: every participant hears every category
  (the design is balanced), so the comparison is *paired*: each participant's
  mean rating of category A against the same participant's mean of category
  B, with the Wilcoxon signed-rank test (ordinal 1-5 ratings call for a rank
  test; pairing removes each listener's overall bias, which a Mann-Whitney
  test on pooled answers would leave in the noise and whose pooled answers are
  not independent).  All pairs of categories are tested, and the p-values are
  adjusted with Holm's step-down method for the number of pairs.  This is the
  rank-based counterpart of a mixed model with a random intercept per
  participant, without assuming normal ratings.
* **Turing success rate** of a category: the share of its clips that listeners
  judged to be made by a human (the paper's "percentage of listeners who
  cannot tell").  For the human category the same number is the rate at which
  real human music was recognised as human: the ceiling a model can reach.

The interval targets the mean over *listeners* for the test's clips: what
other listeners would say about these clips.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from musestudio.listening.manifest import DIMENSIONS, ListeningManifest, category_label

MEASURES = (*DIMENSIONS, "overall", "judged_human")
CONFIDENCE = 0.95
ALPHA = 0.05
N_RESAMPLES = 2000


@dataclass(frozen=True)
class Record:
    """One answer, reduced to what the analysis needs."""

    participant: str  # session id: one participant = one session
    category: str
    ratings: dict[str, int]
    judged_human: bool

    def value(self, measure: str) -> float:
        if measure == "overall":
            return float(np.mean([self.ratings[d] for d in DIMENSIONS]))
        if measure == "judged_human":
            return 1.0 if self.judged_human else 0.0
        return float(self.ratings[measure])


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def covers(self, x: float) -> bool:
        return self.low <= x <= self.high


@dataclass
class CategorySummary:
    category: str
    is_human: bool
    n_answers: int
    n_participants: int
    measures: dict[str, Interval]  # MEASURES -> mean with its 95 % interval

    @property
    def label(self) -> str:
        return category_label(self.category)

    @property
    def overall(self) -> Interval:
        return self.measures["overall"]

    @property
    def judged_human(self) -> Interval:
        return self.measures["judged_human"]


@dataclass
class PairwiseTest:
    measure: str
    a: str
    b: str
    n: int  # participants who heard both
    mean_difference: float  # mean over participants of (A - B)
    statistic: float
    p: float
    p_holm: float = math.nan

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


@dataclass
class Analysis:
    categories: list[CategorySummary]
    tests: list[PairwiseTest]
    n_participants: int
    n_answers: int
    method: str = "cluster bootstrap (BCa) over participants; paired Wilcoxon signed-rank, Holm-adjusted"
    notes: list[str] = field(default_factory=list)

    def summary(self, category: str) -> CategorySummary:
        for c in self.categories:
            if c.category == category:
                return c
        raise KeyError(category)

    def ranking(self, measure: str = "overall") -> list[str]:
        ok = [c for c in self.categories if c.n_answers]
        return [c.category for c in sorted(ok, key=lambda c: -c.measures[measure].value)]


def holm(pvalues: Iterable[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    p = np.asarray(list(pvalues), dtype=np.float64)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def _per_participant(records: list[Record], category: str, measure: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(participants, sum of values, number of values) for one category and measure."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for r in records:
        if r.category != category:
            continue
        sums[r.participant] = sums.get(r.participant, 0.0) + r.value(measure)
        counts[r.participant] = counts.get(r.participant, 0) + 1
    names = sorted(sums)
    return names, np.array([sums[n] for n in names]), np.array([counts[n] for n in names], dtype=np.float64)


def cluster_bootstrap(
    sums: np.ndarray, counts: np.ndarray, *, n_resamples: int = N_RESAMPLES, random_seed: int = 0
) -> Interval:
    """Mean of all values (sum(sums)/sum(counts)) with a BCa interval from resampling clusters."""
    from scipy import stats

    total = float(counts.sum())
    if total == 0:
        return Interval(math.nan, math.nan, math.nan)
    value = float(sums.sum() / total)
    if len(sums) < 2:
        return Interval(value, math.nan, math.nan)
    means = sums / counts
    if np.ptp(means) == 0:
        return Interval(value, value, value)  # every cluster agrees: nothing to resample

    def ratio(s: np.ndarray, c: np.ndarray, axis: int = -1) -> np.ndarray:
        return s.sum(axis=axis) / c.sum(axis=axis)

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns when BCa is degenerate; we fall back instead
            res = stats.bootstrap(
                (sums, counts), ratio, paired=True, vectorized=True, n_resamples=n_resamples,
                confidence_level=CONFIDENCE, method=method, random_state=np.random.default_rng(random_seed),
            )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi):
            return Interval(value, lo, hi)
    return Interval(value, math.nan, math.nan)


def paired_test(records: list[Record], a: str, b: str, measure: str) -> PairwiseTest:
    """Wilcoxon signed-rank on per-participant means of categories a and b."""
    from scipy import stats

    na, sa, ca = _per_participant(records, a, measure)
    nb, sb, cb = _per_participant(records, b, measure)
    ma = dict(zip(na, sa / np.maximum(ca, 1)))
    mb = dict(zip(nb, sb / np.maximum(cb, 1)))
    both = sorted(set(ma) & set(mb))
    x = np.array([ma[p] for p in both])
    y = np.array([mb[p] for p in both])
    diff = float(np.mean(x - y)) if both else math.nan
    if len(both) < 2 or not np.any(np.abs(x - y) > 1e-12):
        return PairwiseTest(measure, a, b, len(both), diff, math.nan, 1.0)
    res = stats.wilcoxon(x, y)
    return PairwiseTest(measure, a, b, len(both), diff, float(res.statistic), float(res.pvalue))


def analyze(
    records: list[Record],
    categories: list[str],
    *,
    human_categories: set[str] | None = None,
    n_resamples: int = N_RESAMPLES,
    random_seed: int = 0,
    test_measures: tuple[str, ...] = ("overall", "judged_human"),
) -> Analysis:
    """Per-category summaries and Holm-adjusted paired tests between every two categories."""
    humans = human_categories if human_categories is not None else {"human"}
    summaries = []
    for ci, cat in enumerate(categories):
        measures = {}
        names: list[str] = []
        n_answers = 0
        for mi, measure in enumerate(MEASURES):
            names, sums, counts = _per_participant(records, cat, measure)
            n_answers = int(counts.sum())
            measures[measure] = cluster_bootstrap(
                sums, counts, n_resamples=n_resamples, random_seed=random_seed + 1000 * ci + mi
            )
        summaries.append(CategorySummary(cat, cat in humans, n_answers, len(names), measures))
    tests: list[PairwiseTest] = []
    for measure in test_measures:
        group = [paired_test(records, a, b, measure) for a, b in itertools.combinations(categories, 2)]
        for t, adj in zip(group, holm(t.p for t in group)):
            t.p_holm = adj
        tests.extend(group)
    participants = {r.participant for r in records}
    return Analysis(summaries, tests, len(participants), len(records))


def records_from_answers(manifest: ListeningManifest, rows: Iterable[object]) -> list[Record]:
    """Store rows (:class:`musestudio.listening.store.AnswerRow`) -> analysis records."""
    category = {c.id: c.category for c in manifest.clips}
    out = []
    for r in rows:
        cat = category.get(r.clip_id)  # type: ignore[attr-defined]
        if cat is None:
            continue
        out.append(Record(r.session_id, cat, dict(r.ratings), bool(r.judged_human)))  # type: ignore[attr-defined]
    return out


def analyze_test(
    folder: str | os.PathLike[str], *, n_resamples: int = N_RESAMPLES, random_seed: int = 0
) -> tuple[ListeningManifest, Analysis]:
    """Load a test folder's manifest and results and analyse them."""
    from musestudio.listening.manifest import load_manifest
    from musestudio.listening.store import ResultsStore

    manifest = load_manifest(folder)
    with ResultsStore.for_test(folder) as store:
        rows = store.answers()
    records = records_from_answers(manifest, rows)
    humans = {c.category for c in manifest.clips if c.is_human}
    return manifest, analyze(records, manifest.categories, human_categories=humans, n_resamples=n_resamples,
                             random_seed=random_seed)
