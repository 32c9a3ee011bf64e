"""QUndoCommands that change the Qt-free project document.

Each command stores what it needs to go both ways and calls back into the
main window (``refresh``) so views follow the document; the document itself
never knows about Qt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QUndoCommand

from musestudio.core.notes import Note
from musestudio.core.project import Layer, Project


class SetNotesCommand(QUndoCommand):
    """Replace a layer's notes; the selection before/after travels with it."""

    def __init__(
        self,
        project: Project,
        layer_id: str,
        new_notes: list[Note],
        text: str,
        refresh: Callable[[str, set[Note]], None],
        *,
        old_selection: set[Note] | None = None,
        new_selection: set[Note] | None = None,
    ) -> None:
        super().__init__(text)
        self.project = project
        self.layer_id = layer_id
        self.new_notes = list(new_notes)
        self.old_notes = list(project.layer(layer_id).sequence.notes)
        self.refresh = refresh
        self.old_selection = set(old_selection or ())
        self.new_selection = set(new_selection or ())

    def redo(self) -> None:
        self.project.set_notes(self.layer_id, self.new_notes)
        self.refresh(self.layer_id, self.new_selection)

    def undo(self) -> None:
        self.project.set_notes(self.layer_id, self.old_notes)
        self.refresh(self.layer_id, self.old_selection)


class AddLayerCommand(QUndoCommand):
    def __init__(self, project: Project, layer: Layer, index: int, refresh: Callable[[], None]) -> None:
        super().__init__(f"add layer '{layer.name}'")
        self.project, self.layer, self.index, self.refresh = project, layer, index, refresh

    def redo(self) -> None:
        self.project.insert_layer(self.layer, self.index)
        self.refresh()

    def undo(self) -> None:
        self.project.remove_layer(self.layer.id)
        self.refresh()


class RemoveLayerCommand(QUndoCommand):
    def __init__(self, project: Project, layer_id: str, refresh: Callable[[], None]) -> None:
        layer = project.layer(layer_id)
        super().__init__(f"delete layer '{layer.name}'")
        self.project, self.layer, self.refresh = project, layer, refresh
        self.index = project.index_of(layer_id)

    def redo(self) -> None:
        self.project.remove_layer(self.layer.id)
        self.refresh()

    def undo(self) -> None:
        self.project.insert_layer(self.layer, self.index)
        self.refresh()


class LayerPropsCommand(QUndoCommand):
    """Rename or recolour a layer (show/mute/solo are view toggles, not undoable edits)."""

    def __init__(self, project: Project, layer_id: str, props: dict[str, Any], refresh: Callable[[], None]) -> None:
        super().__init__("change layer " + ", ".join(props))
        self.project, self.layer_id, self.props, self.refresh = project, layer_id, dict(props), refresh
        layer = project.layer(layer_id)
        self.old = {k: getattr(layer, k) for k in props}

    def redo(self) -> None:
        self.project.set_layer_props(self.layer_id, **self.props)
        self.refresh()

    def undo(self) -> None:
        self.project.set_layer_props(self.layer_id, **self.old)
        self.refresh()
