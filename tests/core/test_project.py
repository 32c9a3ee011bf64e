"""The Qt-free project document: layers, mute/solo, note edits and the .msproj round trip."""

from __future__ import annotations

import json

import pytest

from musestudio.core.errors import InputFileError
from musestudio.core.notes import Note, NoteSequence, PedalEvent
from musestudio.core.project import (
    Project,
    delete_notes,
    move_notes,
    quantize_notes,
    resize_notes,
    set_velocity,
    transpose_notes,
)
from musestudio.core.timing import KeySignature, TempoChange, TempoMap, TimeSignature


def _seq() -> NoteSequence:
    return NoteSequence(
        notes=[Note(60, 0.0, 0.5, 90), Note(64, 0.5, 1.0, 70), Note(67, 1.0, 1.5, 50, track=1)],
        pedals=[PedalEvent(0.1, 127), PedalEvent(1.2, 0)],
        tempo_map=TempoMap(480, [TempoChange(0, 500_000), TempoChange(960, 400_000)]),
        time_signatures=[TimeSignature(0.0, 3, 4)],
        key_signatures=[KeySignature(0.0, "D", "minor")],
        title="t",
    )


def test_project_round_trip_is_exact(tmp_path):
    p = Project()
    seq = _seq().copy(notes=[Note(61, 0.123456789012345, 0.98765432101234, 33)])
    a = p.add_layer("seed", seq, "seed")
    b = p.add_layer("seed", _seq(), "continuation")
    assert b.name == "seed 2"  # names stay unique
    p.set_layer_props(b.id, muted=True, color="#123456")
    audio = tmp_path / "take.wav"
    audio.write_bytes(b"RIFF")
    p.audio_path = str(audio)
    p.view.selection = (1.0, 2.5)
    out = p.save(tmp_path / "proj")  # the extension is added
    assert out.suffix == ".msproj" and not p.modified
    q = Project.load(out)
    assert [layer.name for layer in q.layers] == ["seed", "seed 2"]
    assert q.layers[0].sequence.notes == seq.notes  # floats survive exactly
    assert q.layers[1].sequence.pedals == _seq().pedals
    assert q.layers[1].sequence.tempo_map.changes == _seq().tempo_map.changes
    assert q.layers[1].sequence.time_signatures == _seq().time_signatures
    assert q.layers[1].sequence.key_signatures == _seq().key_signatures
    assert q.layers[1].muted and q.layers[1].color == "#123456" and q.layers[0].id == a.id
    assert q.view.selection == (1.0, 2.5)
    assert q.audio_path == str(audio.resolve())
    # the audio path is stored relative to the project, so the folder can move
    assert json.loads(out.read_text())["audio_path"] == "take.wav"


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "x.msproj"
    bad.write_text("{not json")
    with pytest.raises(InputFileError):
        Project.load(bad)
    other = tmp_path / "y.msproj"
    other.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(InputFileError, match="not a valid musestudio project"):
        Project.load(other)
    with pytest.raises(InputFileError, match="not found"):
        Project.load(tmp_path / "missing.msproj")


def test_solo_wins_over_mute():
    p = Project()
    a = p.add_layer("a", _seq())
    b = p.add_layer("b", _seq())
    c = p.add_layer("c", _seq())
    p.set_layer_props(a.id, muted=True)
    assert [x.name for x in p.audible_layers()] == ["b", "c"]
    p.set_layer_props(c.id, solo=True)
    assert [x.name for x in p.audible_layers()] == ["c"]
    p.set_layer_props(b.id, solo=True)
    assert {x.name for x in p.audible_layers()} == {"b", "c"}
    with pytest.raises(AttributeError):
        p.set_layer_props(a.id, sequence=None)


def test_remove_and_insert_layer_restores_order():
    p = Project()
    layers = [p.add_layer(n, _seq()) for n in "abc"]
    removed, index = p.remove_layer(layers[1].id)
    assert [x.name for x in p.layers] == ["a", "c"]
    p.insert_layer(removed, index)
    assert [x.name for x in p.layers] == ["a", "b", "c"]


def test_selection_edits():
    notes = _seq().notes
    sel = {notes[1]}
    moved, new_sel = move_notes(notes, sel, 0.25, 2)
    assert Note(66, 0.75, 1.25, 70) in moved and new_sel == {Note(66, 0.75, 1.25, 70)}
    assert notes[0] in moved and notes[2] in moved
    left, _ = move_notes(notes, {notes[0]}, -5.0, 0)  # cannot move before 0
    assert min(n.start for n in left) == 0.0
    high, _ = move_notes(notes, {notes[0]}, 0.0, 100)
    assert max(n.pitch for n in high) == 127
    longer, _ = resize_notes(notes, sel, 0.5)
    assert Note(64, 0.5, 1.5, 70) in longer
    shorter, _ = resize_notes(notes, sel, -5.0)
    assert any(n.pitch == 64 and n.end - n.start == pytest.approx(0.01) for n in shorter)
    loud, _ = set_velocity(notes, sel, 200)
    assert Note(64, 0.5, 1.0, 127) in loud
    assert delete_notes(notes, sel) == [notes[0], notes[2]]
    up_all, _ = transpose_notes(notes, None, 12)
    assert [n.pitch for n in up_all] == [72, 76, 79]


def test_quantize_selection_only():
    seq = NoteSequence(notes=[Note(60, 0.13, 0.41), Note(62, 0.9, 1.3)], tempo_map=TempoMap.constant(120))
    out, changed = quantize_notes(seq, {seq.notes[0]}, 0.5)  # grid = 0.25 s at 120 qpm
    assert Note(60, 0.25, 0.5) in out and seq.notes[1] in out
    assert changed == {Note(60, 0.25, 0.5)}
    everything, _ = quantize_notes(seq, None, 0.5)
    assert [(n.start, n.end) for n in everything] == [(0.25, 0.5), (1.0, 1.25)]


def test_layers_of_one_kind_get_distinct_colours():
    from musestudio.core.project import KIND_COLORS, rotate_hue

    p = Project()
    colours = [p.add_layer(f"continuation {k}", _seq(), "continuation").color for k in range(4)]
    assert colours[0] == KIND_COLORS["continuation"] and len(set(colours)) == 4
    assert rotate_hue("#ff0000", 120.0) == "#00ff00" and rotate_hue("#123456", 360.0) == "#123456"
    assert p.add_layer("x", _seq(), "continuation", color="#010203").color == "#010203"


@pytest.mark.parametrize(
    "column,values",
    [
        ("start", [float("nan"), 0.5]),
        ("end", [0.4, float("inf")]),
        ("start", [-1.0, 0.5]),
        ("end", [0.4, 0.1]),  # ends before it starts
        ("pitch", [60, 200]),
        ("velocity", [80, -1]),
    ],
)
def test_damaged_note_values_are_refused(tmp_path, column, values):
    p = Project()
    p.add_layer("a", NoteSequence(notes=[Note(60, 0.0, 0.4), Note(64, 0.5, 0.9)]))
    data = p.to_dict()
    data["layers"][0]["sequence"]["notes"][column] = values
    path = tmp_path / "bad.msproj"
    path.write_text(json.dumps(data))  # json writes NaN/Infinity, as a hand-edited file might hold
    with pytest.raises(InputFileError, match="not a valid musestudio project"):
        Project.load(path)


def test_absurdly_nested_json_is_a_clean_error(tmp_path):
    path = tmp_path / "deep.msproj"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(InputFileError):
        Project.load(path)
