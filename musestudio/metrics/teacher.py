"""Teacher mode: which notes of a transcription match a reference, and which do not.

The GUI's Transcribe panel shows these as two layers (missed notes and false
alarms) and a score line; the matching is mir_eval's note matching with onsets
only (50 ms tolerance by default), the same rule as the ``onset_*`` scores of
:func:`musestudio.metrics.transcription.note_scores`, so the panel's F1 equals
the CLI's ``onset_f1``.  Qt-free, so a worker thread can run it and tests can
call it without a display.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from musestudio.core.notes import Note, NoteSequence
from musestudio.metrics.transcription import _arrays


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
    from mir_eval.transcription import match_notes as mir_match

    est, ref = list(estimate.notes), list(reference.notes)
    if not est or not ref:
        value = 1.0 if not est and not ref else 0.0
        return TeacherMatch(ref, est, value, value, value)
    ri, rp, _ = _arrays(reference)
    ei, ep, _ = _arrays(estimate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns on very short notes; the matching stays valid
        pairs = mir_match(ri, rp, ei, ep, onset_tolerance=onset_tolerance, offset_ratio=None)
    hit_ref = {i for i, _ in pairs}
    hit_est = {j for _, j in pairs}
    precision, recall = len(pairs) / len(est), len(pairs) / len(ref)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    missed = [n for i, n in enumerate(ref) if i not in hit_ref]
    false_alarms = [n for j, n in enumerate(est) if j not in hit_est]
    return TeacherMatch(missed, false_alarms, precision, recall, f1)
