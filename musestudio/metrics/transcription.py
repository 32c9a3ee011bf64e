"""Transcription scores: an estimated NoteSequence against a reference one.

Note-level scores are mir_eval's, the field's standard (MAESTRO papers report
them with a 50 ms onset tolerance):

* ``onset_*``: a note matches when its pitch is within a quarter tone and its
  onset within ``onset_tolerance``;
* ``onset_offset_*``: also its offset within max(50 ms, 20 % of the
  reference note's length);
* ``onset_velocity_*`` / ``onset_offset_velocity_*``: also its velocity, after
  mir_eval's linear rescaling of the estimate's velocities, within 10 % of the
  reference velocity range.  The rescaling is a free linear fit, so an
  estimate whose dynamics are exactly inverted still scores full marks:
  these scores check the *shape* of the dynamics, not their direction.

Frame scores count, on a 100 Hz piano roll of the notes as written, the
(frame, pitch) cells that sound in both (TP), only in the estimate (FP) or
only in the reference (FN).  They are computed on the rolls directly: each
cell is one exact MIDI pitch, so mir_eval.multipitch's frequency matching adds
nothing here.
"""

from __future__ import annotations

import warnings

import numpy as np

from musestudio.core.notes import NoteSequence

FRAME_RATE = 100.0
#: mir_eval rejects zero-length notes; such notes are lengthened to this.
MIN_NOTE_S = 0.001

NOTE_SCORE_NAMES = tuple(
    f"{kind}_{part}"
    for kind in ("onset", "onset_offset", "onset_velocity", "onset_offset_velocity", "frame")
    for part in ("precision", "recall", "f1")
)


def mir_eval_arrays(seq: NoteSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(intervals [n, 2] s, pitches Hz, velocities) as mir_eval.transcription takes them; notes shorter than
    MIN_NOTE_S are lengthened to it (mir_eval rejects zero-length intervals)."""
    import mir_eval

    a = seq.as_arrays()
    start = a["start"]
    end = np.maximum(a["end"], start + MIN_NOTE_S)
    intervals = np.stack([start, end], axis=1) if len(start) else np.zeros((0, 2))
    pitches = mir_eval.util.midi_to_hz(a["pitch"].astype(np.float64))
    return intervals, pitches, a["velocity"].astype(np.float64)


def frame_scores(estimate: NoteSequence, reference: NoteSequence, frame_rate: float = FRAME_RATE) -> dict[str, float]:
    """Frame precision, recall and F1 on binary piano rolls at ``frame_rate`` Hz."""
    est = estimate.to_pianoroll(frame_rate, velocity=False) > 0
    ref = reference.to_pianoroll(frame_rate, velocity=False) > 0
    frames = max(est.shape[1], ref.shape[1])
    est = np.pad(est, ((0, 0), (0, frames - est.shape[1])))
    ref = np.pad(ref, ((0, 0), (0, frames - ref.shape[1])))
    tp = float(np.logical_and(est, ref).sum())
    fp = float(np.logical_and(est, ~ref).sum())
    fn = float(np.logical_and(~est, ref).sum())
    return _prf("frame", tp, fp, fn)


def _prf(prefix: str, tp: float, fp: float, fn: float) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp > 0 else 0.0
    r = tp / (tp + fn) if tp + fn > 0 else 0.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return {f"{prefix}_precision": p, f"{prefix}_recall": r, f"{prefix}_f1": f}


def note_scores(
    estimate: NoteSequence,
    reference: NoteSequence,
    onset_tolerance: float = 0.05,
    *,
    offset_ratio: float = 0.2,
    offset_min_tolerance: float = 0.05,
    velocity_tolerance: float = 0.1,
    frame_rate: float = FRAME_RATE,
) -> dict[str, float]:
    """Note-level (onset, onset+offset, velocity-aware) and frame-level P/R/F1 in 0..1.

    Scores are 0 when either side is empty (and 1 when both are: nothing to
    find, nothing wrongly found).
    """
    from mir_eval import transcription, transcription_velocity

    out: dict[str, float] = {}
    if not estimate.notes or not reference.notes:
        value = 1.0 if not estimate.notes and not reference.notes else 0.0
        return dict.fromkeys(NOTE_SCORE_NAMES, value)
    ri, rp, rv = mir_eval_arrays(reference)
    ei, ep, ev = mir_eval_arrays(estimate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns on very short notes; the scores stay valid
        for prefix, ratio in (("onset", None), ("onset_offset", offset_ratio)):
            p, r, f, _ = transcription.precision_recall_f1_overlap(
                ri, rp, ei, ep, onset_tolerance=onset_tolerance, offset_ratio=ratio,
                offset_min_tolerance=offset_min_tolerance,
            )  # fmt: skip
            out.update({f"{prefix}_precision": p, f"{prefix}_recall": r, f"{prefix}_f1": f})
            p, r, f, _ = transcription_velocity.precision_recall_f1_overlap(
                ri, rp, rv, ei, ep, ev, onset_tolerance=onset_tolerance, offset_ratio=ratio,
                offset_min_tolerance=offset_min_tolerance, velocity_tolerance=velocity_tolerance,
            )  # fmt: skip
            vel = "onset_velocity" if ratio is None else "onset_offset_velocity"
            out.update({f"{vel}_precision": p, f"{vel}_recall": r, f"{vel}_f1": f})
    out.update(frame_scores(estimate, reference, frame_rate))
    return {k: float(out[k]) for k in NOTE_SCORE_NAMES}
