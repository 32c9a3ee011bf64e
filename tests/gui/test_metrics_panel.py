"""The Metrics dock against a small fake window (pytest-qt, offscreen)."""

from __future__ import annotations

import math
import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # also without the shared conftest
pytest.importorskip("pytestqt")

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.project import Project
from musestudio.gui.panels.base import PanelContext


class FakeWindow:
    def __init__(self) -> None:
        self.project = Project()
        self.settings = None
        self.current: str | None = None
        self.range: tuple[float, float] | None = None
        self.status: list[str] = []

    def selected_layers(self) -> list:
        return [self.project.layer(self.current)] if self.current else []

    def current_layer(self):
        return self.project.layer(self.current) if self.current else None

    def selected_time_range(self) -> tuple[float, float] | None:
        return self.range

    def show_status(self, message: str) -> None:
        self.status.append(message)

    def show_error(self, message: str) -> None:
        raise AssertionError(message)


def scale_run(n: int, root: int = 60) -> NoteSequence:
    steps = (0, 2, 4, 5, 7, 9, 11)
    return NoteSequence([Note(root + steps[i % 7], i * 0.5, i * 0.5 + 0.4, 60 + i % 20) for i in range(n)])


@pytest.fixture
def panel(qtbot):
    from musestudio.gui.panels.metrics_panel import MetricsPanel

    window = FakeWindow()
    a = window.project.add_layer("seed", scale_run(32), "score")
    window.project.add_layer("shifted", scale_run(32, 61), "continuation")
    window.current = a.id
    context = PanelContext(window)
    widget = MetricsPanel(context)
    qtbot.addWidget(widget)
    widget.show()  # a hidden panel computes nothing until it is shown
    widget.refresh()
    settle(widget, qtbot)
    return widget, window, context


def settle(widget, qtbot) -> None:
    """Wait for the metrics worker (and a pending debounce) to finish."""
    qtbot.waitUntil(lambda: not widget.busy, timeout=10000)


def value(widget, name: str, column: int = 1) -> str:
    for row in range(widget.table.rowCount()):
        if widget.table.item(row, 0).toolTip().split(":")[0] == name:
            return widget.table.item(row, column).text()
    raise KeyError(name)


def test_table_follows_the_current_layer_and_reference(panel, qtbot) -> None:
    widget, _, _ = panel
    assert widget.results["note_count"] == 32
    assert value(widget, "pitch_class_similarity") == "–"  # no reference yet
    widget.reference_box.setCurrentIndex(widget.reference_box.findText("seed"))
    widget.refresh()
    settle(widget, qtbot)
    assert widget.results["pitch_class_similarity"] == pytest.approx(100.0)
    assert value(widget, "note_count", column=2) == "32"
    widget.reference_box.setCurrentIndex(widget.reference_box.findText("shifted"))
    widget.refresh()
    settle(widget, qtbot)
    assert widget.results["pitch_class_similarity"] < 100.0
    assert len(widget.pc_plot.getPlotItem().items) == 2  # layer and reference bars


def test_updates_when_a_layer_changes(panel, qtbot) -> None:
    widget, window, context = panel
    layer = window.current_layer()
    window.project.set_notes(layer.id, scale_run(8).notes)
    context.events.layers_changed.emit()
    qtbot.waitUntil(lambda: widget.results.get("note_count") == 8, timeout=2000)
    window.project.add_layer("third", scale_run(5), "continuation")
    context.events.layers_changed.emit()
    assert widget.layer_box.findText("third") >= 0


def test_selection_only_and_empty_layer(panel, qtbot) -> None:
    widget, window, context = panel
    window.range = (0.0, 2.0)
    widget.selection_only.setChecked(True)
    qtbot.waitUntil(lambda: widget.results.get("note_count") == 4, timeout=2000)
    empty = window.project.add_layer("empty", NoteSequence(), "continuation")
    window.current = empty.id
    context.events.selection_changed.emit()
    qtbot.waitUntil(lambda: widget.results.get("note_count") == 0, timeout=2000)
    assert math.isnan(widget.results["avg_note_duration"])


def test_unrelated_changes_and_a_hidden_panel_compute_nothing(panel, qtbot) -> None:
    widget, window, context = panel
    before = widget.computations
    window.project.add_layer("unrelated", scale_run(5), "continuation")
    context.events.layers_changed.emit()
    settle(widget, qtbot)
    assert widget.computations == before  # the shown layer's notes did not change
    widget.hide()
    layer = window.current_layer()
    window.project.set_notes(layer.id, scale_run(6).notes)
    context.events.layers_changed.emit()
    qtbot.wait(2 * 150 + 50)
    assert widget.computations == before and widget.results["note_count"] == 32
    widget.show()  # catches up when shown
    qtbot.waitUntil(lambda: widget.results.get("note_count") == 6, timeout=5000)
    assert widget.computations == before + 1


def test_metrics_are_computed_off_the_ui_thread(panel, qtbot, monkeypatch) -> None:
    import threading

    from musestudio import metrics

    threads = []
    real = metrics.compute_metrics

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(metrics, "compute_metrics", spy)
    widget, window, context = panel
    window.project.set_notes(window.current_layer().id, scale_run(9).notes)
    context.events.layers_changed.emit()
    qtbot.waitUntil(lambda: widget.results.get("note_count") == 9, timeout=5000)
    assert threads and not any(threads)
