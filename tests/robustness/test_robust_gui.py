"""The GUI's open path on every hostile file, offscreen; failed long work leaves the document untouched."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from harness import FILES_TRIED, TALLY
from make_corpus import CORPUS, entry_by_id

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

pytest.importorskip("PySide6")
pytest.importorskip("musestudio.gui.main_window")


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MUSESTUDIO_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("MUSESTUDIO_STATE_DIR", str(tmp_path / "state"))
    from musestudio.gui.app import create_app

    create_app()
    from musestudio.gui.main_window import MainWindow

    w = MainWindow(interactive=False)
    errors: list[str] = []
    w.errors = errors
    monkeypatch.setattr(w, "show_error", errors.append)
    qtbot.addWidget(w)
    w.resize(900, 600)
    w.show()
    yield w
    w.cancel_work()
    w.wait_for_jobs(10)


def document(w: Any) -> str:
    return json.dumps(w.project.to_dict(), sort_keys=True)


# The far-future file once froze the Metrics panel (beat tracking across 140
# years of silence); it must now finish within a short deadline.
METRICS_PANEL_DEADLINE = [pytest.mark.timeout(20)]
def _marks(entry_id: str) -> list[pytest.MarkDecorator]:
    if entry_id == "far_future_note.mid":
        return METRICS_PANEL_DEADLINE
    return [pytest.mark.timeout(120)]


OPEN_PARAMS = [pytest.param(e.id, marks=_marks(e.id)) for e in CORPUS]


@pytest.mark.parametrize("entry_id", OPEN_PARAMS)
def test_open_path(window: Any, corpus: dict[str, Path], entry_id: str, qtbot: Any) -> None:
    entry = entry_by_id(entry_id)
    ok = window.open_path(corpus[entry_id])
    window.wait_for_jobs(60)  # audio starts a spectrogram in a worker: its errors count too
    qtbot.wait(600)  # let debounced panel updates (metrics) run inside this test
    assert isinstance(ok, bool)
    FILES_TRIED.add(entry_id)
    assert all("\n" not in e and e.strip() for e in window.errors), window.errors
    if any("internal error" in e or "Traceback" in e for e in window.errors):
        TALLY["crash"] += 1
        pytest.fail(f"{entry_id}: a bug surfaced as an internal error: {window.errors}")
    if ok:
        TALLY["result"] += 1
        if entry.expect == "error":
            TALLY["wrong_verdict"] += 1
            pytest.fail(f"{entry_id} should have been refused")
    else:
        TALLY["clean_error"] += 1
        assert len(window.errors) == 1, window.errors
        if entry.expect == "ok":
            TALLY["wrong_verdict"] += 1
            pytest.fail(f"{entry_id} should open: {window.errors}")


def test_failed_open_leaves_document_untouched(window: Any, corpus: dict[str, Path]) -> None:
    assert window.open_path(corpus["valid.mid"])
    before = document(window)
    for bad in ("empty.mid", "truncated_zip.mxl", "text_renamed.wav", "zip_bomb.mxl", "smpte_timing.mid"):
        assert window.open_path(corpus[bad]) is False
        window.wait_for_jobs(30)
    assert document(window) == before


def test_failed_transcription_leaves_document_untouched(
    window: Any, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    transcribe = pytest.importorskip("musestudio.ml.transcribe")
    from musestudio.core.errors import ModelError
    from musestudio.core.progress import Progress

    panel = next((p for p in window.panels if type(p).__name__ == "TranscribePanel"), None)
    if panel is None:
        pytest.skip("no Transcribe panel")
    assert window.open_path(corpus["valid.mid"])
    assert window.open_path(corpus["valid.wav"])
    window.wait_for_jobs(30)
    before = document(window)
    undo_before = window.undo_stack.index()

    calls: list[str] = []

    def failing_work(*args: Any, **kwargs: Any) -> Any:
        calls.append("started")
        yield Progress(1, 10, "transcribing")
        raise ModelError("the transcriber checkpoint is damaged")

    monkeypatch.setattr(transcribe, "run_inference_work", failing_work)
    panel.start()
    window.wait_for_jobs(30)
    qtbot.wait(50)
    assert calls == ["started"], "the failing work never ran, so this test would prove nothing"
    assert document(window) == before
    assert window.undo_stack.index() == undo_before


def test_failed_generation_leaves_document_untouched(
    window: Any, corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    generate = pytest.importorskip("musestudio.ml.generate")
    from musestudio.core.errors import ModelError
    from musestudio.core.progress import Progress

    panel = next((p for p in window.panels if type(p).__name__ == "GeneratePanel"), None)
    if panel is None:
        pytest.skip("no Generate panel yet")
    assert window.open_path(corpus["valid.mid"])
    before = document(window)
    undo_before = window.undo_stack.index()

    calls: list[str] = []

    def failing_work(*args: Any, **kwargs: Any) -> Any:
        calls.append("started")
        yield Progress(1, 10, "generating")
        raise ModelError("the checkpoint is damaged")

    monkeypatch.setattr(generate, "generate_work", failing_work)
    start = getattr(panel, "start", None) or getattr(panel, "generate", None)
    if start is None:
        pytest.skip("Generate panel has no start()/generate() entry point")
    start()
    window.wait_for_jobs(30)
    qtbot.wait(50)
    assert calls == ["started"], "the failing work never ran, so this test would prove nothing"
    assert document(window) == before
    assert window.undo_stack.index() == undo_before


def test_autosave_then_crash_then_recovery_in_the_gui(window: Any, corpus: dict[str, Path], qtbot: Any) -> None:
    from musestudio.core import autosave
    from musestudio.gui.main_window import MainWindow

    assert window.open_path(corpus["valid.mid"])
    layer = window.project.layers[0]
    window.project.set_layer_props(layer.id, name="edited before the crash")
    assert window.autosave_now() is not None
    assert autosave.find_recovery() is None  # a running instance's snapshot is never offered
    window.documents.session.abandon()  # the crash: its lock goes, its snapshot stays
    assert autosave.find_recovery() is not None

    # "Crash": the window is never closed cleanly; a new one starts and is told yes.
    fresh = MainWindow(interactive=False)
    qtbot.addWidget(fresh)
    fresh.ask = lambda *a, **k: True  # type: ignore[method-assign]
    assert fresh.offer_recovery() is True
    assert [lay.name for lay in fresh.project.layers] == ["edited before the crash"]
    assert fresh.project.modified  # restored work still asks to be saved
    assert autosave.find_recovery() is None


def test_six_hour_audio_in_the_gui_is_refused_without_eating_memory(window: Any, tmp_path: Path, qtbot: Any) -> None:
    import resource

    from make_corpus import sparse_wav

    path = tmp_path / "six_hours.wav"
    sparse_wav(path, 6 * 3600)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    window.open_path(path)
    window.wait_for_jobs(60)
    qtbot.waitUntil(lambda: bool(window.errors), timeout=60_000)
    assert any("6.0 h" in e and "refused" in e for e in window.errors), window.errors
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before < 300
