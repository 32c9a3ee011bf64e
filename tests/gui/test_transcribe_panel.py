"""The Transcribe dock against a small fake window: inference once, instant re-decoding, teacher mode."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.progress import run_work
from musestudio.core.project import Project
from musestudio.gui.panels.base import PanelContext


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from musestudio.dsp.features import FeatureConfig
    from musestudio.ml.checkpoint import save_checkpoint
    from musestudio.ml.models.transcriber import TranscriberConfig, TranscriberModel

    torch.manual_seed(1)
    config = TranscriberConfig(conv1=4, conv2=4, hidden=16, temporal_layers=1)
    folder = tmp_path_factory.mktemp("tiny") / "transcriber"
    save_checkpoint(folder, "transcriber", dataclasses.asdict(config), TranscriberModel(config).state_dict(),
                    extra={"features": FeatureConfig().to_dict()})
    return folder


class FakeWindow:
    """Runs work synchronously and records what the panel asks for."""

    def __init__(self, audio: str, checkpoint: Path) -> None:
        self.project = Project()
        self.project.audio_path = audio
        self.settings = SimpleNamespace(transcriber_checkpoint=str(checkpoint))
        self.runs = 0
        self.errors: list[str] = []
        self.merge_keys: list[object] = []
        self.labels: list[str] = []
        self.queue: list | None = None  # None: run work at once; a list: hold it until run_queued()

    def add_layer(self, name: str, seq: NoteSequence, kind: str = "continuation", **props: object):  # type: ignore[no-untyped-def]
        return self.project.add_layer(name, seq, kind, **props)

    def set_layer_notes(self, layer_id: str, notes, text: str = "", merge_key=None) -> None:  # type: ignore[no-untyped-def]
        self.project.set_notes(layer_id, list(notes))
        self.merge_keys.append(merge_key)

    def run_work(self, work, on_done, on_error=None, *, cancel=None, label=""):  # type: ignore[no-untyped-def]
        self.labels.append(label)
        if label == "Transcribing":
            self.runs += 1
        if self.queue is not None:
            self.queue.append((work, on_done))
            return None
        try:
            result = run_work(work, None, cancel)
        except Exception as exc:  # mirrors the real worker: errors go to on_error
            if on_error:
                on_error(str(exc))
            return None
        on_done(result)
        return None

    def run_next(self) -> None:
        """Finish the oldest held job, as a worker thread would."""
        work, on_done = self.queue.pop(0)
        on_done(run_work(work))

    def show_error(self, message: str) -> None:
        self.errors.append(message)

    def show_status(self, message: str) -> None:
        pass

    def current_layer(self):  # type: ignore[no-untyped-def]
        return None


@pytest.fixture
def panel(qtbot, tmp_path: Path, tiny_checkpoint: Path):  # type: ignore[no-untyped-def]
    import soundfile as sf

    from musestudio.gui.panels.transcribe_panel import TranscribePanel

    wav = tmp_path / "a.wav"
    sf.write(wav, (np.random.default_rng(0).standard_normal(16000 * 3) * 0.2).astype(np.float32), 16000)
    window = FakeWindow(str(wav), tiny_checkpoint)
    widget = TranscribePanel(PanelContext(window))
    qtbot.addWidget(widget)
    return widget, window


def test_transcribe_adds_a_layer_and_thresholds_redecode_without_inference(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    widget.start()
    assert window.runs == 1 and not window.errors
    assert widget.activations is not None
    layers = [lay for lay in window.project.layers if lay.kind == "transcription"]
    assert len(layers) == 1
    widget.onset.setValue(0.05)  # a random model: a low threshold finds many more onsets
    widget.redecode()
    low = len(widget.result.notes)
    widget.onset.setValue(0.95)
    widget.redecode()
    assert len(widget.result.notes) <= low
    assert window.runs == 1  # no new inference
    # Re-decoding updates the one transcription layer instead of adding layers.
    layers = [lay for lay in window.project.layers if lay.kind == "transcription"]
    assert len(layers) == 1 and len(layers[0].sequence.notes) == len(widget.result.notes)


def test_teacher_mode_scores_and_marks_errors(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    ref = NoteSequence([Note(60, 0.5, 1.0, 80), Note(64, 1.0, 1.5, 80)])
    window.project.add_layer("reference", ref, "reference")
    widget.start()
    widget._layers_changed()
    widget.reference_box.setCurrentIndex(widget.reference_box.findText("reference"))
    widget.update_scores()
    assert "F1" in widget.scores.text()
    n_layers = len(window.project.layers)
    widget.mark_errors()
    kinds = [lay.kind for lay in window.project.layers[n_layers:]]
    assert kinds == ["missed", "false_alarm"]
    colours = {lay.color for lay in window.project.layers[n_layers:]}
    assert len(colours) == 2


def test_thresholds_merge_into_one_undo_step_and_hand_edits_are_kept(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    widget.start()
    (first,) = [lay for lay in window.project.layers if lay.kind == "transcription"]
    widget.onset.setValue(0.3)
    widget.redecode()
    assert window.merge_keys == ["threshold"]  # the window merges consecutive "threshold" steps
    # The user edits the transcription by hand (deletes its notes, adds one).
    edited = [Note(60, 0.1, 0.4, 90)]
    window.project.set_notes(first.id, edited)
    widget.onset.setValue(0.2)
    widget.redecode()
    layers = [lay for lay in window.project.layers if lay.kind == "transcription"]
    assert len(layers) == 2
    assert list(window.project.layer(first.id).sequence.notes) == edited  # never overwritten
    assert widget.layer_id == layers[1].id and layers[1].name == "Transcription 2"
    assert "edits" in widget.status.text() and "Transcription 2" in widget.status.text()
    # Later threshold changes go on updating the new take.
    widget.onset.setValue(0.9)
    widget.redecode()
    assert len([lay for lay in window.project.layers if lay.kind == "transcription"]) == 2
    assert list(window.project.layer(first.id).sequence.notes) == edited


def test_threshold_changes_coalesce_and_the_latest_wins(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    widget.start()
    window.queue = []
    for value in (0.2, 0.3, 0.4, 0.95):
        widget.onset.setValue(value)
        widget.redecode()
    assert len(window.queue) == 1  # one decode runs; the other requests wait and merge
    window.run_next()  # that decode (0.2) finishes: outdated, dropped, and the latest (0.95) starts
    assert len(window.queue) == 1
    window.run_next()
    assert not window.queue
    assert window.merge_keys == ["threshold"]  # the outdated decoding never reached the layer
    assert not widget.busy
    from musestudio.ml.decode import decode

    expected = decode(widget.activations, widget.settings())
    layer = window.project.layer(widget.layer_id)
    assert widget.onset.value() == pytest.approx(0.95)
    assert [n.pitch for n in layer.sequence.notes] == [n.pitch for n in expected.notes]


def test_a_transcription_is_never_offered_as_a_reference(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    window.project.add_layer("score", NoteSequence([Note(60, 0.5, 1.0, 80)]), "score")
    window.project.add_layer("old take", NoteSequence([Note(60, 0.5, 1.0, 80)]), "transcription")
    widget.start()
    widget._layers_changed()
    offered = [widget.reference_box.itemText(i) for i in range(widget.reference_box.count())]
    assert offered == ["(none)", "score"]


def test_fixed_tempo_is_written_into_the_transcription(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    widget.tempo.setValue(96)
    widget.start()
    layer = window.project.layer(widget.layer_id)
    assert layer.sequence.tempo_map.initial_qpm == pytest.approx(96)
    assert "96 BPM" in widget.status.text()


def test_hold_under_pedal_follows_the_pedal_box_and_redecodes(panel) -> None:  # type: ignore[no-untyped-def]
    from musestudio.ml.decode import decode

    widget, window = panel
    assert widget.sustain.isChecked() and widget.sustain.isEnabled()
    assert widget.settings().sustain_offsets
    widget.start()
    widget.onset.setValue(0.05)
    widget.sustain.setChecked(False)
    widget.redecode()
    assert not widget.settings().sustain_offsets
    layer = window.project.layer(widget.layer_id)
    expected = decode(widget.activations, widget.settings())
    assert [(n.pitch, n.end) for n in layer.sequence.notes] == [(n.pitch, n.end) for n in expected.notes]
    widget.pedal.setChecked(False)
    assert not widget.sustain.isEnabled()  # no pedal read, nothing to hold notes with


def test_the_note_filter_applies_while_the_onset_thresholds_are_the_tuned_ones(panel) -> None:  # type: ignore[no-untyped-def]
    """A checkpoint's note filter looks for onsets at its own thresholds; moving the onset or repeat threshold
    decodes at what the box says, without it."""
    import dataclasses

    widget, _window = panel
    widget._tuned = dataclasses.replace(widget._tuned, note_filter={"onset_threshold": 0.4, "keep_threshold": 0.5})
    widget.onset.setValue(widget._tuned.onset_threshold)
    tuned_repeat = widget._tuned.repeat_threshold
    widget.repeat.setValue(widget._tuned.onset_threshold if tuned_repeat is None else tuned_repeat)
    assert widget.settings().note_filter is not None
    widget.onset.setValue(widget._tuned.onset_threshold + 0.1)
    assert widget.settings().note_filter is None


def test_the_note_end_model_applies_while_the_frame_threshold_is_the_tuned_one(panel) -> None:  # type: ignore[no-untyped-def]
    """The note-end read-out chooses among ends the tuned frame threshold gives; moving the frame threshold ends
    notes where the box says, without it."""
    import dataclasses

    widget, _window = panel
    widget._tuned = dataclasses.replace(widget._tuned, note_end_model={"kind": "mlp"})
    widget.frame.setValue(widget._tuned.frame_threshold)
    assert widget.settings().note_end_model is not None
    widget.frame.setValue(widget._tuned.frame_threshold + 0.1)
    assert widget.settings().note_end_model is None
    widget.frame.setValue(widget._tuned.frame_threshold)
    assert widget.settings().note_end_model is not None
