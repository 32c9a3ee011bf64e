"""The panel extension point: lazy registry, missing and broken panels, a panel built from a spec."""

from __future__ import annotations

import sys
import types

from musestudio.gui.panels import PANELS, Panel, PanelSpec, load_panel_classes


def test_registry_names_the_three_feature_panels():
    modules = {spec.module.rsplit(".", 1)[-1] for spec in PANELS}
    assert {"generate_panel", "transcribe_panel", "metrics_panel"} <= modules


def test_missing_panel_is_skipped_silently():
    classes, problems = load_panel_classes([PanelSpec("musestudio.gui.panels.no_such_panel", "Nope")])
    assert classes == [] and problems == []


def test_broken_panel_is_reported_not_fatal(monkeypatch):
    broken = types.ModuleType("musestudio_test_broken_panel")
    broken.__spec__ = types.SimpleNamespace(name="musestudio_test_broken_panel")  # findable
    monkeypatch.setitem(sys.modules, "musestudio_test_broken_panel", broken)  # has no class: AttributeError
    classes, problems = load_panel_classes([PanelSpec("musestudio_test_broken_panel", "Missing")])
    assert classes == [] and len(problems) == 1 and "AttributeError" in problems[0]


def test_a_registered_panel_gets_a_dock_and_the_context(qtbot, monkeypatch):
    from PySide6.QtWidgets import QLabel, QVBoxLayout

    module = types.ModuleType("musestudio_test_hello_panel")

    class HelloPanel(Panel):
        TITLE = "Hello"

        def __init__(self, context, parent=None):
            super().__init__(context, parent)
            self.label = QLabel("hi", self)
            QVBoxLayout(self).addWidget(self.label)
            context.events.layers_changed.connect(self.count)
            self.counts: list[int] = []

        def count(self):
            self.counts.append(len(self.context.project.layers))

    module.HelloPanel = HelloPanel
    module.__spec__ = types.SimpleNamespace(name=module.__name__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    from musestudio.gui import panels

    monkeypatch.setattr(panels, "PANELS", [PanelSpec(module.__name__, "HelloPanel")])
    from musestudio.gui.app import create_app

    create_app()
    from musestudio.core.notes import Note, NoteSequence
    from musestudio.gui.main_window import MainWindow

    w = MainWindow(interactive=False)
    qtbot.addWidget(w)
    (panel,) = w.panels
    assert isinstance(panel, HelloPanel)
    docks = [d.windowTitle() for d in w.findChildren(type(w.layers_dock))]
    assert "Hello" in docks
    w.add_layer("seed", NoteSequence(notes=[Note(60, 0, 1)]), "seed")
    assert panel.counts[-1] == 1
    assert panel.context.current_layer().name == "seed"


def test_context_replaces_layer_notes_as_one_undo_step(window) -> None:  # type: ignore[no-untyped-def]
    from musestudio.core.notes import Note, NoteSequence
    from musestudio.gui.panels.base import PanelContext

    context = PanelContext(window)
    layer = context.add_layer("Transcription", NoteSequence(notes=[Note(60, 0.0, 1.0)]), "transcription", color="#ff0000")
    assert window.project.layer(layer.id).color == "#ff0000"
    context.set_layer_notes(layer.id, [Note(62, 0.5, 1.0), Note(64, 1.0, 2.0)], "Re-decode")
    assert [n.pitch for n in window.project.layer(layer.id).sequence.notes] == [62, 64]
    window.undo_stack.undo()
    assert [n.pitch for n in window.project.layer(layer.id).sequence.notes] == [60]
    window.undo_stack.redo()
    assert [n.pitch for n in window.project.layer(layer.id).sequence.notes] == [62, 64]
