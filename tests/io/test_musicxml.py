from __future__ import annotations

import zipfile

import pytest

from musestudio.core.errors import InputFileError, OutputFileError
from musestudio.core.notes import Note, NoteSequence
from musestudio.io.midi import read_midi
from musestudio.io.musicxml import count_score_notes, estimate_beat_seconds, read_musicxml, write_musicxml


def test_read_demo_matches_its_midi(demo_musicxml, demo_midi):
    xml = read_musicxml(demo_musicxml)
    mid = read_midi(demo_midi)
    assert len(xml.notes) == len(mid.notes)
    assert sorted(n.pitch for n in xml.notes) == sorted(n.pitch for n in mid.notes)
    assert xml.time_signature.numerator == 2
    assert xml.key_signature is not None and xml.key_signature.key == "Ab"


def test_export_score_round_trip(demo_midi, tmp_path):
    seq = read_midi(demo_midi)
    out = write_musicxml(seq, tmp_path / "demo.musicxml")
    again = read_musicxml(out)
    assert abs(len(again.notes) - len(seq.notes)) <= 0.02 * len(seq.notes)
    assert count_score_notes(out) == len(again.notes)


def test_export_performance_is_quantized_and_two_staves(tmp_path):
    import random

    rng = random.Random(1)
    beat = 0.55
    notes = []
    for i in range(64):  # a jittered performance of eighth notes in both hands
        t = i * beat / 2 + rng.uniform(-0.02, 0.02)
        notes.append(Note(72 + (i % 5), t, t + beat / 2 * 0.9, 70))
        if i % 2 == 0:
            notes.append(Note(48 + (i % 3), t, t + beat * 0.95, 60))
    seq = NoteSequence(notes=notes)
    assert estimate_beat_seconds(seq) == pytest.approx(beat, rel=0.05)
    out = write_musicxml(seq, tmp_path / "perf.musicxml")
    from music21 import converter

    score = converter.parse(str(out))
    assert len(score.parts) == 2
    upper, lower = score.parts
    assert min(p.midi for n in upper.recurse().notes for p in n.pitches) >= 60
    assert max(p.midi for n in lower.recurse().notes for p in n.pitches) < 60
    # Quantized: every onset is on the sixteenth grid.
    assert all((n.offset * 4) % 1 == 0 for n in upper.flatten().notes)
    assert abs(count_score_notes(out) - len(notes)) <= 0.02 * len(notes)


def test_mxl_export(demo_midi, tmp_path):
    out = write_musicxml(read_midi(demo_midi), tmp_path / "demo.mxl")
    assert zipfile.is_zipfile(out)
    assert len(read_musicxml(out).notes) > 400


def test_export_nothing_refused(tmp_path):
    with pytest.raises(OutputFileError):
        write_musicxml(NoteSequence(), tmp_path / "x.musicxml")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("a.musicxml", b"", "empty"),
        ("b.musicxml", b"this is not xml", "not XML"),
        ("c.xml", b"<?xml version='1.0'?><html><body>hi</body></html>", "cannot read MusicXML"),
        ("d.mxl", b"PK\x03\x04garbage", "mxl"),
    ],
)
def test_bad_musicxml_gives_clear_error(tmp_path, name, content, needle):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputFileError, match=needle):
        read_musicxml(p)


@pytest.mark.shared_data
@pytest.mark.slow
def test_two_minute_asap_performance_keeps_note_count(asap_dir, tmp_path):
    """Issue #2's figure: a 2-minute performance exported and re-imported keeps its note count within 2%."""
    src = asap_dir / "Chopin" / "Etudes_op_10" / "3" / "SunMeiting08.mid"
    if not src.exists():
        pytest.skip("reference performance not present")
    seq = read_midi(src)
    seq = seq.slice(0, 120.0)
    out = write_musicxml(seq, tmp_path / "perf.musicxml")
    n_in = len(seq.without_duplicates().notes)
    n_out = count_score_notes(out)
    print(f"\nMusicXML export of 120 s of {src.name}: {n_in} notes in, {n_out} re-imported ({(n_out - n_in) / n_in:+.2%})")
    assert abs(n_out - n_in) <= 0.02 * n_in
