"""The piano-roll widget: layers, selection, playhead, ruler range and mouse editing.

It holds no domain logic: edits are *requested* through signals and the main
window turns them into undo commands on the project document, then calls
``refresh_layer``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal

from musestudio.core.notes import Note
from musestudio.core.project import Layer, Project
from musestudio.gui.pianoroll.axes import BeatGrid, BeatRuler, KeyRows, PitchAxis, SecondsAxis
from musestudio.gui.pianoroll.notes_item import NotesItem

RESIZE_HANDLE_PX = 6
SOLO_DIMMED = 0.15  # opacity of the layers that are not soloed while some layer is
# Teacher-mode layers mark notes of other layers (missed notes ARE reference notes), so they are
# drawn above every layer, the one being edited included; otherwise they hide under what they mark.
MARKER_KINDS = ("missed", "false_alarm")


def layer_z(kind: str, index: int, active: bool) -> float:
    """Stacking order: layers in project order, the edited one above them, teacher-mode marks on top."""
    return 10 + index + (20 if active else 0) + (1000 if kind in MARKER_KINDS else 0)


class EagerViewBox(pg.ViewBox):
    """A ViewBox that applies a new view range to its transform at once, not at paint time.

    pyqtgraph defers ``updateMatrix`` to ``GraphicsView.paintEvent`` (through
    ``prepareForPaint``); the transform then changes *during* the paint, the
    scene marks the whole view dirty again, and every pan or zoom frame paints
    each view twice (Paint events counted in tests/benchmarks/bench_gui.py:
    2 per frame per view before, 1 after).  Auto-range stays deferred.
    """

    def updateViewRange(self, forceX: bool = False, forceY: bool = False) -> None:  # noqa: N802,N803 (pyqtgraph API)
        super().updateViewRange(forceX, forceY)
        self.updateMatrix()


class RollViewBox(EagerViewBox):
    """Mouse editing on top of pyqtgraph's pan/zoom.

    Left: click selects (Ctrl toggles, Shift adds), drag on a note moves it,
    drag on its right edge resizes it, drag on empty space rubber-band selects,
    double-click adds a note.  Middle-drag or Alt+left-drag pans; the wheel
    zooms time (Ctrl+wheel zooms pitch, Shift+wheel scrolls).
    """

    def __init__(self, roll: PianoRoll) -> None:
        super().__init__(enableMenu=False)
        self.roll = roll
        self._drag: str | None = None

    # wheel: time zoom by default, as in DAWs
    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        mods = ev.modifiers()
        factor = 0.999 ** delta
        center = self.mapToView(ev.pos())
        horizontal = hasattr(ev, "orientation") and ev.orientation() == Qt.Orientation.Horizontal
        if horizontal or mods & Qt.KeyboardModifier.ShiftModifier:  # trackpad sideways swipe scrolls time
            x0, x1 = self.viewRange()[0]
            self.translateBy(x=-(x1 - x0) * delta / 1200.0)
        elif mods & Qt.KeyboardModifier.ControlModifier:
            self.scaleBy(y=factor, center=center)
        else:
            self.scaleBy(x=factor, center=center)
        ev.accept()

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            pos = self.mapSceneToView(ev.scenePos())
            self.roll.context_requested.emit(ev.screenPos().toPoint(), float(pos.x()), float(pos.y()))
            return
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        pos = self.mapSceneToView(ev.scenePos())
        if ev.double():
            self.roll.request_add(pos.x(), pos.y())
            return
        self.roll.click_select(pos.x(), pos.y(), ev.modifiers())

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802
        mods = ev.modifiers()
        if ev.button() != Qt.MouseButton.LeftButton or mods & Qt.KeyboardModifier.AltModifier:
            if ev.button() == Qt.MouseButton.LeftButton:  # Alt+left: pan like the middle button
                ev.accept()
                dif = self.mapToView(ev.lastPos()) - self.mapToView(ev.pos())
                self.translateBy(x=dif.x(), y=dif.y())
                return
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        start = self.mapSceneToView(ev.buttonDownScenePos())
        here = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            self._drag = self.roll.begin_drag(start.x(), start.y(), self.viewPixelSize()[0], mods)
        if self._drag is None:
            return
        if self._drag == "band":
            r = QRectF(QPointF(start), QPointF(here)).normalized()
            self.roll.show_band(r)
        else:
            self.roll.preview_drag(self._drag, here.x() - start.x(), here.y() - start.y())
        if ev.isFinish():
            kind, self._drag = self._drag, None
            if kind == "band":
                self.roll.finish_band(QRectF(QPointF(start), QPointF(here)).normalized(), mods)
            else:
                self.roll.finish_drag(kind, here.x() - start.x(), here.y() - start.y())


class PianoRoll(pg.PlotWidget):
    """Draws every layer of a project; the *active* layer is the one edits apply to."""

    selection_changed = Signal()
    move_requested = Signal(float, int)  # dt seconds, semitones
    resize_requested = Signal(float)  # d_end seconds
    add_requested = Signal(int, float)  # pitch, start seconds
    playhead_moved = Signal(float)
    context_requested = Signal(object, float, float)  # screen position, seconds, pitch
    range_changed = Signal()

    def __init__(self, parent: Any = None, dark: bool = True) -> None:
        self.ruler = BeatRuler()
        vb = RollViewBox(self)
        super().__init__(
            parent,
            viewBox=vb,
            axisItems={"left": PitchAxis(), "bottom": SecondsAxis(), "top": self.ruler},
        )
        self.vb = vb
        self.plot_item = self.getPlotItem()
        self.plot_item.showAxis("top")
        # An empty right axis as wide as the spectrogram's Hz axis keeps both time scales identical.
        self.plot_item.showAxis("right")
        right = self.plot_item.getAxis("right")
        right.setStyle(showValues=False)
        right.setWidth(40)
        self.plot_item.hideButtons()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.getAxis("bottom").setLabel("time")
        vb.setLimits(yMin=-0.5, yMax=127.5, minYRange=6, xMin=-2.0, minXRange=0.05)
        vb.setRange(xRange=(0, 20), yRange=(35.5, 96.5), padding=0)
        self.key_rows = KeyRows(dark)
        self.grid = BeatGrid(dark)
        vb.addItem(self.key_rows, ignoreBounds=True)
        vb.addItem(self.grid, ignoreBounds=True)
        self.items: dict[str, NotesItem] = {}
        self.selected_item = NotesItem("#ffffff", outline=True, z=2000)  # above every layer, teacher marks included
        vb.addItem(self.selected_item, ignoreBounds=True)
        self.playhead = pg.InfiniteLine(0.0, angle=90, movable=True, pen=pg.mkPen("#ff5050", width=2))
        self.playhead.setZValue(2100)
        self.playhead.sigPositionChangeFinished.connect(lambda line: self.playhead_moved.emit(float(line.value())))
        vb.addItem(self.playhead, ignoreBounds=True)
        self.region = pg.LinearRegionItem((0, 0), movable=True, brush=pg.mkBrush(255, 210, 80, 40))
        self.region.setZValue(-50)
        self.region.hide()
        self.region.sigRegionChangeFinished.connect(lambda *_: self.range_changed.emit())
        vb.addItem(self.region, ignoreBounds=True)
        self.band = pg.QtWidgets.QGraphicsRectItem()
        self.band.setPen(pg.mkPen("#ffd050", width=1, style=Qt.PenStyle.DashLine))
        self.band.setBrush(pg.mkBrush(255, 208, 80, 30))
        self.band.setZValue(2200)
        self.band.hide()
        vb.addItem(self.band, ignoreBounds=True)
        self.ruler.range_dragged.connect(self._ruler_range)
        self.ruler.clicked_at.connect(self._ruler_click)
        self.ruler.cleared.connect(self.clear_range)
        self.project: Project | None = None
        self.active_id: str | None = None
        self.selection: set[Note] = set()
        self.grid_beats: float = 0.0  # 0: no snapping
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # --- project & layers ----------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        self.project = project
        for item in self.items.values():
            self.vb.removeItem(item)
        self.items.clear()
        self.selection = set()
        self.sync_layers()

    def sync_layers(self) -> None:
        """Create/remove items to match the project's layers and restyle them."""
        if self.project is None:
            return
        ids = [layer.id for layer in self.project.layers]
        for lid in list(self.items):
            if lid not in ids:
                self.vb.removeItem(self.items.pop(lid))
        soloed = {layer.id for layer in self.project.layers if layer.solo}
        for z, layer in enumerate(self.project.layers):
            item = self.items.get(layer.id)
            if item is None:
                item = NotesItem(layer.color, z=10 + z)
                item.set_notes(layer.sequence)
                self.items[layer.id] = item
                self.vb.addItem(item)
            item.setZValue(layer_z(layer.kind, z, layer.id == self.active_id))
            item.set_color(layer.color)
            item.setVisible(layer.visible)
            # Solo isolates on screen as in playback: the other layers fade back (still there to aim at).
            item.setOpacity(SOLO_DIMMED if soloed and layer.id not in soloed else 1.0)
        if self.active_id not in ids:
            self.active_id = ids[0] if ids else None
            self.set_selection(set())
        self.update_timing()

    def refresh_layer(self, layer_id: str) -> None:
        """The layer's notes changed: rebuild its item (cheap: arrays only, paths lazily)."""
        if self.project is None:
            return
        try:
            layer = self.project.layer(layer_id)
        except KeyError:
            self.sync_layers()
            return
        item = self.items.get(layer_id)
        if item is None:
            self.sync_layers()
            return
        item.set_notes(layer.sequence)
        if layer_id == self.active_id and self.selection:
            present = set(layer.sequence.notes)
            self.set_selection({n for n in self.selection if n in present})
        self.update_timing()

    def update_timing(self) -> None:
        """The ruler and grid follow the project's own tempo map and metre (not whichever layer came first)."""
        if self.project is None:
            return
        seq = self.project.timing()
        self.ruler.set_timing(seq.tempo_map, seq.time_signatures)
        self.grid.set_timing(seq.tempo_map, seq.time_signatures)

    def active_layer(self) -> Layer | None:
        if self.project is None or self.active_id is None:
            return None
        try:
            return self.project.layer(self.active_id)
        except KeyError:
            return None

    def set_active(self, layer_id: str | None) -> None:
        if layer_id != self.active_id:
            self.active_id = layer_id
            self.set_selection(set())
            self.sync_layers()

    def set_dark(self, dark: bool) -> None:
        self.setBackground("#15171c" if dark else "#fbfbf8")
        self.key_rows.set_theme(dark)
        self.grid.set_theme(dark)
        self.selected_item.set_color("#ffffff" if dark else "#000000")
        style_axes(self.plot_item, dark)

    # --- view ------------------------------------------------------------------------------------
    def zoom_to_fit(self) -> None:
        if self.project is None or not any(len(layer.sequence) for layer in self.project.layers if layer.visible):
            self.vb.setRange(xRange=(0, 20), yRange=(35.5, 96.5), padding=0)
            return
        pitches = [n.pitch for layer in self.project.layers if layer.visible for n in layer.sequence.notes]
        lo, hi = min(pitches), max(pitches)
        pad = max(2, (24 - (hi - lo)) // 2)
        span = max(1.0, self.project.duration) * 1.02
        self.vb.setRange(xRange=(-0.01 * span, span), yRange=(lo - pad - 0.5, hi + pad + 0.5), padding=0)

    def default_view(self, seconds: float = 20.0) -> None:
        """The first ~20 s (a few phrases), pitch range of what is visible there: readable at once."""
        if self.project is None:
            return
        self.zoom_to_fit()
        dur = self.project.duration
        pitches = [
            n.pitch for layer in self.project.layers if layer.visible for n in layer.sequence.notes if n.start < seconds
        ]
        if pitches:
            lo, hi = min(pitches), max(pitches)
            pad = max(2, (30 - (hi - lo)) // 2)
            self.vb.setRange(yRange=(lo - pad - 0.5, hi + pad + 0.5), padding=0)
        span = min(seconds, max(dur, 1.0) * 1.02)
        self.vb.setRange(xRange=(-0.015 * span, span), padding=0)  # a little room so bar 1 is labelled

    def zoom_time(self, factor: float) -> None:
        x0, x1 = self.vb.viewRange()[0]
        c = self.playhead.value() if x0 <= self.playhead.value() <= x1 else (x0 + x1) / 2
        self.vb.scaleBy(x=factor, center=QPointF(c, 0))

    def scroll_time(self, fraction: float) -> None:
        x0, x1 = self.vb.viewRange()[0]
        self.vb.translateBy(x=(x1 - x0) * fraction)

    def set_playhead(self, t: float) -> None:
        self.playhead.setValue(t)

    def time_range(self) -> tuple[float, float] | None:
        if not self.region.isVisible():
            return None
        a, b = self.region.getRegion()
        return (float(a), float(b)) if b - a > 1e-6 else None

    def set_time_range(self, rng: tuple[float, float] | None) -> None:
        if rng is None or rng[1] - rng[0] <= 1e-6:
            self.region.hide()
        else:
            self.region.setRegion(rng)
            self.region.show()
        self.range_changed.emit()

    def clear_range(self) -> None:
        self.set_time_range(None)

    def _ruler_range(self, a: float, b: float, finished: bool) -> None:
        self.region.setRegion((a, b))
        self.region.setVisible(b - a > 1e-6)
        if finished:
            self.range_changed.emit()

    def _ruler_click(self, t: float) -> None:
        self.set_playhead(t)
        self.playhead_moved.emit(t)

    # --- selection ------------------------------------------------------------------------------
    def set_selection(self, notes: set[Note]) -> None:
        self.selection = set(notes)
        self.selected_item.setPos(0, 0)
        self.selected_item.set_notes(list(self.selection))
        self.selection_changed.emit()

    def select_all(self) -> None:
        layer = self.active_layer()
        if layer is not None:
            self.set_selection(set(layer.sequence.notes))

    def _active_item(self) -> tuple[Layer, NotesItem] | None:
        layer = self.active_layer()
        if layer is None or not layer.visible or layer.id not in self.items:
            return None
        return layer, self.items[layer.id]

    def click_select(self, x: float, y: float, mods: Any) -> None:
        found = self._active_item()
        if found is None:
            return
        layer, item = found
        i = item.hit(x, y)
        if i is None:
            if not mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
                self.set_selection(set())
            return
        note = layer.sequence.notes[i]
        if mods & Qt.KeyboardModifier.ControlModifier:
            self.set_selection(self.selection ^ {note})
        elif mods & Qt.KeyboardModifier.ShiftModifier:
            self.set_selection(self.selection | {note})
        else:
            self.set_selection({note})

    def show_band(self, r: QRectF) -> None:
        self.band.setRect(r)
        self.band.show()

    def finish_band(self, r: QRectF, mods: Any) -> None:
        self.band.hide()
        found = self._active_item()
        if found is None:
            return
        layer, item = found
        idx = item.in_rect(r.left(), r.right(), r.top(), r.bottom())
        chosen = {layer.sequence.notes[int(i)] for i in idx}
        if mods & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier):
            chosen |= self.selection
        self.set_selection(chosen)

    def begin_drag(self, x: float, y: float, px_seconds: float, mods: Any) -> str | None:
        found = self._active_item()
        if found is None:
            return "band"
        layer, item = found
        i = item.hit(x, y)
        if i is None:
            return "band"
        note = layer.sequence.notes[i]
        if note not in self.selection:
            self.set_selection({note} | (self.selection if mods & Qt.KeyboardModifier.ShiftModifier else set()))
        if note.end - x <= RESIZE_HANDLE_PX * px_seconds and note.end - note.start > 2 * RESIZE_HANDLE_PX * px_seconds:
            return "resize"
        return "move"

    def preview_drag(self, kind: str, dx: float, dy: float) -> None:
        if kind == "move":
            self.selected_item.setPos(dx, round(dy))
        elif kind == "resize":
            self.selected_item.set_arrays(
                self.selected_item.start, self.selected_item.end + dx, self.selected_item.pitch, self.selected_item.velocity
            )

    def finish_drag(self, kind: str, dx: float, dy: float) -> None:
        self.selected_item.setPos(0, 0)
        if kind == "move" and (abs(dx) > 1e-9 or round(dy) != 0):
            self.move_requested.emit(dx, round(dy))
        elif kind == "resize" and abs(dx) > 1e-9:
            self.resize_requested.emit(dx)
        else:
            self.set_selection(self.selection)

    def request_add(self, x: float, y: float) -> None:
        if 0 <= round(y) <= 127 and x >= 0:  # the window makes a layer first if there is none
            self.add_requested.emit(round(y), float(x))

    def visible_note_count(self) -> int:
        x0, x1 = self.vb.viewRange()[0]
        total = 0
        for item in self.items.values():
            if item.isVisible() and len(item):
                total += int(np.count_nonzero((item.start <= x1) & (item.end >= x0)))
        return total


def style_axes(plot_item: pg.PlotItem, dark: bool) -> None:
    """Readable axis lines and labels on either background."""
    color = "#c8ccd2" if dark else "#33363b"
    for name in ("left", "right", "top", "bottom"):
        axis = plot_item.getAxis(name)
        axis.setPen(pg.mkPen(color))
        axis.setTextPen(pg.mkPen(color))
        axis.enableAutoSIPrefix(False)  # our units never need k/m prefixes; saves relabelling per frame
