"""One batched graphics item per layer that paints only the visible notes.

Why hand-written: pyqtgraph has no rectangle-batch item, and one
``QGraphicsRectItem`` per note costs ~1 kB and a scene-index entry each (a
100,000-note piece would crawl).  Notes are kept in start order and cut into
fixed-size chunks; each chunk's rectangles are built once per velocity shade
as a ``QPainterPath`` (with pyqtgraph's fast ``arrayToQPath``), and ``paint``
draws only the chunks whose time span meets the visible range.
"""

from __future__ import annotations

import weakref

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import internals as qt_internals
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen

from musestudio.core.notes import Note, NoteSequence

CHUNK = 1024
VELOCITY_SHADES = 8
NOTE_HEIGHT = 0.84  # of a semitone row; the gap keeps neighbouring notes apart
RASTER_ABOVE = 4000  # beyond this many visible notes, paint one image instead of rectangles
OUTLINE_PX = 1.0  # Qt draws 1 px cosmetic lines on a fast path; 1.6 px went through the path stroker (3x slower)
OUTLINE_RASTER_ALPHA = 120  # outline layers (selection, overlays) zoomed far out: see-through cells
OUTLINE_BELOW = 600  # outline notes only when zoomed in enough to see them (stroking is slow)


_ARRAYS: dict[int, tuple[weakref.ref[NoteSequence], tuple[np.ndarray, ...]]] = {}
_ARRAYS_KEPT = 16


def _arrays_of(notes: list[Note]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not notes:
        return np.zeros(0), np.zeros(0), np.zeros(0, np.int16), np.zeros(0, np.int16)
    table = np.array([(n.start, n.end, n.pitch, n.velocity) for n in notes], dtype=np.float64)  # one pass
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].astype(np.int16), table[:, 3].astype(np.int16)


def note_arrays(seq: NoteSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, pitch, velocity) arrays of a sequence, computed once per sequence object.

    A layer's sequence is replaced, never changed in place, on every edit, and
    the roll, the spectrogram overlay and the velocity lane all draw the same
    one: without this each of them walked the notes again (20 ms of a 60 ms
    edit of an 8,500-note layer, measured on the UI thread).  Read-only arrays.
    """
    key = id(seq)
    hit = _ARRAYS.get(key)
    if hit is not None and hit[0]() is seq:
        return hit[1]  # type: ignore[return-value]
    arrays = _arrays_of(seq.notes)
    for a in arrays:
        a.setflags(write=False)
    if len(_ARRAYS) >= _ARRAYS_KEPT:
        for k in [k for k, (ref, _) in _ARRAYS.items() if ref() is None] or list(_ARRAYS)[: len(_ARRAYS) // 2]:
            _ARRAYS.pop(k, None)
    _ARRAYS[key] = (weakref.ref(seq), arrays)
    return arrays


def velocity_shades(color: str, n: int = VELOCITY_SHADES) -> list[QColor]:
    """Soft notes dark and grey, loud notes bright and saturated (hue stays the layer's)."""
    base = QColor(color)
    h, s, v, _ = base.getHsvF()
    out = []
    for i in range(n):
        f = (i + 0.5) / n
        c = QColor.fromHsvF(max(h, 0.0), min(1.0, s * (0.45 + 0.6 * f)), min(1.0, 0.45 + 0.6 * f * max(v, 0.6)))
        out.append(c)
    return out


def velocity_bin(velocity: np.ndarray, n: int = VELOCITY_SHADES) -> np.ndarray:
    return np.clip((velocity.astype(np.int32) * n) // 128, 0, n - 1)


class NotesItem(pg.GraphicsObject):
    """Notes of one layer; ``outline=True`` draws frames only (for overlays and selections)."""

    def __init__(self, color: str = "#4f9dde", *, outline: bool = False, z: float = 10.0) -> None:
        super().__init__()
        self._outline = outline
        self.setZValue(z)
        self._color = color
        self._bounds = QRectF()
        self._lines = qt_internals.PrimitiveArray(QLineF, 4)
        self.outlines_painted = 0  # notes framed by the last outline paint (tests check it is the visible ones)
        self.set_arrays(np.zeros(0), np.zeros(0), np.zeros(0, np.int16), np.zeros(0, np.int16))

    # --- data -------------------------------------------------------------------------
    def set_notes(self, notes: list[Note] | NoteSequence) -> None:
        if isinstance(notes, NoteSequence):
            seq_notes = notes.notes
            start, end, pitch, velocity = note_arrays(notes)
        else:
            seq_notes = sorted(notes, key=lambda n: (n.start, n.pitch))
            start, end, pitch, velocity = _arrays_of(seq_notes)
        self.set_arrays(start, end, pitch, velocity)
        self.notes = list(seq_notes)

    def set_arrays(self, start: np.ndarray, end: np.ndarray, pitch: np.ndarray, velocity: np.ndarray) -> None:
        """Arrays must be sorted by start time."""
        self.start = np.asarray(start, np.float64)
        self.end = np.maximum(np.asarray(end, np.float64), self.start)
        self.pitch = np.asarray(pitch, np.int16)
        self.velocity = np.asarray(velocity, np.int16)
        self.notes: list[Note] = []
        n = len(self.start)
        edges = np.arange(0, n, CHUNK)
        self._chunk_edges = np.append(edges, n)
        if n:
            self._chunk_lo = self.start[edges]
            self._chunk_hi = np.maximum.reduceat(self.end, edges)
        else:
            self._chunk_lo = self._chunk_hi = np.zeros(0)
        self._bins = velocity_bin(self.velocity)
        self._median_duration = float(np.median(self.end - self.start)) if n else 0.0
        self._paths: dict[tuple[int, int], QPainterPath] = {}
        self.prepareGeometryChange()
        if n:
            self._bounds = QRectF(
                float(self.start.min()), float(self.pitch.min()) - 0.5,
                float(self.end.max() - self.start.min()), float(self.pitch.max() - self.pitch.min()) + 1.0,
            )
        else:
            self._bounds = QRectF()
        self.update()

    def set_color(self, color: str) -> None:
        self._color = color
        self.update()

    def __len__(self) -> int:
        return len(self.start)

    # --- queries used by the editor -------------------------------------------------------------
    def hit(self, x: float, y: float, x_slop: float = 0.0) -> int | None:
        """Index of the topmost note under (seconds, pitch), or None."""
        if not len(self.start):
            return None
        hi = int(np.searchsorted(self.start, x + x_slop, side="right"))
        cand = np.nonzero((self.end[:hi] >= x - x_slop) & (np.abs(self.pitch[:hi] - y) <= 0.5))[0]
        return int(cand[-1]) if len(cand) else None

    def in_rect(self, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
        """Indices of notes that touch the rectangle (times in seconds, pitches)."""
        hi = int(np.searchsorted(self.start, x1, side="right"))
        m = (self.end[:hi] >= x0) & (self.pitch[:hi] + 0.5 >= y0) & (self.pitch[:hi] - 0.5 <= y1)
        return np.nonzero(m)[0]

    # --- painting ---------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def _path(self, chunk: int, shade: int) -> QPainterPath:
        key = (chunk, shade)
        path = self._paths.get(key)
        if path is None:
            a, b = self._chunk_edges[chunk], self._chunk_edges[chunk + 1]
            sel = np.nonzero(self._bins[a:b] == shade)[0] + a if not self._outline else np.arange(a, b)
            path = self._rects_path(sel)
            self._paths[key] = path
        return path

    def _rects_path(self, idx: np.ndarray) -> QPainterPath:
        if not len(idx):
            return QPainterPath()
        s, e = self.start[idx], self.end[idx]
        lo = self.pitch[idx] - NOTE_HEIGHT / 2
        hi = lo + NOTE_HEIGHT
        x = np.stack([s, e, e, s, s], axis=1).ravel()
        y = np.stack([lo, lo, hi, hi, lo], axis=1).ravel()
        connect = np.tile(np.array([1, 1, 1, 1, 0], dtype=np.int32), len(idx))
        path = pg.arrayToQPath(x, y, connect=connect)
        path.setFillRule(Qt.FillRule.WindingFill)
        return path

    def _paint_raster(self, p: QPainter, view: QRectF, chunks: np.ndarray) -> None:
        """Zoomed far out: one image, a pixel column per screen pixel and a row per pitch.

        Thousands of notes then share each pixel, so rectangles would be
        invisible detail; the cell colour is the shade of the mean velocity of
        the notes sounding there.  Built with ``bincount`` (no Python loop).
        """
        x0, x1 = view.left(), view.right()
        px_width = abs(p.transform().m11()) * (x1 - x0)
        width = int(min(4096, max(16, np.ceil(px_width))))
        a, b = int(self._chunk_edges[chunks.min()]), int(self._chunk_edges[chunks.max() + 1])
        s, e, pitch, vel = self.start[a:b], self.end[a:b], self.pitch[a:b].astype(np.int64), self.velocity[a:b]
        keep = (e >= x0) & (s <= x1)
        s, e, pitch, vel = s[keep], e[keep], pitch[keep], vel[keep].astype(np.float64)
        dx = (x1 - x0) / width
        c0 = np.clip(np.floor((s - x0) / dx), 0, width).astype(np.int64)
        c1 = np.clip(np.maximum(c0 + 1, np.ceil((e - x0) / dx)), 0, width).astype(np.int64)
        size = 128 * (width + 1)
        base = pitch * (width + 1)
        # +1 where a note starts sounding in a row, -1 where it stops; a running sum gives coverage.
        count = np.bincount(base + c0, minlength=size) - np.bincount(base + c1, minlength=size)
        vsum = np.bincount(base + c0, vel, minlength=size) - np.bincount(base + c1, vel, minlength=size)
        count = np.cumsum(count.reshape(128, width + 1), axis=1)[:, :width]
        vsum = np.cumsum(vsum.reshape(128, width + 1), axis=1)[:, :width]
        alpha = OUTLINE_RASTER_ALPHA if self._outline else 255  # an overlay must not hide what lies under it
        lut = np.array([[c.red(), c.green(), c.blue(), alpha] for c in velocity_shades(self._color)], np.uint8)
        rgba = np.zeros((128, width, 4), np.uint8)
        on = count > 0
        rgba[on] = lut[velocity_bin(np.round(vsum[on] / count[on]).astype(np.int16))]
        image = QImage(rgba.data, width, 128, width * 4, QImage.Format.Format_RGBA8888)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(QRectF(x0, -0.5, x1 - x0, 128.0), image)

    def _paint_outlines(self, p: QPainter, view: QRectF, chunks: np.ndarray) -> None:
        """Frames of the notes inside the view only, as one ``drawLines`` call.

        Not a stroked QPainterPath per chunk: stroking 2048 rectangles per chunk
        with a 1.6 px pen was most of the frame time with a selection or the
        spectrogram overlay (tests/benchmarks/bench_gui.py); four lines per
        visible note cost a fraction of that.
        """
        a, b = int(self._chunk_edges[chunks.min()]), int(self._chunk_edges[chunks.max() + 1])
        s, e, pitch = self.start[a:b], self.end[a:b], self.pitch[a:b]
        y0, y1 = sorted((view.top(), view.bottom()))
        keep = (e >= view.left()) & (s <= view.right()) & (pitch >= y0 - 1) & (pitch <= y1 + 1)
        s, e, lo = s[keep], e[keep], pitch[keep] - NOTE_HEIGHT / 2
        hi = lo + NOTE_HEIGHT
        n = self.outlines_painted = len(s)
        if not n:
            return
        lines = self._lines
        lines.resize(4 * n)
        mem = lines.ndarray().reshape(n, 4, 4)  # per note: bottom, right, top, left edges as (x1, y1, x2, y2)
        mem[:, 0] = np.stack([s, lo, e, lo], axis=1)
        mem[:, 1] = np.stack([e, lo, e, hi], axis=1)
        mem[:, 2] = np.stack([e, hi, s, hi], axis=1)
        mem[:, 3] = np.stack([s, hi, s, lo], axis=1)
        pen = QPen(QColor(self._color), OUTLINE_PX)
        pen.setCosmetic(True)
        p.setPen(pen)
        p.drawLines(*lines.drawargs())

    def visible_chunks(self, x0: float, x1: float) -> np.ndarray:
        return np.nonzero((self._chunk_lo <= x1) & (self._chunk_hi >= x0))[0]

    def paint(self, p: QPainter, *args: object) -> None:
        if not len(self.start):
            return
        view = self.viewRect()
        if view is None:
            return
        chunks = self.visible_chunks(view.left(), view.right())
        if not len(chunks):
            return
        a, b = int(self._chunk_edges[chunks.min()]), int(self._chunk_edges[chunks.max() + 1])
        visible = int(np.count_nonzero((self.end[a:b] >= view.left()) & (self.start[a:b] <= view.right())))
        px_per_second = abs(p.transform().m11())
        too_thin = visible > 300 and self._median_duration * px_per_second < 2.0  # sub-pixel rects vanish
        if visible > RASTER_ABOVE or too_thin:
            self._paint_raster(p, view, chunks)
            return
        if self._outline:
            self._paint_outlines(p, view, chunks)
            return
        if visible < OUTLINE_BELOW:
            pen = QPen(QColor(0, 0, 0, 150), 1.0)
            pen.setCosmetic(True)
            p.setPen(pen)
        else:
            p.setPen(Qt.PenStyle.NoPen)
        for shade, color in enumerate(velocity_shades(self._color)):
            p.setBrush(QBrush(color))
            for c in chunks:
                path = self._path(int(c), shade)
                if not path.isEmpty():
                    p.drawPath(path)
