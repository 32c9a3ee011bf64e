"""Bars and beats of the ruler and grid from the project's tempo map and ALL its time signatures."""

from __future__ import annotations

import pytest

from musestudio.core.timing import TempoChange, TempoMap, TimeSignature
from musestudio.gui.pianoroll.axes import bar_beat_at, beat_times


def test_one_signature_at_120_qpm():
    bars, beats = beat_times(TempoMap.constant(120), TimeSignature(0.0, 4, 4), 0.0, 4.0, 100)
    assert bars == [(0.0, 1), (2.0, 2), (4.0, 3)]
    assert beats == [0.5, 1.0, 1.5, 2.5, 3.0, 3.5]


def test_a_metre_change_moves_the_bar_lines():
    sigs = [TimeSignature(0.0, 4, 4), TimeSignature(4.0, 3, 4), TimeSignature(7.0, 6, 8)]
    bars, _ = beat_times(TempoMap.constant(120), sigs, 0.0, 12.0, 100)
    # 4/4 bars of 2 s until 4 s, 3/4 bars of 1.5 s until 7 s, then 6/8 bars of 1.5 s
    assert bars == [(0.0, 1), (2.0, 2), (4.0, 3), (5.5, 4), (7.0, 5), (8.5, 6), (10.0, 7), (11.5, 8)]
    assert bar_beat_at(TempoMap.constant(120), sigs, 6.0) == (4, pytest.approx(2.0))
    assert bar_beat_at(TempoMap.constant(120), sigs, 7.75)[0] == 5


def test_tempo_changes_and_thinning():
    tm = TempoMap(480, [TempoChange(0, 500_000), TempoChange(480 * 8, 1_000_000)])  # 120 qpm, then 60 after 2 bars
    bars, _ = beat_times(tm, [TimeSignature(0.0, 4, 4)], 0.0, 12.0, 100)
    assert [t for t, _ in bars] == [0.0, 2.0, 4.0, 8.0, 12.0]
    few, beats = beat_times(TempoMap.constant(120), TimeSignature(0.0), 0.0, 400.0, 10)
    assert len(few) <= 11 and beats == []  # zoomed out: every 2^k-th bar, no beat lines
    assert all((n - 1) % 32 == 0 for _, n in few)
