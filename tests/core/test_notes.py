import pytest

from musestudio.core.notes import Note, NoteSequence, PedalEvent
from musestudio.core.timing import TempoMap


def seq() -> NoteSequence:
    return NoteSequence(
        notes=[Note(60, 0.0, 1.0, 80), Note(64, 0.5, 1.5, 70), Note(67, 2.0, 3.5, 90), Note(72, 3.0, 4.0, 100)],
        pedals=[PedalEvent(0.2, 127), PedalEvent(2.5, 0)],
        tempo_map=TempoMap.constant(120),
    )


def test_duration_and_sorting():
    s = NoteSequence(notes=[Note(67, 2.0, 3.0), Note(60, 0.0, 1.0)])
    assert [n.pitch for n in s.notes] == [60, 67]
    assert s.duration == 3.0


def test_slice_keeps_onsets_in_range_and_truncates():
    s = seq().slice(0.5, 3.2)
    assert [(n.pitch, n.start, n.end) for n in s.notes] == [(64, 0.5, 1.5), (67, 2.0, 3.2), (72, 3.0, 3.2)]
    # The pedal held down at 0.5 is carried in, its release kept.
    assert [(p.time, p.value) for p in s.pedals] == [(0.5, 127), (2.5, 0)]


def test_slice_shift_to_zero():
    s = seq().slice(2.0, None, shift_to_zero=True)
    assert [(n.pitch, n.start) for n in s.notes] == [(67, 0.0), (72, 1.0)]


def test_transpose_drops_out_of_range_notes():
    s = NoteSequence(notes=[Note(120, 0, 1), Note(60, 0, 1)])
    assert [n.pitch for n in s.transpose(10).notes] == [70]
    with pytest.raises(ValueError):
        s.transpose(10, clamp=False)


def test_quantize_snaps_to_grid_and_never_zero_length():
    s = NoteSequence(notes=[Note(60, 0.13, 0.14), Note(62, 0.49, 1.01)], tempo_map=TempoMap.constant(120))
    q = s.quantize(0.25)  # sixteenth = 0.125 s at 120 qpm
    assert [(n.start, n.end) for n in q.notes] == [(0.125, 0.25), (0.5, 1.0)]


def test_concatenate_continues_at_the_end():
    a = NoteSequence(notes=[Note(60, 0.0, 1.0)])
    b = NoteSequence(notes=[Note(62, 0.0, 0.5)])
    c = a.concatenate(b)
    assert [(n.pitch, n.start) for n in c.notes] == [(60, 0.0), (62, 1.0)]
    assert c.notes[0] == a.notes[0]  # the first part is preserved exactly


def test_without_duplicates_cuts_overlaps_and_drops_repeats():
    s = NoteSequence(notes=[Note(60, 0.0, 2.0), Note(60, 0.0, 1.0), Note(60, 1.0, 3.0)])
    d = s.without_duplicates()
    assert [(n.start, n.end) for n in d.notes] == [(0.0, 1.0), (1.0, 3.0)]


def test_sustain_extends_notes():
    s = seq().with_sustain_applied()
    by_pitch = {n.pitch: n for n in s.notes}
    assert by_pitch[60].end == 2.5 and by_pitch[64].end == 2.5
    assert by_pitch[67].end == 3.5  # released after the pedal came up


def test_pianoroll_shape_and_values():
    roll = NoteSequence(notes=[Note(60, 0.0, 0.5, 100)]).to_pianoroll(fs=10)
    assert roll.shape == (128, 5)
    assert roll[60].tolist() == [100.0] * 5
    assert roll.sum() == 500.0
