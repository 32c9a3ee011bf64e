"""`musestudio generate` on a DAW part: grid by default, --humanize, --bars on a bar line, the tempo map kept."""

from __future__ import annotations

import pytest

from musestudio.cli import main
from musestudio.core.notes import NoteSequence
from musestudio.io.midi import read_midi, write_midi
from musestudio.ml.seed import grid_share
from tests.ml.symbolic_fixtures import tiny_checkpoint
from tests.ml.test_generate import quantized_seed


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_checkpoint(tmp_path_factory.mktemp("ck") / "transformer", "transformer"))


def _seed_file(tmp_path, seq: NoteSequence) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "seed.mid"
    write_midi(seq, path)
    return str(path)


def test_quantized_seed_continues_in_grid_mode_for_whole_bars(tmp_path, checkpoint) -> None:
    seq = quantized_seed(qpm=84.0, meter=(3, 4), bars=2)
    seq = seq.slice(0.0, seq.tempo_map.beats_to_seconds(6))
    out = tmp_path / "out.mid"
    rc = main(["generate", _seed_file(tmp_path, seq), "-o", str(out), "--model", "transformer", "--checkpoint",
               checkpoint, "--bars", "2", "--random-seed", "3", "--temperature", "1.5"])
    assert rc == 0
    back = read_midi(out)
    tm = back.tempo_map
    assert abs(tm.initial_qpm - 84.0) < 0.01 and (back.time_signature.numerator, back.time_signature.denominator) == (3, 4)
    new = back.copy(notes=[n for n in back.notes if tm.seconds_to_beats(n.start) >= 6 - 1e-3])
    assert new.notes and grid_share(new, tolerance=0.01) == 1.0
    assert max(tm.seconds_to_beats(n.end) for n in new.notes) == pytest.approx(12.0, abs=0.25)


def test_humanize_and_grid_are_exclusive_switches(tmp_path, checkpoint, capsys) -> None:
    seq = quantized_seed()
    with pytest.raises(SystemExit):
        main(["generate", _seed_file(tmp_path, seq), "-o", str(tmp_path / "o.mid"), "--humanize", "--grid"])
    rc = main(["generate", _seed_file(tmp_path, seq), "-o", str(tmp_path / "h.mid"), "--checkpoint", checkpoint,
               "--humanize", "--bars", "1", "--random-seed", "0"])
    assert rc == 0


def test_drum_only_seed_is_one_clear_line(tmp_path, checkpoint, capsys) -> None:
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    for note in (36, 38, 42, 36):  # General MIDI drums live on channel 10 (index 9)
        track += [mido.Message("note_on", channel=9, note=note, velocity=100, time=0),
                  mido.Message("note_off", channel=9, note=note, velocity=0, time=240)]
    mid.tracks.append(track)
    path = tmp_path / "drums.mid"
    mid.save(path)
    assert read_midi(path).drum_notes and not read_midi(path).notes
    rc = main(["generate", str(path), "-o", str(tmp_path / "o.mid"), "--checkpoint", checkpoint])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and err.count("\n") == 0 and "drum" in err
