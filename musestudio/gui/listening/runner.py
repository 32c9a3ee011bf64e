"""The participant's window: one participant after another on the same machine.

It shows a piece number and nothing else about a clip: no category, no file
name, no earlier answers.  Every answer is committed to SQLite before the next
clip appears, so closing the window (or a crash) loses at most the clip on
screen, and the participant picks up there with their anonymous ID.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from musestudio.core.errors import MusestudioError
from musestudio.gui.listening.player import ClipPlayer
from musestudio.listening.manifest import (
    DIMENSION_HELP,
    DIMENSION_LABELS,
    DIMENSIONS,
    MOS_LABELS,
    MOS_MAX,
    MOS_MIN,
    ListeningManifest,
    load_manifest,
)
from musestudio.listening.store import Answer, ResultsStore, Session

WELCOME = (
    "You will hear a number of short piano pieces. Some were played by people, some were made by a computer. "
    "Listen to each piece to the end, then rate it on four scales from 1 (poor) to 5 (excellent) and say "
    "whether you think a human or an AI made it. There are no right or wrong ratings."
)


class ParticipantWindow(QWidget):
    """Start or resume a session, answer clip after clip, thank the participant."""

    session_finished = Signal(str)

    def __init__(self, folder: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.folder = Path(folder)
        self.manifest: ListeningManifest = load_manifest(self.folder)
        self.store = ResultsStore.for_test(self.folder)
        self.session: Session | None = None
        self.position = 0
        self.heard = False
        self.player = ClipPlayer(self)
        self.setWindowTitle(f"{self.manifest.title} – listening test")
        self.pages = QStackedWidget()
        self.pages.addWidget(self._start_page())
        self.pages.addWidget(self._clip_page())
        self.pages.addWidget(self._end_page())
        lay = QVBoxLayout(self)
        lay.addWidget(self.pages)
        self.player.position_changed.connect(self._on_position)
        self.player.finished.connect(self._on_heard)
        self.show_start()

    # --- pages ------------------------------------------------------------------------------------
    def _start_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        title = QLabel(f"<h2>{self.manifest.title}</h2>")
        text = QLabel(WELCOME)
        text.setWordWrap(True)
        self.start_button = QPushButton("Start as a new participant")
        self.start_button.setObjectName("start-new")
        self.start_button.clicked.connect(self.start_new)
        resume_box = QGroupBox("Continue an interrupted session")
        rl = QHBoxLayout(resume_box)
        self.resume_combo = QComboBox()
        self.resume_button = QPushButton("Continue")
        self.resume_button.clicked.connect(self.resume_selected)
        rl.addWidget(self.resume_combo, 1)
        rl.addWidget(self.resume_button)
        self.resume_box = resume_box
        lay.addWidget(title)
        lay.addWidget(text)
        lay.addSpacing(12)
        lay.addWidget(self.start_button)
        lay.addWidget(resume_box)
        lay.addStretch(1)
        return page

    def _clip_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("progress")
        lay.addWidget(self.progress_label)
        row = QHBoxLayout()
        self.play_button = QPushButton("▶ Play")
        self.play_button.clicked.connect(self.toggle_play)
        self.export_button = QPushButton("Export audio…")
        self.export_button.setToolTip("Save this piece as a WAV file to listen in another player")
        self.export_button.clicked.connect(self.export_audio)
        self.play_bar = QProgressBar()
        self.play_bar.setTextVisible(False)
        self.play_bar.setRange(0, 1000)
        row.addWidget(self.play_button)
        row.addWidget(self.play_bar, 1)
        row.addWidget(self.export_button)
        lay.addLayout(row)
        self.sound_note = QLabel()
        self.sound_note.setWordWrap(True)
        lay.addWidget(self.sound_note)
        grid = QGridLayout()
        self.sliders: dict[str, QSlider] = {}
        self.slider_values: dict[str, QLabel] = {}
        for i, dim in enumerate(DIMENSIONS):
            name = QLabel(f"<b>{DIMENSION_LABELS[dim]}</b>")
            name.setToolTip(DIMENSION_HELP[dim])
            helptext = QLabel(DIMENSION_HELP[dim])
            helptext.setStyleSheet("color: palette(mid);")
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(MOS_MIN, MOS_MAX)
            slider.setTickPosition(QSlider.TickPosition.TicksBelow)
            slider.setPageStep(1)
            slider.setObjectName(f"rate-{dim}")
            value = QLabel()
            value.setMinimumWidth(90)
            slider.valueChanged.connect(lambda v, lab=value: lab.setText(MOS_LABELS[v]))
            grid.addWidget(name, 2 * i, 0)
            grid.addWidget(helptext, 2 * i, 1, 1, 2)
            grid.addWidget(slider, 2 * i + 1, 0, 1, 2)
            grid.addWidget(value, 2 * i + 1, 2)
            self.sliders[dim] = slider
            self.slider_values[dim] = value
        lay.addLayout(grid)
        who = QGroupBox("Who made this piece?")
        wl = QHBoxLayout(who)
        self.human_radio = QRadioButton("A human")
        self.ai_radio = QRadioButton("An AI")
        self.who_group = QButtonGroup(self)
        self.who_group.addButton(self.human_radio)
        self.who_group.addButton(self.ai_radio)
        self.who_group.buttonToggled.connect(lambda *_: self._update_next())
        wl.addWidget(self.human_radio)
        wl.addWidget(self.ai_radio)
        wl.addStretch(1)
        lay.addWidget(who)
        lay.addWidget(QLabel("Comment (optional):"))
        self.comment = QPlainTextEdit()
        self.comment.setMaximumHeight(80)
        lay.addWidget(self.comment)
        buttons = QHBoxLayout()
        self.pause_button = QPushButton("Pause (continue later)")
        self.pause_button.clicked.connect(self.close)
        self.next_button = QPushButton("Next")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.submit)
        buttons.addWidget(self.pause_button)
        buttons.addStretch(1)
        buttons.addWidget(self.next_button)
        lay.addLayout(buttons)
        return page

    def _end_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.end_label = QLabel()
        self.end_label.setWordWrap(True)
        again = QPushButton("Next participant")
        again.clicked.connect(self.show_start)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        lay.addWidget(self.end_label)
        lay.addWidget(again)
        lay.addWidget(close)
        lay.addStretch(1)
        return page

    # --- flow -------------------------------------------------------------------------------------
    def show_start(self) -> None:
        self.session = None
        self.resume_combo.clear()
        for s in self.store.unfinished_sessions():
            if s.source == "app":
                self.resume_combo.addItem(f"{s.participant} (piece {s.answered + 1} of {len(s.plan)})", s.session_id)
        self.resume_box.setVisible(self.resume_combo.count() > 0)
        self.pages.setCurrentIndex(0)

    def start_new(self) -> None:
        self.session = self.store.start_session(self.manifest)
        self.position = 0
        self.show_clip()

    def resume_selected(self) -> None:
        sid = self.resume_combo.currentData()
        if sid:
            self.resume(sid)

    def resume(self, session_id: str) -> None:
        self.session = self.store.session(session_id)
        self.position = self.session.next_position
        self.show_clip()

    def show_clip(self) -> None:
        assert self.session is not None
        if self.position >= len(self.session.plan):
            self.show_end()
            return
        from musestudio.listening.audio import decode

        clip = self.manifest.clip(self.session.plan[self.position])
        samples, rate = decode((self.folder / clip.file).read_bytes())
        self.player.load(samples, rate)
        self.heard = False
        self.progress_label.setText(
            f"<b>Piece {self.position + 1} of {len(self.session.plan)}</b> (participant {self.session.participant}: "
            "note this ID to continue later)"
        )
        for dim in DIMENSIONS:
            self.sliders[dim].setValue(3)
            self.slider_values[dim].setText(MOS_LABELS[3])
        self.who_group.setExclusive(False)
        self.human_radio.setChecked(False)
        self.ai_radio.setChecked(False)
        self.who_group.setExclusive(True)
        self.comment.clear()
        self.play_bar.setValue(0)
        self.play_button.setText("▶ Play")
        ok, reason = self.player.available()
        self.sound_note.setText("" if ok else f"No sound device here ({reason}). Use Export audio and listen in "
                                              "another player, then answer.")
        self._update_next()
        self.pages.setCurrentIndex(1)

    def show_end(self) -> None:
        assert self.session is not None
        self.player.stop()
        self.end_label.setText(f"<h2>Thank you!</h2><p>All {len(self.session.plan)} answers of participant "
                               f"{self.session.participant} are saved.</p>")
        self.session_finished.emit(self.session.session_id)
        self.pages.setCurrentIndex(2)

    def toggle_play(self) -> None:
        if self.player.playing:
            self.player.stop()
            self.play_button.setText("▶ Play")
            return
        why = self.player.play()
        if why:
            self.sound_note.setText(why)
        else:
            self.play_button.setText("■ Stop")

    def _ask_export_path(self) -> str:
        path, _ = QFileDialog.getSaveFileName(self, "Export audio", str(Path.home() / f"piece-{self.position + 1}.wav"),
                                              "WAV audio (*.wav)")
        return path

    def export_audio(self) -> None:
        assert self.session is not None
        path = self._ask_export_path()
        if not path:
            return
        from musestudio.io.audio import write_wav
        from musestudio.listening.audio import decode

        clip = self.manifest.clip(self.session.plan[self.position])
        samples, rate = decode((self.folder / clip.file).read_bytes())
        try:
            write_wav(path, samples, rate)
        except MusestudioError as exc:
            QMessageBox.warning(self, "Export audio", str(exc))
            return
        self.sound_note.setText(f"Saved as {path}. Listen to it, then answer.")
        self._on_heard()

    def _on_position(self, t: float, total: float) -> None:
        self.play_bar.setValue(int(1000 * t / total) if total else 0)

    def _on_heard(self) -> None:
        self.heard = True
        self.play_button.setText("▶ Play")
        self._update_next()

    def _update_next(self) -> None:
        chosen = self.human_radio.isChecked() or self.ai_radio.isChecked()
        self.next_button.setEnabled(self.heard and chosen)
        self.next_button.setToolTip("" if self.heard else "Listen to the whole piece first")

    def submit(self) -> None:
        if self.session is None or not self.next_button.isEnabled():
            return
        self.player.stop()
        answer = Answer(
            clip_id=self.session.plan[self.position],
            ratings={d: int(self.sliders[d].value()) for d in DIMENSIONS},
            judged_human=self.human_radio.isChecked(),
            comment=self.comment.toPlainText()[:4000],
            listened_seconds=round(self.player.max_heard, 1),
        )
        try:
            self.store.record_answer(self.session.session_id, self.position, answer)
        except MusestudioError as exc:
            QMessageBox.warning(self, "Listening test", str(exc))
            return
        self.position += 1
        self.show_clip()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.player.stop()  # every answer is already committed: closing only pauses the session
        super().closeEvent(event)
