"""Tempo-mapped and quantized transcription output (musestudio.ml.transcribe.apply_tempo / quantize)."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest

from musestudio.core.errors import MusestudioError
from musestudio.core.notes import Note, NoteSequence
from musestudio.io.midi import read_midi, write_midi
from musestudio.ml import beats
from musestudio.ml.transcribe import apply_tempo, quantize


def waltz(bpm: float = 96.0, bars: int = 24, drift: float = 0.15) -> tuple[NoteSequence, np.ndarray]:
    """A 3/4 performance with a slowly changing tempo; returns it and its true beat times."""
    rng = np.random.default_rng(0)
    period = 60.0 / bpm
    times = [0.4]
    for k in range(bars * 3 - 1):
        times.append(times[-1] + period * (1.0 + drift * np.sin(k / 9.0)))
    t = np.array(times)
    notes = []
    for k, b in enumerate(t):
        notes.append(Note(48 if k % 3 == 0 else 55, float(b), float(b) + 0.3, 100 if k % 3 == 0 else 60))
        notes.append(Note(64 + int(rng.integers(0, 5)), float(b) + 0.003, float(b) + 0.25, 70))
    return NoteSequence(notes=notes), t


def fake_analysis(seq: NoteSequence, beat_times: np.ndarray, per_bar: int = 3) -> beats.BeatAnalysis:
    """What the tracker would return for a perfectly tracked waltz (no model needed)."""
    positions = np.arange(len(beat_times)) % per_bar
    meters = np.full(len(beat_times), per_bar)
    tempo_map, sigs = beats.build_tempo_map(beat_times, positions, meters)
    return beats.BeatAnalysis(beat_times, beat_times[positions == 0], sigs, [], tempo_map, positions, per_bar, False)


def bar_lines(path: Path) -> np.ndarray:
    """Bar-line times (s) of a MIDI file from its own tempo and time-signature events (mido, not our reader)."""
    mid = mido.MidiFile(str(path))
    tempos, sigs, end = [], [], 0
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                sigs.append((tick, msg.numerator, msg.denominator))
            end = max(end, tick)
    tempos.sort()
    sigs.sort()
    ppq = mid.ticks_per_beat

    def seconds(tick: int) -> float:
        s, last_tick, us = 0.0, 0, 500_000
        for t, tempo in tempos:
            if t >= tick:
                break
            s += (t - last_tick) * us / ppq / 1e6
            last_tick, us = t, tempo
        return s + (tick - last_tick) * us / ppq / 1e6

    bars = []
    for i, (first, num, den) in enumerate(sigs):
        stop = sigs[i + 1][0] if i + 1 < len(sigs) else end
        tick = first
        while tick < stop:
            bars.append(seconds(tick))
            tick += ppq * 4 * num // den
    return np.array(bars)


def test_bar_lines_of_the_written_file_are_the_trackers_downbeats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seq, beat_times = waltz()
    analysis = fake_analysis(seq, beat_times)
    monkeypatch.setattr(beats, "analyze", lambda s, **kw: analysis)
    mapped, how = apply_tempo(seq, "auto")
    assert "beat tracker" in how and "3/4" in how
    out = write_midi(mapped, tmp_path / "t.mid")
    bars = bar_lines(out)
    inside = bars[(bars >= analysis.downbeats[0] - 1e-6) & (bars <= analysis.downbeats[-1] + 1e-6)]
    assert len(inside) == len(analysis.downbeats)
    np.testing.assert_allclose(inside, analysis.downbeats, atol=0.002)
    # note times are untouched by the map (within the MIDI round trip)
    back = read_midi(out)
    np.testing.assert_allclose(sorted(n.start for n in back.notes), sorted(n.start for n in seq.notes), atol=0.002)


def test_real_tracker_bar_lines(tmp_path: Path) -> None:
    """The same through the shipped beat tracker, when it is installed."""
    try:
        beats.load_tracker()
    except MusestudioError as exc:
        pytest.skip(f"no beat-tracker checkpoint here: {exc}")
    seq, _ = waltz()
    analysis = beats.analyze(seq)
    mapped, _ = apply_tempo(seq, "auto")
    bars = bar_lines(write_midi(mapped, tmp_path / "t.mid"))
    inside = bars[(bars >= analysis.downbeats[0] - 1e-6) & (bars <= analysis.downbeats[-1] + 1e-6)]
    np.testing.assert_allclose(inside, analysis.downbeats, atol=0.002)


def test_constant_tempo_none_and_unusable_input() -> None:
    seq, _ = waltz()
    fixed, how = apply_tempo(seq, "auto", bpm=90.0)
    assert fixed.tempo_map.initial_qpm == pytest.approx(90.0, abs=0.01) and "90" in how
    same, how = apply_tempo(seq, "none")
    assert same is seq and "120" in how
    lonely = NoteSequence(notes=[Note(60, 0.0, 1.0, 80)])
    kept, how = apply_tempo(lonely, "auto")  # the tracker refuses one note: a plain file, said so
    assert kept.notes == lonely.notes and "120 BPM" in how
    with pytest.raises(MusestudioError, match="BPM"):
        apply_tempo(seq, "auto", bpm=0.0)
    with pytest.raises(MusestudioError, match="tempo map"):
        apply_tempo(seq, "sometimes")


def test_quantize_snaps_to_sixteenths_of_the_map(monkeypatch: pytest.MonkeyPatch) -> None:
    seq, beat_times = waltz()
    monkeypatch.setattr(beats, "analyze", lambda s, **kw: fake_analysis(s, beat_times))
    mapped, _ = apply_tempo(seq, "auto")
    q = quantize(mapped, 4)
    tm = q.tempo_map
    step = tm.ppq // 4
    for n in q.notes:
        a, b = tm.seconds_to_tick_float(n.start), tm.seconds_to_tick_float(n.end)
        assert abs(a / step - round(a / step)) < 1e-3 and abs(b / step - round(b / step)) < 1e-3
        assert b - a >= step - 1e-3
    # the tracked beats carry the notes, so quantizing moves them by less than a sixteenth of a beat
    assert max(abs(x.start - y.start) for x, y in zip(sorted(mapped.notes, key=lambda n: (n.start, n.pitch)),
                                                      sorted(q.notes, key=lambda n: (n.start, n.pitch)), strict=True)) < 0.06


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import dataclasses
    import json

    import torch

    from musestudio.dsp.features import FeatureConfig
    from musestudio.ml.checkpoint import save_checkpoint
    from musestudio.ml.models.transcriber import TranscriberConfig, TranscriberModel

    torch.manual_seed(0)
    config = TranscriberConfig(conv1=4, conv2=4, hidden=16, temporal_layers=1)
    folder = tmp_path_factory.mktemp("tiny") / "transcriber"
    save_checkpoint(folder, "transcriber", dataclasses.asdict(config), TranscriberModel(config).eval().state_dict(),
                    extra={"features": FeatureConfig().to_dict()})
    meta = json.loads((folder / "config.json").read_text())  # low thresholds: a random model's notes
    meta["decode"] = {"onset_threshold": 0.05, "frame_threshold": 0.05, "repeat_threshold": None, "min_note_ms": 0}
    (folder / "config.json").write_text(json.dumps(meta))
    return folder


def test_cli_tempo_and_quantize(tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import soundfile as sf

    from musestudio.cli import main
    from musestudio.ml import transcribe as transcribe_mod

    # the notes of a waltz stand in for the model's (a random model's hundreds of chords make music21 slow)
    monkeypatch.setattr(transcribe_mod, "transcribe", lambda *a, **kw: waltz(bars=8)[0])

    wav = tmp_path / "a.wav"
    sf.write(wav, (np.random.default_rng(0).standard_normal(3 * 16000) * 0.1).astype(np.float32), 16000)
    out = tmp_path / "q.mid"
    assert main(["transcribe", str(wav), "-o", str(out), "--checkpoint", str(tiny_checkpoint), "--tempo", "90",
                 "--quantize"]) == 0
    seq = read_midi(out)
    assert seq.notes and seq.tempo_map.initial_qpm == pytest.approx(90.0, abs=0.01)
    step = 60.0 / 90.0 / 4
    assert all(abs(n.start / step - round(n.start / step)) < 0.01 for n in seq.notes)  # on sixteenths at 90 BPM
    assert (tmp_path / "q.musicxml").is_file()
    assert main(["transcribe", str(wav), "-o", str(tmp_path / "bad.mid"), "--checkpoint", str(tiny_checkpoint),
                 "--tempo", "0"]) != 0
    assert not (tmp_path / "bad.mid").exists()
