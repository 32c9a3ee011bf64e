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
    widget.refresh()
    return widget, window, context


def value(widget, name: str, column: int = 1) -> str:
    for row in range(widget.table.rowCount()):
        if widget.table.item(row, 0).toolTip().split(":")[0] == name:
            return widget.table.item(row, column).text()
    raise KeyError(name)


def test_table_follows_the_current_layer_and_reference(panel) -> None:
    widget, _, _ = panel
    assert widget.results["note_count"] == 32
    assert value(widget, "pitch_class_similarity") == "–"  # no reference yet
    widget.reference_box.setCurrentIndex(widget.reference_box.findText("seed"))
    widget.refresh()
    assert widget.results["pitch_class_similarity"] == pytest.approx(100.0)
    assert value(widget, "note_count", column=2) == "32"
    widget.reference_box.setCurrentIndex(widget.reference_box.findText("shifted"))
    widget.refresh()
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
