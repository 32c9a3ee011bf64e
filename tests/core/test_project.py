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


# --- the evented document and its saved-state marker ---------------------------------


def _recorder(project: Project) -> list[tuple]:
    seen: list[tuple] = []
    ev = project.events
    ev.layers_changed.connect(lambda: seen.append(("layers",)))
    ev.layer_props_changed.connect(lambda lid: seen.append(("props", lid)))
    ev.notes_changed.connect(lambda lid, sel: seen.append(("notes", lid, sel)))
    ev.timing_changed.connect(lambda: seen.append(("timing",)))
    ev.audio_changed.connect(lambda: seen.append(("audio",)))
    ev.modified_changed.connect(lambda m: seen.append(("modified", m)))
    return seen


def test_every_change_is_announced():
    p = Project()
    seen = _recorder(p)
    layer = p.add_layer("a", _seq(), "score")
    assert ("layers",) in seen and ("timing",) in seen and ("modified", True) in seen
    seen.clear()
    p.set_notes(layer.id, layer.sequence.notes[:1], selection={layer.sequence.notes[0]})
    assert seen == [("notes", layer.id, {_seq().notes[0]})]
    seen.clear()
    p.set_layer_props(layer.id, name="b")
    p.set_audio("/x.wav")
    p.set_timing(TempoMap.constant(90), [TimeSignature(0.0, 6, 8)])
    assert seen == [("props", layer.id), ("audio",), ("timing",)]
    assert p.timing().tempo_map.initial_qpm == pytest.approx(90)
    assert p.timing().time_signature == TimeSignature(0.0, 6, 8)


def test_undo_back_to_the_saved_state_is_not_modified(tmp_path):
    """The saved-state marker: restoring the revision an edit started from makes the project clean again."""
    p = Project()
    layer = p.add_layer("a", _seq(), "score")
    p.save(tmp_path / "a.msproj")
    assert not p.modified
    before = p.revision
    old = p.set_notes(layer.id, [])
    assert p.modified
    after = p.revision
    p.set_notes(layer.id, old)  # what an undo command does ...
    p.restore_revision(before)  # ... and it puts back the revision it recorded
    assert not p.modified
    p.set_notes(layer.id, [])  # redo
    p.restore_revision(after)
    assert p.modified
    # show/mute/solo are listening switches, not edits
    p.set_notes(layer.id, old)
    p.restore_revision(before)
    p.set_layer_props(layer.id, muted=True, solo=True, visible=False)
    assert not p.modified
    p.set_layer_props(layer.id, name="renamed")
    assert p.modified
    p.modified = False
    assert not p.modified
    p.modified = True  # e.g. a restored crash snapshot: unsaved, whatever the undo stack says
    assert p.modified


def test_project_timing_is_its_own_and_round_trips(tmp_path):
    p = Project()
    assert p.timing_source() is None
    p.add_layer("a", _seq(), "score")
    assert p.timing().tempo_map.changes == _seq().tempo_map.changes  # follows the first layer by default
    p.set_timing(TempoMap.constant(100, 960), [TimeSignature(0.0, 3, 4), TimeSignature(4.0, 2, 4)])
    out = Project.load(p.save(tmp_path / "t.msproj"))
    assert out.tempo_map.initial_qpm == pytest.approx(100)
    assert out.time_signatures == [TimeSignature(0.0, 3, 4), TimeSignature(4.0, 2, 4)]
    assert out.timing().time_signatures == out.time_signatures


def test_candidates_live_in_the_document(tmp_path):
    p = Project()
    seed = p.add_layer("seed", _seq(), "score")
    cand = p.add_layer("v1", _seq().shift_time(2.0), "continuation", candidate_of=seed.id, seed_end=1.5)
    assert p.candidates() == [cand]
    out = Project.load(p.save(tmp_path / "c.msproj"))
    assert [(la.candidate_of, la.seed_end) for la in out.candidates()] == [(seed.id, 1.5)]


def test_snapshot_is_independent_of_later_edits():
    p = Project()
    layer = p.add_layer("a", _seq(), "score")
    snap = p.snapshot()
    p.set_notes(layer.id, [])
    p.set_layer_props(layer.id, name="changed")
    assert len(snap.layers[0].sequence) == 3 and snap.layers[0].name == "a"


def _piece() -> NoteSequence:
    # one note per second from 0 to 9 s, pitch 60+k, plus a pedal down at 2 s and up at 8 s
    return NoteSequence(notes=[Note(60 + k, float(k), k + 0.5) for k in range(10)],
                        pedals=[PedalEvent(2.0, 127), PedalEvent(8.0, 0)])


def test_accept_replace_writes_before_plus_continuation_plus_rest():
    from musestudio.core.project import accept_continuation

    cont = NoteSequence(notes=[Note(90, 4.0, 4.5), Note(91, 5.0, 6.2)])  # continuation of a seed ending at 4 s
    out = accept_continuation(_piece(), cont, seed_end=4.0, mode="replace")
    # before 4 s: pitches 60..63; the continuation (ends at 6.2 s); then the original from 6.2 s: 67..69
    assert [n.pitch for n in out.notes] == [60, 61, 62, 63, 90, 91, 67, 68, 69]
    assert out.notes[-1] == Note(69, 9.0, 9.5)  # the rest stays where it was
    assert [p.time for p in out.pedals] == [2.0, 8.0]
    gap = accept_continuation(_piece(), cont, seed_end=4.0, mode="replace", gap=1.0)
    assert [n.pitch for n in gap.notes] == [60, 61, 62, 63, 90, 91, 68, 69]  # resumes at 7.2 s


def test_accept_insert_keeps_every_note_of_the_original():
    from musestudio.core.project import accept_continuation

    cont = NoteSequence(notes=[Note(90, 4.0, 4.5), Note(91, 5.0, 6.0)])
    out = accept_continuation(_piece(), cont, seed_end=4.0, mode="insert", gap=0.5)
    assert len(out) == 10 + 2
    assert [n.pitch for n in out.notes] == [60, 61, 62, 63, 90, 91, 64, 65, 66, 67, 68, 69]
    assert out.notes[6] == Note(64, 6.5, 7.0)  # shifted by the continuation's 2 s plus the 0.5 s gap
    assert [p.time for p in out.pedals] == [2.0, 10.5]
    with pytest.raises(ValueError):
        accept_continuation(_piece(), cont, 4.0, mode="sideways")


def test_one_track_merges_hands_and_names_the_track():
    from musestudio.core.notes import TrackInfo
    from musestudio.core.project import one_track

    seq = NoteSequence(notes=[Note(72, 0.0, 1.0, track=0), Note(48, 0.0, 1.0, track=1)],
                       pedals=[PedalEvent(0.5, 127, track=0), PedalEvent(0.5, 127, track=1), PedalEvent(0.9, 0)],
                       tracks=[TrackInfo("RH", 0), TrackInfo("LH", 0)])
    out = one_track(seq, "Piano take")
    assert [t.name for t in out.tracks] == ["Piano take"]
    assert {n.track for n in out.notes} == {0} and len(out.notes) == 2
    assert [(p.time, p.value) for p in out.pedals] == [(0.5, 127), (0.9, 0)]  # one pedal, no doubled events
    single = one_track(NoteSequence(notes=[Note(60, 0.0, 1.0)]), "Solo")
    assert [t.name for t in single.tracks] == ["Solo"]
