"""Playback with a (fake) sound card, drag-and-drop, recent files, layout, spectrogram options, CLI screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from musestudio.core.notes import Note, NoteSequence


@pytest.fixture
def fake_sound_card(monkeypatch):
    """A sound card that records what it was asked to play."""
    import sounddevice

    from musestudio.gui import playback

    played: list[dict] = []
    monkeypatch.setattr(playback, "_query_output_devices", lambda: (["Fake Speakers"], ""))
    monkeypatch.setattr(sounddevice, "play", lambda data, sr, device=None, loop=False: played.append(
        {"data": np.asarray(data), "sr": sr, "device": device, "loop": loop}))
    monkeypatch.setattr(sounddevice, "stop", lambda: None)
    return played


def test_playback_renders_audible_layers_and_moves_playhead(window, fake_sound_card, qtbot):
    window.player._devices = None  # forget the no-device answer of the fixture
    loud = NoteSequence(notes=[Note(69, 0.0, 1.0, 100)])
    window.add_layer("a", loud, "score")
    muted = window.add_layer("b", NoteSequence(notes=[Note(40, 0.0, 3.0, 100)]), "reference")
    window.project.set_layer_props(muted.id, muted=True)
    window.toggle_play()
    qtbot.waitUntil(lambda: window.player.playing, timeout=20000)
    (call,) = fake_sound_card
    assert call["sr"] == 44100 and not call["loop"]
    from musestudio.io.synth import render

    # only the unmuted 1-second layer (the renderer adds a release/reverb tail), not the 3-second muted one
    assert len(call["data"]) == len(render(loud, 44100))
    assert np.abs(call["data"]).max() > 0.01
    qtbot.waitUntil(lambda: window.roll.playhead.value() > 0.05, timeout=3000)
    window.toggle_play()
    assert not window.player.playing


def test_loop_plays_only_the_ruler_selection(window, fake_sound_card, qtbot):
    window.player._devices = None
    window.add_layer("a", NoteSequence(notes=[Note(60 + k, k * 0.5, k * 0.5 + 0.4) for k in range(10)]), "score")
    window.roll.set_time_range((1.0, 2.0))
    window.act_loop.setChecked(True)
    window.toggle_play()
    qtbot.waitUntil(lambda: window.player.playing, timeout=20000)
    call = fake_sound_card[-1]
    assert call["loop"] and len(call["data"]) == 44100
    qtbot.wait(100)
    assert 1.0 <= window.roll.playhead.value() <= 2.0
    window.stop()


def test_drop_files_onto_window_opens_them(window, demo_midi, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(demo_midi))])
    ev = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(ev)
    qtbot.waitUntil(lambda: len(window.project.layers) == 1, timeout=10000)
    assert window.project.layers[0].source == str(demo_midi)


def test_recent_files_menu(window, demo_midi, demo_musicxml):
    window.open_path(demo_midi)
    window.open_path(demo_musicxml)
    names = [a.text() for a in window.recent_menu.actions()]
    assert names[:2] == [Path(demo_musicxml).name, Path(demo_midi).name]


def test_window_layout_is_restored(window, qtbot):
    from musestudio.gui.main_window import MainWindow

    window.layers_dock.hide()
    window.save_layout()
    other = MainWindow(interactive=False)
    qtbot.addWidget(other)
    other.restore_layout()
    other.show()
    assert not other.layers_dock.isVisible()


def test_spectrogram_kind_and_levels(window, short_wav, qtbot):
    window.open_path(short_wav)
    assert window.wait_for_jobs(60)
    spec = window.spectrogram
    spec.kind_combo.setCurrentIndex(spec.kind_combo.findData("mel"))
    assert window.wait_for_jobs(60)
    assert spec.data.kind == "mel"
    spec.db_spin.setValue(40.0)
    assert tuple(spec.image.levels) == (-40.0, 0.0)
    assert window.settings.db_range == 40.0 and window.settings.spectrogram_kind == "mel"
    spec.cmap_combo.setCurrentText("viridis")
    assert spec.image.lut is not None and len(spec.image.lut) == 256


def test_light_theme_switch(window):
    window.set_theme("light")
    assert window.roll.backgroundBrush().color().lightness() > 200
    window.set_theme("dark")
    assert window.roll.backgroundBrush().color().lightness() < 60


def test_cli_screenshot(tmp_path, demo_midi):
    out = tmp_path / "cli.png"
    env = dict(os.environ, MUSESTUDIO_SETTINGS=str(tmp_path / "s.ini"), MUSESTUDIO_STATE_DIR=str(tmp_path / "st"))
    env.pop("QT_QPA_PLATFORM", None)  # --screenshot must pick offscreen by itself
    env.pop("DISPLAY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "musestudio", "gui", str(demo_midi), "--screenshot", str(out), "--size", "640x480"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run(
        [sys.executable, "-m", "musestudio", "gui", str(tmp_path / "nope.mid"), "--screenshot", str(tmp_path / "x.png")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert bad.returncode == 1 and "nope.mid" in bad.stderr


def test_audio_file_can_be_left_out_of_playback(window, fake_sound_card, short_wav, qtbot):
    window.player._devices = None
    window.open_path(short_wav)
    window.wait_for_jobs(60)
    window.toggle_play()
    qtbot.waitUntil(lambda: window.player.playing, timeout=20000)
    with_audio = fake_sound_card[-1]["data"]
    assert len(with_audio) == pytest.approx(2.0 * 44100, abs=10) and np.abs(with_audio).max() > 0.2
    window.stop()
    window.spectrogram.play_audio_box.setChecked(False)
    window.toggle_play()  # nothing audible is left: no layers, audio switched off
    qtbot.wait(300)
    assert not window.player.playing and "Nothing to play" in window.status_label.text()
