"""Symbolic metrics: properties and hand-computed values on tiny pieces."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musestudio.core.notes import Note, NoteSequence
from musestudio.metrics import METRIC_NAMES, compute_metrics, symbolic


def seq_of(*notes: tuple[int, float, float, int]) -> NoteSequence:
    return NoteSequence([Note(p, s, e, v) for p, s, e, v in notes])


def metronome(n: int = 16, period: float = 0.5, pitch: int = 60) -> NoteSequence:
    return NoteSequence([Note(pitch + (i % 3) * 4, i * period, i * period + 0.4, 64 + i % 5) for i in range(n)])


# Random small pieces for property tests.
notes_strategy = st.lists(
    st.tuples(
        st.integers(21, 108),
        st.floats(0, 20, allow_nan=False),
        st.floats(0.05, 3, allow_nan=False),
        st.integers(1, 127),
    ),
    min_size=1,
    max_size=40,
)


def build(raw: list[tuple[int, float, float, int]]) -> NoteSequence:
    return NoteSequence([Note(p, s, s + d, v) for p, s, d, v in raw])


@settings(max_examples=40, deadline=None)
@given(notes_strategy)
def test_identical_input_is_100_percent_similar(raw: list) -> None:
    seq = build(raw)
    assert symbolic.pitch_class_similarity(seq, seq) == pytest.approx(100.0)
    assert symbolic.pitch_class_similarity(seq, seq.shift_time(3.0)) == pytest.approx(100.0)


@settings(max_examples=40, deadline=None)
@given(notes_strategy, st.integers(-12, 12))
def test_transposition_rotates_the_pitch_class_histogram(raw: list, semitones: int) -> None:
    seq = build([(min(max(p, 33), 96), s, d, v) for p, s, d, v in raw])
    moved = seq.transpose(semitones)
    np.testing.assert_allclose(
        symbolic.pitch_class_histogram(moved), np.roll(symbolic.pitch_class_histogram(seq), semitones), atol=1e-12
    )
    assert symbolic.pitch_class_entropy(moved) == pytest.approx(symbolic.pitch_class_entropy(seq))


@pytest.mark.parametrize("period", [0.125, 0.25, 0.5, 0.77, 1.5])
def test_constant_rhythm_has_zero_rhythmic_entropy(period: float) -> None:
    assert symbolic.rhythmic_entropy(metronome(24, period)) == 0.0
    # Chords (three notes per onset) are one onset each.
    chords = NoteSequence([Note(60 + k * 4, i * period, i * period + 0.1) for i in range(10) for k in range(3)])
    assert symbolic.rhythmic_entropy(chords) == 0.0


def test_rhythmic_entropy_hand_computed() -> None:
    # Onsets 0, 0.5, 1.0, 1.25, 1.5: IOIs 0.5, 0.5, 0.25, 0.25 -> two equally likely bins = 1 bit.
    seq = seq_of(*[(60, t, t + 0.2, 80) for t in (0.0, 0.5, 1.0, 1.25, 1.5)])
    assert symbolic.rhythmic_entropy(seq) == pytest.approx(1.0)
    # Onsets 10 ms apart are one chord onset; long gaps share the overflow bin.
    seq = seq_of((60, 0.0, 1, 80), (64, 0.01, 1, 80), (60, 3.0, 4, 80), (60, 6.0, 7, 80))
    assert symbolic.inter_onset_intervals(seq).tolist() == pytest.approx([3.0, 3.0])
    assert symbolic.rhythmic_entropy(seq) == 0.0


def test_pitch_class_histogram_is_duration_weighted() -> None:
    # C for 3 s, E for 1 s: p = (0.75 at C, 0.25 at E).
    seq = seq_of((60, 0, 3, 80), (76, 0, 1, 80))
    hist = symbolic.pitch_class_histogram(seq)
    assert hist[0] == pytest.approx(0.75) and hist[4] == pytest.approx(0.25)
    expected_entropy = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert symbolic.pitch_class_entropy(seq) == pytest.approx(expected_entropy)
    # Against a reference that is all C: overlap = min(.75, 1) + min(.25, 0) = 75 %.
    assert symbolic.pitch_class_similarity(seq, seq_of((48, 0, 1, 80))) == pytest.approx(75.0)
    # Disjoint pitch classes: 0 %.
    assert symbolic.pitch_class_similarity(seq_of((61, 0, 1, 80)), seq_of((60, 0, 1, 80))) == 0.0


def test_corpus_histograms_are_pooled_by_duration() -> None:
    a = seq_of((60, 0, 3, 80))
    b = seq_of((62, 0, 1, 80))
    hist = symbolic.pitch_class_histogram([a, b])
    assert hist[0] == pytest.approx(0.75) and hist[2] == pytest.approx(0.25)


def test_durations_and_velocity_hand_computed() -> None:
    seq = seq_of((60, 0, 1, 40), (62, 1, 1.5, 80), (64, 2, 4.5, 120))
    # Durations 1, 0.5, 2.5: mean 4/3, population variance ((1-4/3)^2 + (0.5-4/3)^2 + (2.5-4/3)^2) / 3.
    mean = 4 / 3
    var = ((1 - mean) ** 2 + (0.5 - mean) ** 2 + (2.5 - mean) ** 2) / 3
    assert symbolic.avg_note_duration(seq) == pytest.approx(mean)
    assert symbolic.note_duration_variance(seq) == pytest.approx(var)
    assert symbolic.velocity_mean(seq) == pytest.approx(80.0)
    assert symbolic.velocity_std(seq) == pytest.approx(math.sqrt((40**2 + 0 + 40**2) / 3))


def test_extras_hand_computed() -> None:
    assert symbolic.polyphony(seq_of((60, 0, 2, 80), (64, 1, 3, 80))) == pytest.approx(4 / 3)
    # A gap does not count: notes [0,1] and [2,3] have polyphony 1.
    assert symbolic.polyphony(seq_of((60, 0, 1, 80), (64, 2, 3, 80))) == pytest.approx(1.0)
    # C D E F# : three of four fit C major (and G major holds all four).
    assert symbolic.scale_consistency(seq_of((60, 0, 1, 80), (62, 1, 2, 80), (64, 2, 3, 80), (66, 3, 4, 80))) == 100.0
    # C C# D: at most two of three pitch classes in any major scale.
    assert symbolic.scale_consistency(seq_of((60, 0, 1, 80), (61, 1, 2, 80), (62, 2, 3, 80))) == pytest.approx(
        200 / 3
    )
    assert symbolic.note_density(seq_of((60, 1, 2, 80), (64, 2, 3, 80))) == pytest.approx(1.0)
    assert symbolic.pitch_range(seq_of((40, 0, 1, 80), (64, 0, 1, 80))) == 24


def test_compute_metrics_names_are_stable_and_nan_when_undefined() -> None:
    seq = metronome()
    m = compute_metrics(seq)
    assert tuple(m) == METRIC_NAMES
    for name in ("pitch_class_similarity", "harmonic_consistency", "chord_transition_accuracy"):
        assert math.isnan(m[name])
    with_ref = compute_metrics(seq, reference=seq)
    assert with_ref["pitch_class_similarity"] == pytest.approx(100.0)
    empty = compute_metrics(NoteSequence())
    assert tuple(empty) == METRIC_NAMES and empty["note_count"] == 0.0
    assert math.isnan(empty["avg_note_duration"])


def test_every_metric_is_defined_for_readers() -> None:
    from musestudio.metrics import METRICS

    assert all(info.definition and info.label for info in METRICS.values())
