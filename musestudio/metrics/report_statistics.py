"""The report's statistics: per-row means over pieces and their 95 % intervals.

See :mod:`musestudio.metrics.report_protocol` for the protocol they summarise.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from musestudio.core.notes import NoteSequence
from musestudio.metrics import METRIC_NAMES, compute_metrics, harmony
from musestudio.metrics.report_data import Example, ReportSettings
from musestudio.metrics.report_labels import BASELINE, HUMAN
from musestudio.metrics.symbolic import NAN, histogram_overlap

BOOTSTRAP_SAMPLES = 1000


def summarize(
    examples: list[Example], models: list[str], settings: ReportSettings | None = None
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, tuple[float, float]]]]:
    """Per-row values of every metric and their 95 % intervals over pieces.

    See the module docstring for the protocol.  Per-piece means get a
    percentile bootstrap (pieces resampled with replacement 1000 times, fixed
    random seed); the pooled chord metrics get a jackknife interval
    (:func:`_jackknife_interval`).
    """
    settings = settings or ReportSettings()
    rng = np.random.default_rng(0)
    n = len(examples)
    resamples = rng.integers(0, n, size=(BOOTSTRAP_SAMPLES, n)) if n else np.zeros((0, 0), dtype=np.int64)
    seed_counts = np.array([harmony.transition_counts(ex.seed) for ex in examples]).reshape(n, harmony.N_TRANSITIONS)
    rows: dict[str, dict[str, float]] = {}
    ci: dict[str, dict[str, tuple[float, float]]] = {}
    for row in [*models, HUMAN]:
        outputs = _outputs(examples, row)
        per_piece = [compute_metrics(out, ex.seed) for out, ex in zip(outputs, examples, strict=True)]
        means: dict[str, float] = {}
        intervals: dict[str, tuple[float, float]] = {}
        for name in METRIC_NAMES:
            values = np.array([m[name] for m in per_piece], dtype=np.float64)
            finite = values[np.isfinite(values)]
            means[name] = float(finite.mean()) if finite.size else NAN
            if finite.size > 1:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN resample is simply NaN
                    boot = np.nanmean(values[resamples], axis=1)
                intervals[name] = _interval(boot)
        counts = np.array([harmony.transition_counts(out) for out in outputs]).reshape(n, harmony.N_TRANSITIONS)
        means["harmonic_consistency"] = histogram_overlap(counts.sum(0), seed_counts.sum(0)) if n else NAN
        means["chord_transition_accuracy"] = harmony.transition_accuracy(counts.sum(0), seed_counts.sum(0))
        if n > 2:
            intervals["harmonic_consistency"] = _jackknife_interval(
                counts, seed_counts, histogram_overlap, means["harmonic_consistency"]
            )
            intervals["chord_transition_accuracy"] = _jackknife_interval(
                counts, seed_counts, harmony.transition_accuracy, means["chord_transition_accuracy"]
            )
        rows[row], ci[row] = means, intervals
    if settings.with_perplexity:
        humans = [ex.human for ex in examples]
        for row in [*models, HUMAN]:
            likelihood = row not in (HUMAN, BASELINE, "gan")
            rows[row]["perplexity"] = _safe_perplexity(humans, row) if likelihood else NAN
            rows[row]["plausibility"] = _safe_perplexity(_outputs(examples, row), "transformer")
    return rows, ci


def _outputs(examples: list[Example], row: str) -> list[NoteSequence]:
    return [ex.human if row == HUMAN else ex.generated[row] for ex in examples]


def _jackknife_interval(counts: np.ndarray, seed_counts: np.ndarray, stat: object, full: float) -> tuple[float, float]:
    """``full ± 1.96 * SE`` with the leave-one-piece-out jackknife standard error.

    Used for the pooled chord metrics instead of the bootstrap: resampling
    with replacement repeats pieces, which shrinks the set of distinct chord
    transitions and biases an overlap of sparse histograms downwards.
    """
    n = counts.shape[0]
    total, seed_total = counts.sum(0), seed_counts.sum(0)
    values = np.array([stat(total - counts[i], seed_total - seed_counts[i]) for i in range(n)])  # type: ignore[operator]
    values = values[np.isfinite(values)]
    if values.size < 2 or math.isnan(full):
        return (NAN, NAN)
    se = math.sqrt((values.size - 1) / values.size * float(((values - values.mean()) ** 2).sum()))
    return (full - 1.96 * se, full + 1.96 * se)


def _interval(samples: np.ndarray) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if not finite.size:
        return (NAN, NAN)
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return (float(lo), float(hi))


def _safe_perplexity(pieces: list[NoteSequence], model: str) -> float:
    from musestudio.metrics.perplexity import perplexity

    try:
        return perplexity(pieces, model)
    except Exception:  # no likelihood (GAN), or no shipped checkpoint: the cell stays empty
        return NAN
