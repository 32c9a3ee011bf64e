"""The editor's views paint only what is visible, once per view change.

These pin the causes of slow pan/zoom at 100k notes (issue 17); the frame
rates themselves are measured by tests/benchmarks/bench_gui.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.project import Project


def _sequence(n: int, per_second: float = 60.0) -> NoteSequence:
    rng = np.random.default_rng(0)
    starts = np.sort(rng.uniform(0, n / per_second, n))
    return NoteSequence(
        notes=[
            Note(int(p), float(s), float(s + 0.3), int(v))
            for p, s, v in zip(rng.integers(21, 109, n), starts, rng.integers(20, 127, n), strict=True)
        ]
    )


class _Paints(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, ev):  # type: ignore[no-untyped-def]  # noqa: N802
        if ev.type() == QEvent.Type.Paint:
            self.count += 1
        return False


@pytest.fixture
def editor(qtbot):
    """Piano roll + velocity lane + spectrogram view, as the main window stacks them."""
    from musestudio.gui.app import create_app

    create_app()
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from musestudio.gui.pianoroll.velocity_lane import VelocityLane
    from musestudio.gui.pianoroll.view import PianoRoll
    from musestudio.gui.settings import AppSettings
    from musestudio.gui.spectrogram_view import SpectrogramView

    w = QWidget()
    roll = PianoRoll()
    lane = VelocityLane(roll)
    spec = SpectrogramView(roll, AppSettings())
    layout = QVBoxLayout(w)
    for view in (roll, lane, spec):
        layout.addWidget(view)
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    qtbot.waitExposed(w)
    project = Project()
    project.add_layer("big", _sequence(6000, per_second=20.0), "score")
    roll.set_project(project)
    spec.set_project(project)
    roll.set_active(project.layers[0].id)
    lane.refresh()
    roll.vb.setRange(xRange=(10, 20), yRange=(20.5, 108.5), padding=0)
    return w, roll, lane, spec


def test_pyqtgraph_plot_item_still_resets_clip_to_view(qtbot) -> None:
    """Evidence for velocity_lane.py's own StemsItem: when this fails, pyqtgraph changed; recheck the comment."""
    import pyqtgraph as pg

    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    item = pg.PlotDataItem(connect="pairs", clipToView=True)
    assert item.opts["clipToView"] is True
    plot.addItem(item)  # PlotItem.addItem applies its own (unchecked) "clip to view" menu setting
    assert item.opts["clipToView"] is False


def test_velocity_stems_paint_only_the_visible_notes(editor, qtbot) -> None:
    _w, roll, lane, _spec = editor
    start = lane._start
    lane.viewport().repaint()
    visible = int(np.count_nonzero((start >= 10) & (start <= 20)))
    assert 0 < lane.stems.stems_painted <= visible + 2
    roll.vb.setXRange(0, start[-1] + 1, padding=0)  # the whole layer: one stem per pixel column at most
    lane.viewport().repaint()
    assert 0 < lane.stems.stems_painted <= lane.width()


def test_selection_outlines_paint_only_the_visible_notes(editor, qtbot) -> None:
    _w, roll, _lane, _spec = editor
    roll.select_all()
    roll.viewport().repaint()
    item = roll.selected_item
    visible = int(np.count_nonzero((item.end >= 10) & (item.start <= 20)))
    assert 0 < item.outlines_painted <= visible
    assert item.outlines_painted < len(item) / 10


def test_spectrogram_overlay_outlines_paint_only_the_visible_notes(editor, qtbot) -> None:
    _w, _roll, _lane, spec = editor
    spec.overlay_box.setChecked(True)
    spec.sync_overlays()
    spec.plot.viewport().repaint()
    (overlay,) = spec.overlays.values()
    assert 0 < overlay.outlines_painted < len(overlay) / 10


def test_one_paint_per_view_per_pan_frame(editor, qtbot) -> None:
    """pyqtgraph's paint-time matrix update painted every view twice per frame; EagerViewBox fixes it."""
    from PySide6.QtWidgets import QApplication

    _w, roll, lane, _spec = editor
    counters = {}
    for name, view in (("roll", roll), ("lane", lane)):
        counters[name] = _Paints()
        view.viewport().installEventFilter(counters[name])
    QApplication.processEvents()
    for c in counters.values():
        c.count = 0
    frames = 5
    for i in range(frames):
        roll.vb.setXRange(11 + i, 21 + i, padding=0)
        QApplication.processEvents()
    assert {k: c.count for k, c in counters.items()} == {"roll": frames, "lane": frames}


def test_solo_isolates_a_layer_on_screen(editor) -> None:
    _w, roll, _lane, spec = editor
    project = roll.project
    first = project.layers[0]
    soloed = project.add_layer("b", _sequence(100), "continuation")
    project.set_layer_props(soloed.id, solo=True)
    roll.sync_layers()
    spec.sync_overlays()
    assert roll.items[soloed.id].opacity() == 1.0 and spec.overlays[soloed.id].opacity() == 1.0
    assert roll.items[first.id].opacity() < 0.5 and spec.overlays[first.id].opacity() < 0.5
    project.set_layer_props(soloed.id, solo=False)
    roll.sync_layers()
    spec.sync_overlays()
    assert roll.items[first.id].opacity() == 1.0 and spec.overlays[first.id].opacity() == 1.0


def test_missed_notes_are_drawn_above_the_reference_even_while_it_is_edited(editor) -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor

    _w, roll, _lane, _spec = editor
    project = roll.project
    reference = project.layers[0]
    note = next(n for n in reference.sequence.notes if 12 < n.start < 18)
    missed = project.add_layer("Missed notes", NoteSequence([note]), "missed", color="#ff0000")
    roll.set_active(reference.id)  # the reference is the layer being edited: it is raised
    roll.sync_layers()
    assert roll.items[missed.id].zValue() > roll.items[reference.id].zValue()
    assert roll.selected_item.zValue() > roll.items[missed.id].zValue()
    image = roll.grab().toImage()
    centre = roll.mapFromScene(roll.vb.mapViewToScene(QPointF((note.start + note.end) / 2, note.pitch)))
    pixel = QColor(image.pixel(centre.x(), centre.y()))
    assert pixel.red() > 2 * pixel.blue() and pixel.red() > 2 * pixel.green()  # the red mark, not the blue note
