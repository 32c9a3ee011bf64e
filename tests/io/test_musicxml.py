from __future__ import annotations

import zipfile

import pytest

from musestudio.core.errors import InputFileError, OutputFileError
from musestudio.core.notes import Note, NoteSequence
from musestudio.core.timing import TempoMap, TimeSignature, estimate_beat_seconds
from musestudio.io.midi import read_midi
from musestudio.io.musicxml import count_score_notes, read_musicxml, write_musicxml


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


def _parse(path):
    from music21 import converter

    return converter.parse(str(path))


def test_held_bass_under_moving_melody_gets_its_own_voice(tmp_path):
    """A whole-note C3 under four quarter notes: the bass keeps its four beats (a second voice)."""
    tm = TempoMap.constant(120.0)  # a beat is 0.5 s
    melody = [Note(72 + i, 0.5 * i, 0.5 * (i + 1), 80) for i in range(4)]
    bass = [Note(48, 0.0, 2.0, 60), Note(55, 0.5, 1.0, 60)]  # and a short inner note under it
    seq = NoteSequence(notes=melody + bass, tempo_map=tm, time_signatures=[TimeSignature(0.0, 4, 4)])
    score = _parse(write_musicxml(seq, tmp_path / "voices.musicxml"))
    lower = score.parts[1]
    c3 = [n for n in lower.recurse().notes if n.isNote and n.pitch.midi == 48]
    assert [float(n.quarterLength) for n in c3] == [4.0]
    first = lower.getElementsByClass("Measure").first()
    assert len(first.voices) >= 2
    assert abs(count_score_notes(tmp_path / "voices.musicxml") - len(seq.notes)) == 0


def test_triplets_and_ties_across_barlines(tmp_path):
    tm = TempoMap.constant(60.0)  # a beat is 1 s
    third = 1.0 / 3.0
    notes = [Note(72 + i, i * third, (i + 1) * third, 80) for i in range(3)]  # a triplet on beat 1
    notes.append(Note(79, 3.0, 5.0, 80))  # beat 4 held over the bar line (2 beats)
    seq = NoteSequence(notes=notes, tempo_map=tm, time_signatures=[TimeSignature(0.0, 4, 4)])
    score = _parse(write_musicxml(seq, tmp_path / "trip.musicxml"))
    upper = score.parts[0]
    trip = [n for n in upper.recurse().notes if n.duration.tuplets]
    assert len(trip) == 3
    held = [n for n in upper.recurse().notes if n.isNote and n.pitch.midi == 79]
    assert [n.tie.type for n in held] == ["start", "stop"]
    assert count_score_notes(tmp_path / "trip.musicxml") == 4


def test_time_signature_and_pickup_follow_the_tempo_map(tmp_path):
    tm = TempoMap.constant(120.0)
    notes = [Note(60 + (i % 3), 0.5 * i, 0.5 * i + 0.4, 80) for i in range(13)]
    sigs = [TimeSignature(0.0, 1, 4), TimeSignature(0.5, 3, 4)]  # one-beat pickup, then 3/4
    seq = NoteSequence(notes=notes, tempo_map=tm, time_signatures=sigs)
    out = write_musicxml(seq, tmp_path / "pickup.musicxml")
    score = _parse(out)
    measures = list(score.parts[0].getElementsByClass("Measure"))
    assert len(measures) == 1 + 4  # 1 pickup beat + 12 beats of 3/4
    # the pickup is an anacrusis in 3/4 (measure 0, implicit), not a bar of 1/4 as in the MIDI tempo map
    assert measures[0].number == 0 and measures[0].timeSignature.ratioString == "3/4"
    assert float(measures[0].highestTime) == 1.0
    assert [m.number for m in measures[1:]] == [1, 2, 3, 4]
    assert all(float(m.barDuration.quarterLength) == 3.0 for m in measures)
    assert '<measure implicit="yes" number="0"' in out.read_text(encoding="utf-8")
    assert [n.offset + m.offset for m in measures[:2] for n in m.recurse().notes][:3] == [0.0, 1.0, 2.0]
    assert count_score_notes(out) == 13 and len(read_musicxml(out).notes) == 13


def test_a_compound_pickup_becomes_an_anacrusis_in_six_eight(tmp_path):
    tm = TempoMap.constant(120.0)  # a dotted-quarter beat is 0.75 s
    notes = [Note(60 + (i % 3), 0.25 * i, 0.25 * i + 0.2, 80) for i in range(27)]
    sigs = [TimeSignature(0.0, 3, 16), TimeSignature(0.375, 6, 8)]  # three sixteenths before bars of 6/8
    seq = NoteSequence(notes=notes, tempo_map=tm, time_signatures=sigs)
    measures = list(_parse(write_musicxml(seq, tmp_path / "six8.musicxml")).parts[0].getElementsByClass("Measure"))
    assert measures[0].number == 0 and measures[0].timeSignature.ratioString == "6/8"
    assert float(measures[0].highestTime) == 0.75


def test_a_short_first_bar_without_a_longer_meter_after_it_is_no_pickup(tmp_path):
    tm = TempoMap.constant(120.0)
    notes = [Note(60, 0.5 * i, 0.5 * i + 0.4, 80) for i in range(8)]
    sigs = [TimeSignature(0.0, 3, 4), TimeSignature(1.5, 2, 4)]  # a real change of meter, not a lead-in
    seq = NoteSequence(notes=notes, tempo_map=tm, time_signatures=sigs)
    measures = list(_parse(write_musicxml(seq, tmp_path / "change.musicxml")).parts[0].getElementsByClass("Measure"))
    assert measures[0].number == 1 and measures[0].timeSignature.ratioString == "3/4"
    assert measures[1].timeSignature.ratioString == "2/4"


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


def test_a_score_with_an_anacrusis_reads_with_its_pickup_bar(tmp_path):
    """bwv66.6 (music21's corpus) opens on a one-beat pickup: its first bar line falls after one beat."""
    import shutil

    from music21 import corpus

    src = tmp_path / "bwv66.6.mxl"
    shutil.copy(corpus.getWork("bach/bwv66.6"), src)
    seq = read_musicxml(src)
    beat = seq.tempo_map.tick_to_seconds(seq.tempo_map.ppq)
    sigs = seq.time_signatures
    assert (sigs[0].numerator, sigs[0].denominator) == (1, 4)
    assert (sigs[1].numerator, sigs[1].denominator) == (4, 4) and abs(sigs[1].time - beat) < 1e-6
