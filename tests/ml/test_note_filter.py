"""The decoder's note-candidate filter: its features on hand-built activations, that a filter keeping every
candidate is plain decoding, that one taught to distrust partials drops a harmonic false alarm, and that a
bad filter in config.json is refused with a clear error."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from musestudio.ml.activations import Activations
from musestudio.ml.decode import (
    EXTRA_FILTER_FEATURES,
    NOTE_FILTER_FEATURES,
    DecodeSettings,
    decode,
    note_filter_features,
    onset_candidates,
)

FPS = 31.25
N = len(NOTE_FILTER_FEATURES)
COL = {name: i for i, name in enumerate((*NOTE_FILTER_FEATURES, *EXTRA_FILTER_FEATURES))}


def grid(frames: int = 200) -> dict[str, np.ndarray]:
    z = np.zeros((frames, 88), np.float32)
    return {"onset": z.copy(), "frame": z.copy(), "offset": z.copy(), "velocity": z.copy(),
            "energy": np.full((frames, 88), -110.0, np.float32)}


def put(a: dict[str, np.ndarray], pitch: int, start: int, end: int, peak: float, db: float) -> None:
    k = pitch - 21
    a["onset"][start, k] = peak
    a["frame"][start:end, k] = 0.8
    a["offset"][end, k] = 0.95
    a["velocity"][start, k] = 0.6
    a["energy"][start:end, k] = db


def acts(a: dict[str, np.ndarray], *, energy: bool = True) -> Activations:
    n = len(a["onset"])
    return Activations(a["onset"], a["frame"], a["offset"], a["velocity"], np.zeros(n, np.float32), FPS,
                       level=np.full(n, -30.0, np.float32), key_energy=a["energy"] if energy else None)


def one_layer(weights: dict[str, float], bias: float) -> dict:
    """A filter whose logit is bias + sum(weights[f] * feature f) (mean 0, scale 1: a logistic member)."""
    w = [[weights.get(name, 0.0)] for name in NOTE_FILTER_FEATURES]
    return {"kind": "mlp", "mean": [0.0] * N, "scale": [1.0] * N, "members": [[[w, [bias]]]]}


def scene() -> dict[str, np.ndarray]:
    """C3 struck loud at frame 20 with its octave C4 lighting up weakly a frame later (a partial), E4 played
    softly at frame 60 (a weak but real onset), and C3 again at frame 100 and 104 (a repeat, then a double)."""
    a = grid()
    put(a, 48, 20, 50, 0.95, -40.0)
    put(a, 60, 21, 45, 0.5, -62.0)
    put(a, 64, 60, 80, 0.5, -55.0)
    put(a, 48, 100, 130, 0.9, -42.0)
    a["onset"][104, 48 - 21] = 0.45
    return a


def test_features_read_the_partial_the_repeat_and_the_duration() -> None:
    a = scene()
    frames, keys = onset_candidates(a["onset"], a["frame"], DecodeSettings(onset_threshold=0.4, repeat_threshold=None,
                                                                            harmonic_threshold=None))
    assert sorted(zip(frames.tolist(), (keys + 21).tolist())) == [(20, 48), (21, 60), (60, 64), (100, 48), (104, 48)]
    x = note_filter_features(acts(a), frames, keys, frame_threshold=0.5)
    assert x.shape == (5, N)
    row = {(int(f), int(k) + 21): x[i] for i, (f, k) in enumerate(zip(frames, keys, strict=True))}
    c4, e4, c3, again, double = row[(21, 60)], row[(60, 64)], row[(20, 48)], row[(100, 48)], row[(104, 48)]
    assert c4[COL["onset_peak"]] == pytest.approx(0.5) and c3[COL["onset_peak"]] == pytest.approx(0.95)
    # the octave below started within two frames, 22 dB louder: what a partial looks like
    assert c4[COL["lower12_onset"]] == pytest.approx(0.95) and c4[COL["lower12_db"]] == pytest.approx(22.0)
    assert e4[COL["lower12_onset"]] == 0.0 and e4[COL["lower12_db"]] == pytest.approx(-55.0)  # silent key below
    assert c3[COL["key_below_loudest_db"]] == 0.0 and c4[COL["key_below_loudest_db"]] == pytest.approx(-22.0)
    assert c3[COL["key_rise_db"]] == pytest.approx(70.0)  # from the -110 dB floor
    assert c3[COL["log_simultaneous"]] == pytest.approx(np.log1p(1)) and e4[COL["log_simultaneous"]] == 0.0
    # duration: frames after the onset the frame head holds, cut by the key's next candidate
    assert c3[COL["log_duration"]] == pytest.approx(np.log1p(29))
    assert again[COL["log_duration"]] == pytest.approx(np.log1p(3))
    assert again[COL["log_since_same_key"]] == pytest.approx(np.log1p(80))
    assert again[COL["same_key_prev_onset"]] == pytest.approx(0.95)
    assert double[COL["frame_held_before"]] == pytest.approx(0.8) and c3[COL["frame_held_before"]] == 0.0
    assert c3[COL["register"]] == pytest.approx((48 - 21 - 44) / 44)
    # energies are relative to the file: a recording 30 dB quieter gives the same features
    quiet = acts(a)
    quiet.key_energy = a["energy"] - 30.0
    quiet.level = quiet.level - 30.0
    assert np.allclose(note_filter_features(quiet, frames, keys, 0.5), x)
    assert note_filter_features(acts(a, energy=False), frames, keys, 0.5).shape == (5, N)


def test_extended_features_read_the_decay_the_partials_above_and_the_neighbours() -> None:
    """The 16 EXTRA_FILTER_FEATURES follow the 27 unchanged: a struck key decays from its attack, its octave above
    lights up with it, a neighbouring key's onset and an earlier peak of the same key are seen."""
    a = scene()
    a["energy"][20:24, 48 - 21] = -30.0  # C3's attack, 10 dB over the rest of its note (-40 dB)
    a["onset"][58, 63 - 21] = 0.3  # D#4 lights up two frames before E4 (the network hedging between keys)
    frames, keys = onset_candidates(a["onset"], a["frame"], DecodeSettings(onset_threshold=0.4, repeat_threshold=None,
                                                                            harmonic_threshold=None))
    base = note_filter_features(acts(a), frames, keys, frame_threshold=0.5)
    x = note_filter_features(acts(a), frames, keys, frame_threshold=0.5, extended=True)
    assert x.shape == (5, N + len(EXTRA_FILTER_FEATURES)) and np.array_equal(x[:, :N], base)
    row = {(int(f), int(k) + 21): x[i] for i, (f, k) in enumerate(zip(frames, keys, strict=True))}
    c3, c4, e4, double = row[(20, 48)], row[(21, 60)], row[(60, 64)], row[(104, 48)]
    assert c3[COL["decay4_db"]] == pytest.approx(-10.0) and c3[COL["decay16_db"]] == pytest.approx(-10.0)
    assert c3[COL["upper12_onset"]] == pytest.approx(0.5)  # C4 started a frame after it
    assert c3[COL["upper12_db"]] == pytest.approx(-62.0 + 30.0)  # C4's energy against C3's attack
    assert c4[COL["upper12_onset"]] == 0.0 and c4[COL["upper12_db"]] == pytest.approx(-110.0 + 62.0)
    assert e4[COL["onset_key-1"]] == 0.0  # D#4's peak is two frames early: outside f-1..f+1
    a["onset"][59, 63 - 21] = 0.3
    moved = note_filter_features(acts(a), frames, keys, 0.5, extended=True)
    assert moved[list(zip(frames, keys + 21)).index((60, 64)), COL["onset_key-1"]] == pytest.approx(0.3)
    assert double[COL["onset_earlier"]] == pytest.approx(0.9) and c3[COL["onset_earlier"]] == 0.0
    assert e4[COL["frame_key+1"]] == 0.0 and e4[COL["frame_key-1"]] == 0.0
    # the top key reads 0 onset and -60 dB for partials off the keyboard
    top = grid()
    put(top, 108, 20, 40, 0.9, -40.0)
    f, k = onset_candidates(top["onset"], top["frame"], DecodeSettings(onset_threshold=0.4))
    xt = note_filter_features(acts(top), f, k, 0.5, extended=True)
    assert xt[0, COL["upper12_onset"]] == 0.0 and xt[0, COL["upper24_db"]] == -60.0 and xt[0, COL["onset_key+2"]] == 0.0
    assert note_filter_features(acts(a, energy=False), frames, keys, 0.5, extended=True).shape == x.shape


def test_a_43_input_filter_reads_the_extended_features() -> None:
    """A fitted filter's input count chooses the feature set: one distrusting a decaying-free swell drops C4 (whose
    energy does not fall after its onset) and keeps C3; a filter of another width is refused by decode."""
    a = scene()
    a["energy"][20:24, 48 - 21] = -30.0
    n = N + len(EXTRA_FILTER_FEATURES)
    w = [[-20.0 if name == "decay4_db" else 0.0] for name in (*NOTE_FILTER_FEATURES, *EXTRA_FILTER_FEATURES)]
    # logit = -20 * decay4_db - 5: kept only where the key's energy has fallen (decay4_db < -0.25)
    model = {"kind": "mlp", "mean": [0.0] * n, "scale": [1.0] * n, "members": [[[w, [-5.0]]]],
             "onset_threshold": 0.4, "keep_threshold": 0.5}
    got = {(n_.pitch, round(n_.start * FPS)) for n_ in decode(acts(a), DecodeSettings(note_filter=model)).notes}
    assert got == {(48, 20)}
    with pytest.raises(ValueError, match="30 features"):
        decode(acts(a), DecodeSettings(note_filter={**model, "mean": [0.0] * 30, "scale": [1.0] * 30}))


def test_the_repeat_guard_drops_a_sounding_key_whose_energy_does_not_rise() -> None:
    """With repeat_guard, a candidate at a key already sounding (frame head held before it) whose energy did not rise
    is dropped whatever the fitted filter says; a re-strike that adds energy, and a fresh note, are kept."""
    a = grid()
    put(a, 48, 20, 120, 0.95, -40.0)  # C3 rings from frame 20 to 120, dying away
    a["energy"][20:120, 48 - 21] = np.linspace(-40.0, -60.0, 100)
    a["onset"][60, 48 - 21] = 0.8  # the head fires again at frame 60 with no new energy (a ringing key)
    put(a, 52, 80, 120, 0.9, -45.0)  # E3 struck at frame 80 ...
    a["onset"][100, 52 - 21] = 0.85  # ... and re-struck at frame 100, louder
    a["energy"][100:120, 52 - 21] = -35.0
    keep_all = {**one_layer({}, 20.0), "onset_threshold": 0.4, "keep_threshold": 0.5, "repeat_threshold": None,
                "harmonic_threshold": None}
    plain = {(n.pitch, round(n.start * FPS)) for n in decode(acts(a), DecodeSettings(note_filter=keep_all)).notes}
    assert {(48, 20), (48, 60), (52, 80), (52, 100)} <= plain
    guarded = {**keep_all, "repeat_guard": {"held": 0.5, "rise_db": 0.0}}
    got = {(n.pitch, round(n.start * FPS)) for n in decode(acts(a), DecodeSettings(note_filter=guarded)).notes}
    assert (48, 60) not in got and {(48, 20), (52, 80), (52, 100)} <= got


def test_a_filter_that_keeps_everything_is_plain_decoding() -> None:
    a = scene()
    keep_all = {**one_layer({}, 20.0), "onset_threshold": 0.6, "keep_threshold": 0.5}
    for s in (DecodeSettings(), DecodeSettings(harmonic_threshold=0.8, repeat_threshold=0.8, onset_threshold=0.6)):
        plain = decode(acts(a), s)
        assert decode(acts(a), dataclasses.replace(s, note_filter=keep_all)) == plain
    # at a lower candidate threshold it is plain decoding at that threshold
    low = DecodeSettings(onset_threshold=0.4)
    filt = dataclasses.replace(DecodeSettings(), note_filter={**keep_all, "onset_threshold": 0.4})
    assert [(n.pitch, n.start) for n in decode(acts(a), filt).notes] == [
        (n.pitch, n.start) for n in decode(acts(a), low).notes]


def test_a_filter_that_distrusts_partials_drops_the_harmonic_and_keeps_the_soft_note() -> None:
    a = scene()
    plain = {(n.pitch, round(n.start * FPS)) for n in decode(acts(a), DecodeSettings()).notes}
    assert (60, 21) not in plain and (64, 60) not in plain  # at 0.6 both weak onsets are missed
    # a candidate at 0.4 is kept unless the octave below started with it, louder
    model = {**one_layer({"lower12_onset": -20.0}, 5.0), "onset_threshold": 0.4, "keep_threshold": 0.5,
             "repeat_threshold": 0.8}
    got = {(n.pitch, round(n.start * FPS)) for n in decode(acts(a), DecodeSettings(note_filter=model)).notes}
    assert (64, 60) in got and (60, 21) not in got  # the soft note found, the partial dropped
    assert (48, 100) in got and (48, 104) not in got  # the held key's weak double still needs the repeat threshold
    # without key energies (cached features) the filter does not apply: plain decoding
    assert decode(acts(a, energy=False), DecodeSettings(note_filter=model)) == decode(acts(a, energy=False))


def _checkpoint(tmp_path: Path, note_filter: object) -> Path:
    from tests.training.stub_transcriber import tiny_transcriber

    return tiny_transcriber(tmp_path / f"ck{len(list(tmp_path.iterdir()))}", {"note_filter": note_filter})


def test_config_validation(tmp_path: Path) -> None:
    from musestudio.core.errors import ModelError
    from musestudio.ml.transcribe import decode_defaults

    good = {**one_layer({"onset_peak": 2.0}, 0.5), "onset_threshold": 0.45, "keep_threshold": 0.5,
            "harmonic_threshold": None}
    assert decode_defaults(_checkpoint(tmp_path, good)).note_filter == good
    assert decode_defaults(_checkpoint(tmp_path, None)).note_filter is None  # today's decoding
    m = N + len(EXTRA_FILTER_FEATURES)  # a filter on the extended features
    wide = {**good, "mean": [0.0] * m, "scale": [1.0] * m, "members": [[[[[0.5]] * m, [0.0]]]]}
    assert decode_defaults(_checkpoint(tmp_path, wide)).note_filter == wide
    guarded = {**good, "repeat_guard": {"held": 0.5, "rise_db": 0.0}}
    assert decode_defaults(_checkpoint(tmp_path, guarded)).note_filter == guarded
    broken = {
        "keep_threshold": {**good, "keep_threshold": 1.5},
        "onset_threshold": {k: v for k, v in good.items() if k != "onset_threshold"},
        "repeat_threshold": {**good, "repeat_threshold": "high"},
        "kind": {**good, "kind": "tree"},
        "mean": {**good, "mean": [0.0] * (N - 1)},
        "members of 27 inputs under 43 means": {**good, "mean": [0.0] * (N + 16), "scale": [1.0] * (N + 16)},
        "repeat_guard": {**good, "repeat_guard": {"held": 2.0, "rise_db": 0.0}},
        "scale": {**good, "scale": [0.0] * N},
        "members": {**good, "members": [[[[[1.0]] * N, [0.0, 0.0]]]]},  # a layer of 1 column with 2 biases
        "object": [1, 2],
    }
    for name, bad in broken.items():
        folder = _checkpoint(tmp_path, bad)
        with pytest.raises(ModelError, match=r"decode\.note_filter") as err:
            decode_defaults(folder)
        assert name in str(err.value) or (name.startswith("members") and "chain" in str(err.value))
        assert "\n" not in str(err.value)
    meta = json.loads((_checkpoint(tmp_path, good) / "config.json").read_text())
    assert meta["decode"]["note_filter"]["keep_threshold"] == 0.5


def test_the_folded_float32_logits_agree_with_the_read_out() -> None:
    """note_filter_logits (standardisation folded into the first layer, members side by side, float32) is written
    for speed; velocity_model_output in float64 is its specification."""
    from musestudio.ml.decode import note_filter_logits, velocity_model_output

    rng = np.random.default_rng(3)
    n = N + len(EXTRA_FILTER_FEATURES)
    members = [[[rng.normal(size=(n, 16)).tolist(), rng.normal(size=16).tolist()],
                [rng.normal(size=(16, 1)).tolist(), [float(rng.normal())]]] for _ in range(3)]
    model = {"kind": "mlp", "mean": rng.normal(size=n).tolist(), "scale": rng.uniform(0.5, 2, n).tolist(),
             "members": members}
    x = rng.normal(size=(500, n)) * 3
    np.testing.assert_allclose(note_filter_logits(model, x), velocity_model_output(model, x), rtol=1e-4, atol=1e-4)
    deeper = {**model, "members": [[*m[:1], [np.eye(16).tolist(), [0.0] * 16], m[1]] for m in members]}
    np.testing.assert_array_equal(note_filter_logits(deeper, x), velocity_model_output(deeper, x))  # falls back
    with pytest.raises(ValueError, match="expects"):
        note_filter_logits(model, x[:, :N])


def test_the_vectorised_partial_test_answers_as_a_loop_over_peaks() -> None:
    """partial_of_stronger_onset is vectorised for speed; this loop is its specification."""
    from musestudio.ml.decode import PARTIAL_INTERVALS, _peaks, partial_of_stronger_onset

    def by_loop(onset: np.ndarray, frames: np.ndarray, keys: np.ndarray, threshold: float) -> np.ndarray:
        out = np.zeros(len(frames), dtype=bool)
        peak = np.zeros(onset.shape, dtype=bool)
        peak[frames, keys] = True
        for i, (f, k) in enumerate(zip(frames, keys, strict=True)):
            if onset[f, k] >= threshold:
                continue
            lo, hi = max(f - 1, 0), min(f + 2, onset.shape[0])
            out[i] = any(k - iv >= 0 and (peak[lo:hi, k - iv] & (onset[lo:hi, k - iv] > onset[f, k])).any()
                         for iv in PARTIAL_INTERVALS)
        return out

    rng = np.random.default_rng(7)
    onset = (rng.random((400, 88)) ** 3).astype(np.float32)
    onset[0, 40], onset[0, 28] = 0.5, 0.9  # at the first frame, a partial of a stronger peak an octave below
    onset[399, 60], onset[398, 41] = 0.45, 0.95  # at the last frame
    for threshold in (0.3, 0.5):
        frames, keys = _peaks(onset, threshold)
        got = partial_of_stronger_onset(onset, frames, keys, 0.8)
        np.testing.assert_array_equal(got, by_loop(onset, frames, keys, 0.8))
        assert got.sum() > 10 and not got.all()
