"""The Transcribe dock: audio loaded in the spectrogram view -> a transcription layer.

Inference runs once, in a worker (progress bar + Cancel), and its activations
are cached here.  Every decoding control re-decodes the cached activations,
also in a worker: on a 10-minute recording decoding plus the teacher-mode
matching take seconds, which would freeze the window.  Requests coalesce: while
one decode runs, further changes only mark the panel dirty, and when it ends
the latest settings are decoded (results of outdated settings are dropped).
Consecutive threshold changes are one undo step (``merge_key``).

Hand edits are never overwritten: if the transcription layer's notes are not
one of the decodings this panel wrote (the user moved, added or deleted
notes), a re-decode goes into a new layer ("Transcription 2") and the status
line says so, as a DAW keeps an edited take and records a new one.

Teacher mode: with a reference layer chosen, the panel shows note precision,
recall and F1 (:func:`musestudio.metrics.teacher.match_notes`, 50 ms onsets)
and can add the missed notes and the false alarms as two layers in their own
colours, drawn above the other layers.

Tempo: a transcription gets a tempo map so that bars and MusicXML make sense:
``Auto`` runs the beat tracker (:func:`musestudio.ml.beats.analyze`), or a
fixed BPM is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
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

from musestudio.core.progress import CancelToken, Progress, Work
from musestudio.gui.panels.base import Panel, PanelContext

NO_REFERENCE = "(none)"
MISSED_COLOR = "#e04848"  # red: in the reference, not transcribed
FALSE_ALARM_COLOR = "#f2c230"  # yellow: transcribed, not in the reference
REDECODE_MS = 30
TEMPO_AUTO = 9  # the tempo spin box's minimum, shown as "Auto": track the beats (fixed tempi are 10-400 BPM)
WRITTEN_KEPT = 16  # decodings remembered to tell our own writes (and their undos) from hand edits


@dataclass
class DecodeOutcome:
    """What a decode/score job hands back to the UI thread."""

    result: Any = None  # NoteSequence, or None when only scoring was asked for
    match: Any = None  # TeacherMatch, or None without a reference
    scored_against: Any = None  # the reference NoteSequence object that was matched
    tempo_note: str = ""  # why the tempo is what it is (tracked, fixed, or why tracking failed)
    stale: bool = False  # newer settings arrived meanwhile: stopped early, nothing to apply


def decode_and_match_work(
    activations: Any,
    settings: Any,
    previous: Any,
    reference: Any,
    tempo_bpm: float,
    cancel: CancelToken | None = None,
    stale: Callable[[], bool] | None = None,
) -> Work[DecodeOutcome]:
    """Decode (when ``activations`` is given), set the tempo, then match against ``reference`` (when given).

    Pure work off the UI thread: reads numpy arrays and immutable note
    sequences only, and returns new objects.  ``stale()`` true between steps
    (the user moved a threshold again) ends it early with ``stale=True``:
    tempo tracking and matching of an outdated decoding would be wasted.
    """
    out = DecodeOutcome()
    seq = previous
    if activations is not None:
        from musestudio.ml.decode import decode

        yield Progress(0, 3, "decoding")
        seq = out.result = decode(activations, settings)
        if cancel is not None:
            cancel.check()
        if stale is not None and stale():
            return DecodeOutcome(stale=True)
        yield Progress(1, 3, "tempo")
        out.result, out.tempo_note = with_tempo(seq, tempo_bpm)
        seq = out.result
    if cancel is not None:
        cancel.check()
    if activations is not None and stale is not None and stale():
        return DecodeOutcome(stale=True)
    if reference is not None and seq is not None:
        from musestudio.metrics.teacher import match_notes

        yield Progress(2, 3, "matching against the reference")
        out.match = match_notes(seq, reference)
        out.scored_against = reference
    yield Progress(3, 3, "decoded" if activations is not None else "scored")  # replaces the last step's status line
    return out


def with_tempo(seq: Any, tempo_bpm: float) -> tuple[Any, str]:
    """The sequence on a tempo map: tracked by the beat tracker (``TEMPO_AUTO``) or a constant BPM.

    The same function as ``musestudio transcribe --tempo-map/--tempo`` (one code path for CLI and GUI).
    """
    from musestudio.ml.transcribe import apply_tempo

    return apply_tempo(seq, "auto", bpm=None if tempo_bpm <= TEMPO_AUTO else float(tempo_bpm))


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
        # The model's note filter looks for onsets at its own thresholds, so moving either box turns it off.
        filtered = " (away from the tuned value, the model's note filter is off)" if d.note_filter is not None else ""
        self.onset = self._spin(d.onset_threshold, "Probability above which a key is struck" + filtered)
        ended = " (away from the tuned value, the model's note-end read-out is off)" if d.note_end_model is not None else ""
        self.frame = self._spin(d.frame_threshold, "Probability above which a key keeps sounding" + ended)
        self.repeat = self._spin(
            d.repeat_threshold if d.repeat_threshold is not None else d.onset_threshold,
            "Onset threshold for a key that is already sounding (raise it against false repeated notes in reverb)"
            + filtered,
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
        self._tuned = d  # settings the panel has no control for (offset, pedal, partials) stay the checkpoint's
        self.pedal = QCheckBox("Sustain pedal as CC64", self)
        self.pedal.setChecked(d.use_pedal)
        self.sustain = QCheckBox("Hold notes under the pedal", self)
        self.sustain.setChecked(d.sustain_offsets)
        self.sustain.setToolTip(
            "On: a note lasts until the key is struck again or the pedal lifts, as it sounds.\n"
            "Off: notes end where the model hears the key's sound stop (shorter notes, for editing)."
        )
        self.sustain.setEnabled(d.use_pedal)
        self.pedal.toggled.connect(self.sustain.setEnabled)
        self.tempo = QSpinBox(self)
        self.tempo.setRange(TEMPO_AUTO, 400)
        self.tempo.setSpecialValueText("Auto (track the beats)")
        self.tempo.setSuffix(" BPM")
        self.tempo.setValue(TEMPO_AUTO)
        self.tempo.setToolTip(
            "Tempo of the transcription, for bars in the ruler and in MusicXML/MIDI export: "
            "Auto tracks the beats of the played notes; a number sets a fixed tempo"
        )
        self.reference_box = QComboBox(self)
        self.reference_box.setToolTip("A score or performance to compare the transcription with (not a transcription)")
        form = QFormLayout()
        form.addRow("Onset threshold", self.onset)
        form.addRow("Frame threshold", self.frame)
        form.addRow("Repeat threshold", self.repeat)
        form.addRow("Minimum note length", self.min_note)
        form.addRow("Pitch range", pitch_row)
        form.addRow(self.pedal)
        form.addRow(self.sustain)
        form.addRow("Tempo", self.tempo)
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
        self.result: Any = None  # the NoteSequence decoded with the latest applied settings
        self.layer_id: str | None = None  # the layer re-decodes write into
        self.job: bool | None = None  # True while inference runs
        self.cancel: Any = None
        self.match: Any = None  # TeacherMatch of result against the reference, or None
        self.tempo_note = ""
        self._written: list[tuple[Any, ...]] = []  # notes of the decodings written into layer_id (newest last)
        self._decoding = False  # a decode/score job is running
        self._want_decode = False  # settings changed since the running/last decode started
        self._want_score = False  # the reference (or the result) changed since the last scoring
        self._scored: tuple[Any, Any] = (None, None)  # (result, reference sequence) of the shown scores
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDECODE_MS)
        self._timer.timeout.connect(self.redecode)

        self.run_button.clicked.connect(self.start)
        self.mark_button.clicked.connect(self.mark_errors)
        for w in (self.onset, self.frame, self.repeat):
            w.valueChanged.connect(self._schedule)
        for w in (self.min_note, self.low, self.high, self.tempo):
            w.valueChanged.connect(self._schedule)
        self.pedal.toggled.connect(self._schedule)
        self.sustain.toggled.connect(self._schedule)
        self.reference_box.currentIndexChanged.connect(self.update_scores)
        ev = context.events
        ev.layers_changed.connect(self._layers_changed)
        ev.project_changed.connect(self._project_changed)
        ev.audio_changed.connect(self._audio_changed)
        self._layers_changed()
        self._update_buttons()

    @property
    def missed(self) -> list[Any]:
        return list(self.match.missed) if self.match is not None else []

    @property
    def false_alarms(self) -> list[Any]:
        return list(self.match.false_alarms) if self.match is not None else []

    @property
    def busy(self) -> bool:
        """Inference, decoding or scoring is running (tests wait on this)."""
        return self.job is not None or self._decoding or self._timer.isActive()

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
        low, high = sorted((self.low.value(), self.high.value()))
        t = self._tuned
        # The checkpoint's note filter looks for onsets at its own thresholds; it applies while the onset and repeat
        # thresholds are the tuned ones, so that moving either decodes at what it says.
        tuned = abs(self.onset.value() - t.onset_threshold) < 1e-6 and abs(
            self.repeat.value() - (t.onset_threshold if t.repeat_threshold is None else t.repeat_threshold)) < 1e-6
        frame_tuned = abs(self.frame.value() - t.frame_threshold) < 1e-6  # the end read-out's candidates assume it
        return dataclasses.replace(
            t,
            note_filter=t.note_filter if tuned else None,
            note_end_model=t.note_end_model if frame_tuned else None,
            onset_threshold=self.onset.value(),
            frame_threshold=self.frame.value(),
            repeat_threshold=self.repeat.value(),
            min_note_ms=float(self.min_note.value()),
            pitch_range=(low, high),
            use_pedal=self.pedal.isChecked(),
            sustain_offsets=self.sustain.isChecked(),
        )

    def _schedule(self) -> None:
        if self.activations is not None:
            self._timer.start()

    def _update_buttons(self) -> None:
        busy = self.job is not None
        self.run_button.setText("Cancel" if busy else "Transcribe audio")
        self.run_button.setEnabled(busy or bool(self.context.audio_path()))
        self.mark_button.setEnabled(self.match is not None and self._reference() is not None)

    def _audio_changed(self) -> None:
        self.activations = None
        self.result = None
        self.match = None
        self.layer_id = None
        self._written = []
        self.status.setText("Ready to transcribe." if self.context.audio_path() else "Load an audio file to transcribe it.")
        self._update_buttons()

    def _project_changed(self) -> None:
        """A new or reopened project: its layers are not this panel's decodings."""
        self._audio_changed()
        self._layers_changed()

    def _layers_changed(self) -> None:
        keep = self.reference_box.currentData()
        self.reference_box.blockSignals(True)
        self.reference_box.clear()
        self.reference_box.addItem(NO_REFERENCE, None)
        for layer in self.context.project.layers:
            # A transcription is never a reference: not itself, not another take of the same audio.
            if layer.id != self.layer_id and layer.kind not in ("transcription", "missed", "false_alarm"):
                self.reference_box.addItem(layer.name, layer.id)
        index = self.reference_box.findData(keep) if keep is not None else 0
        self.reference_box.setCurrentIndex(max(index, 0))
        self.reference_box.blockSignals(False)
        self.update_scores()

    # --- inference -------------------------------------------------------------------
    def start(self) -> None:
        """Run inference in a worker, or cancel the running one."""
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
        self.job = True  # set before run_work: a synchronous runner (tests) calls _done before returning
        self.context.run_work(work, self._done, self._failed, cancel=self.cancel, label="Transcribing")
        self._update_buttons()

    def _checkpoint(self) -> Any:
        settings = self.context.settings
        return getattr(settings, "transcriber_checkpoint", None) or None

    def _done(self, activations: Any) -> None:
        self.job = None
        self.activations = activations
        self.layer_id = None  # a new transcription: a new layer
        self._written = []
        self.redecode()
        self._update_buttons()

    def _failed(self, message: str) -> None:
        self.job = None
        self.status.setText(f"Not transcribed: {message}")
        self._update_buttons()

    # --- decoding (in a worker, coalesced) ---------------------------------------------
    def redecode(self) -> None:
        """Decode the cached activations with the current settings (no new inference), off the UI thread."""
        self._timer.stop()
        if self.activations is None:
            return
        self._want_decode = True
        self._launch()

    def update_scores(self) -> None:
        """Score the current result against the chosen reference (off the UI thread), if either changed."""
        ref = self._reference()
        if ref is None or self.result is None:
            self.match = None
            self._scored = (None, None)
            self.scores.setText("")
            self._update_buttons()
            return
        if self._scored[0] is self.result and self._scored[1] is ref.sequence:
            return  # already scored exactly these two
        self._want_score = True
        self._launch()

    def _launch(self) -> None:
        if self._decoding or not (self._want_decode or self._want_score):
            return
        decode = self._want_decode
        self._want_decode = self._want_score = False
        ref = self._reference()
        reference = ref.sequence if ref is not None else None
        if not decode and (
            self.result is None or reference is None or (self._scored[0] is self.result and self._scored[1] is reference)
        ):
            return  # nothing to score, or these two are scored already
        self._decoding = True
        if decode:
            self.status.setText("Decoding…")
        elif reference is not None:
            self.scores.setText("Scoring…")
        work = decode_and_match_work(
            self.activations if decode else None, self.settings(), self.result, reference, float(self.tempo.value()),
            stale=(lambda: self._want_decode) if decode else None,  # read from the worker: a plain bool, safe
        )  # fmt: skip
        self.context.run_work(work, self._decoded, self._decode_failed, label="Decoding" if decode else "Scoring")

    def _decoded(self, outcome: DecodeOutcome) -> None:
        if outcome.stale or (self._want_decode and outcome.result is not None):
            self._decoding = False
            self._launch()  # settings moved on while this ran: the latest wins, this one is dropped
            return
        if outcome.result is not None:
            self.tempo_note = outcome.tempo_note
            self._apply(outcome.result)  # still "decoding": the layer change this causes starts no second scoring
        self._decoding = False
        ref = self._reference()
        if outcome.scored_against is not None and ref is not None and ref.sequence is outcome.scored_against:
            self.match = outcome.match
            self._scored = (self.result, outcome.scored_against)
            self._show_scores(ref.name)
        elif ref is not None and self.result is not None:
            self._want_score = True  # the reference changed while this ran
        else:
            self.match = None
            self.scores.setText("")
        self._update_buttons()
        self._launch()

    def _decode_failed(self, message: str) -> None:
        self._decoding = False
        self.status.setText(f"Not decoded: {message}")
        self._update_buttons()
        self._launch()

    def _apply(self, seq: Any) -> None:
        """Put a decoding into the transcription layer, or into a new one if the user edited that layer."""
        project = self.context.project
        self.result = seq
        kept = ""
        layer = None
        if self.layer_id is not None:
            try:
                layer = project.layer(self.layer_id)
            except KeyError:
                layer = None
        if layer is not None and tuple(layer.sequence.notes) not in self._written:
            kept = layer.name  # hand edits: keep that layer as it is
            layer = None
        if layer is not None:
            self.context.set_layer_notes(layer.id, list(seq.notes), "Re-decode transcription", merge_key="threshold")
            written = tuple(project.layer(layer.id).sequence.notes)
        else:
            new = self.context.add_layer("Transcription", seq, "transcription")
            self.layer_id = new.id
            self._written = []
            written = tuple(new.sequence.notes)
        self._written = [*self._written[-(WRITTEN_KEPT - 1) :], written]
        status = f"{len(seq.notes)} notes, {len(seq.pedals) // 2} pedal presses in {self.activations.duration:.1f} s of audio"
        if self.tempo_note:
            status += f"; {self.tempo_note}"
        if kept:
            new_name = project.layer(self.layer_id).name
            status = f"Your edits to “{kept}” are kept; the new decoding is in “{new_name}”. " + status
        self.status.setText(status)

    def _reference(self) -> Any:
        layer_id = self.reference_box.currentData()
        if layer_id is None:
            return None
        try:
            return self.context.project.layer(layer_id)
        except KeyError:
            return None

    def _show_scores(self, name: str) -> None:
        m = self.match
        self.scores.setText(
            f"Against “{name}” (50 ms onsets): precision {m.precision:.3f}, recall {m.recall:.3f}, "
            f"F1 {m.f1:.3f}; {len(m.missed)} missed, {len(m.false_alarms)} false alarms"
        )

    def mark_errors(self) -> None:
        from musestudio.core.notes import NoteSequence

        if self._reference() is None or self.match is None:
            return
        self.context.add_layer("Missed notes", NoteSequence(notes=self.missed), "missed", color=MISSED_COLOR)
        self.context.add_layer("False alarms", NoteSequence(notes=self.false_alarms), "false_alarm", color=FALSE_ALARM_COLOR)
