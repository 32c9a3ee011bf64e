"""The Metrics dock: objective metrics of a layer against a reference layer, with histograms.

All numbers come from :func:`musestudio.metrics.compute_metrics` (the same
function the CLI and the report use); this panel only chooses the inputs and
draws.  On a 10-minute piece the metrics take a second or more, so they are
computed in a worker thread (:func:`metrics_work`), never on the UI thread,
and only when needed:

* debounced, so that a burst of edits recomputes once;
* only when the notes shown actually changed (a layer's sequence is replaced
  on every edit, so identity tells), not on every change to any layer;
* only while the panel is visible (a dock tabbed behind another catches up
  when it is shown);
* coalesced: while one computation runs, newer requests wait and the latest
  one runs next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from musestudio.core.progress import Progress, Work
from musestudio.gui.panels.base import Panel, PanelContext

FOLLOW_CURRENT = "(current layer)"
NO_REFERENCE = "(none)"
DEBOUNCE_MS = 150
DURATION_BINS = np.logspace(-2, 1, 25)  # 10 ms .. 10 s, log-spaced


@dataclass
class MetricsOutcome:
    results: dict[str, float] = field(default_factory=dict)
    reference_results: dict[str, float] = field(default_factory=dict)
    pitch_classes: list[np.ndarray] = field(default_factory=list)  # per shown sequence (layer, then reference)
    durations: list[np.ndarray] = field(default_factory=list)  # share of notes per DURATION_BINS bin


def metrics_work(seq: Any, ref: Any) -> Work[MetricsOutcome]:
    """Everything the panel shows, computed off the UI thread (the drawing stays on it)."""
    from musestudio.metrics import compute_metrics
    from musestudio.metrics.symbolic import note_durations, pitch_class_histogram

    out = MetricsOutcome()
    yield Progress(0, 2, "metrics")
    out.results = compute_metrics(seq, ref) if seq is not None else {}
    yield Progress(1, 2, "metrics")
    out.reference_results = compute_metrics(ref) if ref is not None else {}
    for s in (seq, ref):
        if s is None:
            continue
        out.pitch_classes.append(pitch_class_histogram(s))
        d = note_durations(s)
        counts = np.histogram(np.clip(d, 0.01, 10.0), bins=DURATION_BINS)[0] if d.size else np.zeros(0)
        out.durations.append(counts / counts.sum() if counts.size and counts.sum() else counts)
    yield Progress(2, 2, "")
    return out


class MetricsPanel(Panel):
    TITLE = "Metrics"
    AREA = "right"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        import pyqtgraph as pg

        self.layer_box = QComboBox(self)
        self.reference_box = QComboBox(self)
        self.selection_only = QCheckBox("Only the ruler selection", self)
        form = QFormLayout()
        form.addRow("Layer", self.layer_box)
        form.addRow("Reference", self.reference_box)
        form.addRow(self.selection_only)

        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Metric", "Layer", "Reference"])
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)

        self.pc_plot = pg.PlotWidget(title="Pitch classes (duration-weighted)")
        self.duration_plot = pg.PlotWidget(title="Note durations (s)")
        from musestudio.core.keys import PITCH_CLASS_NAMES

        self.pc_plot.getAxis("bottom").setTicks([list(enumerate(PITCH_CLASS_NAMES))])
        # Durations are binned on log10(seconds) and drawn on a linear axis labelled in seconds.
        self.duration_plot.getAxis("bottom").setTicks([[(np.log10(t), f"{t:g}") for t in (0.01, 0.1, 1, 10)]])
        for plot in (self.pc_plot, self.duration_plot):
            plot.setMinimumSize(150, 120)
            plot.sizeHint = lambda: QSize(180, 160)  # type: ignore[method-assign]
            plot.setMouseEnabled(x=False, y=False)
            plot.addLegend(offset=(-5, 5))
        plots = QVBoxLayout()
        plots.addWidget(self.pc_plot)
        plots.addWidget(self.duration_plot)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 3)
        layout.addLayout(plots, 2)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        self.results: dict[str, float] = {}
        self.reference_results: dict[str, float] = {}
        self._running = False
        self._dirty = False  # inputs may have changed since the last computation started
        self._computed: tuple[Any, ...] | None = None  # the inputs of the results shown
        self.computations = 0  # how many times metrics were computed (tests check that no-ops stay no-ops)

        ev = context.events
        ev.project_changed.connect(self._layers_changed)
        ev.layers_changed.connect(self._layers_changed)
        ev.selection_changed.connect(self.schedule)
        ev.time_range_changed.connect(self._range_changed)
        self.layer_box.currentIndexChanged.connect(self.schedule)
        self.reference_box.currentIndexChanged.connect(self.schedule)
        self.selection_only.toggled.connect(self.schedule)
        self._layers_changed()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        # Modest, so that the dock does not crowd the piano roll; the plots' own hints are 640 px wide.
        return QSize(380, 520)

    # --- inputs ------------------------------------------------------------------
    def _layers_changed(self) -> None:
        """Refill both pickers, keeping the chosen layers by id when they still exist."""
        layers = self.context.project.layers
        for box, first in ((self.layer_box, FOLLOW_CURRENT), (self.reference_box, NO_REFERENCE)):
            keep = box.currentData()
            box.blockSignals(True)
            box.clear()
            box.addItem(first, None)
            for layer in layers:
                box.addItem(layer.name, layer.id)
            index = box.findData(keep) if keep is not None else 0
            box.setCurrentIndex(max(index, 0))
            box.blockSignals(False)
        self.schedule()

    def _range_changed(self) -> None:
        if self.selection_only.isChecked():
            self.schedule()

    def schedule(self) -> None:
        self._timer.start()

    def _layer(self, box: QComboBox, follow_current: bool) -> object:
        layer_id = box.currentData()
        if layer_id is None:
            return self.context.current_layer() if follow_current else None
        try:
            return self.context.project.layer(layer_id)
        except KeyError:
            return None

    def _sequence(self, layer: object) -> object:
        if layer is None:
            return None
        seq = layer.sequence  # type: ignore[attr-defined]
        rng = self.context.selected_time_range() if self.selection_only.isChecked() else None
        return seq.slice(*rng) if rng else seq

    # --- computing and drawing -------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._running or self._timer.isActive()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if self._dirty:
            self.schedule()

    def _inputs(self) -> tuple[Any, Any, Any, Any, tuple[Any, ...]]:
        layer = self._layer(self.layer_box, follow_current=True)
        ref_layer = self._layer(self.reference_box, follow_current=False)
        rng = self.context.selected_time_range() if self.selection_only.isChecked() else None
        key = (
            getattr(layer, "id", None), getattr(layer, "sequence", None), getattr(ref_layer, "id", None),
            getattr(ref_layer, "sequence", None), rng,
        )  # fmt: skip
        return layer, ref_layer, self._sequence(layer), self._sequence(ref_layer), key

    def refresh(self) -> None:
        """Recompute the metrics of the chosen layer (and reference) in a worker, then redraw."""
        from musestudio.gui.worker import start_job

        self._timer.stop()
        self._dirty = True
        if self._running:
            return  # the running computation restarts with the latest inputs when it ends
        if not self.isVisible():
            return  # computed when the panel is shown
        layer, ref_layer, seq, ref, key = self._inputs()
        if self._computed is not None and _same(key, self._computed):
            self._dirty = False
            return
        self._dirty = False
        self._running = True
        self.computations += 1

        def done(outcome: MetricsOutcome) -> None:
            self._running = False
            self._computed = key
            self.results, self.reference_results = outcome.results, outcome.reference_results
            self._fill_table()
            self._draw(outcome, layer, ref_layer, seq, ref)
            if self._dirty:
                self.refresh()

        def failed(message: str, _details: str) -> None:  # a metric must never take the window down
            self._running = False
            self._computed = key
            self.results, self.reference_results = {}, {}
            self.context.show_status(f"metrics: {message}")
            self._fill_table()
            if self._dirty:
                self.refresh()

        self._job = start_job(metrics_work(seq, ref), done, failed, label="metrics", owner=self)

    def _fill_table(self) -> None:
        from musestudio.metrics import METRICS

        names = list(self.results) or list(METRICS)
        self.table.setRowCount(len(names))
        for row, name in enumerate(names):
            info = METRICS.get(name)
            label = f"{info.label} ({info.unit})" if info and info.unit else (info.label if info else name)
            item = QTableWidgetItem(label)
            item.setToolTip(f"{name}: {info.definition}" if info and info.definition else name)
            self.table.setItem(row, 0, item)
            for col, source in ((1, self.results), (2, self.reference_results)):
                value = source.get(name, math.nan)
                cell = QTableWidgetItem("–" if math.isnan(value) else f"{value:.4g}")
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, cell)

    def _draw(self, outcome: MetricsOutcome, layer: Any, ref_layer: Any, seq: Any, ref: Any) -> None:
        import pyqtgraph as pg

        self.pc_plot.clear()
        self.duration_plot.clear()
        shown = [lay for s, lay in ((seq, layer), (ref, ref_layer)) if s is not None]
        width = 0.8 / max(len(shown), 1)
        edges = np.log10(DURATION_BINS)
        for i, (lay, pcs, durations) in enumerate(zip(shown, outcome.pitch_classes, outcome.durations)):
            color = getattr(lay, "color", "") or "#888888"
            name = getattr(lay, "name", "")
            x = np.arange(12) + (i - (len(shown) - 1) / 2) * width
            self.pc_plot.addItem(pg.BarGraphItem(x=x, height=pcs, width=width, brush=color, name=name))
            if durations.size:
                self.duration_plot.plot(edges, durations, stepMode="center", pen=pg.mkPen(color, width=2), name=name)


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Inputs equal by identity for sequences (replaced on every edit), by value for ids and ranges."""
    return len(a) == len(b) and all(x is y or (not hasattr(x, "notes") and x == y) for x, y in zip(a, b))
