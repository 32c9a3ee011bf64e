"""The metrical-level chooser of the beat decoder (musestudio.ml.beats: level_candidates, choose_level)."""

from __future__ import annotations

import dataclasses

import mir_eval
import numpy as np
import pytest

from musestudio.core.notes import Note, NoteSequence
from musestudio.ml import beats as bt

FPS = 50.0


def waltz_activations(bpm=97.0, bars=40, weak=0.4, seed=0):
    """A tracker's view of a plain waltz: beat 1 near certain, beats 2 and 3 at ``weak``."""
    rng = np.random.default_rng(seed)
    ioi = 60.0 / bpm
    beats = 0.6 + ioi * np.arange(3 * bars)
    n = int((beats[-1] + 1.0) * FPS)
    act = rng.uniform(0.0, 0.02, n)
    for k, t in enumerate(beats):
        f = int(round(t * FPS))
        h = 0.98 if k % 3 == 0 else weak
        act[f], act[f - 1], act[f + 1] = h, h / 2, h / 2
    notes = [Note(48 if k % 3 == 0 else 64, float(t), float(t) + 0.3, 80) for k, t in enumerate(beats)]
    return beats, act, NoteSequence(notes)


def tempo_prior_chooser(bpm=100.0):
    """A hand-set ranker: only -(log tempo / bpm)^2 counts, so the candidate nearest ``bpm`` wins."""
    n = bt.N_LEVEL_FEATURES
    w = np.zeros(n)
    # features 5 and 6 are lt = log(tempo / 100) and lt^2; -(lt - c)^2 = -lt^2 + 2c lt - c^2
    c = np.log(bpm / 100.0)
    w[5], w[6] = 2 * c, -1.0
    return {"mean": [0.0] * n, "scale": [1.0] * n, "weights": w.tolist()}


def test_free_chain_skips_weak_beats_and_a_candidate_finds_them():
    beats, act, seq = waltz_activations()
    onsets = np.unique([n.start for n in seq.notes])
    p = bt.DecodeParams()
    cands = bt.track_candidates(act, FPS, onsets, p)
    ratios = [r for r, _ in cands]
    assert ratios[0] == 1.0 and 3.0 in ratios
    free = cands[0][1]
    # the log-odds decoder counts the bars, not the beats (the failure the chooser exists for)
    assert 60.0 / np.median(np.diff(free)) == pytest.approx(97.0 / 3, rel=0.03)
    triple = dict(cands)[3.0]
    assert mir_eval.beat.f_measure(beats, triple) > 0.98


def test_chooser_picks_the_level_its_weights_prefer():
    beats, act, seq = waltz_activations()
    plain = bt.analysis_from_activations(seq, act, act * 0, FPS, bt.DecodeParams())
    assert mir_eval.beat.f_measure(beats, plain.beats) < 0.6
    p = bt.DecodeParams(level_chooser=tempo_prior_chooser(100.0))
    chosen = bt.analysis_from_activations(seq, act, act * 0, FPS, p)
    assert mir_eval.beat.f_measure(beats, chosen.beats) > 0.98
    assert chosen.median_bpm() == pytest.approx(97.0, rel=0.02)
    # a chooser that wants 30 beats a minute keeps the bars
    slow = bt.analysis_from_activations(seq, act, act * 0, FPS, bt.DecodeParams(level_chooser=tempo_prior_chooser(30.0)))
    assert slow.median_bpm() == pytest.approx(97.0 / 3, rel=0.03)


def test_level_features_see_a_chain_that_skips_beats():
    beats, act, seq = waltz_activations()
    onsets = np.unique([n.start for n in seq.notes])
    bars = bt.level_features(1.0, beats[::3], act, FPS, onsets)
    full = bt.level_features(3.0, beats, act, FPS, onsets)
    assert bars.shape == full.shape == (bt.N_LEVEL_FEATURES,)
    assert bars[0:5].tolist() == [0, 0, 1, 0, 0] and full[0:5].tolist() == [0, 0, 0, 0, 1]
    assert full[5] == pytest.approx(np.log(0.97), abs=0.01)  # log(tempo / 100)
    assert bars[7] > full[7]  # the bar chain sits on the strongest peaks only
    assert bars[9] == full[9] == 1.0  # both sit on notes
    assert bars[10] > full[10]  # more notes per beat when beats are bars


def test_decode_params_carry_the_level_chooser_through_config():
    ch = tempo_prior_chooser()
    p = bt.DecodeParams.from_dict({**dataclasses.asdict(bt.DecodeParams()), "level_chooser": ch})
    assert p.level_chooser == ch


def test_fit_ranker_learns_which_candidate_scores():
    from training.beats_eval import fit_ranker

    rng = np.random.default_rng(0)
    data = []
    for _ in range(200):
        c = int(rng.integers(2, 5))
        x = rng.normal(size=(c, 3))
        f = (x[:, 1] == x[:, 1].max()).astype(float)  # the candidate with the largest feature 1 is right
        data.append((x, f))
    ranker = fit_ranker(data, steps=400)
    w = np.asarray(ranker["weights"])
    assert w[1] > 2 * max(abs(w[0]), abs(w[2]))
    x = (np.array([[0.0, -1, 0], [0, 2, 0], [0, 0.5, 0]]) - ranker["mean"]) / np.asarray(ranker["scale"])
    assert int(np.argmax(x @ w)) == 1
