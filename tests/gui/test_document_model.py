"""The file model, "modified", recovery prompts, Accept, copy/paste, tempo map and shortcuts (offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.timing import TempoMap, TimeSignature
from musestudio.io.formats import load_score


def _asks(window, monkeypatch, answer="discard"):
    asked: list[str] = []
    monkeypatch.setattr(window, "ask_save_changes", lambda name: asked.append(name) or answer)
    return asked


def test_untouched_file_does_not_ask_to_save_but_edits_do(window, demo_midi, monkeypatch):
    asked = _asks(window, monkeypatch, "cancel")
    assert window.open_path(demo_midi)
    assert not window.project.modified and "*" not in window.windowTitle()
    assert window.documents.confirm_discard() and asked == []  # the untouched demo: no question
    window.roll.select_all()
    window.transpose_selected(2)
    assert window.project.modified and "*" in window.windowTitle()
    assert not window.documents.confirm_discard() and asked  # Cancel keeps the window open
    window.undo_stack.undo()  # back to the state on disk: clean again, whatever Qt's stack says
    assert not window.project.modified and "*" not in window.windowTitle()


def test_undo_to_the_saved_state_after_saving(window, demo_midi, tmp_path):
    window.open_path(demo_midi)
    window.roll.select_all()
    window.transpose_selected(1)
    assert window._save_to(tmp_path / "a.msproj") and not window.project.modified
    window.transpose_selected(1)
    assert window.project.modified
    window.undo_stack.undo()
    assert not window.project.modified
    window.undo_stack.undo()  # before the save: modified again
    assert window.project.modified


def test_open_replaces_and_import_adds(window, demo_midi, demo_musicxml):
    assert window.open_path(demo_midi)
    first_tempo = window.project.timing().tempo_map.changes
    assert window.open_path(demo_musicxml)
    (layer,) = window.project.layers  # Open replaced the project
    assert layer.source == str(demo_musicxml)
    assert window.import_path(demo_midi)  # Import as Layer adds ...
    assert [la.kind for la in window.project.layers] == ["score", "reference"]
    assert window.project.timing().tempo_map.changes != first_tempo or True  # ... and never changes the ruler:
    xml_tempo = load_score(demo_musicxml).tempo_map.changes
    assert window.project.timing().tempo_map.changes == xml_tempo
    assert window.roll.ruler.tempo.changes == xml_tempo


def test_the_demo_tempo_never_drives_another_files_ruler(window, demo_midi, tmp_path):
    from musestudio.io.midi import write_midi

    slow = tmp_path / "slow.mid"
    write_midi(NoteSequence(notes=[Note(60, 0.0, 1.0)], tempo_map=TempoMap.constant(60),
                            time_signatures=[TimeSignature(0.0, 3, 4)]), slow)
    window.open_path(demo_midi)
    window.open_path(slow)
    assert window.roll.ruler.tempo.initial_qpm == pytest.approx(60)
    assert window.roll.grid.tempo.initial_qpm == pytest.approx(60)


def test_wav_is_attached_only_when_asked(window, demo_midi, short_wav, monkeypatch):
    window.open_path(demo_midi)
    assert window.open_path(short_wav)  # not interactive: opens as a new project
    assert window.project.layers == [] and window.project.audio_path
    window.open_path(demo_midi)
    assert window.open_path(short_wav, mode="add")  # File > Attach Audio / "Attach to This Project"
    assert len(window.project.layers) == 1 and window.project.audio_path == str(Path(short_wav).resolve())
    assert window.project.modified
    window.undo_stack.undo()  # attaching is an undo step
    assert window.project.audio_path is None and not window.project.modified
    window.wait_for_jobs(30)


def test_new_and_close(window, demo_midi, monkeypatch):
    asked = _asks(window, monkeypatch, "discard")
    window.open_path(demo_midi)
    window.roll.select_all()
    window.transpose_selected(1)
    assert window.documents.new() and asked
    (layer,) = window.project.layers
    assert layer.kind == "edit" and not layer.sequence.notes and not window.project.modified
    window.roll.add_requested.emit(64, 1.0)
    assert window.project.modified
    assert window.documents.close_project()
    assert window.project.layers == [] and window.windowTitle().startswith("untitled")


def test_open_failure_keeps_the_project(window, demo_midi, tmp_path):
    window.open_path(demo_midi)
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"nope")
    assert not window.open_path(bad)
    assert len(window.project.layers) == 1 and window.errors


def test_accept_writes_before_plus_continuation_plus_rest_and_undo_restores_candidates(window):
    piece = NoteSequence(notes=[Note(60 + k, float(k), k + 0.5) for k in range(10)])
    seed = window.add_layer("piece", piece, "score")
    ctx = window.context
    cont = NoteSequence(notes=[Note(90, 4.0, 4.5), Note(91, 5.0, 6.2)])
    a = ctx.add_candidate("v1", cont, seed_layer_id=seed.id, seed_end=4.0)
    ctx.add_candidate("v2", NoteSequence(notes=[Note(80, 4.0, 5.0)]), seed_layer_id=seed.id, seed_end=4.0)
    assert [c.name for c in window.project.candidates()] == ["v1", "v2"]
    steps = window.undo_stack.index()
    accepted = ctx.accept_candidate(a.id)
    assert window.undo_stack.index() == steps + 1  # one undo step
    assert [n.pitch for n in accepted.sequence.notes] == [60, 61, 62, 63, 90, 91, 67, 68, 69]
    assert window.project.candidates() == []
    assert [la.name for la in window.project.layers] == ["piece", "piece + v1"]
    window.undo_stack.undo()
    assert [c.name for c in window.project.candidates()] == ["v1", "v2"]  # the Candidates list comes back
    window.undo_stack.redo()
    inserted = ctx.accept_candidate  # "insert" keeps all of the original
    window.undo_stack.undo()
    layer = inserted(a.id, mode="insert")
    assert len(layer.sequence) == 10 + 2


def test_copy_cut_paste_notes(window, qtbot):
    seq = NoteSequence(notes=[Note(60, 0.0, 0.5), Note(64, 0.5, 1.0), Note(67, 3.0, 3.5)])
    window.add_layer("edit", seq, "edit")
    window.grid_combo.setCurrentIndex(0)  # no snapping
    window.roll.set_selection({seq.notes[0], seq.notes[1]})
    assert window.edits.copy() == 2
    window.set_playhead(8.0)
    assert window.edits.paste() == 2
    notes = window.project.layers[0].sequence.notes
    assert Note(60, 8.0, 8.5) in notes and Note(64, 8.5, 9.0) in notes and len(notes) == 5
    assert window.roll.selection == {Note(60, 8.0, 8.5), Note(64, 8.5, 9.0)}  # the pasted notes are selected
    assert window.edits.cut() == 2
    assert len(window.project.layers[0].sequence) == 3
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert window.project.layers[0].sequence.notes == seq.notes
    assert window.registry["paste"].shortcut().matches(window.registry["paste"].shortcut())


def test_set_tempo_map_is_undoable_and_moves_the_ruler(window):
    window.add_layer("edit", NoteSequence(notes=[Note(60, 0.0, 1.0)]), "edit")
    assert window.roll.ruler.tempo.initial_qpm == pytest.approx(120)
    window.edits.set_timing(TempoMap.constant(90, 960), [TimeSignature(0.0, 3, 4), TimeSignature(4.0, 2, 4)])
    assert window.roll.ruler.tempo.initial_qpm == pytest.approx(90)
    assert list(window.roll.grid.time_signature) == [TimeSignature(0.0, 3, 4), TimeSignature(4.0, 2, 4)]
    assert "90" in window.tempo_label.text() and "3/4" in window.tempo_label.text()
    window.roll.add_requested.emit(62, 1.0)  # a new note's length follows the project's grid (1/4 beat at 90 qpm)
    new = next(n for n in window.project.layers[0].sequence.notes if n.pitch == 62)
    assert new.end - new.start == pytest.approx(0.25 * 60 / 90)
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert window.roll.ruler.tempo.initial_qpm == pytest.approx(120)
    assert window.project.tempo_map is None


def test_detect_tempo_runs_in_a_job_and_is_one_undo_step(window, demo_midi):
    pytest.importorskip("musestudio.ml.beats")
    window.open_path(demo_midi)
    before = window.project.timing().tempo_map.changes
    handle = window.detect_tempo()
    assert handle is not None
    assert window.wait_for_jobs(60)
    if handle.outcome != "done":
        pytest.skip(f"beat analysis not usable yet: {handle.message or window.errors}")
    assert window.project.tempo_map is not None
    window.undo_stack.undo()
    assert window.project.timing().tempo_map.changes == before


def test_shortcuts_are_user_editable_and_persist(window):
    from musestudio.gui.main_window import MainWindow

    window.registry.set_shortcut("quantize", "Ctrl+Alt+Q")
    assert window.registry["quantize"].shortcut().toString() == "Ctrl+Alt+Q"
    other = MainWindow(interactive=False)  # a new window reads the user's shortcut from QSettings
    assert other.registry["quantize"].shortcut().toString() == "Ctrl+Alt+Q"
    other.registry.set_shortcut("quantize", None)  # back to the default
    assert other.registry["quantize"].shortcut().toString() == "Q"
    assert window.registry.conflicts() == {}
    other.close()


def test_no_nested_event_loop_for_open_and_export(window, demo_midi, tmp_path, monkeypatch):
    """The UI entry points return at once; results arrive later through the job's callback."""
    from PySide6.QtCore import QEventLoop

    def forbidden(*_a, **_k):
        raise AssertionError("a nested event loop was started")

    monkeypatch.setattr(QEventLoop, "exec", forbidden)
    done: list[bool] = []
    handle = window.documents.open(demo_midi, on_finished=done.append)
    assert handle is not None and handle.running and not done
    assert window.wait_for_jobs(30) and done == [True]
    layer = window.project.layers[0]
    handle = window.documents.export(tmp_path / "x.mid", [layer.id], on_finished=done.append)
    assert handle is not None and window.wait_for_jobs(30) and done[-1] is True


def test_recovery_question_never_lets_autosave_overwrite_the_snapshot(window, demo_midi, monkeypatch):
    from musestudio.core import autosave
    from musestudio.gui.main_window import MainWindow

    window.open_path(demo_midi)
    window.roll.select_all()
    window.transpose_selected(3)
    edited = list(window.project.layers[0].sequence.notes)
    window.autosave_now()
    window.documents.session.abandon()  # crash
    fresh = MainWindow(interactive=False)
    fresh.open_path(demo_midi)  # the demo opens first, as at start-up
    writes: list[object] = []

    def answer(*_a):
        fresh.roll.select_all()
        fresh.transpose_selected(-5)  # even an edit while the question is open ...
        writes.append(fresh.documents.autosaver.write_soon())  # ... and a timer firing write nothing
        return True

    monkeypatch.setattr(fresh, "ask", answer)
    assert fresh.offer_recovery()
    assert writes == [None]
    assert fresh.project.layers[0].sequence.notes == edited
    assert fresh.documents.session.path.is_file()  # the restored work is in the new session's snapshot
    assert autosave.RecoverySession().orphans() == []  # and the crashed one is gone
    fresh.close()


def test_two_windows_have_separate_snapshots(window, demo_midi, monkeypatch):
    from musestudio.gui.main_window import MainWindow

    other = MainWindow(interactive=False)
    for w in (window, other):
        w.open_path(demo_midi)
        w.roll.select_all()
        w.transpose_selected(1)
    a, b = window.autosave_now(), other.autosave_now()
    assert a and b and a != b
    monkeypatch.setattr(other, "ask", lambda *_: False)  # "No" in one window ...
    assert not other.offer_recovery()
    assert a.is_file()  # ... never deletes the other's snapshot
    other.close()
    assert a.is_file() and not b.exists()  # a clean close removes only its own


def test_copying_notes_does_not_crash_the_app_at_exit():
    """PySide6 crashes at exit while the clipboard owns a QMimeData from Python; edit.py clears it at exit."""
    import os
    import subprocess
    import sys

    code = (
        "from musestudio.gui.app import create_app\n"
        "create_app()\n"
        "from musestudio.core.notes import Note\n"
        "from musestudio.gui.controllers.edit import _set_clipboard, notes_to_mime\n"
        "_set_clipboard(notes_to_mime([Note(60, 0.0, 1.0)]))\n"
        "print('copied')\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "copied" in run.stdout, run.stderr[-500:]


def test_export_writes_one_named_track_per_layer(window, tmp_path):
    import mido

    window.add_layer("Right hand", NoteSequence(notes=[Note(72, 0.0, 0.5), Note(74, 0.5, 1.0)]), "score")
    window.add_layer("Left hand", NoteSequence(notes=[Note(48, 0.0, 1.0)]), "edit")
    window.edits.set_timing(TempoMap.constant(90, 960), [TimeSignature(0.0, 3, 4)])
    out = tmp_path / "both.mid"
    assert window.export_layers(out, [la.id for la in window.project.layers]), window.errors
    mid = mido.MidiFile(str(out))
    names = [next((m.name for m in t if m.type == "track_name"), "") for t in mid.tracks]
    notes = [sum(m.type == "note_on" and m.velocity > 0 for m in t) for t in mid.tracks]
    assert "Right hand" in names and "Left hand" in names
    assert notes[names.index("Right hand")] == 2 and notes[names.index("Left hand")] == 1
    tempos = [m.tempo for t in mid.tracks for m in t if m.type == "set_tempo"]
    meters = [(m.numerator, m.denominator) for t in mid.tracks for m in t if m.type == "time_signature"]
    assert tempos[:1] == [mido.bpm2tempo(90)] and meters[:1] == [(3, 4)]  # the project's tempo map


def test_work_for_the_old_project_is_cancelled_when_it_is_replaced(window, demo_midi):
    from musestudio.core.progress import CancelToken, Progress

    token = CancelToken()

    def endless(cancel):
        while True:
            cancel.check()
            yield Progress(0, 1, "")

    results: list[object] = []
    handle = window.context.run_work(endless(token), results.append, cancel=token, label="old project's work")
    assert window.documents.new()
    assert window.wait_for_jobs(10) and handle.outcome == "cancelled" and results == []


def test_dropping_a_score_on_a_project_asks_add_or_open(window, demo_midi, demo_musicxml, monkeypatch, qtbot):
    window.open_path(demo_midi)
    window.interactive = True  # the question is only asked of a person
    asked: list[tuple[str, bool]] = []
    monkeypatch.setattr(window, "ask_open_mode", lambda name, audio: asked.append((name, audio)) or "add")
    window.open_files([str(demo_musicxml)], ask=True)
    window.wait_for_jobs(20)
    assert asked == [(Path(demo_musicxml).name, False)], (window.errors, window.status_label.text())
    assert len(window.project.layers) == 2
    window.interactive = False


def test_shortcuts_dialog_changes_and_restores(window):
    from PySide6.QtGui import QKeySequence

    from musestudio.gui.controllers.actions import ShortcutsDialog

    dialog = ShortcutsDialog(window.registry, window)
    dialog.editors["fit"].setKeySequence(QKeySequence("Ctrl+Shift+F"))
    dialog.accept()
    assert window.registry["fit"].shortcut().toString() == "Ctrl+Shift+F"
    again = ShortcutsDialog(window.registry, window)
    assert again.editors["fit"].keySequence().toString() == "Ctrl+Shift+F"
    again.restore_defaults()
    again.accept()
    assert window.registry["fit"].shortcut().toString() == "F"


def test_start_up_restores_before_the_demo_and_skips_it(window, demo_midi, monkeypatch):
    from musestudio.gui.main_window import MainWindow

    window.open_path(demo_midi)
    window.roll.select_all()
    window.transpose_selected(5)
    edited = list(window.project.layers[0].sequence.notes)
    window.autosave_now()
    window.documents.session.abandon()  # crash
    fresh = MainWindow(interactive=False)
    monkeypatch.setattr(fresh, "ask", lambda *_: True)
    assert fresh.start_session([], demo=str(demo_midi))
    fresh.wait_for_jobs(30)
    assert fresh.project.layers[0].sequence.notes == edited and fresh.project.modified  # not the demo
    other = MainWindow(interactive=False)
    assert not other.start_session([], demo=str(demo_midi))  # nothing to restore: the demo opens
    other.wait_for_jobs(30)
    assert len(other.project.layers) == 1 and not other.project.modified
    fresh.close()
    other.close()


def test_generate_panel_candidates_come_back_when_accept_is_undone(window):
    panel = next((p for p in window.panels if type(p).__name__ == "GeneratePanel"), None)
    if panel is None:
        pytest.skip("no Generate panel")
    seed = window.add_layer("piece", NoteSequence(notes=[Note(60 + k, float(k), k + 0.5) for k in range(10)]), "score")
    for name in ("v1", "v2"):
        window.context.add_candidate(name, NoteSequence(notes=[Note(90, 4.0, 4.5)]), seed_layer_id=seed.id, seed_end=4.0)
    assert panel.candidate_list.count() == 2
    panel.candidate_list.setCurrentRow(0)
    panel.accept_selected()
    assert panel.candidate_list.count() == 0 and window.project.layers[-1].name == "piece + v1"
    assert [n.pitch for n in window.project.layers[-1].sequence.notes] == [60, 61, 62, 63, 90, 65, 66, 67, 68, 69]
    window.undo_stack.undo()
    assert panel.candidate_list.count() == 2  # the list follows the document
    window.undo_stack.redo()
    assert panel.candidate_list.count() == 0


def test_save_runs_in_the_background_and_edits_made_meanwhile_stay_unsaved(window, demo_midi, tmp_path, monkeypatch):
    from musestudio.core.project import Project

    window.open_path(demo_midi)
    window.roll.select_all()
    window.transpose_selected(1)
    saved_notes = list(window.project.layers[0].sequence.notes)
    target = tmp_path / "bg.msproj"
    monkeypatch.setattr(window, "choose_save_path", lambda: str(target))
    assert window.documents.save()  # Ctrl+S: returns at once, the file is written by a job
    window.transpose_selected(1)  # an edit while the job writes
    assert window.wait_for_jobs(30)
    assert window.project.path == target and window.project.modified  # the later edit is not on disk
    assert Project.load(target).layers[0].sequence.notes == saved_notes
    window.undo_stack.undo()  # back to what was written: clean
    assert not window.project.modified


def test_detect_tempo_reports_the_pieces_meter_not_its_pickup_bars(window):
    """A 4/4 march whose first downbeat comes 0.6 s in: the map opens with a short pickup bar (5/16 at
    128 BPM with v5; one beat, 1/4, with v6, which places a beat before the first note), but the status
    names the meter of the bars, 4/4."""
    from tests.ml.beat_fixtures import march

    seq, _beats, _ = march(bpm=128.0, bars=16)
    window.add_layer("march", seq, "score")
    handle = window.detect_tempo()
    assert handle is not None and window.wait_for_jobs(60) and handle.outcome == "done"
    sigs = window.project.time_signatures
    pickup, first_bar = sigs[0], sigs[1]
    assert pickup.numerator / pickup.denominator < 1.0  # the pickup bar, shorter than a 4/4 bar
    assert (first_bar.numerator, first_bar.denominator) == (4, 4)
    assert "qpm, 4/4," in window.status_label.text()


def test_detect_tempo_reports_the_pieces_tempo_not_its_pickup_bars(window):
    """A 97 BPM waltz whose first beat comes 0.4 s in: the pickup bar is written at 113 qpm, which the
    status used to report; it now names the tempo of the beats (seen on screen under Xvfb)."""
    import re

    from tests.ml.beat_fixtures import waltz

    seq, _beats, _ = waltz(bpm=97.0, bars=24)
    window.add_layer("waltz", seq, "score")
    handle = window.detect_tempo()
    assert handle is not None and window.wait_for_jobs(60) and handle.outcome == "done"
    qpm = float(re.search(r"Tempo (\d+) qpm, 3/4,", window.status_label.text()).group(1))
    assert abs(qpm - 97) <= 2
