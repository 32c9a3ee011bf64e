"""Teacher-mode matching (Qt-free): missed notes, false alarms and onset scores."""

from __future__ import annotations

import pytest

from musestudio.core.notes import Note, NoteSequence
from musestudio.metrics.teacher import match_notes
from musestudio.metrics.transcription import note_scores


def test_match_notes_counts() -> None:
    ref = NoteSequence([Note(60, 0.0, 0.5), Note(62, 1.0, 1.5), Note(64, 2.0, 2.5)])
    est = NoteSequence([Note(60, 0.02, 0.4), Note(62, 1.2, 1.5), Note(70, 3.0, 3.5)])
    m = match_notes(est, ref)
    assert [n.pitch for n in m.missed] == [62, 64]
    assert [n.pitch for n in m.false_alarms] == [62, 70]
    assert m.precision == pytest.approx(1 / 3) and m.recall == pytest.approx(1 / 3)
    assert m.f1 == pytest.approx(note_scores(est, ref)["onset_f1"])  # the panel and the CLI agree


@pytest.mark.parametrize(("est", "ref", "score"), [([], [], 1.0), ([Note(60, 0, 1)], [], 0.0), ([], [Note(60, 0, 1)], 0.0)])
def test_empty_sides(est, ref, score) -> None:  # type: ignore[no-untyped-def]
    m = match_notes(NoteSequence(est), NoteSequence(ref))
    assert m.f1 == score
    assert m.missed == ref and m.false_alarms == est


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_matching_as_mir_eval(seed: int) -> None:
    """The sparse matching equals mir_eval's dense one, ties at exactly the tolerance included."""
    import numpy as np
    from mir_eval.transcription import match_notes as mir_match

    from musestudio.metrics.transcription import mir_eval_arrays

    rng = np.random.default_rng(seed)
    n = 1500
    starts = np.round(np.sort(rng.uniform(0, 120, n)), 2)  # on a 10 ms grid: many exact 50 ms distances
    ref = NoteSequence([Note(int(p), float(s), float(s) + 0.3) for p, s in zip(rng.integers(40, 52, n), starts)])
    jitter = rng.choice([-0.05, -0.03, 0.0, 0.02, 0.05, 0.06], n)
    pitch = np.where(rng.random(n) < 0.1, rng.integers(40, 52, n), [x.pitch for x in ref.notes])
    keep = rng.random(n) < 0.85
    est = NoteSequence(
        [Note(int(p), max(0.0, float(s + j)), float(s + j) + 0.25) for p, s, j, k in zip(pitch, starts, jitter, keep) if k]
        + [Note(int(p), float(s), float(s) + 0.2) for p, s in zip(rng.integers(40, 52, 200), rng.uniform(0, 120, 200))]
    )
    ri, rp, _ = mir_eval_arrays(ref)
    ei, ep, _ = mir_eval_arrays(est)
    expected = mir_match(ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=None)
    m = match_notes(est, ref)
    assert m.precision == pytest.approx(len(expected) / len(est))
    assert m.recall == pytest.approx(len(expected) / len(ref))
    from musestudio.metrics.teacher import onset_matching

    assert onset_matching(ri[:, 0], rp, ei[:, 0], ep, 0.05) == sorted(expected)
