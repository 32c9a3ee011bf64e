"""Velocity lane under the piano roll: one stem per note of the layer being edited.

Drag across the lane to draw velocities (over the selected notes only, when
there is a selection), as in a DAW's controller lane; the change becomes one
undo step.

The stems are one :class:`StemsItem` that paints only the notes inside the
visible time range (a binary search on the sorted onsets).  Not a
``PlotDataItem(connect="pairs", clipToView=True)``: ``PlotItem.addItem``
resets ``clipToView`` to the plot's own menu setting (off), so all 100k
stems were stroked every frame (pinned by
``tests/gui/test_view_painting.py``), and pyqtgraph's clipping starts one
point before the view, which with ``connect="pairs"`` can pair the top of
one stem with the foot of the next.  Zoomed far
out, when there are more stems than pixels, a column of pixels shows the
loudest note in it, which is what the eye reads from a dense lane anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals as qt_internals
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen

from musestudio.core.notes import Note
from musestudio.gui.pianoroll.notes_item import note_arrays
from musestudio.gui.pianoroll.view import EagerViewBox

DOT_PX = 5  # side of the square drawn on the stem of a selected note


class StemsItem(pg.GraphicsObject):
    """Velocity stems of sorted onsets, painted for the visible range only; selected stems get a dot."""

    def __init__(self) -> None:
        super().__init__()
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._selected = np.zeros(0, bool)
        self._color = QColor("#4f9dde")
        self._dot = QColor("#ffffff")
        self._bounds = QRectF()
        self._lines = qt_internals.PrimitiveArray(QLineF, 4)
        self._points = qt_internals.PrimitiveArray(QPointF, 2)
        self.stems_painted = 0  # lines drawn by the last paint (tests check it follows the view, not the layer)

    def set_data(self, x: np.ndarray, y: np.ndarray, selected: np.ndarray | None = None) -> None:
        """``x`` sorted ascending (onsets in seconds), ``y`` velocities, ``selected`` a mask or None."""
        self._x, self._y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        self._selected = np.zeros(len(self._x), bool) if selected is None else np.asarray(selected, bool)
        self.prepareGeometryChange()
        self._bounds = QRectF(float(self._x[0]), 0.0, float(self._x[-1] - self._x[0]), 127.0) if len(self._x) else QRectF()
        self.update()

    def set_selected(self, selected: np.ndarray) -> None:
        self._selected = np.asarray(selected, bool)
        self.update()

    def set_colors(self, stem: str | None = None, dot: str | None = None) -> None:
        if stem is not None:
            self._color = QColor(stem)
        if dot is not None:
            self._dot = QColor(dot)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def visible_slice(self, x0: float, x1: float) -> tuple[int, int]:
        return int(np.searchsorted(self._x, x0, "left")), int(np.searchsorted(self._x, x1, "right"))

    def paint(self, p: QPainter, *args: object) -> None:
        view = self.viewRect()
        if view is None or not len(self._x):
            return
        a, b = self.visible_slice(view.left(), view.right())
        if b <= a:
            return
        x, y = self._x[a:b], self._y[a:b]
        px = abs(p.transform().m11())  # pixels per second
        columns = int(np.ceil(view.width() * px)) + 1
        if b - a > columns:  # more stems than pixel columns: one line per column, the loudest note
            x, y = _loudest_per_column(x, y, view.left(), px, columns)
        pen = QPen(self._color, 2.0)
        pen.setCosmetic(True)
        p.setPen(pen)
        # drawLines over a QLineF buffer filled from numpy: a stroked QPainterPath of the
        # same stems is ~30x slower with a 2 px pen (measured with tests/benchmarks/bench_gui.py).
        self.stems_painted = len(x)
        lines = self._lines
        lines.resize(len(x))
        if len(x):
            mem = lines.ndarray()
            mem[:, 0] = mem[:, 2] = x
            mem[:, 1] = 0.0
            mem[:, 3] = y
            p.drawLines(*lines.drawargs())
        sel = np.nonzero(self._selected[a:b])[0]
        if len(sel):
            sx, sy = self._x[a:b][sel], self._y[a:b][sel]
            if len(sx) > columns:  # the same per-column reduction as the stems
                sx, sy = _loudest_per_column(sx, sy, view.left(), px, columns)
            dot = QPen(self._dot, DOT_PX)
            dot.setCosmetic(True)
            dot.setCapStyle(Qt.PenCapStyle.SquareCap)
            p.setPen(dot)
            points = self._points
            points.resize(len(sx))
            mem = points.ndarray()
            mem[:, 0] = sx
            mem[:, 1] = sy
            p.drawPoints(*points.drawargs())


def _loudest_per_column(x: np.ndarray, y: np.ndarray, left: float, px: float, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """One stem per pixel column (at its centre) with the largest velocity in it."""
    col = np.clip(((x - left) * px).astype(np.int64), 0, columns - 1)
    top = np.zeros(columns)
    np.maximum.at(top, col, y)
    used = np.nonzero(top > 0)[0]
    return left + (used + 0.5) / px, top[used]


class _LaneViewBox(EagerViewBox):
    def __init__(self, lane: VelocityLane) -> None:
        super().__init__(enableMenu=False)
        self.lane = lane
        self.setMouseEnabled(x=True, y=False)

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        slop = 6 * self.viewPixelSize()[0]
        self.lane.paint_velocity(p.x() - slop, p.x() + slop, p.y(), finished=True, nearest=p.x())

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        a = self.mapSceneToView(ev.lastScenePos())
        b = self.mapSceneToView(ev.scenePos())
        lo, hi = sorted((a.x(), b.x()))
        self.lane.paint_velocity(lo, hi, b.y(), finished=bool(ev.isFinish()))


class VelocityLane(pg.PlotWidget):
    velocities_edited = Signal(object)  # dict {old note: new velocity}, on release

    def __init__(self, roll: Any) -> None:
        self.vb_lane = _LaneViewBox(self)
        super().__init__(viewBox=self.vb_lane)
        self.roll = roll
        pi = self.getPlotItem()
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.showAxis("right")
        left, right = pi.getAxis("left"), pi.getAxis("right")
        left.setWidth(46)  # the same widths as the piano roll's axes keep the time scales identical
        right.setWidth(40)
        right.setStyle(showValues=False)
        left.setTicks([[(1, "1"), (64, "64"), (127, "127")]])
        pi.hideAxis("bottom")
        self.setXLink(roll)
        self.vb_lane.setYRange(-8, 138, padding=0)  # room for the "1" and "127" labels
        self.vb_lane.setLimits(yMin=-8, yMax=138)
        self.setFixedHeight(84)
        self.setToolTip("Velocity: drag across the stems to draw velocities (only over the selection, if any)")
        self.stems = StemsItem()
        self.addItem(self.stems)
        self.playhead = pg.InfiniteLine(0.0, angle=90, movable=False, pen=pg.mkPen("#ff5050", width=2))
        self.addItem(self.playhead, ignoreBounds=True)
        roll.playhead.sigPositionChanged.connect(lambda line: self.playhead.setValue(line.value()))
        self._notes: list[Note] = []
        self._start = np.zeros(0)
        self._vel = np.zeros(0)
        self._pending: dict[Note, int] = {}

    def set_dark(self, dark: bool) -> None:
        from musestudio.gui.pianoroll.view import style_axes

        self.setBackground("#15171c" if dark else "#fbfbf8")
        style_axes(self.getPlotItem(), dark)
        self.stems.set_colors(dot="#ffffff" if dark else "#000000")

    def refresh(self) -> None:
        """Show the active layer's notes (call after edits, selection or layer changes)."""
        layer = self.roll.active_layer()
        self._pending = {}
        if layer is None or not layer.visible:
            self._notes, self._start, self._vel = [], np.zeros(0), np.zeros(0)
        else:
            self._notes = list(layer.sequence.notes)
            start, _end, _pitch, velocity = note_arrays(layer.sequence)
            self._start, self._vel = start, velocity.astype(np.float64)  # _vel is drawn on while dragging: a copy
            self.stems.set_colors(stem=layer.color)
        self._draw()

    def _selected_mask(self) -> np.ndarray:
        sel = self.roll.selection
        if not sel or not self._notes:
            return np.zeros(len(self._notes), bool)
        return np.fromiter((n in sel for n in self._notes), bool, len(self._notes))

    def _draw(self) -> None:
        """Hand the arrays to the stems item (it paints only what is visible)."""
        self.stems.set_data(self._start, self._vel, self._selected_mask())

    def paint_velocity(self, x0: float, x1: float, value: float, *, finished: bool, nearest: float | None = None) -> None:
        if not self._notes:
            return
        v = int(min(127, max(1, round(value))))
        lo, hi = np.searchsorted(self._start, x0, "left"), np.searchsorted(self._start, x1, "right")
        idx = np.arange(lo, hi)
        sel = self.roll.selection
        if sel:
            idx = np.array([i for i in idx if self._notes[i] in sel], dtype=int)
        if nearest is not None and len(idx):
            idx = idx[[int(np.argmin(np.abs(self._start[idx] - nearest)))]]
        for i in idx:
            self._vel[i] = v
            self._pending[self._notes[i]] = v
        self._draw()
        if finished:
            changes, self._pending = self._pending, {}
            if changes:
                self.velocities_edited.emit(changes)
