"""The main window's actions, toolbar, menus and context menu (a mixin of MainWindow).

Every command is registered once in the ActionRegistry under a stable id, so
its shortcut (which users can change: Edit > Keyboard Shortcuts…) is the same
in the menus, the toolbar and the piano roll's context menu.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QSpinBox, QStyle, QToolBar

from musestudio.gui.controllers.actions import ShortcutsDialog
from musestudio.gui.worker import one_line_error

GRID_CHOICES = (("no snap", 0.0), ("1 beat", 1.0), ("1/2 beat", 0.5), ("1/4 beat", 0.25), ("1/8 beat", 0.125), ("triplet", 1 / 3))


class MenusMixin:
    """Builds the commands of :class:`~musestudio.gui.main_window.MainWindow` (``self`` is the window)."""

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
