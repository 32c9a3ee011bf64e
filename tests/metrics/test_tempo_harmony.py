"""Beats, tempo stability, rubato, groove and chord transitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.timing import TempoMap
from musestudio.metrics import compute_metrics, harmony, tempo


def beat_piece(beats: list[float], pitches: tuple[int, ...] = (60,)) -> NoteSequence:
    return NoteSequence([Note(p, t, t + 0.1) for t in beats for p in pitches])


def test_steady_beats_are_stable_and_without_rubato() -> None:
    beats = [i * 0.5 for i in range(20)]
    piece = beat_piece(beats)
    assert tempo.tempo_stability(piece, beats) == pytest.approx(100.0)
    assert tempo.rubato_usage(piece, beats) == 0.0
    # The tracker finds the same beats without being told.
    np.testing.assert_allclose(tempo.track_beats(piece), beats, atol=1e-9)
    assert tempo.tempo_stability(piece) == pytest.approx(100.0)


def test_rubato_hand_computed() -> None:
    # Inter-beat intervals 0.5 (six times), then 0.6 and 0.4: local tempi 120 (six times), 100, 150; median 120.
    # |100/120 - 1| = 0.167 and |150/120 - 1| = 0.25 exceed 10 %: 2 of 8 beats = 25 %.
    ibi = [0.5] * 6 + [0.6, 0.4]
    beats = np.concatenate([[0.0], np.cumsum(ibi)])
    piece = beat_piece(beats.tolist())
    assert tempo.rubato_usage(piece, beats) == pytest.approx(25.0)
    ratios = np.array([1.0] * 6 + [100 / 120, 150 / 120])
    assert tempo.tempo_stability(piece, beats) == pytest.approx(100 * (1 - ratios.std() / ratios.mean()))


def test_score_grid_beats_come_from_the_tempo_map() -> None:
    tm = TempoMap.constant(90.0)
    piece = NoteSequence([Note(60, tm.beats_to_seconds(b), tm.beats_to_seconds(b + 0.5)) for b in (0, 1, 2.5, 3, 4)])
    piece.tempo_map = tm
    assert tempo.on_tempo_grid(piece)
    np.testing.assert_allclose(tempo.beat_times(piece), [tm.beats_to_seconds(i) for i in range(6)], atol=1e-9)


def test_empty_beats_and_groove() -> None:
    beats = [float(i) for i in range(9)]  # 8 beats = two 4/4 bars
    # Onsets on beats 0, 1, 2, 3 and 4, 5, 6, 7 minus beat 6: one empty beat of 8.
    onsets = [0, 1, 2, 3, 4, 5, 7]
    piece = beat_piece([float(t) for t in onsets])
    assert tempo.empty_beat_rate(piece, beats) == pytest.approx(100 / 8)
    # Bar patterns (16 steps): bar 2 lacks one onset of bar 1 -> distance 1/16.
    assert tempo.groove_consistency(piece, beats, beats_per_bar=4) == pytest.approx(100 * (1 - 1 / 16))


def test_asap_annotation_reader(tmp_path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("1.0\t1.0\tdb,4/4,0\n1.5\t1.5\tb\n2.0\t2.0\tbR\n2.2\t2.2\tX\n")
    assert tempo.read_beat_annotations(f).tolist() == [1.0, 1.5, 2.0]


@pytest.mark.parametrize(
    ("pitches", "expected"),
    [
        ((60, 64, 67), (0, "maj")),
        ((57, 60, 64), (9, "min")),
        ((59, 62, 65), (11, "dim")),
        ((55, 59, 62, 65), (7, "7")),
        ((60, 64, 67, 71), (0, "maj7")),
        ((62, 65, 69, 72), (2, "min7")),
    ],
)
def test_chord_templates(pitches: tuple[int, ...], expected: tuple[int, str]) -> None:
    chroma = np.zeros(12)
    chroma[[p % 12 for p in pitches]] = 1.0
    assert harmony.match_chord(chroma) == expected
    assert harmony.match_chord(np.zeros(12)) is None


def progression(roots: list[tuple[int, int, int]], start: float = 0.0) -> tuple[NoteSequence, list[float]]:
    beats = [start + i for i in range(len(roots) + 1)]
    notes = [Note(p, start + i, start + i + 1) for i, chord in enumerate(roots) for p in chord]
    return NoteSequence(notes), beats


C, F, G, AM = (60, 64, 67), (65, 69, 72), (67, 71, 74), (57, 60, 64)


def test_transitions_are_key_independent_and_skip_repeats() -> None:
    piece, beats = progression([C, C, F, G, C])
    counts = harmony.transition_counts(piece, beats)
    assert counts.sum() == 3  # C->F, F->G, G->C; C->C is not a transition
    up_fourth = harmony.transition_index((0, "maj"), (5, "maj"))
    assert counts[up_fourth] == 2  # C->F and G->C are both maj -> maj a fourth up
    moved = piece.transpose(3)
    np.testing.assert_array_equal(harmony.transition_counts(moved, beats), counts)


def test_harmonic_consistency_and_accuracy_hand_computed() -> None:
    ours, beats = progression([C, F, G, C])  # transitions: +5 maj->maj (x2), +2 maj->maj
    ref, ref_beats = progression([C, AM, F, G])  # +9 maj->min, +8 min->maj, +2 maj->maj
    # P = (+5: 2/3, +2: 1/3), Q = (+9: 1/3, +8: 1/3, +2: 1/3): overlap = min(1/3, 1/3) = 1/3.
    assert harmony.harmonic_consistency(ours, ref, beats, ref_beats) == pytest.approx(100 / 3)
    # One of our three transitions (+2) occurs in the reference.
    assert harmony.chord_transition_accuracy(ours, ref, beats, ref_beats) == pytest.approx(100 / 3)
    assert harmony.harmonic_consistency(ours, ours, beats, beats) == pytest.approx(100.0)
    m = compute_metrics(ours, ref, beats, reference_beats=ref_beats)
    assert m["harmonic_consistency"] == pytest.approx(100 / 3)
    assert m["chord_transition_accuracy"] == pytest.approx(100 / 3)


def test_no_chord_change_gives_nan() -> None:
    piece, beats = progression([C, C, C])
    assert math.isnan(harmony.harmonic_consistency(piece, piece, beats, beats))
    assert harmony.chord_names(harmony.chord_sequence(piece, beats)) == ["C maj"] * 3


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0, 30, allow_nan=False), min_size=0, max_size=60))
def test_metrics_stay_in_range_on_arbitrary_onsets(onsets: list[float]) -> None:
    piece = NoteSequence([Note(60 + i % 24, t, t + 0.3, 1 + i % 127) for i, t in enumerate(onsets)])
    b = tempo.beat_times(piece)
    assert np.all(np.diff(b) > 0)
    m = compute_metrics(piece, reference=piece)
    for name in ("tempo_stability", "rubato_usage", "empty_beat_rate", "groove_consistency", "scale_consistency"):
        assert math.isnan(m[name]) or 0.0 <= m[name] <= 100.0
    assert math.isnan(m["pitch_class_similarity"]) or m["pitch_class_similarity"] == pytest.approx(100.0)
