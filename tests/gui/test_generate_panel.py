"""The Generate dock against a small fake window: candidates, regenerate, accept and discard."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from musestudio.core.progress import run_work
from musestudio.core.project import Project
from musestudio.gui.panels.base import PanelContext
from musestudio.io.midi import read_midi
from tests.conftest import DEMO_MIDI
from tests.ml.symbolic_fixtures import tiny_checkpoint


class FakeWindow:
    def __init__(self) -> None:
        self.project = Project()
        self.seed_layer = self.project.add_layer("demo", read_midi(DEMO_MIDI), "seed")
        self.settings = SimpleNamespace(default_model="transformer")
        self.errors: list[str] = []
        self.range: tuple[float, float] | None = (0.0, 5.0)

    def add_layer(self, name, seq, kind="continuation", **props):  # type: ignore[no-untyped-def]
        return self.project.add_layer(name, seq, kind, **props)

    def delete_layers(self, ids):  # type: ignore[no-untyped-def]
        for lid in ids:
            self.project.remove_layer(lid)

    def run_work(self, work, on_done, on_error=None, *, cancel=None, label=""):  # type: ignore[no-untyped-def]
        try:
            result = run_work(work, None, cancel)
        except Exception as exc:
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
        return self.seed_layer

    def selected_layers(self):  # type: ignore[no-untyped-def]
        return [self.seed_layer]

    def selected_time_range(self):  # type: ignore[no-untyped-def]
        return self.range


@pytest.fixture
def panel(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    from musestudio.gui.panels.generate_panel import GeneratePanel

    window = FakeWindow()
    widget = GeneratePanel(PanelContext(window))
    qtbot.addWidget(widget)
    assert widget.add_checkpoint_folder(str(tiny_checkpoint(tmp_path / "markov", "markov")))
    widget.seconds.setValue(3)
    widget.variations.setValue(2)
    return widget, window


def test_generate_adds_candidates_after_the_seed_and_regenerate_differs(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    widget.fixed_seed.setChecked(True)
    widget.random_seed.setValue(4)
    widget.generate()
    assert not window.errors
    cands = [window.project.layer(lid) for lid in widget.candidates]
    assert len(cands) == 2 and widget.candidate_list.count() == 2
    seed_end = window.seed_layer.sequence.slice(0.0, 5.0).duration
    for layer in cands:
        assert layer.sequence.notes and min(n.start for n in layer.sequence.notes) >= seed_end - 1e-9
    first = [n.pitch for n in cands[0].sequence.notes]
    widget.regenerate()
    assert len(widget.candidates) == 4
    assert [n.pitch for n in window.project.layer(widget.candidates[2]).sequence.notes] != first


def test_accept_merges_into_a_new_layer_and_drops_the_candidates(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    widget.generate()
    chosen = window.project.layer(widget.candidates[1])
    widget.candidate_list.setCurrentRow(1)
    widget.accept_selected()
    assert widget.candidates == [] and widget.candidate_list.count() == 0
    merged = window.project.layers[-1]
    assert merged.name.startswith("demo + ")
    assert len(merged.sequence.notes) == len(window.seed_layer.sequence.notes) + len(chosen.sequence.notes)


def test_discard_and_user_errors(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    widget.generate()
    widget.candidate_list.setCurrentRow(0)
    widget.discard_selected()
    assert len(widget.candidates) == 1
    widget.discard_all()
    assert widget.candidates == [] and [la.name for la in window.project.layers] == ["demo"]
    widget.temperature.setValue(0.05)
    widget.pitch_low.setValue(90)
    widget.pitch_high.setValue(40)
    widget.generate()
    assert window.errors and "pitch range" in window.errors[-1]
    assert not widget.add_checkpoint_folder("/nonexistent/folder")


def test_continue_from_the_playhead_with_the_seed_key_and_timing(panel) -> None:  # type: ignore[no-untyped-def]
    widget, window = panel
    window.range = None
    window.playhead = lambda: 4.0
    widget.from_combo.setCurrentIndex(widget.from_combo.findData("playhead"))
    assert "playhead" in widget.seed_label.text() or widget.update_seed_label() is None
    seed, start = widget.seed_and_start()
    assert start == 4.0 and max(n.start for n in seed.notes) < 4.0
    s = widget.settings()
    assert s.key == "auto" and s.humanize is None and s.density is None
    widget.timing_combo.setCurrentIndex(widget.timing_combo.findData(True))
    widget.strict_key.setChecked(True)
    s = widget.settings()
    assert s.humanize is True and s.key_strength == float("inf")
    widget.generate()
    assert not window.errors
    for lid in widget.candidates:
        assert min(n.start for n in window.project.layer(lid).sequence.notes) >= 4.0 - 1e-6
