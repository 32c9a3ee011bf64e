"""MIDI -> NoteSequence -> MIDI keeps every note (pitch, velocity, timing within 1 ms).

The original is read with pretty_midi, an independent parser, so a bug shared
by our reader and writer cannot hide.
"""

from __future__ import annotations

from pathlib import Path

import pretty_midi  # independent check of tempo and PPQ
import pytest

from musestudio.core.errors import InputFileError
from musestudio.io.midi import read_midi, write_midi

SOURCES = ["demo", "type0", "bach/bwv66.6", "mozart/k155/movement1", "bach/bwv4.8"]


def reference_events(path: Path, drums: bool = False) -> tuple[list, list]:
    """Note-on (pitch, tick, velocity) and note-off (pitch, tick) events, read with mido.

    Comparing events rather than paired notes avoids MIDI's one real
    ambiguity: which note-off closes which of two overlapping notes of the
    same key is up to the reader.  A note-off with no sounding note in its
    track is dropped (every reader ignores it); a note never switched off adds
    None to ``offs`` (our reader ends it with its track).
    """
    import mido

    ons, offs = [], []
    for track in mido.MidiFile(str(path)).tracks:
        tick = 0
        sounding: dict[tuple[int, int], int] = {}
        for msg in track:
            tick += msg.time
            if msg.type not in ("note_on", "note_off") or (msg.channel == 9) != drums:
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                ons.append((msg.note, tick, msg.velocity))
                sounding[key] = sounding.get(key, 0) + 1
            elif sounding.get(key, 0) > 0:
                sounding[key] -= 1
                offs.append((msg.note, tick))
        offs += [None] * sum(sounding.values())
    return sorted(ons), sorted(offs, key=lambda v: (v is None, v or (0, 0)))


def sequence_events(seq, drums: bool = False) -> tuple[list, list]:
    tm = seq.tempo_map
    notes = seq.drum_notes if drums else seq.notes
    ons = sorted((n.pitch, tm.seconds_to_tick(n.start), n.velocity) for n in notes)
    return ons, sorted((n.pitch, tm.seconds_to_tick(n.end)) for n in notes)


def assert_same_events(a, b):
    """Same on and off events, tick for tick; a None off (never switched off) matches any end."""
    from collections import Counter

    assert a[0] == b[0]
    unpaired = a[1].count(None) + b[1].count(None)
    known_a = Counter(v for v in a[1] if v is not None)
    known_b = Counter(v for v in b[1] if v is not None)
    assert len(a[1]) == len(b[1])
    assert sum((known_a - known_b).values()) + sum((known_b - known_a).values()) <= unpaired


@pytest.mark.parametrize("name", SOURCES)
def test_round_trip_keeps_every_note(name, sample_midis, tmp_path):
    src = sample_midis[name]
    seq = read_midi(src)
    ours = sequence_events(seq)
    assert_same_events(ours, reference_events(src))  # we read what mido reads
    out = write_midi(seq, tmp_path / "out.mid")
    assert_same_events(reference_events(out), ours)  # and write it back unchanged
    again = read_midi(out)
    timing = sorted((n.pitch, n.start, n.end, n.velocity) for n in again.notes)
    for x, y in zip(timing, sorted((n.pitch, n.start, n.end, n.velocity) for n in seq.notes)):
        assert x[0] == y[0] and x[3] == y[3] and abs(x[1] - y[1]) < 1e-3 and abs(x[2] - y[2]) < 1e-3
    assert again.tempo_map.ppq == seq.tempo_map.ppq
    flat = [x for change in seq.tempo_map.tempo_changes_seconds() for x in change]
    assert [x for change in again.tempo_map.tempo_changes_seconds() for x in change] == pytest.approx(flat)
    assert [(t.numerator, t.denominator) for t in again.time_signatures] == [
        (t.numerator, t.denominator) for t in seq.time_signatures
    ]


def test_type0_drums_and_pedals_kept_apart(sample_midis, tmp_path):
    seq = read_midi(sample_midis["type0"])
    assert [n.pitch for n in seq.notes] == [60, 64]
    assert [n.pitch for n in seq.drum_notes] == [36]
    assert sorted({p.controller for p in seq.pedals}) == [64, 66, 67]
    assert seq.time_signature.numerator == 3
    assert [round(q) for _, q in seq.tempo_map.tempo_changes_seconds()] == [100, 150]
    out = read_midi(write_midi(seq, tmp_path / "t.mid"))
    assert [n.pitch for n in out.drum_notes] == [36]
    assert [(p.controller, p.value) for p in out.pedals] == [(p.controller, p.value) for p in seq.pedals]
    assert_same_events(reference_events(tmp_path / "t.mid", True), reference_events(sample_midis["type0"], True))


def test_write_uses_requested_ppq_and_tempo(tmp_path):
    from musestudio.core.notes import Note, NoteSequence
    from musestudio.core.timing import TempoMap

    seq = NoteSequence(notes=[Note(60, 0.0, 0.75, 64)], tempo_map=TempoMap.constant(80, ppq=960))
    out = write_midi(seq, tmp_path / "a.mid")
    pm = pretty_midi.PrettyMIDI(str(out))
    assert pm.resolution == 960
    assert pm.get_tempo_changes()[1][0] == pytest.approx(80, abs=1e-3)
    assert pm.instruments[0].notes[0].end == pytest.approx(0.75, abs=1e-3)


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", "empty"), (b"hello world", "not a MIDI file"), (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01", "corrupt")],
)
def test_bad_midi_gives_clear_error(tmp_path, content, needle):
    p = tmp_path / "bad.mid"
    p.write_bytes(content)
    with pytest.raises(InputFileError, match=needle):
        read_midi(p)


def test_truncated_midi(tmp_path, demo_midi):
    data = demo_midi.read_bytes()
    p = tmp_path / "cut.mid"
    p.write_bytes(data[: len(data) // 2])
    try:
        seq = read_midi(p)  # a tolerant parse is fine as long as it returns notes it could read
        assert len(seq.notes) <= len(read_midi(demo_midi).notes)
    except InputFileError as exc:
        assert "cut.mid" in str(exc)


def test_missing_file():
    with pytest.raises(InputFileError, match="not found"):
        read_midi("/nonexistent/file.mid")


@pytest.mark.shared_data
def test_asap_round_trip(asap_dir, tmp_path):
    import csv

    with open(asap_dir / "metadata.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows[::200]:
        src = asap_dir / row["midi_performance"]
        seq = read_midi(src)
        out = write_midi(seq, tmp_path / "asap.mid")
        assert_same_events(sequence_events(seq), reference_events(src))
        assert_same_events(reference_events(out), reference_events(src))
        assert len(read_midi(out).pedals) == len(seq.pedals)
