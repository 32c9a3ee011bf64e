"""The teacher's listening-test window: build or open a test, run participants, see the results.

Results (categories, ratings) appear only here; while a participant takes the
test this window is hidden and the participant sees only
:class:`~musestudio.gui.listening.runner.ParticipantWindow`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from musestudio.core.errors import MusestudioError
from musestudio.gui.listening.runner import ParticipantWindow
from musestudio.listening.manifest import category_label, load_manifest


def _fill(table: QTableWidget, header: list[str], rows: list[list[str]]) -> None:
    table.clear()
    table.setColumnCount(len(header))
    table.setRowCount(len(rows))
    table.setHorizontalHeaderLabels(header)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            item = QTableWidgetItem(cell)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            table.setItem(r, c, item)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)


class ResultsPanel(QWidget):
    """MOS and Turing-rate table (paper style), all scales, tests between categories, and two plots."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        lay = QVBoxLayout(self)
        self.summary = QLabel("Open a test to see its results.")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        split = QSplitter(Qt.Orientation.Vertical)
        self.tabs = QTabWidget()
        self.paper_table = QTableWidget()
        self.detail_table = QTableWidget()
        self.tests_table = QTableWidget()
        self.tabs.addTab(self.paper_table, "MOS and Turing rate")
        self.tabs.addTab(self.detail_table, "All scales")
        self.tabs.addTab(self.tests_table, "Differences")
        split.addWidget(self.tabs)
        plots = QWidget()
        pl = QVBoxLayout(plots)
        pl.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.GraphicsLayoutWidget()
        self.mos_plot = self.plot.addPlot(title="Overall MOS (95 % interval over listeners)")
        self.turing_plot = self.plot.addPlot(title="Judged human (%)")
        for p in (self.mos_plot, self.turing_plot):
            p.showGrid(y=True, alpha=0.25)
            p.setMouseEnabled(x=False, y=False)
        self.mos_plot.setYRange(1, 5)
        self.turing_plot.setYRange(0, 100)
        pl.addWidget(self.plot)
        split.addWidget(plots)
        split.setSizes([260, 240])
        lay.addWidget(split, 1)
        self.analysis = None

    def show_analysis(self, manifest, analysis) -> None:  # type: ignore[no-untyped-def]
        import pyqtgraph as pg

        from musestudio.listening.report import detail_table, paper_table, tests_table

        self.analysis = analysis
        self.summary.setText(
            f"<b>{manifest.title}</b>: {len(manifest.clips)} clips, {analysis.n_participants} listeners, "
            f"{analysis.n_answers} answers. Intervals: cluster bootstrap over listeners; differences: paired "
            "Wilcoxon signed-rank, Holm-adjusted."
        )
        _fill(self.paper_table, *paper_table(analysis))
        _fill(self.detail_table, *detail_table(analysis))
        _fill(self.tests_table, *tests_table(analysis))
        cats = [c for c in analysis.categories if c.n_answers]
        x = np.arange(len(cats), dtype=float)
        ticks = [[(i, c.label) for i, c in enumerate(cats)]]
        for plot, key, scale, color in ((self.mos_plot, "overall", 1.0, "#5b8def"),
                                        (self.turing_plot, "judged_human", 100.0, "#e0a040")):
            plot.clear()
            if not cats:
                continue
            vals = np.array([c.measures[key].value for c in cats]) * scale
            lo = np.array([c.measures[key].low for c in cats]) * scale
            hi = np.array([c.measures[key].high for c in cats]) * scale
            plot.addItem(pg.BarGraphItem(x=x, height=vals - (1.0 if key == "overall" else 0.0),
                                         y0=1.0 if key == "overall" else 0.0, width=0.6, brush=color))
            ok = np.isfinite(lo) & np.isfinite(hi)
            if ok.any():
                plot.addItem(pg.ErrorBarItem(x=x[ok], y=vals[ok], top=(hi - vals)[ok], bottom=(vals - lo)[ok],
                                             beam=0.2, pen=pg.mkPen("#d8dbe0", width=2)))
            plot.getAxis("bottom").setTicks(ticks)
            if key == "judged_human":
                plot.addLine(y=50, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))


class ListeningWindow(QMainWindow):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Listening test")
        self.folder: Path | None = None
        self.participant_window: ParticipantWindow | None = None
        self.wizard = None
        bar = QToolBar("Listening test")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.actions_by_name: dict[str, QAction] = {}
        for name, text, slot in (
            ("new", "New test…", self.new_test),
            ("open", "Open test…", self.choose_test),
            ("participant", "Start participant", self.start_participant),
            ("refresh", "Refresh results", self.refresh),
            ("export_html", "Export HTML page…", self.export_html),
            ("import", "Import results…", self.import_results),
            ("report", "Write report…", self.write_report),
        ):
            act = QAction(text, self)
            act.triggered.connect(slot)
            bar.addAction(act)
            self.actions_by_name[name] = act
        self.results = ResultsPanel()
        self.setCentralWidget(self.results)
        self.statusBar().showMessage("Build a new test or open one.")
        self._update_actions()
        self.resize(1000, 720)

    def _update_actions(self) -> None:
        for name in ("participant", "refresh", "export_html", "import", "report"):
            self.actions_by_name[name].setEnabled(self.folder is not None)

    def show_error(self, message: str) -> None:
        QMessageBox.warning(self, "Listening test", message)

    # --- tests ------------------------------------------------------------------------------------
    def new_test(self) -> None:
        from musestudio.gui.listening.wizard import BuildWizard

        self.wizard = BuildWizard(self)
        self.wizard.accepted.connect(lambda: self.open_test(self.wizard.folder))
        self.wizard.show()

    def choose_test(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open listening test", str(self.folder or Path.home()))
        if path:
            self.open_test(path)

    def open_test(self, folder: str | Path) -> bool:
        try:
            manifest = load_manifest(folder)
        except MusestudioError as exc:
            self.show_error(str(exc))
            return False
        self.folder = Path(folder)
        self.setWindowTitle(f"Listening test – {manifest.title}")
        cats = ", ".join(f"{category_label(c)} {len(manifest.clips_of(c))}" for c in manifest.categories)
        self.statusBar().showMessage(f"{self.folder}: {len(manifest.clips)} clips ({cats})")
        self._update_actions()
        self.refresh()
        return True

    def refresh(self) -> None:
        if self.folder is None:
            return
        from musestudio.listening.stats import analyze_test

        try:
            manifest, analysis = analyze_test(self.folder, n_resamples=1000)
        except MusestudioError as exc:
            self.show_error(str(exc))
            return
        self.results.show_analysis(manifest, analysis)

    # --- participants -----------------------------------------------------------------------------
    def start_participant(self) -> ParticipantWindow | None:
        """Hide the results and hand the screen to the participant window."""
        if self.folder is None:
            return None
        try:
            self.participant_window = ParticipantWindow(self.folder)
        except MusestudioError as exc:
            self.show_error(str(exc))
            return None
        self.participant_window.destroyed.connect(lambda *_: self._participant_closed())
        self.participant_window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.hide()
        self.participant_window.resize(760, 680)
        self.participant_window.show()
        return self.participant_window

    def _participant_closed(self) -> None:
        self.participant_window = None
        self.show()
        self.refresh()

    def export_html(self) -> None:
        if self.folder is None:
            return
        from musestudio.listening.remote import export_html

        path, _ = QFileDialog.getSaveFileName(self, "Export HTML page", str(self.folder.parent / "listening-test.html"),
                                              "HTML page (*.html)")
        if not path:
            return
        try:
            page = export_html(self.folder, path, overwrite=True)
        except MusestudioError as exc:
            self.show_error(str(exc))
            return
        self.statusBar().showMessage(f"Wrote {page} ({page.stat().st_size / 1e6:.1f} MB): send it to participants")

    def import_results(self, files: list[str] | None = None) -> list[str]:
        """Import results files; returns one line per file (also shown to the user)."""
        if self.folder is None:
            return []
        if not files:
            files, _ = QFileDialog.getOpenFileNames(self, "Import results", str(Path.home()), "Results (*.json)")
        from musestudio.listening.remote import import_results

        lines = []
        for f in files or []:
            try:
                res = import_results(self.folder, f)
                lines.append(f"imported {Path(f).name}: participant {res.participant}, {res.answers} answers")
            except MusestudioError as exc:
                lines.append(str(exc))
        if lines:
            QMessageBox.information(self, "Import results", "\n".join(lines))
            self.refresh()
        return lines

    def write_report(self, out: str | None = None) -> None:
        if self.folder is None:
            return
        if not out:
            out = QFileDialog.getExistingDirectory(self, "Report folder", str(self.folder))
        if not out:
            return
        from musestudio.listening.report import write_report

        try:
            path = write_report(self.folder, out)
        except MusestudioError as exc:
            self.show_error(str(exc))
            return
        self.statusBar().showMessage(f"Wrote {path} and {path.with_suffix('.html')}")
