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

    def add_layer(self, name: str, seq: NoteSequence, kind: str = "continuation", **props: object):  # type: ignore[no-untyped-def]
        return self.project.add_layer(name, seq, kind, **props)

    def set_layer_notes(self, layer_id: str, notes, text: str = "") -> None:  # type: ignore[no-untyped-def]
        self.project.set_notes(layer_id, list(notes))

    def run_work(self, work, on_done, on_error=None, *, cancel=None, label=""):  # type: ignore[no-untyped-def]
        self.runs += 1
        try:
            result = run_work(work, None, cancel)
        except Exception as exc:  # mirrors the real worker: errors go to on_error
            if on_error:
                on_error(str(exc))
            return None
        on_done(result)
        return None

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


def test_match_notes_counts() -> None:
    from musestudio.gui.panels.transcribe_panel import match_notes

    ref = NoteSequence([Note(60, 0.0, 0.5), Note(62, 1.0, 1.5), Note(64, 2.0, 2.5)])
    est = NoteSequence([Note(60, 0.02, 0.4), Note(62, 1.2, 1.5), Note(70, 3.0, 3.5)])
    missed, false_alarms, s = match_notes(est, ref)
    assert [n.pitch for n in missed] == [62, 64]
    assert [n.pitch for n in false_alarms] == [62, 70]
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == pytest.approx(1 / 3)
