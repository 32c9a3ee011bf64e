"""Teacher mode: which notes of a transcription match a reference, and which do not.

The GUI's Transcribe panel shows these as two layers (missed notes and false
alarms) and a score line; the matching is mir_eval's note matching with onsets
only (50 ms tolerance by default), the same rule as the ``onset_*`` scores of
:func:`musestudio.metrics.transcription.note_scores`, so the panel's F1 equals
the CLI's ``onset_f1``.  Qt-free, so a worker thread can run it and tests can
call it without a display.

Why not ``mir_eval.transcription.match_notes`` itself: it builds dense
reference x estimate distance matrices.  For a 10-minute performance
(8,565 notes) that is four 73-million-cell float64 arrays (~2.3 GB) and
numpy calls that hold the GIL for over a second, which froze the window
even from a worker thread (tests/benchmarks/bench_ui_responsive.py).  Notes
are sorted by onset, so the pairs within the onset tolerance are found by
binary search here instead; the same hit tests (onset distance rounded to
mir_eval's 4 decimals, pitch within 50 cents) build the same graph in the
same order, and mir_eval's own maximum bipartite matching runs on it, so the
result is identical (tests/metrics/test_teacher.py compares them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musestudio.core.notes import Note, NoteSequence
from musestudio.metrics.transcription import mir_eval_arrays

PITCH_TOLERANCE_CENTS = 50.0  # mir_eval's default: a quarter tone
DECIMALS = 4  # mir_eval rounds onset distances to this many decimals before comparing


@dataclass
class TeacherMatch:
    """Missed reference notes, false-alarm estimate notes, and onset precision/recall/F1 in 0..1."""

    missed: list[Note] = field(default_factory=list)
    false_alarms: list[Note] = field(default_factory=list)
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0

    def scores(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def match_notes(estimate: NoteSequence, reference: NoteSequence, onset_tolerance: float = 0.05) -> TeacherMatch:
    """Match ``estimate`` against ``reference`` note by note (pitch within a quarter tone, onset within tolerance).

    Both empty: a perfect score (nothing to find, nothing wrongly found);
    one side empty: zero, with every note of the other side unmatched.
    """
    est, ref = list(estimate.notes), list(reference.notes)
    if not est or not ref:
        value = 1.0 if not est and not ref else 0.0
        return TeacherMatch(ref, est, value, value, value)
    ri, rp, _ = mir_eval_arrays(reference)
    ei, ep, _ = mir_eval_arrays(estimate)
    pairs = onset_matching(ri[:, 0], rp, ei[:, 0], ep, onset_tolerance)
    hit_ref = {i for i, _ in pairs}
    hit_est = {j for _, j in pairs}
    precision, recall = len(pairs) / len(est), len(pairs) / len(ref)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    missed = [n for i, n in enumerate(ref) if i not in hit_ref]
    false_alarms = [n for j, n in enumerate(est) if j not in hit_est]
    return TeacherMatch(missed, false_alarms, precision, recall, f1)


def onset_matching(
    ref_onsets: np.ndarray, ref_hz: np.ndarray, est_onsets: np.ndarray, est_hz: np.ndarray, onset_tolerance: float
) -> list[tuple[int, int]]:
    """mir_eval's onset-only note matching (``offset_ratio=None``), in memory linear in the number of hits.

    Returns sorted (reference index, estimate index) pairs of a maximum matching.
    """
    from mir_eval.util import _bipartite_match

    order = np.argsort(est_onsets, kind="stable")
    sorted_onsets = est_onsets[order]
    margin = onset_tolerance + 10.0 ** -DECIMALS  # a superset; the exact test below decides
    lo = np.searchsorted(sorted_onsets, ref_onsets - margin, side="left")
    hi = np.searchsorted(sorted_onsets, ref_onsets + margin, side="right")
    counts = hi - lo
    ref_idx = np.repeat(np.arange(len(ref_onsets)), counts)
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    est_idx = order[starts + np.arange(counts.sum())]
    onset_ok = np.around(np.abs(ref_onsets[ref_idx] - est_onsets[est_idx]), decimals=DECIMALS) <= onset_tolerance
    pitch_ok = np.abs(1200 * (np.log2(ref_hz[ref_idx]) - np.log2(est_hz[est_idx]))) <= PITCH_TOLERANCE_CENTS
    keep = onset_ok & pitch_ok
    ref_idx, est_idx = ref_idx[keep], est_idx[keep]
    hits = np.lexsort((est_idx, ref_idx))  # mir_eval's np.where order: by reference, then estimate
    graph: dict[int, list[int]] = {}
    for r, e in zip(ref_idx[hits].tolist(), est_idx[hits].tolist()):
        graph.setdefault(e, []).append(r)
    return sorted(_bipartite_match(graph).items())
