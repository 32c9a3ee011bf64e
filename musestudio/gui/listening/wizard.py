"""A wizard that builds a listening test: sources, clip settings, then the build with progress and Cancel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from musestudio.core.errors import MusestudioError
from musestudio.core.progress import CancelToken, Progress
from musestudio.listening.build import CONTINUATION_MODELS, BuildSettings, Source, file_sources, seed_sources
from musestudio.listening.manifest import category_label


def _browse_row(line: QLineEdit, pick) -> QWidget:  # type: ignore[no-untyped-def]
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    button = QPushButton("Browse…")
    button.clicked.connect(pick)
    lay.addWidget(line, 1)
    lay.addWidget(button)
    return box


class SourcesPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("What the participants hear")
        self.setSubTitle("Seeds continued by models (heard together with their seed), the seeds' true human "
                         "continuations, and any MIDI or audio files in categories you name.")
        form = QFormLayout(self)
        self.seeds = QLineEdit()
        self.seeds.setPlaceholderText("folder of MIDI files")
        form.addRow("Seed folder:", _browse_row(self.seeds, self._pick_seeds))
        self.n = QSpinBox()
        self.n.setRange(1, 200)
        self.n.setValue(10)
        form.addRow("Seed files (clips per category):", self.n)
        models = QWidget()
        ml = QHBoxLayout(models)
        ml.setContentsMargins(0, 0, 0, 0)
        self.model_boxes: dict[str, QCheckBox] = {}
        for m in CONTINUATION_MODELS:
            box = QCheckBox(category_label(m))
            box.setChecked(m != "markov")
            self.model_boxes[m] = box
            ml.addWidget(box)
        form.addRow("Models:", models)
        self.human = QCheckBox("the seeds' true continuations (category Human)")
        self.human.setChecked(True)
        form.addRow("Human:", self.human)
        self.files = QListWidget()
        self.files.setMaximumHeight(90)
        add_row = QWidget()
        al = QHBoxLayout(add_row)
        al.setContentsMargins(0, 0, 0, 0)
        self.file_category = QComboBox()
        self.file_category.setEditable(True)
        self.file_category.addItems(["human", *CONTINUATION_MODELS])
        add = QPushButton("Add files…")
        add.clicked.connect(self._add_files)
        al.addWidget(QLabel("category"))
        al.addWidget(self.file_category, 1)
        al.addWidget(add)
        form.addRow("Other files:", self.files)
        form.addRow("", add_row)

    def _pick_seeds(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Seed folder", self.seeds.text() or str(Path.home()))
        if path:
            self.seeds.setText(path)

    def _add_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add files", str(Path.home()),
                                                "Music (*.mid *.midi *.musicxml *.mxl *.xml *.wav *.flac *.ogg *.mp3)")
        for f in files:
            self.add_file(self.file_category.currentText(), f)

    def add_file(self, category: str, path: str) -> None:
        self.files.addItem(f"{category.strip().lower()}={path}")

    def sources(self) -> list[Source]:
        from musestudio.core.errors import InputFileError
        from musestudio.metrics.report import seed_files

        out: list[Source] = []
        folder = self.seeds.text().strip()
        if folder:
            if not Path(folder).is_dir():
                raise InputFileError(folder, "not a folder")
            files = seed_files(Path(folder), self.n.value())
            if not files:
                raise InputFileError(folder, "holds no MIDI files (.mid, .midi)")
            models = [m for m, box in self.model_boxes.items() if box.isChecked()]
            out += seed_sources(files, models, human=self.human.isChecked())
        out += file_sources([self.files.item(i).text() for i in range(self.files.count())])
        return out

    def validatePage(self) -> bool:  # noqa: N802 (Qt's name)
        try:
            if not self.sources():
                raise MusestudioError("choose a seed folder or add files")
        except MusestudioError as exc:
            self.setSubTitle(f"⚠ {exc}")
            return False
        return True


class SettingsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Clips")
        self.setSubTitle("Every clip lasts seed + continuation and is brought to the same loudness.")
        form = QFormLayout(self)
        self.title = QLineEdit("Listening test")
        self.title.setToolTip("Shown to participants: say nothing about where the clips come from")
        form.addRow("Title:", self.title)
        self.seed_seconds = QDoubleSpinBox()
        self.seed_seconds.setRange(0.5, 120)
        self.seed_seconds.setValue(10)
        self.seed_seconds.setSuffix(" s")
        form.addRow("Seed length:", self.seed_seconds)
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.5, 240)
        self.seconds.setValue(20)
        self.seconds.setSuffix(" s")
        form.addRow("Continuation length:", self.seconds)
        self.lufs = QDoubleSpinBox()
        self.lufs.setRange(-40, -10)
        self.lufs.setValue(-23)
        self.lufs.setSuffix(" LUFS")
        form.addRow("Loudness:", self.lufs)
        self.per_cat = QSpinBox()
        self.per_cat.setRange(0, 200)
        self.per_cat.setSpecialValueText("all")
        form.addRow("Clips per category per participant:", self.per_cat)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a new folder for the test")
        form.addRow("Save the test in:", _browse_row(self.folder, self._pick_folder))

    def _pick_folder(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New test folder", str(Path.home() / "listening-test"))
        if path:
            self.folder.setText(path)

    def settings(self) -> BuildSettings:
        return BuildSettings(title=self.title.text().strip() or "Listening test",
                             seed_seconds=self.seed_seconds.value(), seconds=self.seconds.value(),
                             target_lufs=self.lufs.value(), clips_per_category=self.per_cat.value() or None)

    def validatePage(self) -> bool:  # noqa: N802
        folder = Path(self.folder.text().strip()) if self.folder.text().strip() else None
        if folder is None:
            self.setSubTitle("⚠ choose a folder for the test")
            return False
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            self.setSubTitle(f"⚠ {folder} already exists and is not empty")
            return False
        return True


class BuildPage(QWizardPage):
    def __init__(self, wizard: BuildWizard) -> None:
        super().__init__()
        self.wiz = wizard
        self.setTitle("Building the test")
        lay = QVBoxLayout(self)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        lay.addWidget(self.status)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        lay.addStretch(1)
        self.done = False
        self.cancel_token: CancelToken | None = None

    def initializePage(self) -> None:  # noqa: N802
        from musestudio.gui.worker import start_job
        from musestudio.listening.build import build_test_work

        self.done = False
        self.cancel_token = CancelToken()
        sources = self.wiz.sources_page.sources()
        settings = self.wiz.settings_page.settings()
        folder = self.wiz.settings_page.folder.text().strip()
        self.status.setText(f"{len(sources)} clips to make…")
        self.cancel_button.setEnabled(True)
        self.wiz.job = start_job(build_test_work(folder, sources, settings, self.cancel_token), self._done,
                                 self._failed, self._progress, self._cancelled, cancel=self.cancel_token,
                                 label="listening-build", owner=self)

    def cancel(self) -> None:
        if self.cancel_token is not None:
            self.cancel_token.cancel()
            self.status.setText("Cancelling…")

    def _progress(self, p: Progress) -> None:
        self.bar.setValue(int(1000 * p.fraction))
        self.status.setText(p.message)

    def _done(self, manifest: object) -> None:
        self.done = True
        self.wiz.manifest = manifest
        self.bar.setValue(1000)
        self.cancel_button.setEnabled(False)
        m = manifest
        self.status.setText(f"Done: {len(m.clips)} clips in {len(m.categories)} categories, "  # type: ignore[attr-defined]
                            f"{m.clips_per_participant} per participant.")  # type: ignore[attr-defined]
        self.completeChanged.emit()

    def _failed(self, message: str, details: str) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText(f"⚠ {message}")

    def _cancelled(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelled; nothing was written.")

    def isComplete(self) -> bool:  # noqa: N802
        return self.done


class BuildWizard(QWizard):
    """Sources -> clip settings -> build; ``folder`` holds the finished test once accepted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New listening test")
        self.manifest: object | None = None
        self.job: object | None = None
        self.sources_page = SourcesPage()
        self.settings_page = SettingsPage()
        self.build_page = BuildPage(self)
        for page in (self.sources_page, self.settings_page, self.build_page):
            self.addPage(page)
        self.resize(720, 520)

    @property
    def folder(self) -> str:
        return self.settings_page.folder.text().strip()

    def reject(self) -> None:
        self.build_page.cancel()
        super().reject()
