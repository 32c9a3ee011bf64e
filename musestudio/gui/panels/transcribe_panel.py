"""The Transcribe dock: audio loaded in the spectrogram view -> a transcription layer.

Inference runs once, in a worker (progress bar + Cancel), and its activations
are cached here; every decoding control re-decodes the cached activations on
the UI thread (a few milliseconds with :func:`musestudio.ml.decode.decode`),
so moving a threshold updates the result instantly.

Teacher mode: with a reference layer chosen, the panel shows note precision,
recall and F1 (mir_eval, 50 ms onset tolerance) and can add the missed notes
and the false alarms as two layers in their own colours, drawn over the
spectrogram and the piano roll like any layer.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from musestudio.gui.panels.base import Panel, PanelContext

NO_REFERENCE = "(none)"
MISSED_COLOR = "#e04848"  # red: in the reference, not transcribed
FALSE_ALARM_COLOR = "#f2c230"  # yellow: transcribed, not in the reference
REDECODE_MS = 30


def match_notes(estimate: Any, reference: Any, onset_tolerance: float = 0.05) -> tuple[list[Any], list[Any], dict[str, float]]:
    """(missed reference notes, false-alarm estimate notes, onset P/R/F1) via mir_eval's matching."""
    import numpy as np
    from mir_eval.transcription import match_notes as mir_match
    from mir_eval.util import midi_to_hz

    est, ref = list(estimate.notes), list(reference.notes)
    if not est or not ref:
        p = r = f = 1.0 if not est and not ref else 0.0
        return ref, est, {"precision": p, "recall": r, "f1": f}

    def arrays(notes: list[Any]) -> tuple[Any, Any]:
        iv = np.array([[n.start, max(n.end, n.start + 1e-3)] for n in notes])
        return iv, midi_to_hz(np.array([n.pitch for n in notes], float))

    ri, rp = arrays(ref)
    ei, ep = arrays(est)
    pairs = mir_match(ri, rp, ei, ep, onset_tolerance=onset_tolerance, offset_ratio=None)
    hit_ref = {i for i, _ in pairs}
    hit_est = {j for _, j in pairs}
    p = len(pairs) / len(est)
    r = len(pairs) / len(ref)
    f = 2 * p * r / (p + r) if p + r else 0.0
    missed = [n for i, n in enumerate(ref) if i not in hit_ref]
    false_alarms = [n for j, n in enumerate(est) if j not in hit_est]
    return missed, false_alarms, {"precision": p, "recall": r, "f1": f}


class TranscribePanel(Panel):
    TITLE = "Transcribe"
    AREA = "right"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        from musestudio.core.errors import ModelError
        from musestudio.ml.decode import DecodeSettings
        from musestudio.ml.transcribe import decode_defaults

        try:  # start from the thresholds tuned for the checkpoint in use
            d = decode_defaults(self._checkpoint())
        except ModelError:  # a missing or broken model is reported when Transcribe is pressed
            d = DecodeSettings()
        self.onset = self._spin(d.onset_threshold, "Probability above which a key is struck")
        self.frame = self._spin(d.frame_threshold, "Probability above which a key keeps sounding")
        self.repeat = self._spin(
            d.repeat_threshold if d.repeat_threshold is not None else d.onset_threshold,
            "Onset threshold for a key that is already sounding (raise it against false repeated notes in reverb)",
        )
        self.min_note = QSpinBox(self)
        self.min_note.setRange(0, 1000)
        self.min_note.setSuffix(" ms")
        self.min_note.setValue(int(d.min_note_ms))
        self.low = QSpinBox(self)
        self.high = QSpinBox(self)
        for box, value in ((self.low, d.pitch_range[0]), (self.high, d.pitch_range[1])):
            box.setRange(21, 108)
            box.setValue(value)
        pitch_row = QHBoxLayout()
        pitch_row.addWidget(self.low)
        pitch_row.addWidget(QLabel("to"))
        pitch_row.addWidget(self.high)
        self.pedal = QCheckBox("Sustain pedal as CC64", self)
        self.pedal.setChecked(d.use_pedal)
        self.reference_box = QComboBox(self)
        form = QFormLayout()
        form.addRow("Onset threshold", self.onset)
        form.addRow("Frame threshold", self.frame)
        form.addRow("Repeat threshold", self.repeat)
        form.addRow("Minimum note length", self.min_note)
        form.addRow("Pitch range", pitch_row)
        form.addRow(self.pedal)
        form.addRow("Reference (teacher mode)", self.reference_box)

        self.run_button = QPushButton("Transcribe audio", self)
        self.mark_button = QPushButton("Mark missed notes and false alarms", self)
        self.mark_button.setToolTip("Adds two layers: missed notes (red) and false alarms (yellow)")
        self.status = QLabel("Load an audio file to transcribe it.", self)
        self.status.setWordWrap(True)
        self.scores = QLabel("", self)
        self.scores.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.status)
        layout.addWidget(self.scores)
        layout.addWidget(self.mark_button)
        layout.addStretch(1)

        self.activations: Any = None
        self.result: Any = None  # the NoteSequence decoded with the current settings
        self.layer_id: str | None = None
        self.job: Any = None
        self.cancel: Any = None
        self.missed: list[Any] = []
        self.false_alarms: list[Any] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDECODE_MS)
        self._timer.timeout.connect(self.redecode)

        self.run_button.clicked.connect(self.start)
        self.mark_button.clicked.connect(self.mark_errors)
        for w in (self.onset, self.frame, self.repeat):
            w.valueChanged.connect(self._schedule)
        for w in (self.min_note, self.low, self.high):
            w.valueChanged.connect(self._schedule)
        self.pedal.toggled.connect(self._schedule)
        self.reference_box.currentIndexChanged.connect(self.update_scores)
        ev = context.events
        ev.layers_changed.connect(self._layers_changed)
        ev.project_changed.connect(self._layers_changed)
        ev.audio_changed.connect(self._audio_changed)
        self._layers_changed()
        self._update_buttons()

    def _spin(self, value: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox(self)
        box.setRange(0.01, 0.99)
        box.setSingleStep(0.05)
        box.setDecimals(2)
        box.setValue(value)
        box.setToolTip(tip)
        return box

    # --- settings ------------------------------------------------------------------
    def settings(self) -> Any:
        from musestudio.ml.decode import DecodeSettings

        low, high = sorted((self.low.value(), self.high.value()))
        return DecodeSettings(
            onset_threshold=self.onset.value(),
            frame_threshold=self.frame.value(),
            repeat_threshold=self.repeat.value(),
            min_note_ms=float(self.min_note.value()),
            pitch_range=(low, high),
            use_pedal=self.pedal.isChecked(),
        )

    def _schedule(self) -> None:
        if self.activations is not None:
            self._timer.start()

    def _update_buttons(self) -> None:
        busy = self.job is not None
        self.run_button.setText("Cancel" if busy else "Transcribe audio")
        self.run_button.setEnabled(busy or bool(self.context.audio_path()))
        self.mark_button.setEnabled(self.result is not None and self._reference() is not None)

    def _audio_changed(self) -> None:
        self.activations = None
        self.result = None
        self.layer_id = None
        self.status.setText("Ready to transcribe." if self.context.audio_path() else "Load an audio file to transcribe it.")
        self._update_buttons()

    def _layers_changed(self) -> None:
        keep = self.reference_box.currentData()
        self.reference_box.blockSignals(True)
        self.reference_box.clear()
        self.reference_box.addItem(NO_REFERENCE, None)
        for layer in self.context.project.layers:
            if layer.id != self.layer_id and layer.kind not in ("missed", "false_alarm"):
                self.reference_box.addItem(layer.name, layer.id)
        index = self.reference_box.findData(keep) if keep is not None else 0
        self.reference_box.setCurrentIndex(max(index, 0))
        self.reference_box.blockSignals(False)
        self.update_scores()

    # --- inference -------------------------------------------------------------------
    def start(self) -> None:
        """Run inference in a worker, or cancel the running one."""
        from musestudio.core.progress import CancelToken
        from musestudio.ml.transcribe import run_inference_work

        if self.job is not None and self.cancel is not None:
            self.cancel.cancel()
            return
        path = self.context.audio_path()
        if not path:
            self.context.show_error("Load an audio file first (File > Open).")
            return
        self.cancel = CancelToken()
        self.status.setText("Transcribing…")
        work = run_inference_work(path, self._checkpoint(), self.cancel)
        self.job = self.context.run_work(work, self._done, self._failed, cancel=self.cancel, label="Transcribing")
        self._update_buttons()

    def _checkpoint(self) -> Any:
        settings = self.context.settings
        return getattr(settings, "transcriber_checkpoint", None) or None

    def _done(self, activations: Any) -> None:
        self.job = None
        self.activations = activations
        self.layer_id = None
        self.redecode()
        self._update_buttons()

    def _failed(self, message: str) -> None:
        self.job = None
        self.status.setText(f"Not transcribed: {message}")
        self._update_buttons()

    # --- decoding --------------------------------------------------------------------------
    def redecode(self) -> None:
        """Decode the cached activations with the current settings (no new inference)."""
        from musestudio.ml.decode import decode

        self._timer.stop()
        if self.activations is None:
            return
        self.result = decode(self.activations, self.settings())
        seq = self.result
        setter = getattr(self.context, "set_layer_notes", None)
        layer_exists = self.layer_id is not None and any(lay.id == self.layer_id for lay in self.context.project.layers)
        if layer_exists and setter is not None:
            setter(self.layer_id, seq.notes, "Re-decode transcription")
        else:
            # Without an undoable notes setter, each result becomes its own layer.
            self.layer_id = self.context.add_layer("Transcription", seq, "transcription").id
        self.status.setText(
            f"{len(seq.notes)} notes, {len(seq.pedals) // 2} pedal presses in {self.activations.duration:.1f} s of audio"
        )
        self.update_scores()
        self._update_buttons()

    def _reference(self) -> Any:
        layer_id = self.reference_box.currentData()
        if layer_id is None:
            return None
        try:
            return self.context.project.layer(layer_id)
        except KeyError:
            return None

    def update_scores(self) -> None:
        ref = self._reference()
        if ref is None or self.result is None:
            self.scores.setText("")
            self.missed, self.false_alarms = [], []
            self._update_buttons()
            return
        self.missed, self.false_alarms, s = match_notes(self.result, ref.sequence)
        self.scores.setText(
            f"Against “{ref.name}” (50 ms onsets): precision {s['precision']:.3f}, recall {s['recall']:.3f}, "
            f"F1 {s['f1']:.3f}; {len(self.missed)} missed, {len(self.false_alarms)} false alarms"
        )
        self._update_buttons()

    def mark_errors(self) -> None:
        from musestudio.core.notes import NoteSequence

        if self._reference() is None or self.result is None:
            return
        self._add_coloured("Missed notes", NoteSequence(notes=list(self.missed)), "missed", MISSED_COLOR)
        self._add_coloured("False alarms", NoteSequence(notes=list(self.false_alarms)), "false_alarm", FALSE_ALARM_COLOR)

    def _add_coloured(self, name: str, seq: Any, kind: str, color: str) -> None:
        try:
            self.context.add_layer(name, seq, kind, color=color)  # type: ignore[call-arg]
        except TypeError:  # a context without layer properties: the project picks distinct colours
            self.context.add_layer(name, seq, kind)
