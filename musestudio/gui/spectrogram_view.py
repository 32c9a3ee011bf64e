"""Spectrogram of the loaded audio on the piano roll's time AND pitch axes, with note overlays.

One ``ImageItem`` (float32, row-major, fixed levels, a 256-entry LUT, placed
with ``setRect`` in seconds x MIDI pitch), linked to the piano roll in x and
y: a note drawn at pitch p sits exactly on the CQT row of its fundamental.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from musestudio.core.progress import CancelToken, Work
from musestudio.core.project import Project
from musestudio.dsp.spectrogram import Spectrogram, SpectrogramConfig, audio_spectrogram_work, pitch_to_hz
from musestudio.gui.pianoroll.axes import PitchAxis, SecondsAxis
from musestudio.gui.pianoroll.notes_item import NotesItem
from musestudio.gui.pianoroll.view import SOLO_DIMMED, EagerViewBox, layer_z, style_axes

COLORMAPS = ("magma", "inferno", "viridis", "plasma", "CET-L1")
KINDS = (("CQT", "cqt"), ("Mel", "mel"))


class HzAxis(pg.AxisItem):
    """Right axis: the pitch rows labelled in Hz (the same ticks as the note names)."""

    def __init__(self) -> None:
        super().__init__("right")
        self._pitch = PitchAxis()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N802,N803
        return [(12.0, [v for lvl in self._pitch.tickValues(minVal, maxVal, size) if lvl[0] == 12.0 for v in lvl[1]])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        out = []
        for v in values:
            hz = float(pitch_to_hz(v))
            out.append(f"{hz / 1000:.1f}k" if hz >= 1000 else f"{hz:.0f}")
        return out


class SpectrogramView(QWidget):
    def __init__(self, roll: Any, settings: Any) -> None:
        super().__init__()
        self.roll = roll
        self.settings = settings
        self.project: Project | None = None
        self.data: Spectrogram | None = None
        self._token: CancelToken | None = None
        self.plot = pg.PlotWidget(viewBox=EagerViewBox(), axisItems={"left": PitchAxis(), "bottom": SecondsAxis(), "right": HzAxis()})
        pi = self.plot.getPlotItem()
        pi.showAxis("right")
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.getAxis("right").setWidth(40)
        self.plot.setXLink(roll)
        # Pitch follows the piano roll exactly.  Not setYLink: pyqtgraph aligns linked y ranges in
        # *screen* space, which for two stacked views of different heights shows different pitches.
        self._syncing = False
        roll.getViewBox().sigYRangeChanged.connect(lambda _vb, rng: self._follow_y(self.plot.getViewBox(), rng))
        self.plot.getViewBox().sigYRangeChanged.connect(lambda _vb, rng: self._follow_y(roll.getViewBox(), rng))
        self.plot.getViewBox().setMouseEnabled(x=True, y=True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-100)
        self.plot.addItem(self.image)
        self.overlays: dict[str, NotesItem] = {}
        self.playhead = pg.InfiniteLine(0.0, angle=90, movable=False, pen=pg.mkPen("#ff5050", width=2))
        self.playhead.setZValue(2100)
        self.plot.addItem(self.playhead, ignoreBounds=True)
        # The ruler selection (seed region) of the piano roll, mirrored read-only.
        self.region = pg.LinearRegionItem((0, 0), movable=False, brush=pg.mkBrush(255, 210, 80, 30),
                                          pen=pg.mkPen(255, 210, 80, 120))
        self.region.setZValue(2050)
        self.region.hide()
        self.plot.addItem(self.region, ignoreBounds=True)
        roll.region.sigRegionChanged.connect(self._mirror_region)
        roll.region.visibleChanged.connect(self._mirror_region)
        self.placeholder = pg.TextItem("Open an audio file (WAV, FLAC, MP3...) to see its spectrogram", color="#9aa0a8", anchor=(0.5, 0.5))
        self.plot.addItem(self.placeholder, ignoreBounds=True)

        self.kind_combo = QComboBox()
        for label, kind in KINDS:
            self.kind_combo.addItem(label, kind)
        self.kind_combo.setToolTip("CQT: constant-Q, one row per half semitone (sharp for low notes). Mel: 229 mel bands.")
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(COLORMAPS)
        self.cmap_combo.setToolTip("Colour map")
        self.db_spin = QDoubleSpinBox()
        self.db_spin.setRange(20.0, 140.0)
        self.db_spin.setSingleStep(10.0)
        self.db_spin.setSuffix(" dB")
        self.db_spin.setToolTip("Dynamic range shown: quieter bins than this below the peak are black")
        self.play_audio_box = QCheckBox("Play audio")
        self.play_audio_box.setChecked(True)
        self.play_audio_box.setToolTip("Mix the audio file into playback (with the audible layers)")
        self.overlay_box = QCheckBox("Overlay notes")
        self.overlay_box.setChecked(True)
        self.overlay_box.setToolTip("Draw the visible layers' notes as outlines on the spectrogram")
        self.set_options(settings.spectrogram_kind, settings.colormap, settings.db_range)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        for w in (QLabel("Spectrogram"), self.kind_combo, QLabel("Colours"), self.cmap_combo, QLabel("Range"), self.db_spin, self.overlay_box, self.play_audio_box):
            bar.addWidget(w)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.plot)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.cmap_combo.currentTextChanged.connect(self._apply_lut)
        self.db_spin.valueChanged.connect(self._apply_levels)
        self.overlay_box.toggled.connect(lambda _on: self.sync_overlays())
        self._apply_lut()
        self.plot.getViewBox().sigRangeChanged.connect(self._place_placeholder)
        self._follow_y(self.plot.getViewBox(), roll.getViewBox().viewRange()[1])

    def _mirror_region(self, *_: Any) -> None:
        self.region.setRegion(self.roll.region.getRegion())
        self.region.setVisible(self.roll.region.isVisible())

    def _follow_y(self, target: Any, rng: Any) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            target.setYRange(float(rng[0]), float(rng[1]), padding=0)
        finally:
            self._syncing = False

    # --- options ----------------------------------------------------------------------------------
    def options(self) -> tuple[str, str, float]:
        return str(self.kind_combo.currentData()), self.cmap_combo.currentText(), float(self.db_spin.value())

    def set_options(self, kind: str, colormap: str, db_range: float) -> None:
        for w in (self.kind_combo, self.cmap_combo, self.db_spin):
            w.blockSignals(True)
        i = self.kind_combo.findData(kind)
        self.kind_combo.setCurrentIndex(max(i, 0))
        if colormap in COLORMAPS:
            self.cmap_combo.setCurrentText(colormap)
        self.db_spin.setValue(float(db_range))
        for w in (self.kind_combo, self.cmap_combo, self.db_spin):
            w.blockSignals(False)
        self._apply_lut()
        self._apply_levels()

    def _apply_lut(self, *_: Any) -> None:
        try:
            cmap = pg.colormap.get(self.cmap_combo.currentText())
        except Exception:  # a colour map missing from this pyqtgraph build
            cmap = pg.colormap.get("viridis")
        self.image.setLookupTable(cmap.getLookupTable(nPts=256))
        self.settings.colormap = self.cmap_combo.currentText()

    def _apply_levels(self, *_: Any) -> None:
        self.image.setLevels((-float(self.db_spin.value()), 0.0))
        self.settings.db_range = float(self.db_spin.value())

    def _kind_changed(self, *_: Any) -> None:
        self.settings.spectrogram_kind = str(self.kind_combo.currentData())
        window = self.window()
        if self.project is not None and self.project.audio_path and hasattr(window, "_start_spectrogram"):
            window._start_spectrogram()

    def set_dark(self, dark: bool) -> None:
        self.plot.setBackground("#000000" if dark else "#fbfbf8")
        style_axes(self.plot.getPlotItem(), dark)

    # --- data --------------------------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        self.project = project
        self.sync_overlays()

    def clear(self) -> None:
        self.data = None
        self.image.clear()
        self.placeholder.show()

    def compute_work(self, path: str) -> Work[Spectrogram]:
        cfg = SpectrogramConfig(kind=str(self.kind_combo.currentData()))
        return audio_spectrogram_work(path, cfg)

    def set_data(self, data: Spectrogram) -> None:
        self.data = data
        levels = (-float(self.db_spin.value()), 0.0)
        self.image.setImage(np.ascontiguousarray(data.db, dtype=np.float32), autoLevels=False, levels=levels)
        half = 0.5 / data.bins_per_semitone
        self.image.setRect(
            QRectF(-data.hop_seconds / 2, data.pitch_lo - half, data.frames * data.hop_seconds, data.db.shape[0] / data.bins_per_semitone)
        )
        self.placeholder.hide()

    def set_playhead(self, t: float) -> None:
        self.playhead.setValue(t)

    # --- overlays -----------------------------------------------------------------------------------
    def sync_overlays(self) -> None:
        vb = self.plot.getViewBox()
        for item in self.overlays.values():
            vb.removeItem(item)
        self.overlays.clear()
        if self.project is None or not self.overlay_box.isChecked():
            return
        soloed = {layer.id for layer in self.project.layers if layer.solo}
        for index, layer in enumerate(self.project.layers):
            if not layer.visible:
                continue
            item = NotesItem(layer.color, outline=True, z=layer_z(layer.kind, index, active=False))
            item.set_notes(layer.sequence)
            item.setOpacity(SOLO_DIMMED if soloed and layer.id not in soloed else 1.0)
            self.overlays[layer.id] = item
            vb.addItem(item, ignoreBounds=True)

    def refresh_overlay(self, layer_id: str) -> None:
        item = self.overlays.get(layer_id)
        if item is not None and self.project is not None:
            item.set_notes(self.project.layer(layer_id).sequence)

    def _place_placeholder(self, *_: Any) -> None:
        (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
        self.placeholder.setPos((x0 + x1) / 2, (y0 + y1) / 2)

