"""The main window: builds the widgets and wires them to the controllers; it holds no domain logic.

* the document (:class:`~musestudio.core.project.Project`) is Qt-free and evented;
  :class:`~musestudio.gui.controllers.bindings.ViewBinder` redraws views when it changes;
* :class:`~musestudio.gui.controllers.document.DocumentController` — files, autosave, recovery;
* :class:`~musestudio.gui.controllers.edit.EditController` — every undoable edit;
* :class:`~musestudio.gui.controllers.jobs.JobManager` — work in threads, per-job progress and Cancel;
* :class:`~musestudio.gui.controllers.transport.Transport` — playhead and play/stop/loop;
* :class:`~musestudio.gui.controllers.actions.ActionRegistry` — menus and user-editable shortcuts.

The window also implements the dialogs the controllers ask for (``ask_*``) and
the :class:`~musestudio.gui.panels.PanelContext` side for the feature panels.
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
from PySide6.QtGui import QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.progress import CancelToken, Work
from musestudio.core.project import Layer, Project
from musestudio.gui.controllers.actions import ActionRegistry, ShortcutsDialog
from musestudio.gui.controllers.bindings import ViewBinder
from musestudio.gui.controllers.document import DocumentController
from musestudio.gui.controllers.edit import EditController
from musestudio.gui.controllers.jobs import JobHandle, JobManager
from musestudio.gui.controllers.transport import Transport
from musestudio.gui.layers_panel import LayersPanel
from musestudio.gui.panels import PanelContext, load_panel_classes
from musestudio.gui.pianoroll.velocity_lane import VelocityLane
from musestudio.gui.pianoroll.view import PianoRoll
from musestudio.gui.playback import Player
from musestudio.gui.resources import resource_path
from musestudio.gui.settings import AppSettings, load_settings, open_qsettings, save_settings
from musestudio.gui.spectrogram_view import SpectrogramView
from musestudio.gui.theme import apply_theme
from musestudio.gui.worker import one_line_error

log = logging.getLogger(__name__)

OPEN_FILTER = (
    "Music files (*.mid *.midi *.kar *.musicxml *.xml *.mxl *.wav *.flac *.ogg *.mp3 *.aif *.aiff *.msproj);;"
    "MIDI (*.mid *.midi *.kar);;MusicXML (*.musicxml *.xml *.mxl);;Audio (*.wav *.flac *.ogg *.mp3 *.aif *.aiff);;"
    "musestudio project (*.msproj);;All files (*)"
)
EXPORT_FILTER = "MIDI (*.mid);;MusicXML (*.musicxml);;WAV audio (*.wav)"
GRID_CHOICES = (("no snap", 0.0), ("1 beat", 1.0), ("1/2 beat", 0.5), ("1/4 beat", 0.25), ("1/8 beat", 0.125), ("triplet", 1 / 3))


class MainWindow(QMainWindow):
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

    @property
    def project(self) -> Project:
        return self.documents.project

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

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey  # noqa: N806
        a, r, e, d, t = self.registry.add, self.roll, self.edits, self.documents, self.transport
        a("new", "&New Project", d.new, K.New, "Start an empty project")
        a("open", "&Open...", self.open_dialog, K.Open, "Open MIDI, MusicXML, audio or a project (replaces the project)")
        a("import", "&Import as Layer...", self.import_dialog, "Ctrl+Shift+I", "Add a file's notes to this project as a layer")
        a("attach_audio", "Attach &Audio...", self.attach_audio_dialog, None, "Attach an audio file to this project")
        a("close_project", "&Close Project", d.close_project, K.Close, "Close the project (asks to save)")
        a("save", "&Save Project", d.save, K.Save, "Save the project (.msproj)")
        a("save_as", "Save Project &As...", d.save_as, K.SaveAs)
        a("export", "&Export Selected Layers...", self.export_dialog, "Ctrl+E", "Export layers to MIDI (one track each), MusicXML or WAV")
        a("quit", "&Quit", self.close, K.Quit)
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        a("undo", "&Undo", None, K.Undo, action=undo)
        a("redo", "&Redo", None, ["Ctrl+Y", "Ctrl+Shift+Z"], action=redo)
        a("copy", "&Copy Notes", e.copy, K.Copy, "Copy the selected notes")
        a("cut", "Cu&t Notes", e.cut, K.Cut, "Cut the selected notes")
        a("paste", "&Paste Notes", lambda: e.paste(), K.Paste,  # noqa: PLW0108 - triggered(bool) must not become `at`
           "Paste notes at the playhead (snapped to the grid)")
        a("select_all", "Select &All Notes", r.select_all, K.SelectAll)
        a("delete", "&Delete Notes", e.delete_selected, [K.Delete, "Backspace"])
        a("quantize", "&Quantize", e.quantize_selected, "Q", "Snap the selected notes (or all) to the grid")
        a("transpose_up", "Transpose Up", lambda: e.transpose_selected(1), "Ctrl+Up")
        a("transpose_down", "Transpose Down", lambda: e.transpose_selected(-1), "Ctrl+Down")
        a("octave_up", "Octave Up", lambda: e.transpose_selected(12), "Ctrl+Shift+Up")
        a("octave_down", "Octave Down", lambda: e.transpose_selected(-12), "Ctrl+Shift+Down")
        a("new_layer", "New Empty Layer", e.new_empty_layer, "Ctrl+L")
        a("set_tempo", "Set &Tempo...", self.set_tempo_dialog, None, "Set a constant tempo and metre for the project (undoable)")
        a("detect_tempo", "&Detect Tempo", self.detect_tempo, "Ctrl+T", "Find beats, bars and metre in the current layer")
        a("shortcuts", "&Keyboard Shortcuts...", self.shortcuts_dialog, None, "Change the keyboard shortcuts")
        a("zoom_in", "Zoom In", lambda: r.zoom_time(0.7), ["+", "="])
        a("zoom_out", "Zoom Out", lambda: r.zoom_time(1 / 0.7), "-")
        a("fit", "Zoom to Fit", r.zoom_to_fit, "F")
        a("scroll_left", "Scroll Left", lambda: r.scroll_time(-0.25), "Left")
        a("scroll_right", "Scroll Right", lambda: r.scroll_time(0.25), "Right")
        a("play", "&Play / Stop", t.toggle, "Space", "Play the audible layers (and the audio)")
        a("stop", "Stop", t.stop, "Esc")
        a("loop", "&Loop Selection", None, "L", "Loop the time range selected on the ruler", checkable=True)
        a("home", "Playhead to Start", t.to_start, "Home")
        a("soundfont", "Choose &SoundFont...", self.choose_soundfont)
        a("show_spectrogram", "Show &Spectrogram", None, "Ctrl+G", checkable=True)
        a("listening", "&Listening Test...", self.open_listening_test, None, "Blind listening test of the models")
        # Names the tests and panels know.
        self.act_open, self.act_save, self.act_export = self.registry["open"], self.registry["save"], self.registry["export"]
        self.act_undo, self.act_redo = undo, redo
        self.act_quantize, self.act_delete, self.act_loop = self.registry["quantize"], self.registry["delete"], self.registry["loop"]
        self.act_show_spec = self.registry["show_spectrogram"]
        self.act_show_spec.toggled.connect(self.spectrogram.setVisible)

    def _build_toolbar(self) -> None:
        A = self.registry  # noqa: N806
        tb = QToolBar("Main", self)
        tb.setObjectName("toolbar_main")
        self.addToolBar(tb)
        for name in ("open", "save", "export"):
            tb.addAction(A[name])
        tb.addSeparator()
        undo = tb.addAction(self.style().standardIcon(QStyle.StandardPixmap.SP_ArrowBack), "Undo", self.undo_stack.undo)
        redo = tb.addAction(self.style().standardIcon(QStyle.StandardPixmap.SP_ArrowForward), "Redo", self.undo_stack.redo)
        undo.setToolTip("Undo")
        redo.setToolTip("Redo")
        undo.setEnabled(False)
        redo.setEnabled(False)
        self.undo_stack.canUndoChanged.connect(undo.setEnabled)
        self.undo_stack.canRedoChanged.connect(redo.setEnabled)
        tb.addSeparator()
        tb.addAction(A["play"])
        tb.addAction(A["loop"])
        tb.addSeparator()
        tb.addWidget(QLabel(" Grid "))
        self.grid_combo = QComboBox()
        for label, beats in GRID_CHOICES:
            self.grid_combo.addItem(label, beats)
        self.grid_combo.setCurrentIndex(3)
        self.grid_combo.setToolTip("Snap grid for adding, moving and quantizing notes (in beats of the project's tempo map)")
        tb.addWidget(self.grid_combo)
        for name in ("quantize", "transpose_down", "transpose_up"):
            tb.addAction(A[name])
        tb.addWidget(QLabel(" Velocity "))
        self.velocity_spin = QSpinBox()
        self.velocity_spin.setRange(1, 127)
        self.velocity_spin.setValue(80)
        self.velocity_spin.setToolTip("Velocity of the selected notes (and of new notes)")
        self.velocity_spin.editingFinished.connect(self.apply_velocity)
        tb.addWidget(self.velocity_spin)
        self.toolbar = tb

    def _menu(self, title: str, names: list[str | None]) -> QMenu:
        menu = self.menuBar().addMenu(title)
        for name in names:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(self.registry[name])
        return menu

    def _build_menus(self) -> None:
        m = self._menu("&File", ["new", "open"])
        self.recent_menu = m.addMenu("Open &Recent")
        for name in ("import", "attach_audio", None, "save", "save_as", "export", None, "close_project", "quit"):
            m.addSeparator() if name is None else m.addAction(self.registry[name])
        self._menu("&Edit", ["undo", "redo", None, "cut", "copy", "paste", "select_all", "delete", None, "quantize",
                             "transpose_up", "transpose_down", "octave_up", "octave_down", None, "new_layer", None,
                             "set_tempo", None, "shortcuts"])
        m = self._menu("&View", ["zoom_in", "zoom_out", "fit", None, "show_spectrogram"])
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
        self._menu("&Play", ["play", "stop", "loop", "home"])
        tools = self._menu("&Tools", ["detect_tempo"])
        if self._listening_module() is not None:
            tools.addAction(self.registry["listening"])
        m = self._menu("&Settings", ["soundfont"])
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
        m.addAction(self.registry["shortcuts"])
        self._fill_recent_menu()

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

    # --- the project ---------------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        """Replace the document (no questions asked; File > New/Open ask first)."""
        self.documents.set_project(project)

    def _project_replaced(self, project: Project) -> None:
        self.transport.stop()
        self.edits.set_project(project)
        self.binder.bind(project)
        self.roll.set_project(project)
        self.layers_panel.set_project(project)
        self.spectrogram.clear()
        self.spectrogram.set_project(project)
        self.act_show_spec.setChecked(bool(project.audio_path))
        self.binder._timing()
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

    # --- dialogs the controllers ask for --------------------------------------------------------
    def ask(self, question: str, title: str = "musestudio") -> bool:
        """Yes/No question (tests monkeypatch this); never asked when not interactive."""
        if not self.interactive:
            return False
        return QMessageBox.question(self, title, question) == QMessageBox.StandardButton.Yes

    def ask_save_changes(self, name: str) -> str:
        if not self.interactive:
            return "discard"
        B = QMessageBox.StandardButton  # noqa: N806
        answer = QMessageBox.question(self, "musestudio", f"Save the changes to {name} before closing it?",
                                      B.Save | B.Discard | B.Cancel)
        return {B.Save: "save", B.Discard: "discard"}.get(answer, "cancel")

    def ask_open_mode(self, name: str, audio: bool) -> str:
        if not self.interactive:
            return "new"
        box = QMessageBox(QMessageBox.Icon.Question, "musestudio",
                          f"Attach {name} to this project, or open it as a new project?", parent=self)
        attach = box.addButton("Attach to This Project" if audio else "Add as Layer", QMessageBox.ButtonRole.AcceptRole)
        new = box.addButton("Open as New Project", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return "add" if box.clickedButton() is attach else "new" if box.clickedButton() is new else "cancel"

    def choose_save_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Save Project", self._last_folder(), "musestudio project (*.msproj)")
        return path or None

    def show_error(self, message: str) -> None:
        self._error_dialog(message, "")

    def _job_failed(self, message: str, details: str) -> None:
        if details:  # a bug: offer the traceback under "Show Details"
            self._error_dialog(message, details)
        else:
            self.show_error(message)

    def _error_dialog(self, message: str, details: str) -> None:
        self.show_status(message)
        if not self.interactive:
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "musestudio", message, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.open()  # window-modal without a nested event loop

    def show_status(self, message: str) -> None:
        self.status_label.setText(message)

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
    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open", self._last_folder(), OPEN_FILTER)
        self.open_files(paths)

    def import_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import as Layer", self._last_folder(), OPEN_FILTER)
        self.open_files(paths, first_mode="add")

    def attach_audio_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Attach Audio", self._last_folder(),
                                              "Audio (*.wav *.flac *.ogg *.mp3 *.aif *.aiff)")
        if path:
            self.documents.open(path, mode="add")

    def open_files(self, paths: list[str], first_mode: str | None = None) -> None:
        """Open the first file (replacing the project unless ``first_mode`` says "add"); import the rest."""
        queue = list(paths)

        def next_one(ok: bool = True, mode: str | None = first_mode) -> None:
            if ok and queue:
                self.documents.open(queue.pop(0), mode=mode, on_finished=lambda o: next_one(o, "add"))

        next_one()

    def open_path(self, path: str | os.PathLike[str], *, mode: str | None = None) -> bool:
        """Open and wait (scripts, tests, --screenshot); never raises."""
        return self.documents.open_and_wait(path, mode=mode)

    def import_path(self, path: str | os.PathLike[str]) -> bool:
        return self.documents.open_and_wait(path, mode="add")

    def save_project(self) -> bool:
        return self.documents.save()

    def _save_to(self, path: Path) -> bool:
        return self.documents.save_to(Path(path))

    def _last_folder(self) -> str:
        for r in self.settings.recent_files:
            if Path(r).parent.is_dir():
                return str(Path(r).parent)
        return str(Path.home())

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for r in self.settings.recent_files:
            act = self.recent_menu.addAction(Path(r).name)
            act.setToolTip(r)
            act.setStatusTip(r)
            act.triggered.connect(lambda _c=False, p=r: self.documents.open(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    def export_dialog(self) -> None:
        layers = self.selected_layers() or ([self.current_layer()] if self.current_layer() else [])
        if not layers:
            self.show_error("Nothing to export: the project has no layers.")
            return
        stem = layers[0].name if len(layers) == 1 else "layers"
        from musestudio.gui.layers_panel import safe_file_stem

        start = str(Path(self._last_folder()) / f"{safe_file_stem(stem)}.mid")
        # Qt's own dialog asks before overwriting; export asks again only when called directly.
        path, chosen = QFileDialog.getSaveFileName(self, "Export Layers", start, EXPORT_FILTER)
        if not path:
            return
        if not Path(path).suffix:
            path += {"MIDI": ".mid", "MusicXML": ".musicxml", "WAV": ".wav"}.get(chosen.split(" ")[0], ".mid")
        self.documents.export(path, [layer.id for layer in layers], confirmed=True)

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
        QTimer.singleShot(0, lambda: self.open_files(paths))

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

    def _context_menu(self, screen_pos: Any, t: float, pitch: float) -> None:
        menu = QMenu(self)
        add = menu.addAction("Add Note Here")
        add.triggered.connect(lambda: self.edits.add_note(int(round(pitch)), t))
        playhead = menu.addAction("Move Playhead Here")
        playhead.triggered.connect(lambda: self.transport.seek(max(0.0, t)))
        paste = menu.addAction("Paste Notes Here")
        paste.triggered.connect(lambda: self.edits.paste(max(0.0, t)))
        menu.addSeparator()
        for name in ("cut", "copy", "delete", "quantize", "transpose_up", "transpose_down", "octave_up", "octave_down"):
            menu.addAction(self.registry[name])
        menu.addSeparator()
        menu.addAction(self.registry["select_all"])
        menu.addAction(self.registry["fit"])
        self._last_menu = menu  # tests inspect it
        if self.interactive:
            menu.popup(screen_pos)

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

    # --- tempo --------------------------------------------------------------------------------------
    def set_tempo_dialog(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        timing = self.project.timing()
        qpm, ok = QInputDialog.getDouble(self, "Set Tempo", "Quarter notes per minute:",
                                         timing.tempo_map.initial_qpm, 20.0, 400.0, 1)
        if not ok:
            return
        ts = timing.time_signature
        text, ok = QInputDialog.getText(self, "Set Tempo", "Time signature:", text=f"{ts.numerator}/{ts.denominator}")
        if not ok:
            return
        try:
            num, den = (int(x) for x in text.strip().split("/"))
            if num < 1 or den not in (1, 2, 4, 8, 16, 32):
                raise ValueError
        except ValueError:
            self.show_error(f"A time signature looks like 3/4 or 6/8, not {text!r}")
            return
        self.edits.set_constant_tempo(qpm, num, den)

    def detect_tempo(self) -> JobHandle | None:
        """Tools > Detect Tempo: beats, bars and metre of the current layer, in a job; applying it is one undo step."""
        layer = self.current_layer()
        if layer is None or len(layer.sequence) == 0:
            self.show_error("Detect Tempo needs a layer with notes: open a file or select a layer.")
            return None
        seq = layer.sequence
        project = self.project

        def work() -> Work[Any]:
            from musestudio.core.progress import Progress
            from musestudio.ml.beats import analyze

            yield Progress(0, 1, f"finding the beat of '{layer.name}'")
            analysis = analyze(seq)
            yield Progress(1, 1, "")
            return analysis

        def done(analysis: Any) -> None:
            if self.project is not project:  # the project was replaced meanwhile
                return
            self.edits.set_timing(analysis.tempo_map, list(analysis.time_signatures),
                                  list(analysis.key_signatures), text=f"detect tempo of '{layer.name}'")
            ts = self.project.timing().time_signature
            self.show_status(f"Tempo {analysis.tempo_map.initial_qpm:.0f} qpm, {ts.numerator}/{ts.denominator}, "
                             f"{len(analysis.beats)} beats (Undo restores the old tempo map)")

        return self.jobs.start(work(), done, label="Detecting tempo")

    # --- tools ----------------------------------------------------------------------------------------
    @staticmethod
    def _listening_module() -> Any:
        import importlib.util

        try:
            if importlib.util.find_spec("musestudio.gui.listening") is None:
                return None
        except (ImportError, ValueError):
            return None
        return "musestudio.gui.listening"

    def open_listening_test(self) -> None:
        try:
            import importlib

            module = importlib.import_module("musestudio.gui.listening")
            module.open_listening_window(self)
        except Exception as exc:  # a missing or broken optional tool must not take the app down
            self.show_error(f"The listening test cannot start: {one_line_error(exc)}")

    def shortcuts_dialog(self) -> None:
        dialog = ShortcutsDialog(self.registry, self)
        dialog.open()

    # --- playback ----------------------------------------------------------------------------------
    def set_playhead(self, t: float) -> None:
        self.transport.seek(t)

    def toggle_play(self) -> None:
        self.transport.toggle()

    def stop(self) -> None:
        if hasattr(self, "transport"):
            self.transport.stop()

    def choose_soundfont(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "SoundFont", self.settings.soundfont_path or "/usr/share/sounds",
                                              "SoundFont (*.sf2 *.sf3)")
        if path:
            self._set_setting("soundfont_path", path)
            self.player.invalidate()
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
        self.jobs.cancel_all()
        self.stop()
        if self.interactive:  # screenshot/test windows leave the user's layout alone
            self.save_layout()
        self.documents.shutdown()  # a clean exit: this instance's snapshot and lock go
        ev.accept()
