"""The beat tracker's training data: the steady (played-to-a-click) and quantized variants of a take."""

from __future__ import annotations

import dataclasses

import numpy as np

from training.data.beats import (
    SLOW_COMPOUND_BEAT,
    Annotated,
    half_note_beats,
    slow_compound_beats,
    split_half_beats,
    split_slow_compound,
)
from training.tasks.beats import augment, steady_warp


def rubato_take(n_beats: int = 24) -> Annotated:
    """A take whose beats drift from 0.5 s to 0.7 s apart, one note on each beat and one after each."""
    ioi = np.linspace(0.5, 0.7, n_beats - 1)
    beats = 0.3 + np.concatenate([[0.0], np.cumsum(ioi)])
    half = beats[:-1] + 0.37 * ioi
    start = np.sort(np.concatenate([beats, half]))
    return Annotated(name="x.mid", piece="x", pitch=np.full(len(start), 60, np.int16), start=start,
                     end=start + 0.2, velocity=np.full(len(start), 64, np.int16), beats=beats,
                     downbeats=beats[::4], time_signature="4/4", beats_per_bar=4, ternary=False, key_sharps=0)


def test_steady_warp_puts_the_beats_on_a_constant_grid_and_the_notes_with_them() -> None:
    it = rubato_take()
    s, e, b, d = steady_warp(it.start, it.end, it.beats, it.downbeats)
    assert np.ptp(np.diff(b)) < 1e-9 and np.diff(b)[0] == np.median(np.diff(it.beats))
    assert np.allclose(np.intersect1d(np.round(s, 9), np.round(b, 9)), np.round(b, 9))  # on-beat notes stay on
    assert np.allclose(d, b[::4])
    assert (e > s).all() and s.min() >= 0
    # the note after each beat keeps its place within the beat (37 %)
    off = s[~np.isin(np.round(s, 9), np.round(b, 9))]
    assert np.allclose((off - b[:-1]) / np.diff(b), 0.37)


def test_quantize_snaps_onsets_to_the_steps_of_the_beat() -> None:
    it = rubato_take()
    s, e, b, _ = steady_warp(it.start, it.end, it.beats, it.downbeats, quantize=4)
    step = (b[1] - b[0]) / 4
    pos = (s - b[0]) / step
    assert np.allclose(pos, np.rint(pos))
    assert np.allclose((e - s) / step, np.rint((e - s) / step)) and ((e - s) >= step - 1e-9).all()


def test_augment_keeps_notes_and_beats_consistent() -> None:
    it = rubato_take()
    for seed in range(30):
        pitch, start, end, vel, beats, downs = augment(it, np.random.default_rng(seed))
        assert len(pitch) == len(start) == len(end) == len(vel)
        assert (end > start).all() and (start >= 0).all()
        assert np.all(np.diff(beats) > 0) and np.isin(np.round(downs, 6), np.round(beats, 6)).all()


def test_synthetic_patterns_have_an_onset_on_every_beat_and_bars_on_downbeats() -> None:
    from training.data.patterns import patterns

    for it in patterns(40, seed=3):
        assert it.piece == "synthetic" and it.quantized
        assert np.all(np.diff(it.beats) > 0) and np.ptp(np.diff(it.beats)) < 1e-9  # steady
        assert np.isin(it.downbeats, it.beats).all()
        bars = np.diff(np.searchsorted(it.beats, it.downbeats))
        assert (bars == it.beats_per_bar).all()
        gap = np.abs(it.start[None, :] - it.beats[:, None]).min(axis=1)
        assert gap.max() < 0.05, it.name  # the melody or the accompaniment sounds every beat
        assert (it.end > it.start).all() and it.pitch.min() >= 21 and it.pitch.max() <= 108


def test_synthetic_patterns_get_their_share_of_training_windows() -> None:
    from training.data.patterns import patterns
    from training.tasks.beats import SYNTHETIC_SHARE, BeatWindows

    items = [rubato_take(200)] * 5 + patterns(10, seed=1)
    ds = BeatWindows(items, window=100, length=4)
    share = ds.weights[[it.piece == "synthetic" for it in items]].sum()
    assert abs(share - SYNTHETIC_SHARE) < 1e-9
    # --synthetic-share sets it per run
    wide = BeatWindows(items, window=100, length=4, synthetic_share=0.35)
    assert abs(wide.weights[[it.piece == "synthetic" for it in items]].sum() - 0.35) < 1e-9


def test_synthetic_patterns_include_held_basses_and_the_pulse_figure() -> None:
    from training.data.patterns import patterns

    items = patterns(120, seed=5)
    assert any(it.name.endswith("_pulse.mid") for it in items)
    # a held bass: in oom-pah and pulse phrases an unheld bass lasts at most one beat, a held one up to a bar
    held = 0
    for it in items:
        if it.name.endswith(("_oompah.mid", "_pulse.mid")):
            ioi = float(np.median(np.diff(it.beats)))
            held += bool(np.any((it.end - it.start)[it.pitch < 60] > 1.2 * ioi))
    assert held > 0


def _annotated(sig: str, beats_per_bar: int, ternary: bool = False) -> Annotated:
    beats = 0.5 + 0.8 * np.arange(9)
    return Annotated(name="x.mid", piece="p", pitch=np.array([60, 64]), start=np.array([0.5, 1.3]),
                     end=np.array([1.0, 2.0]), velocity=np.array([64, 64]), beats=beats,
                     downbeats=beats[::beats_per_bar], time_signature=sig, beats_per_bar=beats_per_bar,
                     ternary=ternary, key_sharps=0)


def test_half_note_beats_are_split_to_quarters_and_other_meters_are_left_alone() -> None:
    cut = split_half_beats(_annotated("2/2", 2))
    assert len(cut.beats) == 17 and cut.beats_per_bar == 4
    np.testing.assert_allclose(np.diff(cut.beats), 0.4)
    np.testing.assert_array_equal(cut.downbeats, _annotated("2/2", 2).downbeats)  # bars do not move
    assert half_note_beats(_annotated("4/4", 2)) and half_note_beats(_annotated("3/2", 3))
    for sig, per_bar, ternary in (("4/4", 4, False), ("3/4", 3, False), ("6/8", 2, True), ("12/8", 4, True)):
        item = _annotated(sig, per_bar, ternary)
        assert not half_note_beats(item)
        assert split_half_beats(item) is item


def test_slow_dotted_beats_are_split_in_three_and_brisk_ones_are_left_alone() -> None:
    beats = 0.5 + 1.5 * np.arange(9)  # dotted beats 1.5 s apart: a slow 6/8, counted in eighths
    slow = dataclasses.replace(_annotated("6/8", 2, ternary=True), beats=beats, downbeats=beats[::2])
    cut = split_slow_compound(slow)
    assert len(cut.beats) == 25 and cut.beats_per_bar == 6 and not cut.ternary
    np.testing.assert_allclose(np.diff(cut.beats), 0.5)
    np.testing.assert_array_equal(cut.downbeats, slow.downbeats)  # bars do not move
    brisk = _annotated("6/8", 2, ternary=True)  # dotted beats 0.8 s apart: counted in two
    assert float(np.median(np.diff(brisk.beats))) < SLOW_COMPOUND_BEAT
    assert not slow_compound_beats(brisk) and split_slow_compound(brisk) is brisk
    plain = dataclasses.replace(slow, ternary=False, time_signature="2/4")  # slow, but not compound
    assert split_slow_compound(plain) is plain


def test_swelling_patterns_breathe_keep_every_beat_sounded_and_leave_steady_draws_unchanged() -> None:
    from training.data.patterns import patterns

    steady, again = patterns(30, seed=9001), patterns(30, seed=9001, swell_share=0.0)
    assert all(np.array_equal(a.start, b.start) and np.array_equal(a.beats, b.beats) for a, b in zip(steady, again))
    swelling = patterns(30, seed=4, swell_share=1.0)
    spreads = []
    for it in swelling:
        ioi = np.diff(it.beats)
        spreads.append(ioi.max() / ioi.min())
        assert np.all(ioi > 0) and np.isin(it.downbeats, it.beats).all()
        assert (np.diff(np.searchsorted(it.beats, it.downbeats)) == it.beats_per_bar).all()
        gap = np.abs(it.start[None, :] - it.beats[:, None]).min(axis=1)
        assert gap.max() < 0.05, it.name  # the notes follow the breathing beat
        assert (it.end > it.start).all()
    # every one breathes (a ramp may be gentle), most by several per cent, none wildly
    assert min(spreads) > 1.0 + 1e-6 and np.median(spreads) > 1.05 and max(spreads) < 1.4
    half = patterns(200, seed=4, swell_share=0.5)
    breathing = sum(np.ptp(np.diff(it.beats)) > 1e-6 for it in half)
    assert 70 < breathing < 130


def test_scorecard_reads_validation_played_and_clicked_and_both_kinds_of_phrase(tmp_path) -> None:
    """The ship rules' numbers in one call, on a stand-in validation cache (no ASAP needed)."""
    from musestudio.ml.beats import default_checkpoint
    from training.beats_eval import scorecard
    from training.data.beats import CACHE_VERSION, _write_cache
    from training.data.patterns import patterns

    stand_in = [dataclasses.replace(it, piece="stand-in", quantized=False, key_sharps=0) for it in patterns(2, seed=11)]
    _write_cache(tmp_path / f"beats_validation_v{CACHE_VERSION}.npz", stand_in)
    card = scorecard(str(default_checkpoint()), cache=str(tmp_path), n_phrases=2)
    assert set(card) == {"validation", "steady", "phrases", "swelling_phrases"}
    for part in card.values():
        assert 0.0 <= part["beat_f"] <= 1.0 and 0.0 <= part["downbeat_f"] <= 1.0
    v = card["validation"]
    assert v["score"] == v["beat_f"] + 0.5 * v["downbeat_f"]


def test_meter_cv_scores_both_feature_sets_by_piece_on_stand_in_items() -> None:
    """The cross-validation that chose the 16 lag features runs without ASAP: phrases of 2, 3 and 4 beats
    a bar, ten pieces, through the shipped tracker."""
    from musestudio.ml.beats import default_checkpoint
    from training.beats_eval import meter_cv
    from training.data.patterns import patterns

    items = [dataclasses.replace(it, piece=f"p{i % 10}") for i, it in enumerate(patterns(30, seed=12))]
    report = meter_cv(str(default_checkpoint()), items=items)
    assert set(report) == {"9 features, l2 0.01", "9 features, l2 0.1", "25 features, l2 0.01", "25 features, l2 0.1"}
    kept = sum(it.beats_per_bar in (2, 3, 4) for it in items)
    for row in report.values():
        assert 0.0 <= row["balanced"] <= 1.0 and 0.0 <= row["accuracy"] <= 1.0 and 0 < row["items"] <= kept


def test_piece_folds_keep_each_piece_in_one_fold_and_use_every_fold() -> None:
    from training.beats_eval import piece_folds

    pieces = [f"p{i % 7}" for i in range(40)]
    fold = piece_folds(pieces, 3, seed=4)
    for p in set(pieces):
        assert len({int(f) for f, q in zip(fold, pieces) if q == p}) == 1
    assert sorted(set(fold.tolist())) == [0, 1, 2]
    assert np.array_equal(fold, piece_folds(list(reversed(pieces)), 3, seed=4)[::-1])  # order of rows is irrelevant
