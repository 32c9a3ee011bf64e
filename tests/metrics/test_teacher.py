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
