"""Palette v3 augmentations (training/audio/augment.py) each do what they claim."""

from __future__ import annotations

import io
import random

import mido
import numpy as np
import pytest

from musestudio.core.notes import Note, NoteSequence, PedalEvent
from training.audio import augment
from training.audio.augment import CHANNELS, Instrument
from training.audio.render import SF_TIMGM, TEST_CONDITION, TRAIN_ROOM_SIZE_MAX, random_train_condition

SR = 16000


def spectrum_db(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) + 1e-12
    return np.fft.rfftfreq(len(x), 1 / SR), 20 * np.log10(spec)


def band_power(x: np.ndarray, lo: float, hi: float) -> float:
    f, _ = spectrum_db(x)
    spec = np.abs(np.fft.rfft(x)) ** 2
    return float(spec[(f >= lo) & (f < hi)].sum())


def test_stretch_and_detune_by_register() -> None:
    ins = Instrument(stretch_cents=15.0, channel_detune=tuple([3.0] * 12))
    cents = augment.channel_cents(ins)
    assert np.all(np.diff(cents) >= 0) and cents[0] < 0 < cents[-1]  # bass flat, treble sharp
    assert np.all(np.abs(cents) <= augment.MAX_CENTS)
    assert augment.channel_of(21) == 0 and augment.channel_of(108) == len(CHANNELS) - 1


def test_instrument_midi_carries_tuning_velocity_curve_and_nrpns() -> None:
    seq = NoteSequence(notes=[Note(30, 0.0, 0.5, 64), Note(100, 0.25, 1.0, 127)], pedals=[PedalEvent(0.1, 127)])
    ins = Instrument(program=1, stretch_cents=10.0, velocity_gamma=2.0, brightness_cents=2400.0, start_jitter_samples=300)
    mid = mido.MidiFile(file=io.BytesIO(augment.instrument_midi(seq, ins, np.random.default_rng(0))))
    msgs = [m for m in mid.tracks[0] if not m.is_meta]
    bends = {m.channel: m.pitch for m in msgs if m.type == "pitchwheel"}
    assert set(bends) == set(CHANNELS) and bends[0] < 0 < bends[12]
    assert {m.program for m in msgs if m.type == "program_change"} == {1}
    ons = [m for m in msgs if m.type == "note_on"]
    assert [m.velocity for m in ons] == [round(127 * (64 / 127) ** 2), 127]  # the velocity curve
    assert ons[0].channel != ons[1].channel  # different registers, different channels
    nrpn = [m.value for m in msgs if m.type == "control_change" and m.control == 98]
    assert augment.GEN_START_OFFSET in nrpn and augment.GEN_FILTER_FC in nrpn
    assert sum(m.type == "control_change" and m.control == 64 for m in msgs) == len(CHANNELS)  # pedal on every channel


def test_resonance_adds_partials_of_unplayed_strings_mostly_under_the_pedal() -> None:
    t = np.arange(4 * SR) / SR
    click = np.zeros_like(t)
    click[:: SR // 4] = 1.0  # broadband excitation every 250 ms
    seq = NoteSequence(pedals=[PedalEvent(2.0, 127)])
    out = augment.add_resonance(click.astype(np.float32), seq, SR, -20.0, np.random.default_rng(0))
    res = out - click
    assert np.abs(res).max() > 0
    assert np.sqrt(np.mean(res[int(2.2 * SR) :] ** 2)) > 2 * np.sqrt(np.mean(res[int(0.5 * SR) : int(1.9 * SR)] ** 2))


def test_pedal_noise_only_near_pedal_changes() -> None:
    x = (np.random.default_rng(0).standard_normal(3 * SR) * 0.01).astype(np.float32)
    seq = NoteSequence(pedals=[PedalEvent(1.0, 127), PedalEvent(2.0, 0)])
    out = augment.add_pedal_noise(x, seq, SR, -6.0, np.random.default_rng(1))
    diff = np.abs(out - x)
    assert diff[: int(0.99 * SR)].max() == 0 and diff[int(1.0 * SR) : int(1.1 * SR)].max() > 0
    assert diff[int(1.2 * SR) : int(1.99 * SR)].max() == 0 and diff[int(2.0 * SR) : int(2.1 * SR)].max() > 0
    # thumps are dull (one-pole low-pass at 150-600 Hz): most of their energy below 1 kHz
    assert band_power(out - x, 0, 1000) > 2 * band_power(out - x, 1000, 8000)


@pytest.mark.parametrize(("rt60", "er_ms"), [(0.25, 4.0), (2.0, 40.0)])
def test_room_impulse_decays_at_its_rt60_after_early_reflections(rt60: float, er_ms: float) -> None:
    ir = augment.room_impulse(SR, rt60, er_ms, 8000.0, np.random.default_rng(0))
    energy = np.cumsum(ir[::-1] ** 2)[::-1]  # Schroeder integral
    db = 10 * np.log10(energy / energy[0])
    a = int((er_ms / 1000 + 0.1 * rt60) * SR)
    b = int((er_ms / 1000 + 0.4 * rt60) * SR)
    slope = (db[b] - db[a]) / ((b - a) / SR)  # dB per second
    assert -60 / rt60 * 1.5 < slope < -60 / rt60 * 0.6
    assert np.abs(ir[: int(er_ms / 1000 * SR) + 1]).max() > 0  # reflections arrive inside the early window


def test_microphone_distance_sets_the_direct_to_reverberant_ratio() -> None:
    x = (np.random.default_rng(0).standard_normal(2 * SR) * 0.1).astype(np.float32)
    close = augment.apply_room(x, SR, 1.0, 10.0, 12.0, 6000.0, np.random.default_rng(1))
    far = augment.apply_room(x, SR, 1.0, 10.0, -8.0, 6000.0, np.random.default_rng(1))
    corr = lambda y: float(np.corrcoef(x, y)[0, 1])  # noqa: E731
    assert corr(close) > 0.9
    assert corr(far) < 0.5


def test_compression_lowers_the_crest_factor() -> None:
    t = np.arange(2 * SR) / SR
    x = (np.sin(2 * np.pi * 440 * t) * np.where(t < 1, 0.05, 1.0)).astype(np.float32)
    y = augment.compress(x, SR, -20.0, 4.0)
    loud_gain = np.abs(y[int(1.5 * SR) :]).max() / 1.0
    quiet_gain = np.abs(y[int(0.5 * SR) : SR]).max() / 0.05
    assert quiet_gain == pytest.approx(1.0, abs=0.05) and loud_gain < 0.3


@pytest.mark.parametrize(("colour", "slope_db"), [("white", 3.0), ("pink", 0.0), ("brown", -3.0)])
def test_noise_colours(colour: str, slope_db: float) -> None:
    n = augment.coloured_noise(8 * SR, colour, np.random.default_rng(0))
    assert np.sqrt(np.mean(n**2)) == pytest.approx(1.0, rel=0.01)
    per_octave = 10 * np.log10(band_power(n, 2000, 4000) / band_power(n, 1000, 2000))  # band power per octave
    assert per_octave == pytest.approx(slope_db, abs=1.0)


def test_hum_sits_on_the_mains_harmonics() -> None:
    h = augment.hum(4 * SR, SR, 60.0, np.random.default_rng(0))
    f, db = spectrum_db(h)
    top = f[np.argsort(db)[-5:]]
    assert all(min(abs(x - 60 * k) for k in range(1, 6)) < 1.0 for x in top)


def test_band_limit_removes_what_an_8_khz_recording_cannot_hold() -> None:
    x = np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32)
    y = augment.band_limit(x, SR, 8000)
    assert len(y) == len(x)
    assert band_power(y, 4200, 8000) < 1e-3 * band_power(x, 4200, 8000)
    assert band_power(y, 200, 3000) == pytest.approx(band_power(x, 200, 3000), rel=0.05)


@pytest.mark.parametrize("codec", augment.CODECS)
def test_lossy_codecs_keep_length_and_alignment(codec: str) -> None:
    t = np.arange(3 * SR) / SR
    rng = np.random.default_rng(0)
    x = np.zeros_like(t)
    for start in np.arange(0.1, 2.8, 0.2):
        a = int(start * SR)
        x[a : a + 2000] += np.sin(2 * np.pi * rng.uniform(200, 1500) * t[:2000]) * np.exp(-t[:2000] * 20)
    x = (0.5 * x).astype(np.float32)
    y = augment.lossy(x, SR, codec, 0.5)
    assert len(y) == len(x)
    assert float(np.corrcoef(x, y)[0, 1]) > 0.9  # aligned: the codec's delay was removed
    with pytest.raises(ValueError, match="codec"):
        augment.lossy(x, SR, "wma", 0.5)


def test_v3_palette_keeps_the_held_out_piano_and_room_out_and_spans_the_ranges() -> None:
    rng = random.Random(0)
    conds = [random_train_condition(rng, "v3") for _ in range(400)]
    assert SF_TIMGM not in {c.soundfont for c in conds} and all("sf_GMbank" not in c.soundfont for c in conds)
    assert all(c.room_size <= TRAIN_ROOM_SIZE_MAX < TEST_CONDITION.room_size for c in conds if c.reverb)
    levels = [c.level_dbfs for c in conds]
    assert min(levels) < -40 and max(levels) > -5 and all(-45 <= v <= 0 for v in levels)
    rooms = [c.room_rt60 for c in conds if c.room_rt60]
    assert min(rooms) < 0.25 and max(rooms) > 2.0
    assert {c.codec for c in conds} == {None, *augment.CODECS}
    assert {c.record_rate for c in conds} == {None, 8000, 11025}
    assert all(np.abs(augment.channel_cents(c.instrument)).max() <= 15 for c in conds if c.instrument)
    assert any(c.resonance_db for c in conds) and any(c.pedal_noise_db for c in conds)
    assert any(c.compress_ratio > 1 for c in conds) and any(c.hum_db for c in conds)


def test_v5_palette_puts_more_renders_in_reverberant_distant_rooms_than_v4() -> None:
    def hall_share(conds: list) -> float:  # a distant microphone in a hall: RT60 > 1.5 s, DRR < -4 dB
        return float(np.mean([bool(c.room_rt60) and c.room_rt60 > 1.5 and c.room_drr_db < -4 for c in conds]))

    rng4, rng5 = random.Random(1), random.Random(1)
    v4 = [random_train_condition(rng4, "v4") for _ in range(600)]
    v5 = [random_train_condition(rng5, "v5") for _ in range(600)]
    assert hall_share(v4) < 0.08 and hall_share(v5) > 2 * hall_share(v4)
    assert SF_TIMGM not in {c.soundfont for c in v5}
    rooms = [c.room_rt60 for c in v5 if c.room_rt60]
    assert len(rooms) > 0.8 * len(v5) and max(rooms) > 3.0 and min(rooms) < 0.25 and max(rooms) <= 4.5
    assert all(-14 <= c.room_drr_db <= 12 for c in v5)
    assert {c.name for c in v5} == {"train v5", "train v5 (modelled piano)"}


def test_played_velocity_is_the_velocity_instrument_midi_sends() -> None:
    seq = NoteSequence(notes=[Note(40 + i, 0.1 * i, 0.1 * i + 0.05, v) for i, v in enumerate((1, 20, 64, 100, 127))])
    for gamma in (0.6, 1.0, 1.6):
        mid = mido.MidiFile(file=io.BytesIO(augment.instrument_midi(seq, Instrument(velocity_gamma=gamma), np.random.default_rng(0))))
        sent = [m.velocity for m in mid.tracks[0] if m.type == "note_on"]
        assert sent == [int(augment.played_velocity(n.velocity, gamma)) for n in seq.notes]
    labels = np.array([[0, 64], [127, 0]], np.uint8)
    out = augment.played_velocity(labels, 1.6)
    assert out.dtype == np.uint8 and out[0, 0] == 0 and out[1, 1] == 0  # "no onset" stays 0
    assert out[0, 1] == round(127 * (64 / 127) ** 1.6) and out[1, 0] == 127


def test_v3_render_labels_carry_the_played_velocities() -> None:
    from training.audio.render import played_labels

    seq = NoteSequence(notes=[Note(60, 0.0, 0.5, 64), Note(64, 0.5, 1.0, 100)])
    assert played_labels(seq, 1.0) is seq
    out = played_labels(seq, 1.4)
    assert [n.velocity for n in out.notes] == [round(127 * (64 / 127) ** 1.4), round(127 * (100 / 127) ** 1.4)]
    assert [(n.pitch, n.start, n.end) for n in out.notes] == [(n.pitch, n.start, n.end) for n in seq.notes]
