"""Decoding hand-built activations gives the notes they were built from."""

from __future__ import annotations

import numpy as np
import pytest

from musestudio.ml.decode import DecodeSettings, decode, decode_notes, decode_pedal
from musestudio.ml.transcribe import Activations

FPS = 31.25


def blank(frames: int = 200) -> dict[str, np.ndarray]:
    z = np.zeros((frames, 88), np.float32)
    return {"onset": z.copy(), "frame": z.copy(), "offset": z.copy(), "velocity": z.copy(), "pedal": np.zeros(frames, np.float32)}


def put_note(a: dict[str, np.ndarray], pitch: int, start: int, end: int, velocity: int = 100) -> None:
    k = pitch - 21
    a["onset"][start, k] = 0.9
    a["onset"][start + 1, k] = 0.6  # a realistic smeared peak: still one note
    a["frame"][start:end, k] = 0.8
    a["offset"][end, k] = 0.95
    a["velocity"][start, k] = velocity / 127


def acts(a: dict[str, np.ndarray]) -> Activations:
    return Activations(a["onset"], a["frame"], a["offset"], a["velocity"], a["pedal"], FPS)


def test_known_notes_come_out() -> None:
    a = blank()
    put_note(a, 60, 10, 40, 100)
    put_note(a, 64, 10, 25, 50)
    put_note(a, 21, 100, 150, 127)
    put_note(a, 108, 120, 122, 1)
    seq = decode(acts(a))
    got = [(n.pitch, round(n.start * FPS), round(n.end * FPS), n.velocity) for n in seq.notes]
    assert got == [(60, 10, 40, 100), (64, 10, 25, 50), (21, 100, 150, 127), (108, 120, 122, 1)]


def test_repeated_note_splits_at_the_new_onset() -> None:
    a = blank()
    put_note(a, 60, 10, 60)
    a["onset"][30, 39] = 0.9  # re-struck while the frame stays on
    seq = decode(acts(a), DecodeSettings(offset_threshold=1.0))
    assert [(round(n.start * FPS), round(n.end * FPS)) for n in seq.notes] == [(10, 30), (30, 60)]


def test_thresholds_pitch_range_and_min_length() -> None:
    a = blank()
    put_note(a, 60, 10, 40)
    a["onset"][50, 10] = 0.4  # below the default onset threshold
    put_note(a, 70, 80, 81)  # one frame = 32 ms
    assert {n.pitch for n in decode(acts(a)).notes} == {60, 70}
    assert {n.pitch for n in decode(acts(a), DecodeSettings(onset_threshold=0.3)).notes} == {31, 60, 70}
    assert {n.pitch for n in decode(acts(a), DecodeSettings(pitch_range=(65, 108))).notes} == {70}
    short = decode(acts(a), DecodeSettings(min_note_ms=100)).notes
    long_70 = next(n for n in short if n.pitch == 70)  # stretched to the minimum length
    assert long_70.duration >= 0.1 - 1e-9


def test_pedal_events() -> None:
    p = np.zeros(100, np.float32)
    p[20:60] = 0.9
    p[70:71] = 0.9  # 32 ms blip: dropped by min_pedal_ms
    ev = decode_pedal(p, FPS)
    assert [(round(e.time * FPS), e.value) for e in ev] == [(20, 127), (60, 0)]
    a = blank(100)
    a["pedal"] = p
    assert decode(acts(a), DecodeSettings(use_pedal=False)).pedals == []


@pytest.mark.parametrize("frames", [0, 1])
def test_degenerate_inputs(frames: int) -> None:
    z = np.zeros((frames, 88), np.float32)
    assert decode_notes(z, z, z, z, FPS) == []


def test_nan_activations_do_not_crash() -> None:
    a = blank(50)
    a["onset"][:] = np.nan
    a["frame"][:] = np.nan
    assert decode(acts(a)).notes == []


def test_repeat_threshold_applies_only_to_keys_already_sounding() -> None:
    a = blank()
    k = 60 - 21
    a["onset"][10, k] = 0.9
    a["frame"][10:80, k] = 0.8  # one long held note ...
    a["onset"][40, k] = 0.65  # ... with a weak swell in the middle (reverb, pedal)
    a["onset"][120, k] = 0.65  # the same weak peak on a silent key is a real attack
    a["frame"][120:140, k] = 0.8
    base = DecodeSettings(onset_threshold=0.6, frame_threshold=0.4, repeat_threshold=None)
    starts = lambda s: [round(n.start * FPS) for n in decode(acts(a), s).notes]  # noqa: E731
    assert starts(base) == [10, 40, 120]
    strict = DecodeSettings(onset_threshold=0.6, frame_threshold=0.4, repeat_threshold=0.7)
    assert starts(strict) == [10, 120]
    # the held note now runs through the swell; a confident re-strike still splits it
    notes = decode(acts(a), strict).notes
    assert round(notes[0].end * FPS) == 80
    a["onset"][40, k] = 0.8
    assert starts(strict) == [10, 40, 120]
    # a repeat threshold below the onset threshold never loosens it
    assert starts(DecodeSettings(onset_threshold=0.6, frame_threshold=0.4, repeat_threshold=0.3)) == starts(base)


def test_pedal_aware_offsets_hold_a_released_key_until_the_pedal_lifts() -> None:
    a = blank()
    a["pedal"][30:100] = 0.9
    put_note(a, 60, 10, 40)  # the sound fades at 40 while the pedal is down (30-100)
    put_note(a, 64, 10, 25)  # released before the pedal went down: keeps its own end
    put_note(a, 67, 50, 70)
    a["onset"][80, 67 - 21] = 0.9  # re-struck under the pedal: the first note ends there
    a["onset"][81, 67 - 21] = 0.6
    a["frame"][80:90, 67 - 21] = 0.8
    got = {(n.pitch, round(n.start * FPS)): round(n.end * FPS) for n in decode(acts(a)).notes}
    assert got == {(60, 10): 100, (64, 10): 25, (67, 50): 80, (67, 80): 100}
    plain = {(n.pitch, round(n.start * FPS)): round(n.end * FPS)
             for n in decode(acts(a), DecodeSettings(sustain_offsets=False)).notes}
    assert plain[(60, 10)] == 40 and plain[(67, 50)] == 70
    no_pedal = decode(acts(a), DecodeSettings(use_pedal=False)).notes  # no pedal read, nothing extended
    assert {(n.pitch, round(n.start * FPS)): round(n.end * FPS) for n in no_pedal}[(60, 10)] == 40


def test_a_weak_onset_a_partial_above_a_stronger_one_needs_the_harmonic_threshold() -> None:
    a = blank()
    put_note(a, 48, 10, 40)  # C3, onset 0.9
    put_note(a, 60, 10, 40)  # its octave, as strong: a played octave, kept
    put_note(a, 67, 11, 30)  # G4, a twelfth above, one frame later and weaker: a partial
    a["onset"][11, 67 - 21] = 0.75
    put_note(a, 64, 50, 70)  # E4 alone: nothing below it, kept however weak
    a["onset"][50, 64 - 21] = 0.75
    pitches = lambda s: sorted(n.pitch for n in decode(acts(a), s).notes)  # noqa: E731
    assert pitches(DecodeSettings(onset_threshold=0.7)) == [48, 60, 64, 67]
    assert pitches(DecodeSettings(onset_threshold=0.7, harmonic_threshold=0.8)) == [48, 60, 64]
    assert pitches(DecodeSettings(onset_threshold=0.7, harmonic_threshold=0.7)) == [48, 60, 64, 67]  # not above: off


def test_level_velocity_gives_back_the_dynamics_the_normaliser_took() -> None:
    a = blank(400)
    put_note(a, 60, 20, 40, 64)  # the head sees both notes alike (the input was normalised)...
    put_note(a, 62, 300, 320, 64)
    level = np.full(400, -40.0, np.float32)
    level[250:] = -30.0  # ...but the second came in a passage 10 dB louder
    acts_ = Activations(a["onset"], a["frame"], a["offset"], a["velocity"], a["pedal"], FPS, level=level)
    off = decode(acts_, DecodeSettings(use_pedal=False))
    on = decode(acts_, DecodeSettings(use_pedal=False, level_velocity=2.0, level_lag_ms=250.0))
    assert [n.velocity for n in off.notes] == [64, 64]
    v1, v2 = (n.velocity for n in on.notes)
    assert v2 - v1 == 20  # 2 steps per dB x 10 dB
    assert [(n.pitch, n.start, n.end) for n in on.notes] == [(n.pitch, n.start, n.end) for n in off.notes]
    # no level (a checkpoint that does not normalise): nothing changes; extreme levels stay in 1..127
    no_level = Activations(a["onset"], a["frame"], a["offset"], a["velocity"], a["pedal"], FPS)
    assert [n.velocity for n in decode(no_level, DecodeSettings(level_velocity=2.0)).notes] == [64, 64]
    level[250:] = 200.0
    loud = Activations(a["onset"], a["frame"], a["offset"], a["velocity"], a["pedal"], FPS, level=level)
    assert max(n.velocity for n in decode(loud, DecodeSettings(level_velocity=10.0)).notes) == 127


def _model(weights: dict[str, float]) -> dict[str, list[float]]:
    """A velocity model that reads only the named features (unit scale, zero mean)."""
    from musestudio.ml.decode import VELOCITY_FEATURES

    return {"mean": [0.0] * len(VELOCITY_FEATURES), "scale": [1.0] * len(VELOCITY_FEATURES),
            "weights": [weights.get(f, 0.0) for f in VELOCITY_FEATURES]}


def test_velocity_model_hears_the_louder_key_in_a_chord() -> None:
    """The head gives a chord's three notes one velocity (the normalised input hid the accent); the key
    energies say the top note was struck harder, and the model gives it the higher velocity."""
    a = blank(200)
    for p in (60, 64, 67):
        put_note(a, p, 50, 80, 70)
    level = np.full(200, -30.0, np.float32)
    energy = np.full((200, 88), -120.0, np.float32)
    energy[50:80, 60 - 21] = energy[50:80, 64 - 21] = -40.0
    energy[50:80, 67 - 21] = -28.0  # 12 dB louder
    acts_ = Activations(a["onset"], a["frame"], a["offset"], a["velocity"], a["pedal"], FPS, level=level,
                        key_energy=energy)
    model = _model({"key_db": 1.5})  # 1.5 velocity steps per dB above the file's median key energy
    vel = {n.pitch: n.velocity for n in decode(acts_, DecodeSettings(use_pedal=False, velocity_model=model)).notes}
    assert vel[67] - vel[60] == 18 and vel[60] == vel[64] == 70  # around the head's mean velocity (70)
    # a recording 30 dB quieter: the same velocities (features are relative to the file's own medians)
    quiet = Activations(a["onset"], a["frame"], a["offset"], a["velocity"], a["pedal"], FPS, level=level - 30,
                        key_energy=energy - 30)
    assert {n.pitch: n.velocity for n in decode(quiet, DecodeSettings(velocity_model=model)).notes} == vel
    # activations without key energies (cached features): the model is not used, level velocity still is
    plain = Activations(a["onset"], a["frame"], a["offset"], a["velocity"], a["pedal"], FPS, level=level)
    assert {n.velocity for n in decode(plain, DecodeSettings(velocity_model=model)).notes} == {70}
    # velocities stay in 1..127 whatever the model says
    energy[50:80, 60 - 21] = -100.0  # the bass note barely sounds
    wild = decode(acts_, DecodeSettings(velocity_model=_model({"key_db": 50.0}))).notes
    assert sorted(n.velocity for n in wild) == [1, 70, 127]


def test_velocity_features_follow_the_onset_and_refuse_a_wrong_model() -> None:
    from musestudio.core.notes import Note
    from musestudio.ml.decode import VELOCITY_FEATURES, velocity_features, with_velocity_model

    energy = np.full((100, 88), -100.0, np.float32)
    energy[30:40, 40] = -20.0  # key 40 (MIDI 61) sounds from frame 30
    level = np.zeros(100, np.float32)
    level[30:] = 6.0
    a = Activations(*(np.zeros((100, 88), np.float32) for _ in range(4)), np.zeros(100, np.float32), FPS,
                    level=level, key_energy=energy)
    notes = [Note(61, 30 / FPS, 40 / FPS, 64), Note(61, 60 / FPS, 70 / FPS, 64), Note(30, 10 / FPS, 20 / FPS, 64)]
    x = velocity_features(notes, a)
    col = {f: x[:, i] for i, f in enumerate(VELOCITY_FEATURES)}
    assert col["key_db"][0] - col["key_db"][1] == 80.0  # the struck key at its onset, not 30 frames later
    assert col["key_rise_db"][0] == 80.0 + col["key_rise_db"][1]
    assert col["level_0"][0] - col["level_0"][2] == 6.0
    assert np.allclose(np.median(x, axis=0), 0.0)
    with pytest.raises(ValueError, match="weights"):
        with_velocity_model(notes, a, {"mean": [0.0], "scale": [1.0], "weights": [1.0]})


def test_more_velocity_features_read_the_decay_the_brightness_and_the_local_dynamic() -> None:
    """The 7 MORE_VELOCITY_FEATURES follow the 18 unchanged: how the key decays after its attack, how bright the strike
    is at the 6th and 8th partials, the attack against the notes around it, and a read-out of 25 inputs is used."""
    from musestudio.core.notes import Note
    from musestudio.ml.decode import (
        EXTRA_VELOCITY_FEATURES,
        MORE_VELOCITY_FEATURES,
        VELOCITY_FEATURE_SIZES,
        VELOCITY_FEATURES,
        extended_velocity_features,
        more_velocity_features,
        velocity_model_features,
    )

    energy = np.full((400, 88), -100.0, np.float32)
    energy[30:34, 40] = -20.0  # key 40 struck at frame 30, then 10 dB down
    energy[34:60, 40] = -30.0
    energy[30:33, 40 + 31] = -35.0  # its 6th partial, 15 dB under the attack
    energy[100:104, 10] = -50.0  # a soft bass note three seconds on, on its own
    energy[300:304, 70] = -40.0  # a top note, too high for an 8th partial on the keyboard
    a = Activations(*(np.zeros((400, 88), np.float32) for _ in range(4)), np.zeros(400, np.float32), FPS,
                    level=np.zeros(400, np.float32), key_energy=energy)
    notes = [Note(61, 30 / FPS, 50 / FPS, 64), Note(31, 100 / FPS, 110 / FPS, 64), Note(91, 300 / FPS, 310 / FPS, 64)]
    x = more_velocity_features(notes, a)
    n18 = len(VELOCITY_FEATURES) + len(EXTRA_VELOCITY_FEATURES)
    assert x.shape == (3, n18 + len(MORE_VELOCITY_FEATURES)) and VELOCITY_FEATURE_SIZES == (12, 18, 25)
    assert np.array_equal(x[:, :n18], extended_velocity_features(notes, a))
    col = {f: x[:, n18 + i] for i, f in enumerate(MORE_VELOCITY_FEATURES)}  # each centred on the file's median
    raw_decay = {0: -10.0, 1: -50.0, 2: -60.0}  # the bass note falls to the floor: -50 dB; the top one clipped at -60
    assert col["decay4_db"][0] - col["decay4_db"][1] == raw_decay[0] - raw_decay[1]
    assert col["sixth_partial_db"][0] - col["sixth_partial_db"][1] == -15.0 - (-50.0)  # floor -100 against -50
    assert col["eighth_partial_db"][2] == -60.0 - np.median([-60.0, -50.0, -60.0])  # above the keyboard
    assert np.allclose(col["local_loudness_db"], 0.0)  # each note alone within its second
    model = {"kind": "mlp", "mean": [0.0] * 25, "scale": [1.0] * 25, "members": [[[[[0.0]] * 25, [0.0]]]]}
    assert velocity_model_features(notes, a, model).shape == (3, 25)
    with pytest.raises(ValueError, match="12, 18 or 25"):
        velocity_model_features(notes, a, {**model, "mean": [0.0] * 20})
