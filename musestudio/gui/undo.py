"""QUndoCommands that change the Qt-free project document, and nothing else.

A command stores what it needs to go both ways and changes the
:class:`~musestudio.core.project.Project`; the project emits change events and
the views redraw themselves (see ``controllers/bindings.py``).  No refresh
callback travels inside a command.

Every command also records the document's *revision* before and after it and
puts it back on undo/redo, so "modified" has one source of truth: undoing to
the saved state makes the project clean again (``Project.restore_revision``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from musestudio.core.notes import Note
from musestudio.core.project import Layer, Project
from musestudio.core.timing import KeySignature, TempoMap, TimeSignature

# QUndoCommand ids for merging; -1 (the default) never merges.
MERGE_NOTES = 1001


class ProjectCommand(QUndoCommand):
    """Base: subclasses implement ``apply``/``revert``; this class keeps the revision marker right."""

    def __init__(self, project: Project, text: str) -> None:
        super().__init__(text)
        self.project = project
        self._before: int | None = None
        self._after: int | None = None

    def apply(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        if self._before is None:
            self._before = self.project.revision
        self.apply()
        if self._after is None:
            self._after = self.project.revision
        else:
            self.project.restore_revision(self._after)

    def undo(self) -> None:
        self.revert()
        if self._before is not None:
            self.project.restore_revision(self._before)


class SetNotesCommand(ProjectCommand):
    """Replace a layer's notes; the selection before/after travels with it as data.

    With ``merge_key``, consecutive commands with the same key on the same layer
    merge into one undo step (a threshold slider dragged through ten values is
    one step, not ten full copies of the notes).
    """

    def __init__(
        self,
        project: Project,
        layer_id: str,
        new_notes: list[Note],
        text: str,
        *,
        old_selection: set[Note] | None = None,
        new_selection: set[Note] | None = None,
        merge_key: str | None = None,
    ) -> None:
        super().__init__(project, text)
        self.layer_id = layer_id
        self.new_notes = list(new_notes)
        self.old_notes = list(project.layer(layer_id).sequence.notes)
        self.old_selection = set(old_selection or ())
        self.new_selection = set(new_selection or ())
        self.merge_key = merge_key

    def id(self) -> int:
        return MERGE_NOTES if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not (
            isinstance(other, SetNotesCommand)
            and other.merge_key == self.merge_key
            and other.layer_id == self.layer_id
            and other.project is self.project
        ):
            return False
        self.new_notes = other.new_notes
        self.new_selection = other.new_selection
        self._after = other._after
        self.setText(other.text())
        return True

    def apply(self) -> None:
        self.project.set_notes(self.layer_id, self.new_notes, selection=self.new_selection)

    def revert(self) -> None:
        self.project.set_notes(self.layer_id, self.old_notes, selection=self.old_selection)


class AddLayerCommand(ProjectCommand):
    def __init__(self, project: Project, layer: Layer, index: int) -> None:
        super().__init__(project, f"add layer '{layer.name}'")
        self.layer, self.index = layer, index

    def apply(self) -> None:
        self.project.insert_layer(self.layer, self.index)

    def revert(self) -> None:
        self.project.remove_layer(self.layer.id)


class RemoveLayerCommand(ProjectCommand):
    def __init__(self, project: Project, layer_id: str) -> None:
        layer = project.layer(layer_id)
        super().__init__(project, f"delete layer '{layer.name}'")
        self.layer = layer
        self.index = project.index_of(layer_id)

    def apply(self) -> None:
        self.project.remove_layer(self.layer.id)

    def revert(self) -> None:
        self.project.insert_layer(self.layer, self.index)


class LayerPropsCommand(ProjectCommand):
    """Rename, recolour or re-kind a layer (show/mute/solo are switches, not undo steps)."""

    def __init__(self, project: Project, layer_id: str, props: dict[str, Any]) -> None:
        super().__init__(project, "change layer " + ", ".join(props))
        self.layer_id, self.props = layer_id, dict(props)
        layer = project.layer(layer_id)
        self.old = {k: getattr(layer, k) for k in props}

    def apply(self) -> None:
        self.project.set_layer_props(self.layer_id, **self.props)

    def revert(self) -> None:
        self.project.set_layer_props(self.layer_id, **self.old)


class SetTimingCommand(ProjectCommand):
    """Give the project a tempo map and metre (Detect tempo, or a tempo typed in)."""

    def __init__(
        self,
        project: Project,
        tempo_map: TempoMap | None,
        time_signatures: list[TimeSignature] | None,
        key_signatures: list[KeySignature] | None = None,
        text: str = "set tempo map",
    ) -> None:
        super().__init__(project, text)
        self.new = (tempo_map, time_signatures, key_signatures)
        self.old = (project.tempo_map, project.time_signatures, project.key_signatures)

    def apply(self) -> None:
        self.project.set_timing(*self.new)

    def revert(self) -> None:
        self.project.set_timing(*self.old)


class SetAudioCommand(ProjectCommand):
    """Attach (or detach) an audio file; attaching is something the user asks for, so it is undoable."""

    def __init__(self, project: Project, path: str | None) -> None:
        super().__init__(project, "attach audio" if path else "detach audio")
        self.new, self.old = path, project.audio_path

    def apply(self) -> None:
        self.project.set_audio(self.new)

    def revert(self) -> None:
        self.project.set_audio(self.old)
