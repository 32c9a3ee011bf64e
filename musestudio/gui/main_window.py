"""The main window: piano roll + spectrogram, layers, feature docks, files, undo, playback.

The window wires widgets to the Qt-free project document; every note edit
is a QUndoCommand on that document (see ``undo.py``).  Anything slow (reading
a big file, spectrograms, rendering audio, models) runs through
:meth:`MainWindow.run_work` in a worker thread with the progress bar and Cancel.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QByteArray, QEventLoop, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from musestudio.core.errors import InputFileError, MusestudioError
from musestudio.core.notes import Note, NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work
from musestudio.core.project import (
    Layer,
    Project,
    delete_notes,
    move_notes,
    quantize_notes,
    resize_notes,
    set_velocity,
    transpose_notes,
)
from musestudio.gui.layers_panel import LayersPanel
from musestudio.gui.panels import PanelContext, load_panel_classes
from musestudio.gui.pianoroll.velocity_lane import VelocityLane
from musestudio.gui.pianoroll.view import PianoRoll
from musestudio.gui.playback import Player
from musestudio.gui.resources import resource_path
from musestudio.gui.settings import AppSettings, load_settings, open_qsettings, save_settings
from musestudio.gui.spectrogram_view import SpectrogramView
from musestudio.gui.theme import apply_theme
from musestudio.gui.undo import AddLayerCommand, LayerPropsCommand, RemoveLayerCommand, SetNotesCommand
from musestudio.gui.worker import Job, one_line_error, start_job

log = logging.getLogger(__name__)

OPEN_FILTER = (
    "Music files (*.mid *.midi *.kar *.musicxml *.xml *.mxl *.wav *.flac *.ogg *.mp3 *.aif *.aiff *.msproj);;"
    "MIDI (*.mid *.midi *.kar);;MusicXML (*.musicxml *.xml *.mxl);;Audio (*.wav *.flac *.ogg *.mp3 *.aif *.aiff);;"
    "musestudio project (*.msproj);;All files (*)"
)
EXPORT_FILTER = "MIDI (*.mid);;MusicXML (*.musicxml);;WAV audio (*.wav)"
GRID_CHOICES = (("no snap", 0.0), ("1 beat", 1.0), ("1/2 beat", 0.5), ("1/4 beat", 0.25), ("1/8 beat", 0.125), ("triplet", 1 / 3))


def _load_score_work(path: Path) -> Work[NoteSequence]:
    from musestudio.io.formats import load_score

    yield Progress(0, 1, f"reading {path.name}")
    seq = load_score(path)
    yield Progress(1, 1, f"{len(seq)} notes")
    return seq


def _load_project_work(path: Path) -> Work[Project]:
    yield Progress(0, 1, f"reading {path.name}")
    project = Project.load(path)
    yield Progress(1, 1, "")
    return project


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None, *, interactive: bool = True) -> None:
        super().__init__()
        self.settings = settings or load_settings()
        self.interactive = interactive  # False in screenshot mode: never block on a dialog
        self.project = Project()
        self.undo_stack = QUndoStack(self)
        self.jobs: list[tuple[Job, CancelToken]] = []
        self._audio_cache: dict[int, tuple[np.ndarray, int]] = {}
        self.setWindowTitle("musestudio")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        icon = resource_path("icons", "musestudio.svg")
        if icon is not None:
            self.setWindowIcon(QIcon(str(icon)))

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

        self.context = PanelContext(self)
        self.player = Player(self)
        self._build_status_bar()
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._connect()
        self.panels = self._build_panels()
        apply_theme(self.settings.theme, self.roll, self.spectrogram, self.velocity_lane, self.layers_panel)
        self.set_project(Project())
        self._autosave = QTimer(self)
        self._autosave.timeout.connect(self.autosave_now)
        if self.settings.autosave_seconds > 0:
            self._autosave.start(self.settings.autosave_seconds * 1000)
        self.undo_stack.cleanChanged.connect(lambda _clean: self._update_title())
        self.resize(1400, 900)

    # --- construction ------------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running work at its next step")
        self.cancel_button.clicked.connect(self.cancel_work)
        self.playback_label = QLabel("")
        self.hover_label = QLabel("")
        self.hover_label.setMinimumWidth(260)
        self.hover_label.setToolTip("Pitch, time and bar:beat under the mouse")
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.hover_label)
        bar.addPermanentWidget(self.playback_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        self.progress.hide()
        self.cancel_button.hide()

    def _action(self, text: str, slot: Callable[..., Any], shortcut: Any = None, tip: str = "") -> QAction:
        act = QAction(text, self)
        act.triggered.connect(slot)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            act.setShortcuts([QKeySequence(k) for k in keys])
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(f"{text.replace('&', '').rstrip('.')} ({act.shortcut().toString()})" if shortcut else tip)
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey  # noqa: N806
        self.act_open = self._action("&Open...", self.open_dialog, K.Open, "Open MIDI, MusicXML, audio or a project")
        self.act_save = self._action("&Save Project", self.save_project, K.Save, "Save the project (.msproj)")
        self.act_save_as = self._action("Save Project &As...", self.save_project_as, K.SaveAs)
        self.act_export = self._action("&Export Selected Layers...", self.export_dialog, "Ctrl+E", "Export layers to MIDI, MusicXML or WAV")
        self.act_quit = self._action("&Quit", self.close, K.Quit)
        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts([QKeySequence(K.Undo)])
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Y"), QKeySequence("Ctrl+Shift+Z")])
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)
        self.act_select_all = self._action("Select &All Notes", self.roll.select_all, K.SelectAll)
        self.act_delete = self._action("&Delete Notes", self.delete_selected, [QKeySequence(K.Delete), "Backspace"])
        self.act_quantize = self._action("&Quantize", self.quantize_selected, "Q", "Snap the selected notes (or all) to the grid")
        self.act_up = self._action("Transpose Up", lambda: self.transpose_selected(1), "Ctrl+Up")
        self.act_down = self._action("Transpose Down", lambda: self.transpose_selected(-1), "Ctrl+Down")
        self.act_oct_up = self._action("Octave Up", lambda: self.transpose_selected(12), "Ctrl+Shift+Up")
        self.act_oct_down = self._action("Octave Down", lambda: self.transpose_selected(-12), "Ctrl+Shift+Down")
        self.act_new_layer = self._action("New Empty Layer", self.new_empty_layer, "Ctrl+L")
        self.act_zoom_in = self._action("Zoom In", lambda: self.roll.zoom_time(0.7), ["+", "="])
        self.act_zoom_out = self._action("Zoom Out", lambda: self.roll.zoom_time(1 / 0.7), "-")
        self.act_fit = self._action("Zoom to Fit", self.roll.zoom_to_fit, "F")
        self.act_left = self._action("Scroll Left", lambda: self.roll.scroll_time(-0.25), "Left")
        self.act_right = self._action("Scroll Right", lambda: self.roll.scroll_time(0.25), "Right")
        self.act_play = self._action("&Play / Stop", self.toggle_play, "Space", "Play the audible layers (and the audio)")
        self.act_stop = self._action("Stop", self.stop, "Esc")
        self.act_loop = QAction("&Loop Selection", self, checkable=True)
        self.act_loop.setShortcut(QKeySequence("L"))
        self.act_loop.setStatusTip("Loop the time range selected on the ruler")
        self.addAction(self.act_loop)
        self.act_home = self._action("Playhead to Start", lambda: self.set_playhead(0.0), "Home")
        self.act_soundfont = self._action("Choose &SoundFont...", self.choose_soundfont)
        self.act_show_spec = QAction("Show &Spectrogram", self, checkable=True)
        self.act_show_spec.setShortcut(QKeySequence("Ctrl+G"))
        self.act_show_spec.toggled.connect(self.spectrogram.setVisible)
        self.addAction(self.act_show_spec)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main", self)
        tb.setObjectName("toolbar_main")
        self.addToolBar(tb)
        tb.addAction(self.act_open)
        tb.addAction(self.act_save)
        tb.addAction(self.act_export)
        tb.addSeparator()
        undo = tb.addAction(self.style().standardIcon(QStyle.StandardPixmap.SP_ArrowBack), "Undo", self.undo_stack.undo)
        redo = tb.addAction(self.style().standardIcon(QStyle.StandardPixmap.SP_ArrowForward), "Redo", self.undo_stack.redo)
        undo.setToolTip("Undo (Ctrl+Z)")
        redo.setToolTip("Redo (Ctrl+Y)")
        undo.setEnabled(False)
        redo.setEnabled(False)
        self.undo_stack.canUndoChanged.connect(undo.setEnabled)
        self.undo_stack.canRedoChanged.connect(redo.setEnabled)
        tb.addSeparator()
        tb.addAction(self.act_play)
        tb.addAction(self.act_loop)
        tb.addSeparator()
        tb.addWidget(QLabel(" Grid "))
        self.grid_combo = QComboBox()
        for label, beats in GRID_CHOICES:
            self.grid_combo.addItem(label, beats)
        self.grid_combo.setCurrentIndex(3)
        self.grid_combo.setToolTip("Snap grid for adding, moving and quantizing notes (in beats of the tempo map)")
        tb.addWidget(self.grid_combo)
        tb.addAction(self.act_quantize)
        tb.addAction(self.act_down)
        tb.addAction(self.act_up)
        tb.addWidget(QLabel(" Velocity "))
        self.velocity_spin = QSpinBox()
        self.velocity_spin.setRange(1, 127)
        self.velocity_spin.setValue(80)
        self.velocity_spin.setToolTip("Velocity of the selected notes (and of new notes)")
        self.velocity_spin.editingFinished.connect(self.apply_velocity)
        tb.addWidget(self.velocity_spin)
        self.toolbar = tb

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self.act_open)
        self.recent_menu = m.addMenu("Open &Recent")
        m.addSeparator()
        m.addAction(self.act_save)
        m.addAction(self.act_save_as)
        m.addAction(self.act_export)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&Edit")
        for a in (self.act_undo, self.act_redo, None, self.act_select_all, self.act_delete, None, self.act_quantize,
                  self.act_up, self.act_down, self.act_oct_up, self.act_oct_down, None, self.act_new_layer):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&View")
        for a in (self.act_zoom_in, self.act_zoom_out, self.act_fit, None, self.act_show_spec):
            m.addSeparator() if a is None else m.addAction(a)
        theme = m.addMenu("&Theme")
        group = QActionGroup(self)
        for name in ("dark", "light"):
            act = theme.addAction(name.capitalize())
            act.setCheckable(True)
            act.setChecked(self.settings.theme == name)
            act.triggered.connect(lambda _c=False, n=name: self.set_theme(n))
            group.addAction(act)
        self.panels_menu = m.addMenu("&Panels")
        self.panels_menu.addAction(self.layers_dock.toggleViewAction())
        m = mb.addMenu("&Play")
        for a in (self.act_play, self.act_stop, self.act_loop, self.act_home):
            m.addAction(a)
        m = mb.addMenu("&Settings")
        m.addAction(self.act_soundfont)
        self.device_menu = m.addMenu("Audio &Device")
        self.device_menu.aboutToShow.connect(self._fill_device_menu)
        model_menu = m.addMenu("Default &Model")
        group = QActionGroup(self)
        for name in ("transformer", "lstm", "gan", "markov"):
            act = model_menu.addAction(name)
            act.setCheckable(True)
            act.setChecked(self.settings.default_model == name)
            act.triggered.connect(lambda _c=False, n=name: self._set_setting("default_model", n))
            group.addAction(act)
        self._fill_recent_menu()

    def _connect(self) -> None:
        lp = self.layers_panel
        lp.visibility_toggled.connect(self._toggle_layer_prop)
        lp.rename_requested.connect(lambda lid, name: self._push(LayerPropsCommand(self.project, lid, {"name": name}, self.refresh_layers)))
        lp.color_requested.connect(lambda lid, c: self._push(LayerPropsCommand(self.project, lid, {"color": c}, self.refresh_layers)))
        lp.delete_requested.connect(self.delete_layers)
        lp.current_changed.connect(self._current_layer_changed)
        lp.selection_changed.connect(self.context.events.selection_changed.emit)
        r = self.roll
        r.move_requested.connect(self._move_selected)
        r.resize_requested.connect(self._resize_selected)
        r.add_requested.connect(self._add_note)
        r.selection_changed.connect(self._note_selection_changed)
        r.playhead_moved.connect(self.set_playhead)
        r.context_requested.connect(self._context_menu)
        r.range_changed.connect(self._range_changed)
        self.grid_combo.currentIndexChanged.connect(lambda _i: setattr(self.roll, "grid_beats", self.grid_beats()))
        self.roll.grid_beats = self.grid_beats()
        # Hover read-out, throttled to 30 updates per second (pyqtgraph's SignalProxy).
        self._hover_proxy = pg.SignalProxy(self.roll.scene().sigMouseMoved, rateLimit=30, slot=self._hover)
        self.spectrogram.play_audio_box.toggled.connect(lambda _on: self.player.invalidate())
        self.velocity_lane.velocities_edited.connect(self._lane_velocities)
        self.player.position_changed.connect(self._player_position)
        self.player.state_changed.connect(self._player_state)
        # Asking PortAudio for devices can take a moment: do it after the window is on screen.
        QTimer.singleShot(150, lambda: self.playback_label.setText(self.player.status_text()))

    def _build_panels(self) -> list[Any]:
        classes, problems = load_panel_classes()
        panels = []
        first_right: QDockWidget | None = None
        for cls in classes:
            try:
                panel = cls(self.context)
            except Exception as exc:  # one broken panel must not stop the app
                log.exception("panel %s failed", cls)
                problems.append(f"{cls.__name__}: {one_line_error(exc)}")
                continue
            area = {"left": Qt.DockWidgetArea.LeftDockWidgetArea, "bottom": Qt.DockWidgetArea.BottomDockWidgetArea}.get(
                getattr(cls, "AREA", "right"), Qt.DockWidgetArea.RightDockWidgetArea
            )
            # In a scroll area, so a tall panel never forces the window taller than the screen.
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(panel)
            dock = self._dock(getattr(cls, "TITLE", cls.__name__), scroll, area)
            if area == Qt.DockWidgetArea.RightDockWidgetArea:
                if first_right is None:
                    first_right = dock
                else:
                    self.tabifyDockWidget(first_right, dock)
            self.panels_menu.addAction(dock.toggleViewAction())
            panels.append(panel)
        if first_right is not None:
            first_right.raise_()
            # The piano roll gets the room; restore_layout() later brings back the user's own sizes.
            self.resizeDocks([self.layers_dock, first_right], [270, 330], Qt.Orientation.Horizontal)
        if problems:
            self.show_status("Some panels could not load: " + "; ".join(problems))
        return panels

    # --- project ----------------------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        self.stop()
        self.project = project
        self.undo_stack.clear()
        self._audio_cache.clear()
        self.roll.set_project(project)
        self.layers_panel.set_project(project)
        self.spectrogram.clear()
        self.spectrogram.set_project(project)
        self.act_show_spec.setChecked(bool(project.audio_path))
        v = project.view
        if v.x_range and v.y_range:
            self.roll.vb.setRange(xRange=v.x_range, yRange=v.y_range, padding=0)
        else:
            self.roll.default_view()
        self.roll.set_time_range(v.selection)
        self.roll.set_playhead(v.playhead)
        self.spectrogram.set_playhead(v.playhead)
        if project.audio_path:
            self.spectrogram.set_options(v.spectrogram_kind, v.colormap, v.db_range)
            self._start_spectrogram()
        self._update_title()
        self.context.events.project_changed.emit()
        self.context.events.layers_changed.emit()

    def refresh_layers(self) -> None:
        self.roll.sync_layers()
        self.velocity_lane.refresh()
        self.layers_panel.sync()
        self.spectrogram.sync_overlays()
        self._update_title()
        self.context.events.layers_changed.emit()

    def _refresh_notes(self, layer_id: str, selection: set[Note]) -> None:
        self.roll.refresh_layer(layer_id)
        if layer_id == self.roll.active_id:
            self.roll.set_selection(selection)
            self.velocity_lane.refresh()
        self.spectrogram.refresh_overlay(layer_id)
        self.layers_panel.sync()
        self._update_title()
        self.context.events.layers_changed.emit()

    def _push(self, cmd: Any) -> None:
        self.undo_stack.push(cmd)

    def _update_title(self) -> None:
        name = self.project.path.name if self.project.path else "untitled"
        try:
            dirty = "" if self.undo_stack.isClean() and not self.project.modified else " *"
        except RuntimeError:  # the stack is already gone while the window closes
            return
        self.setWindowTitle(f"{name}{dirty} — musestudio")

    # --- panel context API -------------------------------------------------------------------------
    def selected_layers(self) -> list[Layer]:
        ids = self.layers_panel.selected_ids()
        return [layer for layer in self.project.layers if layer.id in ids]

    def current_layer(self) -> Layer | None:
        return self.roll.active_layer()

    def selected_time_range(self) -> tuple[float, float] | None:
        return self.roll.time_range()

    def add_layer(self, name: str, seq: NoteSequence, kind: str = "continuation", **props: Any) -> Layer:
        tmp = Project(layers=list(self.project.layers))
        layer = tmp.add_layer(name, seq, kind, **props)  # unique name and colour, without touching the document
        self._push(AddLayerCommand(self.project, layer, len(self.project.layers), self.refresh_layers))
        return layer

    def set_layer_notes(self, layer_id: str, notes: list[Note], text: str = "Replace notes") -> None:
        self._push(SetNotesCommand(self.project, layer_id, list(notes), text, self._refresh_notes))
        self.player.invalidate()

    def audio_samples(self, sample_rate: int | None = None) -> tuple[np.ndarray, int] | None:
        if not self.project.audio_path:
            return None
        key = int(sample_rate or 0)
        if key not in self._audio_cache:
            from musestudio.io.audio import load_audio

            self._audio_cache[key] = load_audio(self.project.audio_path, sample_rate)
        return self._audio_cache[key]

    def run_work(
        self,
        work: Work[Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None] | None = None,
        *,
        cancel: CancelToken | None = None,
        label: str = "",
    ) -> Job:
        token = cancel or CancelToken()
        entry: list[Any] = []

        def finish() -> None:
            self.jobs[:] = [j for j in self.jobs if j[0] is not entry[0]]
            if not self.jobs:
                self.progress.hide()
                self.cancel_button.hide()

        def done(result: Any) -> None:
            finish()
            try:
                on_done(result)
            except Exception as exc:  # a bug in a callback must not take the app down
                log.exception("callback of %s failed", label)
                self.show_error(one_line_error(exc))

        def failed(message: str, details: str) -> None:
            finish()
            log.debug("%s failed:\n%s", label, details)
            if on_error is not None:
                on_error(message)
            elif message.startswith("internal error"):
                self._error_dialog(message, details)  # a bug: offer the traceback under "Show Details"
            else:
                self.show_error(message)

        def cancelled() -> None:
            finish()
            self.show_status(f"{label or 'work'}: cancelled")

        self.progress.setValue(0)
        self.progress.setFormat(f"{label} %p%" if label else "%p%")
        self.progress.show()
        self.cancel_button.show()
        job = start_job(work, done, failed, self._job_progress, cancelled, cancel=token, label=label)
        entry.append(job)
        self.jobs.append((job, token))
        return job

    def _job_progress(self, p: Progress) -> None:
        self.progress.setValue(int(p.fraction * 1000))
        if p.message:
            self.show_status(p.message)

    def cancel_work(self) -> None:
        for _job, token in self.jobs:
            token.cancel()

    def wait_for_jobs(self, timeout: float = 60.0) -> bool:
        """Process events until no work is running (tests and screenshot mode)."""
        import time

        end = time.monotonic() + timeout
        while self.jobs and time.monotonic() < end:
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)
        QApplication.processEvents()
        return not self.jobs

    def _run_blocking(self, work: Work[Any], label: str) -> Any:
        """Run work in the worker but wait for it here, keeping the UI alive (progress, Cancel)."""
        loop = QEventLoop(self)
        box: dict[str, Any] = {}

        def done(result: Any) -> None:
            box["result"] = result
            loop.quit()

        def error(message: str) -> None:
            box["error"] = message
            loop.quit()

        job = self.run_work(work, done, error, label=label)
        job.signals.cancelled.connect(loop.quit)
        # The result arrives as a queued signal, so it can only be delivered inside exec().
        if not box:
            loop.exec()
        if "error" in box:
            raise MusestudioError(box["error"])
        if "result" not in box:
            raise MusestudioError(f"{label}: cancelled")
        return box["result"]

    def show_error(self, message: str) -> None:
        self._error_dialog(message, "")

    def _error_dialog(self, message: str, details: str) -> None:
        self.show_status(message)
        if not self.interactive:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "musestudio", message, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.exec()

    def show_status(self, message: str) -> None:
        self.status_label.setText(message)

    def ask(self, question: str, title: str = "musestudio") -> bool:
        """Yes/No question (tests monkeypatch this); never asked when not interactive."""
        if not self.interactive:
            return False
        answer = QMessageBox.question(self, title, question)
        return answer == QMessageBox.StandardButton.Yes

    # --- files ------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open", self._last_folder(), OPEN_FILTER)
        for p in paths:
            self.open_path(p)

    def _last_folder(self) -> str:
        for r in self.settings.recent_files:
            if Path(r).parent.is_dir():
                return str(Path(r).parent)
        return str(Path.home())

    def open_path(self, path: str | os.PathLike[str]) -> bool:
        """Open a score, audio or project file; never raises (errors go to ``show_error``)."""
        try:
            from musestudio.io.formats import kind_of

            p = Path(path)
            kind = kind_of(p)
            if not p.exists():
                raise InputFileError(p, "file not found")
            if p.is_dir():
                raise InputFileError(p, "is a folder, not a file")
            if kind == "project":
                ok = self._open_project(p)
            elif kind == "audio":
                ok = self._open_audio(p)
            else:
                ok = self._open_score(p)
            if ok:
                self.settings.add_recent(p)
                self._fill_recent_menu()
                if self.interactive:  # a crash later must not lose the recent-files list
                    save_settings(self.settings)
                self.show_status(f"Opened {p.name}")
            return ok
        except Exception as exc:
            self.show_error(one_line_error(exc))
            return False

    def _open_score(self, p: Path) -> bool:
        seq = self._run_blocking(_load_score_work(p), f"Opening {p.name}")
        first = not any(len(layer.sequence) for layer in self.project.layers)
        kind = "reference" if self.project.layers else "score"
        layer = self.add_layer(seq.title or p.stem, seq, kind, source=str(p))
        self.layers_panel.set_current(layer.id)
        if first:
            self.roll.default_view()
        return True

    def _open_project(self, p: Path) -> bool:
        if not self._confirm_discard():
            return False
        project = self._run_blocking(_load_project_work(p), f"Opening {p.name}")
        self.set_project(project)
        return True

    def _open_audio(self, p: Path) -> bool:
        from musestudio.io.audio import audio_info

        info = audio_info(p)  # fails fast (one line) on a broken file
        if info.frames == 0:
            raise InputFileError(p, "audio file has no samples")
        self.project.audio_path = str(p.resolve())
        self.project.modified = True
        self._audio_cache.clear()
        self.act_show_spec.setChecked(True)
        self.spectrogram.setVisible(True)
        if not self.project.layers:
            self.roll.vb.setRange(xRange=(0, min(20.0, info.duration)), padding=0)
        self._start_spectrogram()
        self.context.events.audio_changed.emit()
        return True

    def _start_spectrogram(self) -> None:
        path = self.project.audio_path
        if not path:
            return
        work = self.spectrogram.compute_work(path)

        def ready(data: Any) -> None:
            self.spectrogram.set_data(data)
            self.show_status(f"{data.kind.upper()} spectrogram of {Path(path).name}: {data.duration:.1f} s")

        self.run_work(work, ready, label="Spectrogram")

    def _confirm_discard(self) -> bool:
        if self.undo_stack.isClean() and not self.project.modified:
            return True
        if not self.project.layers and not self.project.audio_path:
            return True
        return self.ask("Discard the unsaved changes in this project?") if self.interactive else True

    def save_project(self) -> bool:
        if self.project.path is None:
            return self.save_project_as()
        return self._save_to(self.project.path)

    def save_project_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save Project", self._last_folder(), "musestudio project (*.msproj)")
        if not path:
            return False
        return self._save_to(Path(path))

    def _capture_view(self) -> None:
        (x0, x1), (y0, y1) = self.roll.vb.viewRange()
        v = self.project.view
        v.x_range, v.y_range = (float(x0), float(x1)), (float(y0), float(y1))
        v.selection = self.roll.time_range()
        v.playhead = float(self.roll.playhead.value())
        v.spectrogram_kind, v.colormap, v.db_range = self.spectrogram.options()

    def _save_to(self, path: Path) -> bool:
        try:
            self._capture_view()
            saved = self.project.save(path)
        except Exception as exc:
            self.show_error(one_line_error(exc))
            return False
        self.undo_stack.setClean()
        self.settings.add_recent(saved)
        self._fill_recent_menu()
        self._update_title()
        self.show_status(f"Saved {saved}")
        return True

    def export_dialog(self) -> None:
        layers = self.selected_layers() or ([self.current_layer()] if self.current_layer() else [])
        if not layers:
            self.show_error("Nothing to export: the project has no layers.")
            return
        stem = layers[0].name if len(layers) == 1 else "layers"
        from musestudio.gui.layers_panel import safe_file_stem

        start = str(Path(self._last_folder()) / f"{safe_file_stem(stem)}.mid")
        # Qt's own dialog asks before overwriting; export_layers asks again only when called directly.
        path, chosen = QFileDialog.getSaveFileName(self, "Export Layers", start, EXPORT_FILTER)
        if not path:
            return
        if not Path(path).suffix:
            path += {"MIDI": ".mid", "MusicXML": ".musicxml", "WAV": ".wav"}.get(chosen.split(" ")[0], ".mid")
        self.export_layers(path, [layer.id for layer in layers], confirmed=True)

    def export_layers(self, path: str | os.PathLike[str], layer_ids: list[str], *, confirmed: bool = False) -> bool:
        """Merge the layers and write MIDI/MusicXML/WAV by extension; never overwrites without asking."""
        try:
            target = Path(path)
            if target.exists() and not confirmed and not self.ask(f"{target.name} already exists. Replace it?"):
                self.show_status("Export cancelled: the file exists")
                return False
            layers = [self.project.layer(i) for i in layer_ids]
            if not layers:
                raise MusestudioError("no layer selected for export")
            seq = layers[0].sequence.copy()
            for layer in layers[1:]:
                seq = seq.merged(layer.sequence)
            soundfont = self.settings.soundfont_path or None

            def work() -> Work[Path]:
                from musestudio.io.formats import save_score

                yield Progress(0, 1, f"writing {target.name}")
                out = save_score(seq, target, overwrite=True, soundfont=soundfont)
                yield Progress(1, 1, "")
                return out

            out = self._run_blocking(work(), f"Exporting {target.name}")
            self.show_status(f"Exported {len(seq)} notes to {out}")
            return True
        except Exception as exc:
            self.show_error(one_line_error(exc))
            return False

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for r in self.settings.recent_files:
            act = self.recent_menu.addAction(Path(r).name)
            act.setToolTip(r)
            act.setStatusTip(r)
            act.triggered.connect(lambda _c=False, p=r: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def dragEnterEvent(self, ev: QDragEnterEvent) -> None:  # noqa: N802
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()

    def dropEvent(self, ev: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        ev.acceptProposedAction()
        # Open after the drop returns: a nested event loop inside a drop handler confuses some platforms.
        QTimer.singleShot(0, lambda: [self.open_path(p) for p in paths])

    # --- layers ---------------------------------------------------------------------------------------
    def _current_layer_changed(self, layer_id: str | None) -> None:
        self.roll.set_active(layer_id)
        self.velocity_lane.refresh()
        self.context.events.selection_changed.emit()

    def _toggle_layer_prop(self, layer_id: str, prop: str, value: bool) -> None:
        self.project.set_layer_props(layer_id, **{prop: value})
        self.roll.sync_layers()
        self.velocity_lane.refresh()
        self.spectrogram.sync_overlays()
        self.player.invalidate()
        self.context.events.layers_changed.emit()

    def delete_layers(self, layer_ids: list[str]) -> None:
        if not layer_ids:
            return
        self.undo_stack.beginMacro("delete layers")
        for lid in layer_ids:
            self._push(RemoveLayerCommand(self.project, lid, self.refresh_layers))
        self.undo_stack.endMacro()

    def new_empty_layer(self) -> None:
        base = self.project.timing_source()
        seq = base.copy(notes=[], pedals=[], drum_notes=[]) if base is not None else NoteSequence()
        layer = self.add_layer("edit", seq, "edit")
        self.layers_panel.set_current(layer.id)

    # --- note edits ---------------------------------------------------------------------------------
    def grid_beats(self) -> float:
        return float(self.grid_combo.currentData() or 0.0)

    def _snap_seconds(self, seq: NoteSequence, t: float) -> float:
        g = self.grid_beats()
        if g <= 0:
            return max(0.0, t)
        tm = seq.tempo_map
        return max(0.0, tm.beats_to_seconds(round(tm.seconds_to_beats(max(0.0, t)) / g) * g))

    def _edit(self, text: str, new_notes: list[Note], new_selection: set[Note]) -> None:
        layer = self.current_layer()
        if layer is None:
            return
        self._push(
            SetNotesCommand(
                self.project, layer.id, new_notes, text, self._refresh_notes,
                old_selection=self.roll.selection, new_selection=new_selection,
            )
        )
        self.player.invalidate()

    def _editable(self) -> Layer | None:
        layer = self.current_layer()
        if layer is None:
            self.show_status("No layer to edit: open a file or add a layer (Ctrl+L)")
        return layer

    def _move_selected(self, dt: float, semitones: int) -> None:
        layer = self._editable()
        sel = self.roll.selection
        if layer is None or not sel:
            return
        anchor = min(sel, key=lambda n: n.start)
        dt = self._snap_seconds(layer.sequence, anchor.start + dt) - anchor.start
        notes, moved = move_notes(layer.sequence.notes, sel, dt, semitones)
        self._edit(f"move {len(sel)} notes", notes, moved)

    def _resize_selected(self, d_end: float) -> None:
        layer = self._editable()
        sel = self.roll.selection
        if layer is None or not sel:
            return
        notes, changed = resize_notes(layer.sequence.notes, sel, d_end)
        self._edit(f"resize {len(sel)} notes", notes, changed)

    def _add_note(self, pitch: int, t: float) -> None:
        layer = self.current_layer()
        if layer is None:  # an empty project: drawing a note starts a layer for it
            self.undo_stack.beginMacro("add note")
            self.new_empty_layer()
            self._add_note(pitch, t)
            self.undo_stack.endMacro()
            return
        if not layer.visible:
            self.show_status(f"'{layer.name}' is hidden: show it to edit its notes")
            return
        seq = layer.sequence
        start = self._snap_seconds(seq, t) if self.grid_beats() > 0 else t
        tm = seq.tempo_map
        length = self.grid_beats() or 0.5
        end = tm.beats_to_seconds(tm.seconds_to_beats(start) + length)
        note = Note(pitch, start, end, self.velocity_spin.value())
        self._edit("add note", [*seq.notes, note], {note})

    def delete_selected(self) -> None:
        layer = self._editable()
        sel = self.roll.selection
        if layer is None or not sel:
            return
        self._edit(f"delete {len(sel)} notes", delete_notes(layer.sequence.notes, sel), set())

    def apply_velocity(self) -> None:
        layer = self.current_layer()
        sel = self.roll.selection
        if layer is None or not sel:
            return
        v = self.velocity_spin.value()
        if all(n.velocity == v for n in sel):
            return
        notes, changed = set_velocity(layer.sequence.notes, sel, v)
        self._edit(f"velocity {v}", notes, changed)

    def _lane_velocities(self, changes: dict[Note, int]) -> None:
        layer = self.current_layer()
        if layer is None:
            return
        new = [dataclasses.replace(n, velocity=changes[n]) if n in changes else n for n in layer.sequence.notes]
        sel = {dataclasses.replace(n, velocity=changes[n]) if n in changes else n for n in self.roll.selection}
        self._edit(f"velocity of {len(changes)} notes", new, sel)

    def quantize_selected(self) -> None:
        layer = self._editable()
        if layer is None or not len(layer.sequence):
            return
        g = self.grid_beats() or 0.25
        notes, changed = quantize_notes(layer.sequence, self.roll.selection, g)
        what = f"{len(self.roll.selection)} notes" if self.roll.selection else "layer"
        self._edit(f"quantize {what}", notes, changed if self.roll.selection else set())

    def transpose_selected(self, semitones: int) -> None:
        layer = self._editable()
        if layer is None or not len(layer.sequence):
            return
        sel = self.roll.selection
        notes, changed = transpose_notes(layer.sequence.notes, sel, semitones)
        self._edit(f"transpose {semitones:+d}", notes, changed if sel else set())

    def _note_selection_changed(self) -> None:
        sel = self.roll.selection
        self.velocity_lane._draw()
        if sel:
            vels = {n.velocity for n in sel}
            self.velocity_spin.blockSignals(True)
            self.velocity_spin.setValue(round(np.mean(list(vels))))
            self.velocity_spin.blockSignals(False)
            self.show_status(f"{len(sel)} note(s) selected")

    def _context_menu(self, screen_pos: Any, t: float, pitch: float) -> None:
        menu = QMenu(self)
        add = menu.addAction("Add Note Here")
        add.triggered.connect(lambda: self._add_note(int(round(pitch)), t))
        playhead = menu.addAction("Move Playhead Here")
        playhead.triggered.connect(lambda: self.set_playhead(max(0.0, t)))
        menu.addSeparator()
        for act in (self.act_delete, self.act_quantize, self.act_up, self.act_down, self.act_oct_up, self.act_oct_down):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.act_select_all)
        menu.addAction(self.act_fit)
        self._last_menu = menu  # tests inspect it
        if self.interactive:
            menu.popup(screen_pos)

    def _hover(self, args: tuple[Any, ...]) -> None:
        from musestudio.gui.pianoroll.axes import note_name

        pos = args[0]
        if not self.roll.vb.sceneBoundingRect().contains(pos):
            self.hover_label.setText("")
            return
        p = self.roll.vb.mapSceneToView(pos)
        pitch, t = int(round(p.y())), max(0.0, p.x())
        text = f"{note_name(pitch)} ({pitch})  {t:.2f} s" if 0 <= pitch <= 127 else f"{t:.2f} s"
        seq = self.project.timing_source()
        if seq is not None:
            ts = seq.time_signature
            beats = seq.tempo_map.seconds_to_beats(t)
            per_bar = ts.numerator * 4.0 / ts.denominator
            beat_len = 4.0 / ts.denominator
            bar = int(beats // per_bar)
            text += f"  bar {bar + 1} beat {(beats - bar * per_bar) / beat_len + 1:.1f}"
        self.hover_label.setText(text)

    def _range_changed(self) -> None:
        rng = self.roll.time_range()
        if rng:
            self.show_status(f"Selected {rng[0]:.2f}–{rng[1]:.2f} s ({rng[1] - rng[0]:.2f} s)")
        self.context.events.time_range_changed.emit()

    # --- playback -------------------------------------------------------------------------------------
    def set_playhead(self, t: float) -> None:
        self.roll.set_playhead(t)
        self.spectrogram.set_playhead(t)
        if self.player.playing:
            self.player.seek(t)

    def toggle_play(self) -> None:
        if self.player.playing:
            self.stop()
        else:
            self.player.play(float(self.roll.playhead.value()), self.roll.time_range() if self.act_loop.isChecked() else None)

    def stop(self) -> None:
        if hasattr(self, "player"):
            self.player.stop()

    def _player_position(self, t: float) -> None:
        self.roll.set_playhead(t)
        self.spectrogram.set_playhead(t)
        x0, x1 = self.roll.vb.viewRange()[0]
        if t > x1 or t < x0:  # page along with the music
            self.roll.vb.setXRange(t, t + (x1 - x0), padding=0)

    def _player_state(self, text: str) -> None:
        self.playback_label.setText(text)

    def choose_soundfont(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "SoundFont", self.settings.soundfont_path or "/usr/share/sounds", "SoundFont (*.sf2 *.sf3)")
        if path:
            self._set_setting("soundfont_path", path)
            self.player.invalidate()
            # Asking PortAudio for devices can take a moment: do it after the window is on screen.
        QTimer.singleShot(150, lambda: self.playback_label.setText(self.player.status_text()))

    def _fill_device_menu(self) -> None:
        self.device_menu.clear()
        group = QActionGroup(self.device_menu)
        devices = self.player.output_devices()
        if not devices:
            act = self.device_menu.addAction("No audio output device found")
            act.setEnabled(False)
            return
        for name in ["", *devices]:
            act = self.device_menu.addAction(name or "System default")
            act.setCheckable(True)
            act.setChecked(self.settings.audio_device == name)
            act.triggered.connect(lambda _c=False, n=name: self._set_setting("audio_device", n))
            group.addAction(act)

    # --- settings, theme, autosave ------------------------------------------------------------------------
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

    def autosave_now(self) -> Path | None:
        if self.undo_stack.isClean() and not self.project.modified:
            return None
        try:
            from musestudio.core import autosave
        except ImportError:
            return None
        try:
            self._capture_view()
            return autosave.write_recovery(self.project)
        except Exception as exc:  # autosave must never interrupt work
            log.warning("autosave failed: %s", exc)
            self.show_status(f"Autosave failed: {one_line_error(exc)}")
            return None

    def offer_recovery(self) -> bool:
        """At start: if a crash left a recovery snapshot, offer to restore it."""
        try:
            from musestudio.core import autosave
        except ImportError:
            return False
        try:
            found = autosave.find_recovery()
            if found is None:
                return False
            if not self.ask("musestudio did not close cleanly last time. Restore the unsaved work?", "Recover work"):
                autosave.clear_recovery()
                return False
            project = autosave.load_recovery(found)
            self.set_project(project)
            project.modified = True
            self._update_title()
            autosave.clear_recovery()
            self.show_status("Restored the work from the last session")
            return True
        except Exception as exc:
            self.show_error(f"Could not restore the last session: {one_line_error(exc)}")
            return False

    def closeEvent(self, ev: QCloseEvent) -> None:  # noqa: N802
        dirty = not self.undo_stack.isClean() and bool(self.project.layers)
        if dirty and self.interactive:
            answer = QMessageBox.question(
                self, "musestudio", "Save the changes to this project before closing?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            )
            if answer == QMessageBox.StandardButton.Cancel or (
                answer == QMessageBox.StandardButton.Save and not self.save_project()
            ):
                ev.ignore()
                return
        self.cancel_work()
        self.stop()
        if self.interactive:  # screenshot/test windows leave the user's layout and recovery file alone
            self.save_layout()
            try:
                from musestudio.core import autosave

                autosave.clear_recovery()
            except Exception:
                pass
        ev.accept()
