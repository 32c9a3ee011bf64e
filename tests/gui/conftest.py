"""GUI fixtures: an offscreen MainWindow with settings and autosave in a temp folder."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSESTUDIO_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("MUSESTUDIO_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def window(qtbot, monkeypatch):
    from musestudio.gui.app import create_app

    create_app()
    from musestudio.gui import playback

    # This machine has no sound card; pin that so the tests mean the same everywhere.
    monkeypatch.setattr(playback, "_query_output_devices", lambda: ([], "no audio output device"))
    from musestudio.gui.main_window import MainWindow

    w = MainWindow(interactive=False)
    errors: list[str] = []
    w.errors = errors
    monkeypatch.setattr(w, "show_error", errors.append)
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    yield w
    w.cancel_work()
    w.wait_for_jobs(10)
    # Destroy the window here, on the GUI thread, rather than whenever a collection happens to run
    # (gui/gc_guard.py explains the deadlock a worker-side collection caused).
    import gc

    w.close()
    w.deleteLater()
    del w
    gc.collect()


@pytest.fixture
def short_wav(tmp_path):
    """Two seconds of A4 (440 Hz) then C5 as a WAV file."""
    import numpy as np

    from musestudio.io.audio import write_wav

    sr = 22050
    t = np.arange(sr) / sr
    samples = np.concatenate([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 523.25 * t)]).astype(np.float32)
    return write_wav(tmp_path / "tone.wav", samples, sr)
