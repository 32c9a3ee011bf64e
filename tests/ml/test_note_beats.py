"""The note-level beat network and its blend into the beat tracker (musestudio.ml.note_beats)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from musestudio.ml import note_beats as nb
from musestudio.ml.beats import run_activations
from musestudio.ml.models.beat_tracker import BeatTrackerConfig, BeatTrackerModel
from musestudio.ml.models.note_beat import N_NOTE_FEATURES, NoteBeatConfig, NoteBeatModel

TINY_NOTE = {"channels": 8, "conv_layers": 1, "hidden": 8, "gru_layers": 1}


def _notes(seconds: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = int(seconds * 3)
    start = np.sort(rng.uniform(0, seconds, n))
    return rng.integers(40, 90, n), start, start + 0.3, rng.integers(30, 100, n).astype(np.float64)


def test_chords_group_onsets_within_35_ms() -> None:
    start = np.array([0.0, 0.01, 0.03, 0.5, 0.52, 0.6])
    assert nb.chord_ids(start).tolist() == [0, 0, 0, 1, 1, 2]


def test_features_describe_chords_and_gaps() -> None:
    pitch = np.array([48, 60, 64, 62])
    start = np.array([0.0, 0.0, 0.01, 0.5])
    f = nb.note_event_features(pitch, start, start + 0.25, np.array([80.0, 60, 60, 70]))
    assert f.shape == (4, N_NOTE_FEATURES) and f.dtype == np.float32
    assert f[:3, 7].tolist() == [1.0, 0.0, 0.0]  # lowest of its chord
    assert f[:3, 8].tolist() == [0.0, 0.0, 1.0]  # highest
    assert f[0, 2] == f[1, 2] == f[2, 2] > 0  # the gap to the next chord, shared by the chord
    assert f[3, 1] == pytest.approx(np.log1p(0.5 / 0.02) / 6.0, rel=1e-5)  # the gap from the previous chord
    assert np.isfinite(f).all()


def test_targets_mark_notes_on_beats() -> None:
    start = np.array([0.0, 0.26, 0.5, 0.53, 0.75, 1.2])
    beat, down, mask = nb.note_targets(start, np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0]))
    assert beat.tolist() == [1, 0, 1, 1, 0, 0]
    assert down.tolist() == [1, 0, 0, 0, 0, 0]
    assert mask.tolist() == [1, 1, 1, 1, 1, 0]  # 1.2 s lies past the last beat's margin


def test_frame_activations_take_each_frames_highest_note() -> None:
    fb, fd = nb.note_frame_activations(np.array([0.0, 0.01, 0.5]), np.array([0.2, 0.9, 0.4]),
                                       np.array([0.1, 0.3, 0.8]), 20, 25.0)
    assert fb[0] == pytest.approx(0.9) and fb[13] == pytest.approx(0.4)
    assert fd[0] == pytest.approx(0.3) and fd[13] == pytest.approx(0.8)
    assert fb.sum() == pytest.approx(1.3)


def test_windowed_inference_matches_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = NoteBeatModel(NoteBeatConfig(**TINY_NOTE)).eval()
    pitch, start, end, vel = _notes(200, seed=2)
    feats = nb.note_event_features(pitch, start, end, vel)
    whole_b, whole_d = nb.run_note_network(model, feats)
    monkeypatch.setattr(nb, "INFER_NOTES", 200)
    monkeypatch.setattr(nb, "INFER_OVERLAP", 60)
    part_b, part_d = nb.run_note_network(model, feats)
    # A GRU forgets: 60 notes of context on each side give the same probabilities to within 1e-3.
    np.testing.assert_allclose(part_b, whole_b, atol=1e-3)
    np.testing.assert_allclose(part_d, whole_d, atol=1e-3)


def _tracker(weight: float) -> BeatTrackerModel:
    torch.manual_seed(1)
    cfg = BeatTrackerConfig(channels=8, dilations=(1, 2, 4), note_network=TINY_NOTE,
                            note_beat_weight=weight, note_downbeat_weight=weight)
    return BeatTrackerModel(cfg).eval()


def test_blend_weight_zero_is_the_tcn_and_one_is_the_notes() -> None:
    arrays = _notes(60)
    n = 60 * 25
    plain = BeatTrackerModel(dataclasses.replace(_tracker(0.0).config, note_network=None)).eval()
    zero, one = _tracker(0.0), _tracker(1.0)
    plain.load_state_dict({k: v for k, v in zero.state_dict().items() if not k.startswith("note.")})
    b0, d0 = run_activations(plain, arrays, n)
    bz, dz = run_activations(zero, arrays, n)
    np.testing.assert_allclose(bz, b0, atol=1e-6)
    np.testing.assert_allclose(dz, d0, atol=1e-6)
    b1, _ = run_activations(one, arrays, n)
    on_frames = np.unique(np.floor(arrays[1] * 25 + 0.5).astype(int))
    assert (b1[on_frames] > 0).all()
    assert np.count_nonzero(b1) == len(on_frames)  # only frames where a note starts carry note evidence


@pytest.mark.parametrize("bad", [{"note_beat_weight": 1.5}, {"note_downbeat_weight": -0.1}, {"members": 2},
                                 {"note_beat_weight": True}])
def test_bad_note_blend_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        BeatTrackerConfig(note_network=TINY_NOTE, **bad)
