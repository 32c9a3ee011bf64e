"""Axes and backgrounds of the piano roll: note names, bars/beats ruler, key rows, beat grid.

The ruler and the grid follow the PROJECT's tempo map and all its time signatures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

from musestudio.core.timing import TempoMap, TimeSignature

NOTE_NAMES = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
BLACK_KEYS = frozenset({1, 3, 6, 8, 10})


def note_name(pitch: int) -> str:
    """Scientific pitch notation: 60 is C4, 69 is A4."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


class PitchAxis(pg.AxisItem):
    """Left axis: every C named; every semitone named once rows are tall enough to read."""

    def __init__(self, **kw: Any) -> None:
        super().__init__("left", **kw)
        self.setWidth(46)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N802,N803
        lo, hi = max(0, math.ceil(minVal)), min(127, math.floor(maxVal))
        if hi < lo:
            return []
        px = size / max(maxVal - minVal, 1e-9)
        every = [float(p) for p in range(lo, hi + 1)]
        cs = [float(p) for p in range(lo, hi + 1) if p % 12 == 0]
        if px >= 13:
            return [(1.0, every)]
        if px >= 6:
            return [(12.0, cs), (1.0, [p for p in every if int(p) % 12 in (4, 7, 9)])]
        return [(12.0, cs)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [note_name(round(v)) for v in values]


TimeSignatures = TimeSignature | Sequence[TimeSignature]


def _meter_segments(tempo: TempoMap, ts: TimeSignatures) -> list[tuple[float, float, float, int]]:
    """(start beat, beats per bar, beat length, number of the first bar) for each time signature in force.

    Beats are quarter notes of the tempo map.  A time signature that falls
    inside a bar starts a new bar there (as a notation program would).
    """
    sigs = sorted([ts] if isinstance(ts, TimeSignature) else list(ts), key=lambda s: s.time) or [TimeSignature(0.0)]
    segments: list[tuple[float, float, float, int]] = []
    bar = 0
    for sig in sigs:
        start = 0.0 if not segments else max(0.0, tempo.seconds_to_beats(max(0.0, sig.time)))
        per_bar = sig.numerator * 4.0 / sig.denominator
        if segments:
            prev_start, prev_per_bar, _len, prev_bar = segments[-1]
            if start <= prev_start + 1e-9:  # two signatures at one time: the later one wins
                segments[-1] = (prev_start, per_bar, 4.0 / sig.denominator, prev_bar)
                continue
            bar = prev_bar + math.ceil((start - prev_start) / prev_per_bar - 1e-9)
        segments.append((start, per_bar, 4.0 / sig.denominator, bar))
    return segments


def beat_times(
    tempo: TempoMap, ts: TimeSignatures, t0: float, t1: float, max_lines: int
) -> tuple[list[tuple[float, int]], list[float]]:
    """(bar start, bar number) and beat times in [t0, t1], thinned to at most ``max_lines`` lines.

    ``ts`` is one time signature or the project's list of them (metre changes move the bar lines).
    """
    b0 = max(0.0, tempo.seconds_to_beats(max(t0, 0.0)))
    b1 = tempo.seconds_to_beats(max(t1, 0.0))
    segments = _meter_segments(tempo, ts)
    visible: list[tuple[float, float, float, int, float]] = []  # start, per bar, beat len, first bar, end beat
    for i, (start, per_bar, beat_len, first) in enumerate(segments):
        end = segments[i + 1][0] if i + 1 < len(segments) else math.inf
        if end > b0 - per_bar and start <= b1 + per_bar:
            visible.append((start, per_bar, beat_len, first, end))
    n_bars = sum((min(b1, end) - max(b0, start)) / per_bar + 2 for start, per_bar, _l, _f, end in visible)
    n_beats = sum((min(b1, end) - max(b0, start)) / beat_len + 2 for start, _p, beat_len, _f, end in visible)
    step = 1
    while n_bars / step > max_lines:
        step *= 2
    bars: list[tuple[float, int]] = []
    beats: list[float] = []
    for start, per_bar, beat_len, first, end in visible:
        k0 = max(0, int((max(b0, start) - start) // per_bar))
        k1 = int((min(b1, end) - start) // per_bar) + 1
        for k in range(k0, k1 + 1):
            b = start + k * per_bar
            if b >= end - 1e-9:
                break
            if (first + k) % step == 0:
                bars.append((tempo.beats_to_seconds(b), first + k + 1))
            if n_beats <= max_lines:
                j = 1
                while j * beat_len < per_bar - 1e-9 and b + j * beat_len < end - 1e-9:
                    beats.append(tempo.beats_to_seconds(b + j * beat_len))
                    j += 1
    return [b for b in bars if t0 - 1e-9 <= b[0] <= t1 + 1e-9], [b for b in beats if t0 <= b <= t1]


def bar_beat_at(tempo: TempoMap, ts: TimeSignatures, t: float) -> tuple[int, float]:
    """(bar number, beat within the bar) at ``t`` seconds, both counted from 1, for read-outs."""
    beats = tempo.seconds_to_beats(max(0.0, t))
    segments = _meter_segments(tempo, ts)
    start, per_bar, beat_len, first = next(s for s in reversed(segments) if s[0] <= beats + 1e-9)
    k = int((beats - start) // per_bar)
    return first + k + 1, (beats - start - k * per_bar) / beat_len + 1


class BeatRuler(pg.AxisItem):
    """Top ruler in bars (from the tempo map); drag on it to select a time range, click to move the playhead."""

    range_dragged = Signal(float, float, bool)  # start, end, finished
    clicked_at = Signal(float)
    cleared = Signal()

    def __init__(self, **kw: Any) -> None:
        super().__init__("top", **kw)
        self.tempo = TempoMap()
        self.time_signature: TimeSignatures = TimeSignature(0.0)
        self._labels: dict[float, str] = {}
        self._drag_origin: float | None = None
        self.setHeight(24)
        self.setCursor(Qt.CursorShape.IBeamCursor)
        self.setToolTip("Bars. Drag here to select a time range (the seed region); click to move the playhead.")

    def set_timing(self, tempo: TempoMap, ts: TimeSignatures) -> None:
        self.tempo, self.time_signature = tempo, ts
        self.picture = None
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N802,N803
        bars, beats = beat_times(self.tempo, self.time_signature, minVal, maxVal, max(4, int(size / 40)))
        self._labels = {round(t, 9): str(n) for t, n in bars}
        return [(1.0, [t for t, _ in bars]), (0.5, beats)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [self._labels.get(round(v, 9), "") for v in values]

    def _x(self, ev: Any) -> float:
        return float(self.linkedView().mapSceneToView(ev.scenePos()).x())

    def mouseDragEvent(self, ev: Any) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton or self.linkedView() is None:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self._drag_origin = float(self.linkedView().mapSceneToView(ev.buttonDownScenePos()).x())
        if self._drag_origin is None:
            return
        x = self._x(ev)
        a, b = sorted((max(0.0, self._drag_origin), max(0.0, x)))
        self.range_dragged.emit(a, b, bool(ev.isFinish()))
        if ev.isFinish():
            self._drag_origin = None

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton or self.linkedView() is None:
            ev.ignore()
            return
        ev.accept()
        if ev.double():
            self.cleared.emit()
        else:
            self.clicked_at.emit(max(0.0, self._x(ev)))


class SecondsAxis(pg.AxisItem):
    """Bottom axis in m:ss for long pieces, plain seconds when zoomed in."""

    def __init__(self, **kw: Any) -> None:
        super().__init__("bottom", **kw)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        out = []
        for v in values:
            if v < 0:
                out.append("")
            elif spacing >= 1:
                out.append(f"{int(v // 60)}:{round(v % 60):02d}" if v >= 60 else f"{v:.0f}s")
            else:
                decimals = max(1, -math.floor(math.log10(spacing)))
                out.append(f"{v:.{decimals}f}")
        return out


class KeyRows(pg.GraphicsObject):
    """Background: darker rows for black keys and a line under every C (paints only what is visible)."""

    def __init__(self, dark: bool = True) -> None:
        super().__init__()
        self.setZValue(-100)
        self._rows: tuple[QPainterPath, list[QLineF]] | None = None
        self.set_theme(dark)

    def set_theme(self, dark: bool) -> None:
        self.black_row = QColor(255, 255, 255, 10) if dark else QColor(0, 0, 0, 22)
        self.c_line = QColor(255, 255, 255, 45) if dark else QColor(0, 0, 0, 60)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-1e6, -0.5, 2e6, 128.0)

    def _cached(self) -> tuple[QPainterPath, list[QLineF]]:
        # Built once over a time span longer than any piece: panning then costs one fill and one drawLines.
        if self._rows is None:
            path = QPainterPath()
            for k in range(128):
                if k % 12 in BLACK_KEYS:
                    path.addRect(QRectF(-1e4, k - 0.5, 2e5, 1.0))
            self._rows = (path, [QLineF(-1e4, k - 0.5, 2e5, k - 0.5) for k in range(0, 128, 12)])
        return self._rows

    def paint(self, p: QPainter, *args: object) -> None:
        rows, c_lines = self._cached()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.black_row)
        p.drawPath(rows)
        pen = QPen(self.c_line, 1.0)
        pen.setCosmetic(True)
        p.setPen(pen)
        p.drawLines(c_lines)


class BeatGrid(pg.GraphicsObject):
    """Vertical bar and beat lines from the tempo map, thinned to what the zoom allows."""

    def __init__(self, dark: bool = True) -> None:
        super().__init__()
        self.setZValue(-90)
        self.tempo = TempoMap()
        self.time_signature: TimeSignatures = TimeSignature(0.0)
        self.set_theme(dark)

    def set_theme(self, dark: bool) -> None:
        self.bar_color = QColor(255, 255, 255, 55) if dark else QColor(0, 0, 0, 70)
        self.beat_color = QColor(255, 255, 255, 20) if dark else QColor(0, 0, 0, 25)
        self.update()

    def set_timing(self, tempo: TempoMap, ts: TimeSignatures) -> None:
        self.tempo, self.time_signature = tempo, ts
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-1e6, -0.5, 2e6, 128.0)

    def paint(self, p: QPainter, *args: object) -> None:
        view = self.viewRect()
        vb = self.getViewBox()
        if view is None or vb is None:
            return
        width_px = max(1.0, vb.width())
        bars, beats = beat_times(self.tempo, self.time_signature, view.left(), view.right(), max(4, int(width_px / 8)))
        y0, y1 = view.top(), view.bottom()
        for color, xs in ((self.beat_color, beats), (self.bar_color, [t for t, _ in bars])):
            pen = QPen(color, 1.0)
            pen.setCosmetic(True)
            p.setPen(pen)
            if xs:
                p.drawLines([QLineF(x, y0, x, y1) for x in xs])
