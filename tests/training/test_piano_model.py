"""The modelled piano of palette v4: stretched partials, hammer comb, brightness with velocity, dampers, pedal."""

from __future__ import annotations

import random

import numpy as np

from musestudio.core.notes import SUSTAIN_CC, Note, NoteSequence, PedalEvent
from training.audio.piano_model import MODEL_PIANO, PianoModel, partial_frequencies, random_piano, render_sequence
from training.audio.render import RenderCondition, random_train_condition, render

SR = 16000


def _db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)) + 1e-12))


def _spectrum(audio: np.ndarray, at: float, n: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    seg = audio[int(at * SR) : int(at * SR) + n] * np.hanning(n)
    return np.fft.rfftfreq(n, 1 / SR), np.abs(np.fft.rfft(seg))


def _level_at(freqs: np.ndarray, spec: np.ndarray, hz: float) -> float:
    band = (freqs > hz - 6) & (freqs < hz + 6)
    return float(20 * np.log10(spec[band].max() + 1e-12))


def test_partials_are_stretched_like_a_strings_and_the_audio_has_them() -> None:
    model = PianoModel(inharmonicity=1e-3, unison_cents=0.0)
    f = partial_frequencies(60, model, 261.63, SR)
    ratios = f / (np.arange(1, len(f) + 1) * 261.63)
    assert np.all(np.diff(ratios) > 0) and ratios[9] > 1.04  # the 10th partial sits > 4 % sharp
    audio = render_sequence(NoteSequence(notes=[Note(60, 0.1, 1.5, 100)]), model, SR, np.random.default_rng(0))
    freqs, spec = _spectrum(audio, 0.2)
    noise_floor = _level_at(freqs, spec, 261.63 * 3.5)
    assert _level_at(freqs, spec, f[4]) > noise_floor + 20  # the stretched 5th partial is there
    assert f[-1] < 7600.0


def test_the_hammer_position_silences_its_partials() -> None:
    model = PianoModel(hammer_position=1 / 8, unison_cents=0.0, inharmonicity=1e-4)
    f = partial_frequencies(48, model, 130.81, SR)
    audio = render_sequence(NoteSequence(notes=[Note(48, 0.1, 1.5, 100)]), model, SR, np.random.default_rng(0))
    freqs, spec = _spectrum(audio, 0.15)
    assert _level_at(freqs, spec, f[7]) < min(_level_at(freqs, spec, f[6]), _level_at(freqs, spec, f[8])) - 12


def test_louder_notes_are_louder_and_brighter() -> None:
    model = PianoModel()
    seq = NoteSequence(notes=[Note(60, 0.1, 1.0, 30), Note(60, 2.1, 3.0, 120)])
    audio = render_sequence(seq, model, SR, np.random.default_rng(0))
    soft, loud = audio[int(0.12 * SR) : int(0.6 * SR)], audio[int(2.12 * SR) : int(2.6 * SR)]
    assert _db(loud) > _db(soft) + 10

    def centroid(x: np.ndarray) -> float:
        s = np.abs(np.fft.rfft(x))
        return float((np.fft.rfftfreq(len(x), 1 / SR) * s).sum() / s.sum())

    assert centroid(loud) > 1.3 * centroid(soft)


def test_dampers_stop_a_released_key_but_not_the_top_octaves_or_a_pedalled_one() -> None:
    model = PianoModel(damper_seconds=0.05, damper_top=88, t60_middle=10.0)
    short = NoteSequence(notes=[Note(60, 0.1, 0.4, 100), Note(96, 2.0, 2.3, 100)])
    audio = render_sequence(short, model, SR, np.random.default_rng(0))
    held = _db(audio[int(0.3 * SR) : int(0.4 * SR)])
    assert _db(audio[int(0.8 * SR) : int(0.9 * SR)]) < held - 40  # damped: gone within half a second
    assert _db(audio[int(0.45 * SR) : int(0.5 * SR)]) < held - 6  # fading from the release on, not cut off
    top = _db(audio[int(2.2 * SR) : int(2.3 * SR)])
    assert _db(audio[int(2.7 * SR) : int(2.8 * SR)]) > top - 30  # no damper up there: it rings on
    pedalled = NoteSequence(notes=[Note(60, 0.1, 0.4, 100)],
                            pedals=[PedalEvent(0.0, 127, SUSTAIN_CC), PedalEvent(1.5, 0, SUSTAIN_CC)])
    audio = render_sequence(pedalled, model, SR, np.random.default_rng(0))
    assert _db(audio[int(0.8 * SR) : int(0.9 * SR)]) > _db(audio[int(0.3 * SR) : int(0.4 * SR)]) - 15
    assert _db(audio[int(2.0 * SR) : int(2.1 * SR)]) < -80  # the pedal's release damps it


def test_random_pianos_differ_and_stay_in_range() -> None:
    rng = np.random.default_rng(3)
    pianos = [random_piano(rng) for _ in range(50)]
    assert len({p.inharmonicity for p in pianos}) == 50
    assert all(1e-4 <= p.inharmonicity <= 2e-3 and 1 / 12 <= p.hammer_position <= 1 / 6 for p in pianos)


def test_palette_v4_plays_the_modelled_piano_in_about_half_the_renders() -> None:
    rng = random.Random(0)
    conds = [random_train_condition(rng, "v4") for _ in range(400)]
    modelled = [c for c in conds if c.piano is not None]
    assert 150 < len(modelled) < 250
    assert all(c.soundfont == MODEL_PIANO and c.instrument is not None for c in modelled)
    c = modelled[0]
    assert isinstance(c, RenderCondition)
    seq = NoteSequence(notes=[Note(60 + i, 0.25 * i, 0.25 * i + 0.5, 90) for i in range(8)])
    audio, labels = render(seq, c, SR, np.random.default_rng(0))  # no SoundFont is read
    assert audio.dtype == np.float32 and np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert len(labels.notes) == 8
