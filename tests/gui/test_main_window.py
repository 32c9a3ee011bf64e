"""The main window, offscreen: opening files, editing with undo/redo, layers, export, playback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.progress import CancelToken, Progress
from musestudio.io.formats import load_score


def test_open_midi_shows_all_notes(window, demo_midi):
    assert window.open_path(demo_midi)
    assert not window.errors
    (layer,) = window.project.layers
    assert len(layer.sequence) == len(load_score(demo_midi)) > 100
    item = window.roll.items[layer.id]
    assert len(item) == len(layer.sequence)
    assert window.roll.visible_note_count() > 0  # the default view shows music, not an empty corner
    assert str(Path(demo_midi).resolve()) in window.settings.recent_files


def test_open_musicxml(window, demo_musicxml):
    assert window.open_path(demo_musicxml)
    assert len(window.project.layers[0].sequence) > 100


def test_open_audio_computes_spectrogram(window, short_wav):
    assert window.open_path(short_wav)
    assert window.wait_for_jobs(60)
    data = window.spectrogram.data
    assert data is not None and data.kind == "cqt"
    assert data.duration == pytest.approx(2.0, abs=0.05)
    assert window.project.audio_path == str(Path(short_wav).resolve())
    assert window.spectrogram.isVisible()
    rect = window.spectrogram.image.mapRectToParent(window.spectrogram.image.boundingRect())
    assert rect.left() <= 0.0 and rect.right() >= 1.99  # image placed in seconds...
    assert rect.top() < 21 and rect.bottom() > 108  # ...and on the pitch axis
    # panels get the samples at the rate they ask for
    samples, sr = window.context.audio_samples(16000)
    assert sr == 16000 and len(samples) == pytest.approx(32000, abs=2)
    # the 440 Hz half of the tone is brightest on the A4 row (pitch 69)
    col = data.db[:, int(0.5 / data.hop_seconds)]
    assert data.pitch_lo + int(np.argmax(col)) / data.bins_per_semitone == pytest.approx(69, abs=0.5)


def test_spectrogram_overlays_follow_layer_visibility(window, demo_midi, short_wav):
    from musestudio.gui.layers_panel import COL_SHOW

    window.open_path(short_wav)
    window.open_path(demo_midi)
    window.wait_for_jobs(60)
    (layer,) = window.project.layers
    assert layer.id in window.spectrogram.overlays
    window.layers_panel.tree.topLevelItem(0).setCheckState(COL_SHOW, Qt.CheckState.Unchecked)
    assert layer.id not in window.spectrogram.overlays
    window.spectrogram.overlay_box.setChecked(False)
    window.layers_panel.tree.topLevelItem(0).setCheckState(COL_SHOW, Qt.CheckState.Checked)
    assert window.spectrogram.overlays == {}


def test_open_project_round_trip(window, demo_midi, tmp_path):
    window.open_path(demo_midi)
    window.roll.set_time_range((2.0, 4.0))
    assert window._save_to(tmp_path / "song.msproj")
    n = len(window.project.layers[0].sequence)
    window.set_project(window.project.__class__())
    assert window.open_path(tmp_path / "song.msproj")
    assert len(window.project.layers[0].sequence) == n
    assert window.selected_time_range() == pytest.approx((2.0, 4.0))


@pytest.mark.parametrize("name,problem", [("missing.mid", "not found"), ("notes.txt", "unsupported file type"), ("broken.mid", "")])
def test_bad_files_give_one_line_errors(window, tmp_path, name, problem):
    path = tmp_path / name
    if name != "missing.mid":
        path.write_bytes(b"this is not music")
    assert window.open_path(path) is False
    assert len(window.errors) == 1 and "\n" not in window.errors[0]
    assert problem in window.errors[0]
    assert not window.project.layers


def test_edit_undo_redo(window, demo_midi):
    window.open_path(demo_midi)
    layer = window.project.layers[0]
    before = list(layer.sequence.notes)
    window.roll.select_all()
    window.transpose_selected(2)
    assert [n.pitch for n in window.project.layers[0].sequence.notes] == [n.pitch + 2 for n in before]
    window.undo_stack.undo()
    assert window.project.layers[0].sequence.notes == before
    window.undo_stack.redo()
    assert window.project.layers[0].sequence.notes[0].pitch == before[0].pitch + 2
    window.undo_stack.undo()

    # move one note through the piano roll's own request signal (what a mouse drag emits)
    first = before[0]
    window.roll.click_select(first.start + 0.01, first.pitch, Qt.KeyboardModifier.NoModifier)
    assert window.roll.selection == {first}
    window.grid_combo.setCurrentIndex(0)  # no snapping
    window.roll.move_requested.emit(0.5, -1)
    moved = Note(first.pitch - 1, first.start + 0.5, first.end + 0.5, first.velocity, first.track)
    assert moved in window.project.layers[0].sequence.notes
    assert window.roll.selection == {moved}
    window.roll.resize_requested.emit(0.25)
    longer = Note(moved.pitch, moved.start, moved.end + 0.25, moved.velocity, moved.track)
    assert longer in window.project.layers[0].sequence.notes
    window.velocity_spin.setValue(20)
    window.apply_velocity()
    assert any(n.velocity == 20 for n in window.project.layers[0].sequence.notes)
    window.delete_selected()
    assert len(window.project.layers[0].sequence) == len(before) - 1
    window.roll.add_requested.emit(100, 1.0)
    assert any(n.pitch == 100 for n in window.project.layers[0].sequence.notes)
    for _ in range(5):
        window.undo_stack.undo()
    assert window.project.layers[0].sequence.notes == before
    assert len(window.roll.items[layer.id]) == len(before)  # the view followed the document


def test_quantize_snaps_to_grid(window):
    seq = NoteSequence(notes=[Note(60, 0.11, 0.37), Note(64, 0.62, 0.9)])
    window.add_layer("edit", seq, "edit")
    window.grid_combo.setCurrentIndex(window.grid_combo.findData(0.5))  # half a beat = 0.25 s at 120 qpm
    window.quantize_selected()
    assert [(n.start, n.end) for n in window.project.layers[0].sequence.notes] == [(0.0, 0.25), (0.5, 1.0)]
    window.undo_stack.undo()
    assert window.project.layers[0].sequence.notes == seq.notes


def test_rubber_band_selects_notes_in_rectangle(window):
    from PySide6.QtCore import QRectF

    seq = NoteSequence(notes=[Note(60, 0.0, 0.5), Note(72, 0.0, 0.5), Note(60, 3.0, 3.5)])
    window.add_layer("edit", seq, "edit")
    window.roll.finish_band(QRectF(-0.1, 59.0, 1.0, 2.0), Qt.KeyboardModifier.NoModifier)
    assert window.roll.selection == {Note(60, 0.0, 0.5)}


def test_layer_visibility_mute_solo_rename_delete(window, demo_midi, demo_musicxml):
    from musestudio.gui.layers_panel import COL_MUTE, COL_NAME, COL_SHOW, COL_SOLO

    window.open_path(demo_midi)
    window.import_path(demo_musicxml)  # Import as Layer adds; Open would replace
    a, b = window.project.layers
    tree = window.layers_panel.tree
    tree.topLevelItem(0).setCheckState(COL_SHOW, Qt.CheckState.Unchecked)
    assert not a.visible and not window.roll.items[a.id].isVisible() and window.roll.items[b.id].isVisible()
    tree.topLevelItem(1).setCheckState(COL_MUTE, Qt.CheckState.Checked)
    assert window.project.audible_layers() == [a]
    tree.topLevelItem(1).setCheckState(COL_SOLO, Qt.CheckState.Checked)
    assert window.project.audible_layers() == [b]
    tree.topLevelItem(1).setText(COL_NAME, "reference take")
    assert b.name == "reference take"
    window.undo_stack.undo()
    assert b.name != "reference take"
    window.delete_layers([a.id])
    assert window.project.layers == [b] and a.id not in window.roll.items
    window.undo_stack.undo()
    assert [x.id for x in window.project.layers] == [a.id, b.id]


@pytest.mark.parametrize("suffix", [".mid", ".musicxml", ".wav"])
def test_export_layers(window, demo_midi, tmp_path, suffix):
    assert window.open_path(demo_midi), window.errors
    layer = window.project.layers[0]
    window.project.set_notes(layer.id, layer.sequence.notes[:40])  # keep the WAV render short
    out = tmp_path / f"out{suffix}"
    assert window.export_layers(out, [layer.id])
    assert out.is_file() and out.stat().st_size > 100
    if suffix == ".mid":
        assert len(load_score(out)) == 40
    if suffix == ".wav":
        import soundfile

        assert soundfile.info(str(out)).duration > 1.0


def test_export_never_overwrites_without_asking(window, demo_midi, tmp_path, monkeypatch):
    window.open_path(demo_midi)
    out = tmp_path / "keep.mid"
    out.write_bytes(b"precious")
    asked = []
    monkeypatch.setattr(window, "ask", lambda q, *a: asked.append(q) or False)
    assert not window.export_layers(out, [window.project.layers[0].id])
    assert out.read_bytes() == b"precious" and asked
    monkeypatch.setattr(window, "ask", lambda q, *a: True)
    assert window.export_layers(out, [window.project.layers[0].id])
    assert out.read_bytes()[:4] == b"MThd"


def test_drag_out_writes_a_midi_file(window, demo_midi):
    window.open_path(demo_midi)
    paths = window.layers_panel.export_for_drag()
    assert len(paths) == 1 and paths[0].suffix == ".mid"
    assert len(load_score(paths[0])) == len(window.project.layers[0].sequence)


def test_no_audio_device_disables_playback_only(window, demo_midi, qtbot):
    window.open_path(demo_midi)
    qtbot.waitUntil(lambda: "Playback disabled" in window.playback_label.text(), timeout=3000)
    window.toggle_play()
    assert not window.player.playing
    assert "Playback disabled" in window.status_label.text()
    assert not window.errors  # a status message, not an error dialog
    window.roll.select_all()
    window.transpose_selected(1)  # editing still works
    assert window.undo_stack.canUndo()


def test_run_work_progress_done_and_cancel(window, qtbot):
    results: list[object] = []

    def work():
        for i in range(3):
            yield Progress(i, 3, f"step {i}")
        return "ok"

    window.context.run_work(work(), results.append, label="test")
    assert window.wait_for_jobs(10)
    assert results == ["ok"]

    token = CancelToken()

    def endless(cancel):
        i = 0
        while True:
            cancel.check()
            i += 1
            yield Progress(i, 1e9, "")

    done: list[object] = []
    handle = window.context.run_work(endless(token), done.append, cancel=token, label="endless")
    qtbot.wait(50)
    assert handle.row is not None and handle.row.cancel_button.isVisible()
    handle.row.cancel_button.click()  # each job has its own Cancel
    assert window.wait_for_jobs(10)
    assert not done and "cancelled" in window.status_label.text()

    failures: list[str] = []

    def broken():
        yield Progress(0, 1)
        raise ValueError("bad thing\nsecond line")

    window.context.run_work(broken(), done.append, failures.append)
    assert window.wait_for_jobs(10)
    assert failures == ["internal error: ValueError: bad thing"]


def test_panel_context_seed_and_add_layer(window, demo_midi):
    window.open_path(demo_midi)
    ctx = window.context
    window.roll.set_time_range((1.0, 3.0))
    seed = ctx.seed_sequence()
    assert seed is not None and len(seed) > 0
    assert all(1.0 <= n.start < 3.0 for n in seed.notes)
    layer = ctx.add_layer("continuation 1", seed.shift_time(10.0), "continuation")
    assert window.project.layers[-1] is layer and layer.id in window.roll.items
    window.undo_stack.undo()
    assert layer not in window.project.layers


def test_autosave_and_recovery(window, demo_midi, monkeypatch):
    window.open_path(demo_midi)
    assert window.autosave_now() is None  # a file just opened has nothing unsaved: no snapshot
    window.roll.select_all()
    window.transpose_selected(1)
    path = window.autosave_now()
    assert path is not None and path.is_file()
    from musestudio.gui.main_window import MainWindow

    fresh = MainWindow(interactive=False)
    monkeypatch.setattr(fresh, "ask", lambda *a: True)
    assert not fresh.offer_recovery()  # the first window still runs: its snapshot is not an orphan
    window.documents.session.abandon()  # now it "crashes"
    assert fresh.offer_recovery()
    assert fresh.project.layers[0].sequence.notes == window.project.layers[0].sequence.notes
    assert fresh.project.modified  # recovered edits are unsaved work: closing asks
    fresh.close()


def test_settings_round_trip():
    from musestudio.gui.settings import AppSettings, load_settings, save_settings

    s = AppSettings(soundfont_path="/x.sf2", theme="light", db_range=42.0)
    s.add_recent("/tmp/a.mid")
    save_settings(s)
    t = load_settings()
    assert t.soundfont_path == "/x.sf2" and t.theme == "light" and t.db_range == 42.0
    assert t.recent_files == [str(Path("/tmp/a.mid").resolve())]


def test_screenshot_mode(tmp_path, demo_midi, qapp):
    import argparse

    from PySide6.QtGui import QImage

    from musestudio.gui.app import run_app

    out = tmp_path / "shot.png"
    rc = run_app(argparse.Namespace(files=[str(demo_midi)], screenshot=str(out), size="900x600", no_demo=False))
    assert rc == 0
    img = QImage(str(out))
    assert (img.width(), img.height()) == (900, 600)
    # not a blank image: the notes add colour
    arr = np.frombuffer(img.convertToFormat(QImage.Format.Format_RGB32).constBits(), np.uint8).reshape(600, 900, 4)
    assert len(np.unique(arr.reshape(-1, 4)[:, :3], axis=0)) > 20


def _to_widget(roll, x, y):
    from PySide6.QtCore import QPointF

    scene = roll.vb.mapViewToScene(QPointF(x, y))
    return roll.mapFromScene(scene)


def test_real_mouse_click_drag_and_double_click(window, qtbot):
    from PySide6.QtCore import QPoint

    seq = NoteSequence(notes=[Note(60, 1.0, 2.0, 64), Note(67, 3.0, 4.0, 64)])
    window.add_layer("edit", seq, "edit")
    window.grid_combo.setCurrentIndex(0)  # no snapping
    roll = window.roll
    roll.vb.setRange(xRange=(0, 8), yRange=(50.5, 80.5), padding=0)
    qtbot.wait(10)
    vp = roll.viewport()
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=_to_widget(roll, 1.3, 60))
    assert roll.selection == {Note(60, 1.0, 2.0, 64)}
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=_to_widget(roll, 6.0, 75))  # empty space clears
    assert roll.selection == set()
    # drag the first note up two semitones and one second later
    start = _to_widget(roll, 1.3, 60)
    end = _to_widget(roll, 2.3, 62)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 11):
        p = start + (end - start) * (k / 10)
        qtbot.mouseMove(vp, QPoint(int(p.x()), int(p.y())))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    notes = window.project.layers[0].sequence.notes
    moved = [n for n in notes if n.pitch == 62]
    assert len(moved) == 1 and moved[0].start == pytest.approx(2.0, abs=0.1)
    where = _to_widget(roll, 5.0, 72)
    qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=where)  # a real double-click starts with a click
    qtbot.mouseDClick(vp, Qt.MouseButton.LeftButton, pos=where)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=where)
    assert any(n.pitch == 72 and n.start == pytest.approx(5.0, abs=0.05) for n in window.project.layers[0].sequence.notes)


@pytest.mark.parametrize("n_notes", [200, 20_000])  # rectangles, and the zoomed-out raster image
def test_notes_are_painted_on_their_pitch_row(window, n_notes):
    from PySide6.QtCore import QPointF

    seq = NoteSequence(notes=[Note(60 if k % 2 else 72, k * 0.05, k * 0.05 + 0.09, 100) for k in range(n_notes)])
    window.add_layer("many", seq, "score")
    window.roll.vb.setRange(xRange=(0, seq.duration), yRange=(50.5, 80.5), padding=0)
    image = window.roll.grab().toImage()

    def lit(pitch: float) -> int:
        y = int(window.roll.mapFromScene(window.roll.vb.mapViewToScene(QPointF(1.0, pitch))).y())
        x0 = int(window.roll.mapFromScene(window.roll.vb.mapViewToScene(QPointF(0.05 * n_notes * 0.2, pitch))).x())
        x1 = int(window.roll.mapFromScene(window.roll.vb.mapViewToScene(QPointF(0.05 * n_notes * 0.8, pitch))).x())
        return sum(image.pixelColor(x, y).blue() > 150 and image.pixelColor(x, y).red() < 140 for x in range(x0, x1))

    assert lit(60) > 50
    assert lit(72) > 50
    assert lit(66) == 0 and lit(55) == 0


def test_keyboard_shortcuts(window, demo_midi, qtbot):
    window.open_path(demo_midi)
    window.roll.setFocus()
    x0, x1 = window.roll.vb.viewRange()[0]
    qtbot.keyClick(window.roll, Qt.Key.Key_Minus)
    wider = window.roll.vb.viewRange()[0]
    assert wider[1] - wider[0] > (x1 - x0) * 1.2
    qtbot.keyClick(window.roll, Qt.Key.Key_Plus)
    qtbot.keyClick(window.roll, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(window.roll.selection) == len(window.project.layers[0].sequence)
    qtbot.keyClick(window.roll, Qt.Key.Key_Delete)
    assert len(window.project.layers[0].sequence) == 0
    qtbot.keyClick(window.roll, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(window.project.layers[0].sequence) > 0
    qtbot.keyClick(window.roll, Qt.Key.Key_Space)  # no sound card: a status message, no crash
    assert "Playback disabled" in window.status_label.text()


def test_hover_readout_names_pitch_and_bar(window, qtbot):
    window.add_layer("edit", NoteSequence(notes=[Note(60, 0.0, 1.0)]), "edit")  # 120 qpm, 4/4: a bar is 2 s
    window.roll.vb.setRange(xRange=(0, 8), yRange=(50.5, 70.5), padding=0)
    qtbot.mouseMove(window.roll.viewport(), _to_widget(window.roll, 3.0, 60))
    qtbot.waitUntil(lambda: window.hover_label.text() != "", timeout=2000)
    text = window.hover_label.text()
    assert "C4 (60)" in text and "bar 2 beat 3.0" in text  # pixel rounding: time within 0.02 s
    assert abs(float(text.split("  ")[1].removesuffix(" s")) - 3.0) < 0.02


def test_drawing_into_an_empty_project_starts_a_layer(window):
    window.roll.add_requested.emit(64, 2.0)
    (layer,) = window.project.layers
    assert [n.pitch for n in layer.sequence.notes] == [64]
    window.undo_stack.undo()  # one step removes the note and the layer it needed
    assert window.project.layers == []


def test_right_click_menu_offers_note_commands(window, qtbot):
    window.add_layer("edit", NoteSequence(notes=[Note(60, 0.0, 1.0)]), "edit")
    window.roll.vb.setRange(xRange=(0, 8), yRange=(50.5, 70.5), padding=0)
    qtbot.mouseClick(window.roll.viewport(), Qt.MouseButton.RightButton, pos=_to_widget(window.roll, 4.0, 65))
    texts = [a.text() for a in window._last_menu.actions()]
    assert "Add Note Here" in texts and window.act_quantize.text() in texts
    next(a for a in window._last_menu.actions() if a.text() == "Add Note Here").trigger()
    assert any(n.pitch == 65 for n in window.project.layers[0].sequence.notes)


def test_velocity_lane_drawing_is_one_undo_step(window, qtbot):
    seq = NoteSequence(notes=[Note(60 + k, k * 0.5, k * 0.5 + 0.4, 40) for k in range(8)])
    window.add_layer("edit", seq, "edit")
    window.roll.vb.setRange(xRange=(-0.5, 4.5), padding=0)
    lane = window.velocity_lane
    qtbot.wait(10)

    def at(t, v):
        from PySide6.QtCore import QPoint, QPointF

        p = lane.mapFromScene(lane.vb_lane.mapViewToScene(QPointF(t, v)))
        return QPoint(int(p.x()), int(p.y()))

    vp = lane.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=at(0.2, 100))
    for k in range(1, 21):
        qtbot.mouseMove(vp, at(0.2 + k * 0.1, 100))  # sweep over the notes starting at 0.5 .. 2.0 s
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=at(2.2, 100))
    vels = [n.velocity for n in window.project.layers[0].sequence.notes]
    assert vels[0] == 40 and all(abs(v - 100) <= 3 for v in vels[1:5]) and vels[5:] == [40, 40, 40]
    window.undo_stack.undo()
    assert [n.velocity for n in window.project.layers[0].sequence.notes] == [40] * 8
    # with a selection, only selected notes change
    window.roll.set_selection({window.project.layers[0].sequence.notes[7]})
    lane.paint_velocity(-1.0, 10.0, 20.0, finished=True)
    assert [n.velocity for n in window.project.layers[0].sequence.notes] == [40] * 7 + [20]


def test_results_arriving_after_the_window_closed_are_dropped(window, qtbot):
    import threading

    release = threading.Event()
    delivered: list[object] = []

    def slow():
        yield Progress(0, 1, "")
        release.wait(10)  # a long C call that does not look at Cancel
        return "late"

    handle = window.context.run_work(slow(), delivered.append, label="slow")
    window.close()  # the panels that asked for it are gone
    release.set()
    handle.job.thread.join(10)
    qtbot.wait(100)
    assert delivered == [] and not handle.running and not window.jobs.handles


def test_start_job_skips_callbacks_of_a_deleted_owner(qtbot):
    from PySide6.QtWidgets import QWidget

    from musestudio.gui.worker import start_job

    owner = QWidget()
    got: list[object] = []

    def work():
        yield Progress(0, 1)
        return 1

    import shiboken6

    job = start_job(work(), got.append, lambda *a: got.append(a), owner=owner)
    shiboken6.delete(owner)  # before the queued result can be delivered
    qtbot.waitUntil(lambda: not job.thread.is_alive(), timeout=5000)
    qtbot.wait(100)
    assert got == []
    kept = QWidget()
    job = start_job(work(), got.append, lambda *a: got.append(a), owner=kept)
    qtbot.waitUntil(lambda: got == [1], timeout=5000)  # a live owner gets its result
