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


def scaled_events(events, factor):
    """Events with their ticks multiplied by ``factor`` (files are written at 960 PPQ)."""
    ons, offs = events
    return (sorted((p, round(t * factor), v) for p, t, v in ons),
            sorted([None if o is None else (o[0], round(o[1] * factor)) for o in offs],
                   key=lambda v: (v is None, v or (0, 0))))


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
    again = read_midi(out)
    assert_same_events(reference_events(out), sequence_events(again))  # what we write is what mido reads
    timing = sorted((n.pitch, n.start, n.end, n.velocity) for n in again.notes)
    for x, y in zip(timing, sorted((n.pitch, n.start, n.end, n.velocity) for n in seq.notes)):
        assert x[0] == y[0] and x[3] == y[3] and abs(x[1] - y[1]) < 1e-3 and abs(x[2] - y[2]) < 1e-3
    assert len(again.notes) == len(seq.notes)
    assert again.tempo_map.ppq == 960  # every file is written at 960 PPQ (note times within 2 ms)
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
    src_ppq = read_midi(sample_midis["type0"]).tempo_map.ppq
    assert_same_events(reference_events(tmp_path / "t.mid", True),
                       scaled_events(reference_events(sample_midis["type0"], True), 960 / src_ppq))


def test_tempo_map_round_trip_conductor_track_and_2ms(tmp_path):
    """A performance with a tempo change on every beat: track 0 holds only tempo/meter/key, notes keep their times."""
    import mido
    import numpy as np

    from musestudio.core.notes import Note, NoteSequence
    from musestudio.core.timing import TempoChange, TempoMap, TimeSignature

    rng = np.random.default_rng(3)
    ibis = rng.uniform(0.4, 0.8, 200)
    changes = [TempoChange(960 * k, round(ibi * 1e6)) for k, ibi in enumerate(ibis)]
    tm = TempoMap(ppq=960, changes=changes)
    starts = np.sort(rng.uniform(0.0, float(ibis.sum()), 500))
    notes = [Note(int(rng.integers(30, 90)), float(t), float(t + rng.uniform(0.05, 1.0)), 70) for t in starts]
    sigs = [TimeSignature(0.0, 1, 4), TimeSignature(tm.tick_to_seconds(960), 3, 4)]
    seq = NoteSequence(notes=notes, tempo_map=tm, time_signatures=sigs)
    out = write_midi(seq, tmp_path / "perf.mid")
    mf = mido.MidiFile(str(out))
    assert mf.type == 1 and mf.ticks_per_beat == 960
    conductor = mf.tracks[0]
    assert not [m for m in conductor if m.type in ("note_on", "note_off")]
    assert sum(m.type == "set_tempo" for m in conductor) == len(tm.changes)
    assert [(m.numerator, m.denominator) for m in conductor if m.type == "time_signature"] == [(1, 4), (3, 4)]
    assert all(m.type not in ("set_tempo", "time_signature") for t in mf.tracks[1:] for m in t)
    again = read_midi(out)
    assert len(again.notes) == len(seq.notes)
    for attr in ("start", "end"):  # onsets and offsets apart: MIDI pairs overlapping same-key notes first-in, first-out
        got = sorted((n.pitch, getattr(n, attr)) for n in again.notes)
        want = sorted((n.pitch, getattr(n, attr)) for n in seq.notes)
        assert [g[0] for g in got] == [w[0] for w in want]
        assert max(abs(g[1] - w[1]) for g, w in zip(got, want)) < 0.002


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
        # 384 -> 960 PPQ is not a whole factor: a tick may round either way (<= 0.26 ms)
        got, want = reference_events(out), scaled_events(reference_events(src), 960 / seq.tempo_map.ppq)
        assert [(p, v) for p, _, v in got[0]] == [(p, v) for p, _, v in want[0]]
        assert max(abs(a[1] - b[1]) for a, b in zip(got[0], want[0])) <= 1
        assert len(read_midi(out).pedals) == len(seq.pedals)
