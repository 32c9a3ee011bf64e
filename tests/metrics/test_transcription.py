"""Transcription scores on a known estimate/reference pair."""

from __future__ import annotations

import pytest

from musestudio.core.notes import Note, NoteSequence
from musestudio.metrics.transcription import NOTE_SCORE_NAMES, note_scores

REFERENCE = NoteSequence(
    [Note(60, 0.0, 1.0, 80), Note(64, 1.0, 2.0, 80), Note(67, 2.0, 3.0, 80), Note(72, 3.0, 4.0, 80)]
)


def test_perfect_estimate_scores_one() -> None:
    scores = note_scores(REFERENCE, REFERENCE)
    assert tuple(scores) == NOTE_SCORE_NAMES
    assert all(v == pytest.approx(1.0) for v in scores.values())


def test_known_pair() -> None:
    estimate = NoteSequence(
        [
            Note(60, 0.03, 1.0, 80),  # onset 30 ms late: onset and offset match
            Note(64, 1.0, 1.5, 80),  # right onset, offset 0.5 s early: onset-only match
            Note(66, 2.0, 3.0, 80),  # wrong pitch
            Note(72, 3.2, 4.0, 80),  # onset 200 ms late: no match
        ]
    )
    s = note_scores(estimate, REFERENCE)
    assert s["onset_precision"] == pytest.approx(0.5)
    assert s["onset_recall"] == pytest.approx(0.5)
    assert s["onset_f1"] == pytest.approx(0.5)
    assert s["onset_offset_f1"] == pytest.approx(0.25)
    # Frames at 100 Hz: reference 400 cells; estimate overlaps 97 + 50 + 0 + 80 = 227 of its 97 + 50 + 100 + 80 = 327.
    assert s["frame_recall"] == pytest.approx(227 / 400)
    assert s["frame_precision"] == pytest.approx(227 / 327)


def test_velocity_aware_scores_need_the_right_velocity() -> None:
    reference = NoteSequence([Note(60 + i, i * 0.5, i * 0.5 + 0.4, 30 + 20 * i) for i in range(5)])
    right = note_scores(reference, reference)
    assert right["onset_velocity_f1"] == pytest.approx(1.0)
    # Scrambled dynamics: no linear rescaling of the estimate fits the reference.
    scrambled = NoteSequence(
        [Note(n.pitch, n.start, n.end, v) for n, v in zip(reference.notes, [70, 30, 110, 50, 90], strict=True)]
    )
    wrong = note_scores(scrambled, reference)
    assert wrong["onset_f1"] == pytest.approx(1.0)
    assert wrong["onset_velocity_f1"] < 0.5


def test_empty_sides() -> None:
    assert note_scores(NoteSequence(), REFERENCE)["onset_f1"] == 0.0
    assert note_scores(NoteSequence(), NoteSequence())["onset_f1"] == 1.0
