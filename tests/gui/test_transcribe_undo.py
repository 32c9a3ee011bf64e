"""In the real window: threshold changes are one undo step, and undo never fights the panel."""

from __future__ import annotations

from test_ui_responsive import activations_for, panel_of, performance


def _settle(panel, qtbot) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not panel.busy, timeout=30000)


def test_threshold_changes_are_one_undo_step(window, qtbot) -> None:
    panel = panel_of(window, "TranscribePanel")
    panel.activations = activations_for(performance(20.0))
    panel.redecode()
    _settle(panel, qtbot)
    layer_id = panel.layer_id
    first = list(window.project.layer(layer_id).sequence.notes)
    steps = window.undo_stack.count()
    for value in (0.45, 0.5, 0.7, 0.9):
        panel.onset.setValue(value)
        _settle(panel, qtbot)  # each change decodes and lands separately
    last = list(window.project.layer(layer_id).sequence.notes)
    assert last != first
    assert window.undo_stack.count() == steps + 1
    window.undo_stack.undo()
    assert list(window.project.layer(layer_id).sequence.notes) == first
    # An undone decoding is not a hand edit: the next change updates the same layer.
    panel.onset.setValue(0.3)
    _settle(panel, qtbot)
    assert panel.layer_id == layer_id
    assert [lay.kind for lay in window.project.layers].count("transcription") == 1
