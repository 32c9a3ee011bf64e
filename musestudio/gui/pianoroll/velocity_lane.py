"""Velocity lane under the piano roll: one stem per note of the layer being edited.

Drag across the lane to draw velocities (over the selected notes only, when
there is a selection), as in a DAW's controller lane; the change becomes one
undo step.  Stems are a single ``connect="pairs"`` curve clipped to the view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from musestudio.core.notes import Note


class _LaneViewBox(pg.ViewBox):
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
        self.stems = pg.PlotDataItem(connect="pairs", clipToView=True, pen=pg.mkPen("#4f9dde", width=2))
        self.selected = pg.ScatterPlotItem(size=6, brush=pg.mkBrush("#ffffff"), pen=None)
        self.addItem(self.stems)
        self.addItem(self.selected)
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
        self.selected.setBrush(pg.mkBrush("#ffffff" if dark else "#000000"))

    def refresh(self) -> None:
        """Show the active layer's notes (call after edits, selection or layer changes)."""
        layer = self.roll.active_layer()
        self._pending = {}
        if layer is None or not layer.visible:
            self._notes, self._start, self._vel = [], np.zeros(0), np.zeros(0)
        else:
            self._notes = list(layer.sequence.notes)
            self._start = np.fromiter((n.start for n in self._notes), np.float64, len(self._notes))
            self._vel = np.fromiter((n.velocity for n in self._notes), np.float64, len(self._notes))
            self.stems.setPen(pg.mkPen(layer.color, width=2))
        self._draw()

    def _draw(self) -> None:
        x = np.repeat(self._start, 2)
        y = np.zeros_like(x)
        y[1::2] = self._vel
        self.stems.setData(x, y)
        sel = self.roll.selection
        if sel and self._notes:
            mask = np.fromiter((n in sel for n in self._notes), bool, len(self._notes))
            self.selected.setData(self._start[mask], self._vel[mask])
        else:
            self.selected.setData([], [])

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
