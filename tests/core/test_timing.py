from fractions import Fraction

import numpy as np
import pytest

from musestudio.core.timing import TempoChange, TempoMap, qpm_to_us


def variable_map() -> TempoMap:
    # 480 PPQ: 120 qpm, then 60 qpm from beat 4, then 90 qpm from beat 6.
    return TempoMap(480, [TempoChange(0, 500_000), TempoChange(1920, 1_000_000), TempoChange(2880, qpm_to_us(90))])


def test_default_tempo_is_120_qpm():
    tm = TempoMap()
    assert tm.initial_qpm == pytest.approx(120.0)
    assert tm.tick_to_seconds(480) == pytest.approx(0.5)


def test_piecewise_conversion_is_exact():
    tm = variable_map()
    assert tm.tick_to_seconds_exact(1920) == Fraction(2)
    # 4 beats at 120 qpm = 2 s, then 2 beats at 60 qpm = 2 s more.
    assert tm.tick_to_seconds_exact(2880) == Fraction(4)
    assert tm.tick_to_seconds_exact(3360) == Fraction(4) + Fraction(qpm_to_us(90), 1_000_000)


@pytest.mark.parametrize("tick", [0, 1, 479, 480, 1919, 1920, 1921, 2879, 2880, 5000, 123_457])
def test_tick_seconds_tick_round_trip(tick):
    tm = variable_map()
    assert tm.seconds_to_tick(tm.tick_to_seconds(tick)) == tick


def test_beats_round_trip():
    tm = variable_map()
    for beats in [0, 0.25, 3.75, 4.0, 5.5, 6.0, 10.125]:
        assert tm.seconds_to_beats(tm.beats_to_seconds(beats)) == pytest.approx(beats, abs=1e-12)
    assert tm.beats_to_seconds(4) == pytest.approx(2.0)
    assert tm.beats_to_seconds(6) == pytest.approx(4.0)
    assert tm.beats_to_seconds(7) == pytest.approx(4.0 + 2 / 3, abs=1e-6)


def test_vectorised_conversions_match_scalar():
    tm = variable_map()
    ticks = np.array([0, 100, 1920, 2000, 2880, 9999])
    secs = tm.ticks_to_seconds_array(ticks)
    assert secs == pytest.approx([tm.tick_to_seconds(int(t)) for t in ticks])
    assert list(tm.seconds_to_ticks_array(secs)) == list(ticks)


def test_invalid_tempo_rejected():
    with pytest.raises(ValueError):
        TempoMap(480, [TempoChange(0, 0)])
    with pytest.raises(ValueError):
        TempoMap(0)
    with pytest.raises(ValueError):
        qpm_to_us(0)
