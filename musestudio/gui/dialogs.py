"""The main window's dialogs (a mixin of MainWindow): questions the controllers ask, file choosers.

Controllers never open a dialog themselves; they call these methods on the
window (``DocumentUI`` in ``controllers/document.py``), so tests can answer
them, and a non-interactive window (screenshots, tests) never blocks.
Message boxes that only inform are opened window-modal with ``open()``,
without a nested event loop.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QFileDialog, QMessageBox

OPEN_FILTER = (
    "Music files (*.mid *.midi *.kar *.musicxml *.xml *.mxl *.wav *.flac *.ogg *.mp3 *.aif *.aiff *.msproj);;"
    "MIDI (*.mid *.midi *.kar);;MusicXML (*.musicxml *.xml *.mxl);;Audio (*.wav *.flac *.ogg *.mp3 *.aif *.aiff);;"
    "musestudio project (*.msproj);;All files (*)"
)
EXPORT_FILTER = "MIDI (*.mid);;MusicXML (*.musicxml);;WAV audio (*.wav)"


class DialogsMixin:
    """Questions and file choosers of :class:`~musestudio.gui.main_window.MainWindow` (``self`` is the window)."""

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
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal without a nested event loop

    def show_status(self, message: str) -> None:
        self.status_label.setText(message)

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
