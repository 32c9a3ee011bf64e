"""The decoder's note-end read-out: its candidate ends and features on hand-built activations, that a model
preferring the pedal's release is the shipped sustain rule and one preferring the key release is
--key-release-offsets, that it applies only with sustained offsets, the pedal and key energies, and that a bad
model in config.json is refused with a clear one-line error."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from musestudio.ml.activations import Activations
from musestudio.ml.decode import (
    NOTE_END_CANDIDATES,
    NOTE_END_FEATURES,
    DecodeSettings,
    decode,
    decode_pedal,
    note_end_candidates,
)

FPS = 31.25
N = len(NOTE_END_FEATURES)
CAND = {name: i for i, name in enumerate(NOTE_END_CANDIDATES)}
COL = {name: i for i, name in enumerate(NOTE_END_FEATURES)}


def scene() -> Activations:
    """C4 struck at frame 10: the frame head holds it at 0.9 to frame 20, then 0.6 to 25, 0.3 to 30 and 0.15 to 40
    (a decaying tail); the offset head rises to 0.6 at frame 22; the pedal is down from frame 15 to 60; C4 is struck
    again at frame 80.  E4 at frame 100, no pedal, frame head 0.9 to frame 110."""
    n = 160
    onset, frame, offset, velocity = (np.zeros((n, 88), np.float32) for _ in range(4))
    energy = np.full((n, 88), -110.0, np.float32)
    c4, e4 = 60 - 21, 64 - 21
    onset[10, c4], onset[80, c4], onset[100, e4] = 0.95, 0.95, 0.95
    frame[10:20, c4], frame[20:25, c4], frame[25:30, c4], frame[30:40, c4] = 0.9, 0.6, 0.3, 0.15
    frame[80:90, c4], frame[100:110, e4] = 0.9, 0.9
    offset[22, c4] = 0.6
    velocity[10, c4] = velocity[80, c4] = velocity[100, e4] = 0.5
    energy[10:40, c4] = np.linspace(-40, -70, 30)
    energy[80:90, c4] = energy[100:110, e4] = -45.0
    pedal = np.zeros(n, np.float32)
    pedal[15:60] = 0.9
    return Activations(onset, frame, offset, velocity, pedal, FPS, level=np.full(n, -30.0, np.float32),
                       key_energy=energy)


def prefer(candidate: str) -> dict:
    """A one-member, one-layer model whose score is the one-hot of ``candidate``."""
    w = [[1.0 if name == f"is_{candidate}" else 0.0] for name in NOTE_END_FEATURES]
    return {"kind": "mlp", "mean": [0.0] * N, "scale": [1.0] * N, "members": [[[w, [0.0]]]]}


def released(a: Activations, s: DecodeSettings) -> list:
    return decode(a, dataclasses.replace(s, sustain_offsets=False)).notes


def test_candidates_lie_where_the_heads_cross_and_the_pedal_lifts() -> None:
    a, s = scene(), DecodeSettings(frame_threshold=0.5, offset_threshold=1.0)
    notes = released(a, s)
    assert [(n.pitch, round(n.start * FPS)) for n in notes] == [(60, 10), (60, 80), (64, 100)]
    ends, x = note_end_candidates(notes, a, decode_pedal(a.pedal, FPS, s))
    assert ends.shape == (3, len(NOTE_END_CANDIDATES)) and x.shape == (3, len(NOTE_END_CANDIDATES), N)
    first = {name: ends[0, i] * FPS for name, i in CAND.items()}
    assert first["released"] == pytest.approx(notes[0].end * FPS)  # the decoder's own key release (~25)
    assert first["frame_below_0.5"] == pytest.approx(25) and first["frame_below_0.7"] == pytest.approx(20)
    assert first["frame_below_0.2"] == pytest.approx(30) and first["frame_below_0.1"] == pytest.approx(40)
    assert first["offset_above_0.5"] == pytest.approx(22) and first["offset_above_0.2"] == pytest.approx(22)
    assert first["pedalled"] == pytest.approx(60) and first["frame_below_0.7_pedalled"] == pytest.approx(60)
    assert first["next_onset"] == pytest.approx(80)
    assert ends[0, CAND["frame_below_0.1_pedalled"]] * FPS == pytest.approx(60)  # frame 40 is under the pedal
    # E4, no pedal: pedalled ends are the plain ones; nothing runs past the end of the file
    assert ends[2, CAND["pedalled"]] == pytest.approx(notes[2].end)
    for name in ("frame_below_0.1", "frame_below_0.5", "offset_above_0.5"):
        assert ends[2, CAND[f"{name}_pedalled"]] == ends[2, CAND[name]]
    assert np.all(ends[2] <= 160 / FPS) and np.all(ends >= np.array([n.start for n in notes])[:, None] + 0.03)
    assert x[0, 0, COL["pedal_down_at_release"]] == 1.0 and x[2, 0, COL["pedal_down_at_release"]] == 0.0
    assert x[0, CAND["next_onset"], COL["log_duration"]] == pytest.approx(np.log(70 / FPS))
    assert x[0, 0, COL["key_drop_at_release_db"]] > 0  # the key has decayed by the release
    # legato cues: the next onset of any key, of a neighbouring key (E4 is 4 semitones above C4), and each candidate's
    # signed distance to the nearest onset
    assert x[1, 0, COL["log_to_next_any_onset"]] == pytest.approx(np.log(20 / FPS))
    assert x[1, 0, COL["log_to_next_neighbour_onset"]] == pytest.approx(np.log(20 / FPS))
    assert x[0, 0, COL["log_to_next_neighbour_onset"]] == pytest.approx(np.log(90 / FPS))  # E4, not the C4 again
    assert x[2, 0, COL["log_to_next_neighbour_onset"]] == pytest.approx(np.log(60 / FPS))  # none: the end of the file
    assert x[0, CAND["next_onset"], COL["to_nearest_onset"]] == pytest.approx(0.0)
    assert x[1, CAND["released"], COL["to_next_neighbour_onset"]] == pytest.approx(100 / FPS - ends[1, 0])
    assert x[0, CAND["frame_below_0.5"], COL["frame_fall"]] == pytest.approx(0.6 - 0.3)  # frames 24 -> 26
    assert np.isfinite(x).all()
    assert x[1, CAND["pedalled"], COL["is_pedalled"]] == 1.0 and x[1, CAND["pedalled"], COL["is_released"]] == 0.0


def test_a_model_preferring_the_pedal_is_the_sustain_rule_and_one_preferring_the_key_is_key_release() -> None:
    a, s = scene(), DecodeSettings(offset_threshold=1.0)
    sustain = decode(a, s)
    key_release = decode(a, dataclasses.replace(s, sustain_offsets=False))
    assert sustain.notes != key_release.notes  # the pedal holds the first C4
    pedal_model = decode(a, dataclasses.replace(s, note_end_model=prefer("pedalled")))
    assert [n.pitch for n in pedal_model.notes] == [n.pitch for n in sustain.notes]
    np.testing.assert_allclose([(n.start, n.end) for n in pedal_model.notes], [(n.start, n.end) for n in sustain.notes])
    key_model = decode(a, dataclasses.replace(s, note_end_model=prefer("released")))
    assert key_model.notes == key_release.notes
    assert key_model.pedals == sustain.pedals  # the CC64 events are written either way
    tail = decode(a, dataclasses.replace(s, note_end_model=prefer("frame_below_0.1")))
    assert tail.notes[0].end * FPS == pytest.approx(40)


def test_the_end_model_applies_only_with_sustained_offsets_the_pedal_and_key_energies() -> None:
    a, s = scene(), DecodeSettings(offset_threshold=1.0)
    model = prefer("frame_below_0.1")
    for off in ({"sustain_offsets": False}, {"use_pedal": False}):
        plain = dataclasses.replace(s, **off)
        assert decode(a, dataclasses.replace(plain, note_end_model=model)) == decode(a, plain)
    bare = dataclasses.replace(a, key_energy=None)
    assert decode(bare, dataclasses.replace(s, note_end_model=model)) == decode(bare, s)
    empty = dataclasses.replace(a, onset=np.zeros_like(a.onset))
    assert decode(empty, dataclasses.replace(s, note_end_model=model)).notes == []


def _checkpoint(tmp_path: Path, model: object) -> Path:
    from tests.training.stub_transcriber import tiny_transcriber

    return tiny_transcriber(tmp_path / f"ck{len(list(tmp_path.iterdir()))}", {"note_end_model": model})


def test_config_validation(tmp_path: Path) -> None:
    from musestudio.core.errors import ModelError
    from musestudio.ml.transcribe import decode_defaults

    good = prefer("pedalled")
    assert decode_defaults(_checkpoint(tmp_path, good)).note_end_model == good
    assert decode_defaults(_checkpoint(tmp_path, None)).note_end_model is None
    broken = {
        "kind": {**good, "kind": "linear"},
        "mean": {**good, "mean": [0.0] * (N - 1)},
        "scale": {**good, "scale": [-1.0] * N},
        "members": {**good, "members": [[[[[1.0]] * (N - 1), [0.0]]]]},  # a layer reading one feature too few
        "object": "pedal",
    }
    for name, bad in broken.items():
        with pytest.raises(ModelError, match=r"decode\.note_end_model") as err:
            decode_defaults(_checkpoint(tmp_path, bad))
        assert name in str(err.value) or (name == "members" and "chain" in str(err.value))
        assert "\n" not in str(err.value)
    meta = json.loads((_checkpoint(tmp_path, good) / "config.json").read_text())
    assert meta["decode"]["note_end_model"]["kind"] == "mlp"


def test_the_split_scoring_is_the_read_out_on_joined_rows() -> None:
    """note_end_scores computes the first layer in parts, in float32, for speed; velocity_model_output on the joined
    rows (what fit_mlp was trained on) is its specification."""
    from musestudio.ml.decode import _note_end_parts, note_end_scores, velocity_model_output

    a, s = scene(), DecodeSettings(offset_threshold=1.0)
    notes = released(a, s)
    pedals = decode_pedal(a.pedal, FPS, s)
    _, x = note_end_candidates(notes, a, pedals)
    _, note_x, cand_x = _note_end_parts(notes, a, pedals)
    rng = np.random.default_rng(5)
    model = {"kind": "mlp", "mean": rng.normal(size=N).tolist(), "scale": rng.uniform(0.5, 2, N).tolist(),
             "members": [[[rng.normal(size=(N, 16)).tolist(), rng.normal(size=16).tolist()],
                          [rng.normal(size=(16, 8)).tolist(), rng.normal(size=8).tolist()],
                          [rng.normal(size=(8, 1)).tolist(), [0.3]]] for _ in range(2)]}
    m, c, g = x.shape
    expected = velocity_model_output(model, x.reshape(m * c, g)).reshape(m, c)
    np.testing.assert_allclose(note_end_scores(model, note_x, cand_x), expected, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="features"):
        note_end_scores({**model, "mean": model["mean"][:-1]}, note_x, cand_x)


def test_float16_heads_are_compared_as_their_float32_values() -> None:
    """_at_or_above compares float16 heads by their bits, for speed; converting to float32 first is its
    specification (NaN reads as 0, negative values are below every threshold)."""
    from musestudio.ml.decode import END_FRAME_THRESHOLDS, END_OFFSET_THRESHOLDS, _at_or_above

    rng = np.random.default_rng(11)
    head = rng.random(5000).astype(np.float16)
    special = [np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, -0.3, 1.0]
    exact = [np.float16(t) for t in (*END_FRAME_THRESHOLDS, *END_OFFSET_THRESHOLDS)]
    near = [np.nextafter(e, np.float16(1)) for e in exact] + [np.nextafter(e, np.float16(0)) for e in exact]
    head[: len(special) + 2 * len(exact) + len(near)] = np.array(special + exact + exact + near, np.float16)
    for t in (*END_FRAME_THRESHOLDS, *END_OFFSET_THRESHOLDS, 0.3, 1.0):
        expected = np.nan_to_num(head.astype(np.float32), nan=0.0) >= t
        np.testing.assert_array_equal(_at_or_above(head, t), expected)
        np.testing.assert_array_equal(_at_or_above(head.astype(np.float32), t), expected)
