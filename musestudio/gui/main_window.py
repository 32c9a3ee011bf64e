"""The main window: builds the widgets and wires them to the controllers; it holds no domain logic.

* the document (:class:`~musestudio.core.project.Project`) is Qt-free and evented;
  :class:`~musestudio.gui.controllers.bindings.ViewBinder` redraws views when it changes;
* :class:`~musestudio.gui.controllers.document.DocumentController` — files, autosave, recovery;
* :class:`~musestudio.gui.controllers.edit.EditController` — every undoable edit;
* :class:`~musestudio.gui.controllers.jobs.JobManager` — work in threads, per-job progress and Cancel;
* :class:`~musestudio.gui.controllers.transport.Transport` — playhead and play/stop/loop;
* :class:`~musestudio.gui.controllers.actions.ActionRegistry` — menus and user-editable shortcuts;
* :class:`~musestudio.gui.controllers.tempo.TempoController` — Detect Tempo.

Parts of the window itself live beside it: ``window_menus.py`` (actions,
toolbar, menus), ``dialogs.py`` (the questions the controllers ask, file
choosers) and ``panel_host.py`` (the feature panels' docks).  What is left
here is the widget layout, the wiring, and the PanelContext side for panels.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QUndoStack
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.progress import CancelToken, Work
from musestudio.core.project import Layer, Project
from musestudio.gui.controllers.actions import ActionRegistry
from musestudio.gui.controllers.bindings import ViewBinder
from musestudio.gui.controllers.document import DocumentController
from musestudio.gui.controllers.edit import EditController
from musestudio.gui.controllers.jobs import JobHandle, JobManager
from musestudio.gui.controllers.tempo import TempoController
from musestudio.gui.controllers.transport import Transport
from musestudio.gui.dialogs import DialogsMixin
from musestudio.gui.layers_panel import LayersPanel
from musestudio.gui.panel_host import PanelHostMixin
from musestudio.gui.panels import PanelContext
from musestudio.gui.pianoroll.velocity_lane import VelocityLane
from musestudio.gui.pianoroll.view import PianoRoll
from musestudio.gui.playback import Player
from musestudio.gui.resources import resource_path
from musestudio.gui.settings import AppSettings, load_settings, open_qsettings, save_settings
from musestudio.gui.spectrogram_view import SpectrogramView
from musestudio.gui.theme import apply_theme
from musestudio.gui.window_menus import GRID_CHOICES, MenusMixin
from musestudio.gui.worker import one_line_error

log = logging.getLogger(__name__)

__all__ = ["GRID_CHOICES", "MainWindow"]


class MainWindow(DialogsMixin, MenusMixin, PanelHostMixin, QMainWindow):
    def __init__(self, settings: AppSettings | None = None, *, interactive: bool = True) -> None:
        super().__init__()
        self.settings = settings or load_settings()
        self.interactive = interactive  # False in screenshot mode and tests: never block on a dialog
        self.setWindowTitle("musestudio")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        icon = resource_path("icons", "musestudio.svg")
        if icon is not None:
            self.setWindowIcon(QIcon(str(icon)))

        # --- views ---
        dark = self.settings.theme != "light"
        self.roll = PianoRoll(dark=dark)
        self.spectrogram = SpectrogramView(self.roll, self.settings)
        self.velocity_lane = VelocityLane(self.roll)
        editor = QWidget()
        column = QVBoxLayout(editor)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.roll, 1)
        column.addWidget(self.velocity_lane, 0)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(editor)
        self.splitter.addWidget(self.spectrogram)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(True)
        self.setCentralWidget(self.splitter)
        self.spectrogram.setVisible(False)
        self.layers_panel = LayersPanel()
        self.layers_dock = self._dock("Layers", self.layers_panel, Qt.DockWidgetArea.LeftDockWidgetArea)

        # --- controllers ---
        self.undo_stack = QUndoStack(self)
        self.jobs = JobManager(self)
        self.context = PanelContext(self)
        self.player = Player(self)
        loop_on = lambda: self.act_loop.isChecked()  # noqa: E731, PLW0108 - the action is built later
        self.transport = Transport(self.roll, self.spectrogram, self.player, loop_on, self)
        self.documents = DocumentController(self, self.jobs, self.undo_stack, self.settings, self)
        self.edits = EditController(self, self.undo_stack, self)
        self.binder = ViewBinder(self)
        self.tempo = TempoController(self, self.jobs, self.edits, self)
        self.registry = ActionRegistry(self)

        self._build_status_bar()
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._connect()
        self.panels = self._build_panels()
        apply_theme(self.settings.theme, self.roll, self.spectrogram, self.velocity_lane, self.layers_panel)
        self.documents.project_replaced.connect(self._project_replaced)
        self.documents.recent_changed.connect(self._fill_recent_menu)
        self._project_replaced(self.documents.project)
        self.resize(1400, 900)
        if interactive:
            # Import torch & co. while the user looks around, not on the first Generate/Transcribe click
            # (the first `import torch` holds the GIL ~0.6 s even in a worker; see gui/warmup.py).
            QTimer.singleShot(1500, self._warm_up)

    def _warm_up(self) -> None:
        try:
            from musestudio.gui.warmup import start_warmup
        except ImportError:  # pragma: no cover - an optional speed-up, never a reason not to start
            return
        start_warmup()

    @property
    def project(self) -> Project:
        return self.documents.project

    # --- construction ------------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel("")
        self.playback_label = QLabel("")
        self.tempo_label = QLabel("")
        self.tempo_label.setToolTip("The project's tempo and metre (Edit > Set Tempo…, Tools > Detect Tempo)")
        self.hover_label = QLabel("")
        self.hover_label.setMinimumWidth(260)
        self.hover_label.setToolTip("Pitch, time and bar:beat under the mouse")
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.hover_label)
        bar.addPermanentWidget(self.tempo_label)
        bar.addPermanentWidget(self.playback_label)
        bar.addPermanentWidget(self.jobs.container)  # one row per running job: progress + its own Cancel
        self.jobs.status.connect(self.show_status)
        self.jobs.error.connect(self._job_failed)

    def _connect(self) -> None:
        lp, e = self.layers_panel, self.edits
        lp.visibility_toggled.connect(e.toggle_layer)
        lp.rename_requested.connect(lambda lid, name: e.set_layer_props(lid, name=name))
        lp.color_requested.connect(lambda lid, c: e.set_layer_props(lid, color=c))
        lp.delete_requested.connect(e.delete_layers)
        lp.current_changed.connect(self._current_layer_changed)
        lp.selection_changed.connect(self.context.events.selection_changed.emit)
        r = self.roll
        r.move_requested.connect(e.move_selected)
        r.resize_requested.connect(e.resize_selected)
        r.add_requested.connect(e.add_note)
        r.selection_changed.connect(self._note_selection_changed)
        r.context_requested.connect(self._context_menu)
        r.range_changed.connect(self._range_changed)
        self.grid_combo.currentIndexChanged.connect(lambda _i: setattr(self.roll, "grid_beats", self.grid_beats()))
        self.roll.grid_beats = self.grid_beats()
        # Hover read-out, throttled to 30 updates per second (pyqtgraph's SignalProxy).
        self._hover_proxy = pg.SignalProxy(self.roll.scene().sigMouseMoved, rateLimit=30, slot=self._hover)
        self.spectrogram.play_audio_box.toggled.connect(lambda _on: self.player.invalidate())
        self.velocity_lane.velocities_edited.connect(e.lane_velocities)
        self.player.state_changed.connect(self.playback_label.setText)
        # Asking PortAudio for devices can take a moment: do it after the window is on screen.
        QTimer.singleShot(150, lambda: self.playback_label.setText(self.player.status_text()))

    # --- the project ---------------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        """Replace the document (no questions asked; File > New/Open ask first)."""
        self.documents.set_project(project)

    def _project_replaced(self, project: Project) -> None:
        # Work started for the old project (a generation, a transcription) must not land in the new one.
        self.jobs.cancel_all()
        self.transport.stop()
        self.edits.set_project(project)
        self.binder.bind(project)
        self.roll.set_project(project)
        self.layers_panel.set_project(project)
        self.spectrogram.clear()
        self.spectrogram.set_project(project)
        self.act_show_spec.setChecked(bool(project.audio_path))
        self.binder.sync_timing()
        v = project.view
        if v.x_range and v.y_range:
            self.roll.vb.setRange(xRange=v.x_range, yRange=v.y_range, padding=0)
        else:
            self.roll.default_view()
        self.roll.set_time_range(v.selection)
        self.transport.seek(v.playhead)
        if project.audio_path:
            self.spectrogram.set_options(v.spectrogram_kind, v.colormap, v.db_range)
            self.start_spectrogram()
        self.update_title()
        self.context.events.project_changed.emit()
        self.context.events.layers_changed.emit()
        self.context.events.audio_changed.emit()

    def update_title(self) -> None:
        self.setWindowTitle(f"{self.documents.name}{' *' if self.project.modified else ''} — musestudio")

    def update_tempo_label(self) -> None:
        timing = self.project.timing()
        ts = timing.time_signature
        qpm = timing.tempo_map.initial_qpm
        changes = len(timing.tempo_map.changes)
        self.tempo_label.setText(f"♩ = {qpm:.0f}{' (varies)' if changes > 1 else ''}  {ts.numerator}/{ts.denominator}")

    def capture_view(self, project: Project) -> None:
        """Store what the user looks at in the document (saved with it, never an edit)."""
        (x0, x1), (y0, y1) = self.roll.vb.viewRange()
        v = project.view
        v.x_range, v.y_range = (float(x0), float(x1)), (float(y0), float(y1))
        v.selection = self.roll.time_range()
        v.playhead = float(self.roll.playhead.value())
        v.spectrogram_kind, v.colormap, v.db_range = self.spectrogram.options()

    def start_spectrogram(self) -> None:
        path = self.project.audio_path
        if not path:
            return
        work = self.spectrogram.compute_work(path)

        def ready(data: Any) -> None:
            if self.project.audio_path == path:
                self.spectrogram.set_data(data)
                self.show_status(f"{data.kind.upper()} spectrogram of {Path(path).name}: {data.duration:.1f} s")

        self.jobs.start(work, ready, label="Spectrogram")

    _start_spectrogram = start_spectrogram  # the spectrogram view calls this name

    # --- the view side of edits (EditView) -------------------------------------------------------
    def current_layer(self) -> Layer | None:
        return self.roll.active_layer()

    def note_selection(self) -> set[Note]:
        return set(self.roll.selection)

    def grid_beats(self) -> float:
        return float(self.grid_combo.currentData() or 0.0)

    def new_velocity(self) -> int:
        return int(self.velocity_spin.value())

    def playhead(self) -> float:
        return self.transport.position()

    def select_layer(self, layer_id: str) -> None:
        self.layers_panel.set_current(layer_id)

    # --- panel context API (see panels/base.py) ------------------------------------------------
    def selected_layers(self) -> list[Layer]:
        ids = self.layers_panel.selected_ids()
        return [layer for layer in self.project.layers if layer.id in ids]

    def selected_time_range(self) -> tuple[float, float] | None:
        return self.roll.time_range()

    def add_layer(self, name: str, seq: NoteSequence, kind: str = "continuation", **props: Any) -> Layer:
        return self.edits.add_layer(name, seq, kind, **props)

    def set_layer_notes(self, layer_id: str, notes: list[Note], text: str = "Replace notes", *,
                        merge_key: str | None = None) -> None:
        self.edits.push_notes(layer_id, list(notes), text, merge_key=merge_key)

    def delete_layers(self, layer_ids: list[str]) -> None:
        self.edits.delete_layers(layer_ids)

    def audio_samples(self, sample_rate: int | None = None) -> tuple[np.ndarray, int] | None:
        return self.documents.audio_samples(sample_rate)

    def run_work(
        self, work: Work[Any], on_done: Callable[[Any], None], on_error: Callable[[str], None] | None = None,
        *, cancel: CancelToken | None = None, label: str = "",
    ) -> JobHandle:
        return self.jobs.start(work, on_done, on_error, cancel=cancel, label=label)

    def cancel_work(self) -> None:
        self.jobs.cancel_all()

    def wait_for_jobs(self, timeout: float = 60.0) -> bool:
        """Pump events until no work is running (tests and screenshot mode only)."""
        return self.jobs.wait(timeout)

    # --- files (UI entry points are asynchronous; *_path/_layers helpers wait, for scripts/tests) ----
    def open_files(self, paths: list[str], first_mode: str | None = None, *, ask: bool = False) -> None:
        """Open the first file (replacing the project unless ``first_mode`` says "add"); import the rest.

        ``ask``: files dropped on a project with notes ask "Add as Layer / Open as New Project".
        """
        queue = list(paths)

        def next_one(ok: bool = True, mode: str | None = first_mode) -> None:
            if ok and queue:
                self.documents.open(queue.pop(0), mode=mode, on_finished=lambda o: next_one(o, "add"),
                                    ask_for_scores=ask and mode is None)

        next_one()

    def start_session(self, files: list[str], demo: str | None = None) -> bool:
        """At start-up: offer to restore crashed work FIRST, then open the files (or the demo).

        A restored project must never be replaced by the demo loading behind
        it; files named on the command line still open, after asking to save
        the restored work.  Returns whether work was restored.
        """
        restored = self.offer_recovery()
        if files:
            self.open_files(list(files))
        elif demo and not restored:
            self.open_files([demo])
        return restored

    def open_path(self, path: str | os.PathLike[str], *, mode: str | None = None) -> bool:
        """Open and wait (scripts, tests, --screenshot); never raises."""
        return self.documents.open_and_wait(path, mode=mode)

    def import_path(self, path: str | os.PathLike[str]) -> bool:
        return self.documents.open_and_wait(path, mode="add")

    def save_project(self) -> bool:
        return self.documents.save()

    def _save_to(self, path: Path) -> bool:
        return self.documents.save_to(Path(path))

    def export_layers(self, path: str | os.PathLike[str], layer_ids: list[str], *, confirmed: bool = False) -> bool:
        """Export and wait (scripts and tests)."""
        return self.documents.export_and_wait(path, layer_ids, confirmed=confirmed)

    def dragEnterEvent(self, ev: QDragEnterEvent) -> None:  # noqa: N802
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()

    def dropEvent(self, ev: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        ev.acceptProposedAction()
        # Dropped onto an empty window: open; onto a project: the first file asks (or replaces), the rest add.
        QTimer.singleShot(0, lambda: self.open_files(paths, ask=True))

    # --- autosave and recovery -------------------------------------------------------------------
    def autosave_now(self) -> Path | None:
        """Write the snapshot now and wait for it (tests); None when nothing is unsaved."""
        future = self.documents.autosaver.write_soon()
        if future is None or not self.project.modified:
            if future is not None:
                future.result(30)
            return None
        try:
            return future.result(30)
        except Exception as exc:
            self.show_status(f"Autosave failed: {one_line_error(exc)}")
            return None

    def offer_recovery(self) -> bool:
        return self.documents.offer_recovery()

    # --- edits (menu entry points; the work is in EditController) ---------------------------------
    def _current_layer_changed(self, layer_id: str | None) -> None:
        self.roll.set_active(layer_id)
        self.velocity_lane.refresh()
        self.context.events.selection_changed.emit()

    def new_empty_layer(self) -> None:
        self.edits.new_empty_layer()

    def delete_selected(self) -> None:
        self.edits.delete_selected()

    def quantize_selected(self) -> None:
        self.edits.quantize_selected()

    def transpose_selected(self, semitones: int) -> None:
        self.edits.transpose_selected(semitones)

    def apply_velocity(self) -> None:
        self.edits.set_velocity(self.velocity_spin.value())

    def _note_selection_changed(self) -> None:
        sel = self.roll.selection
        self.velocity_lane._draw()
        if sel:
            self.velocity_spin.blockSignals(True)
            self.velocity_spin.setValue(round(np.mean([n.velocity for n in sel])))
            self.velocity_spin.blockSignals(False)
            self.show_status(f"{len(sel)} note(s) selected")

    def _hover(self, args: tuple[Any, ...]) -> None:
        from musestudio.gui.pianoroll.axes import bar_beat_at, note_name

        pos = args[0]
        if not self.roll.vb.sceneBoundingRect().contains(pos):
            self.hover_label.setText("")
            return
        p = self.roll.vb.mapSceneToView(pos)
        pitch, t = int(round(p.y())), max(0.0, p.x())
        text = f"{note_name(pitch)} ({pitch})  {t:.2f} s" if 0 <= pitch <= 127 else f"{t:.2f} s"
        if self.project.layers:
            timing = self.project.timing()
            bar, beat = bar_beat_at(timing.tempo_map, timing.time_signatures or timing.time_signature, t)
            text += f"  bar {bar} beat {beat:.1f}"
        self.hover_label.setText(text)

    def _range_changed(self) -> None:
        rng = self.roll.time_range()
        if rng:
            self.show_status(f"Selected {rng[0]:.2f}–{rng[1]:.2f} s ({rng[1] - rng[0]:.2f} s)")
        self.context.events.time_range_changed.emit()

    def detect_tempo(self) -> JobHandle | None:
        """Tools > Detect Tempo on the current layer (one undo step once the job is done)."""
        return self.tempo.detect(self.current_layer())

    # --- playback ----------------------------------------------------------------------------------
    def set_playhead(self, t: float) -> None:
        self.transport.seek(t)

    def toggle_play(self) -> None:
        self.transport.toggle()

    def stop(self) -> None:
        if hasattr(self, "transport"):
            self.transport.stop()

    # --- settings, theme, layout ----------------------------------------------------------------------
    def _set_setting(self, name: str, value: Any) -> None:
        setattr(self.settings, name, value)
        save_settings(self.settings)

    def set_theme(self, name: str) -> None:
        self._set_setting("theme", name)
        apply_theme(name, self.roll, self.spectrogram, self.velocity_lane, self.layers_panel)

    def restore_layout(self) -> None:
        qs = open_qsettings()
        geometry, state = qs.value("window/geometry"), qs.value("window/state")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray | bytes):
            self.restoreState(state)

    def save_layout(self) -> None:
        qs = open_qsettings()
        qs.setValue("window/geometry", self.saveGeometry())
        qs.setValue("window/state", self.saveState())
        save_settings(self.settings, qs)

    def closeEvent(self, ev: QCloseEvent) -> None:  # noqa: N802
        if not self.documents.confirm_discard():  # asks exactly when the project has unsaved work
            ev.ignore()
            return
        self.jobs.shutdown()  # results that arrive after this are dropped, not given to closed panels
        self.stop()
        if self.interactive:  # screenshot/test windows leave the user's layout alone
            self.save_layout()
        self.documents.shutdown()  # a clean exit: this instance's snapshot and lock go
        ev.accept()
