from __future__ import annotations

from pathlib import Path

import mido
import pytest


def _corpus_midi(tmp_dir: Path, name: str) -> Path:
    from music21 import corpus

    score = corpus.parse(name)
    out = tmp_dir / (name.replace("/", "_").replace(".", "_") + ".mid")
    score.write("midi", fp=str(out))
    return out


def make_type0_with_drums_and_pedals(path: Path) -> Path:
    """A type-0 file: piano on channel 0 with all three pedals, drums on channel 9, a tempo change."""
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    t = mido.MidiTrack()
    mid.tracks.append(t)
    t.append(mido.MetaMessage("set_tempo", tempo=600_000, time=0))
    t.append(mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0))
    t.append(mido.Message("control_change", channel=0, control=64, value=127, time=0))
    t.append(mido.Message("note_on", channel=0, note=60, velocity=90, time=0))
    t.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0))
    t.append(mido.Message("control_change", channel=0, control=67, value=100, time=10))
    t.append(mido.Message("note_off", channel=9, note=36, velocity=0, time=38))
    t.append(mido.Message("control_change", channel=0, control=66, value=127, time=0))
    t.append(mido.MetaMessage("set_tempo", tempo=400_000, time=48))
    t.append(mido.Message("note_on", channel=0, note=64, velocity=50, time=0))
    t.append(mido.Message("note_off", channel=0, note=60, velocity=0, time=96))
    t.append(mido.Message("control_change", channel=0, control=64, value=0, time=1))
    t.append(mido.Message("note_off", channel=0, note=64, velocity=0, time=95))
    mid.save(str(path))
    return path


@pytest.fixture(scope="session")
def sample_midis(tmp_path_factory: pytest.TempPathFactory, demo_midi: Path) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("midis")
    files = {"demo": demo_midi, "type0": make_type0_with_drums_and_pedals(tmp / "type0.mid")}
    for name in ("bach/bwv66.6", "mozart/k155/movement1", "bach/bwv4.8"):
        files[name] = _corpus_midi(tmp, name)
    return files
