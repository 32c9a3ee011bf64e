"""EditController: every change to notes, layers and the tempo map, each one undo step.

It turns requests from the piano roll, the velocity lane, the layer list and
the menus into undo commands on the project; the views follow through the
project's events.  Copy/cut/paste use the system clipboard (our own MIME type,
plus a plain-text listing) so notes can go between windows and instances.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
from typing import Any, Protocol

from PySide6.QtCore import QMimeData, QObject
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication

from musestudio.core.notes import Note, NoteSequence
from musestudio.core.project import (
    ACCEPT_MODES,
    Layer,
    Project,
    accept_continuation,
    delete_notes,
    move_notes,
    quantize_notes,
    resize_notes,
    set_velocity,
    transpose_notes,
)
from musestudio.core.timing import KeySignature, TempoMap, TimeSignature
from musestudio.gui.undo import (
    AddLayerCommand,
    LayerPropsCommand,
    RemoveLayerCommand,
    SetNotesCommand,
    SetTimingCommand,
)

NOTES_MIME = "application/x-musestudio-notes"
_CLIPBOARD_GUARD: list[bool] = []


def _clear_clipboard_at_exit() -> None:
    app = QApplication.instance()
    if app is not None:
        app.clipboard().clear()


def _set_clipboard(mime: QMimeData) -> None:
    """Put notes on the clipboard; the clipboard's QMimeData must be gone before the QApplication.

    PySide6 6.11 crashes at interpreter exit when the clipboard still owns a
    QMimeData set from Python (reproduced: set one, exit -> SIGSEGV; clearing
    first -> clean exit; tests/gui/test_document_model.py::test_copy_cut_paste_notes
    runs in a child process that must exit with 0).
    """
    if not _CLIPBOARD_GUARD:
        atexit.register(_clear_clipboard_at_exit)
        _CLIPBOARD_GUARD.append(True)
    QApplication.clipboard().setMimeData(mime)


class EditView(Protocol):
    """What edits read from the views: the active layer, its note selection, the grid, the playhead."""

    def current_layer(self) -> Layer | None: ...
    def note_selection(self) -> set[Note]: ...
    def grid_beats(self) -> float: ...
    def new_velocity(self) -> int: ...
    def playhead(self) -> float: ...
    def show_status(self, message: str) -> None: ...
    def select_layer(self, layer_id: str) -> None: ...


def notes_to_mime(notes: list[Note]) -> QMimeData:
    mime = QMimeData()
    rows = [[n.pitch, n.start, n.end, n.velocity, n.track] for n in notes]
    mime.setData(NOTES_MIME, json.dumps({"notes": rows}).encode("utf-8"))
    mime.setText("\n".join(f"{n.pitch}\t{n.start:.4f}\t{n.end:.4f}\t{n.velocity}" for n in notes))
    return mime


def notes_from_mime(mime: QMimeData | None) -> list[Note]:
    if mime is None or not mime.hasFormat(NOTES_MIME):
        return []
    try:
        rows = json.loads(bytes(mime.data(NOTES_MIME).data()).decode("utf-8"))["notes"]
        notes = [Note(int(p), float(s), float(e), int(v), int(t)) for p, s, e, v, t in rows]
    except (ValueError, KeyError, TypeError):
        return []  # somebody else's bytes under our type: nothing to paste
    return [n for n in notes if 0 <= n.pitch <= 127 and 0 <= n.velocity <= 127 and 0 <= n.start <= n.end]


class EditController(QObject):
    def __init__(self, view: EditView, undo_stack: QUndoStack, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.undo_stack = undo_stack
        self.project = Project()

    def set_project(self, project: Project) -> None:
        self.project = project

    # --- helpers ----------------------------------------------------------------------
    def _layer(self) -> Layer | None:
        layer = self.view.current_layer()
        if layer is None:
            self.view.show_status("No layer to edit: open a file or add a layer (Ctrl+L)")
        return layer

    def push_notes(
        self, layer_id: str, notes: list[Note], text: str, new_selection: set[Note] | None = None,
        *, merge_key: str | None = None,
    ) -> None:
        old = self.view.note_selection() if self.view.current_layer() and self.view.current_layer().id == layer_id else set()
        self.undo_stack.push(
            SetNotesCommand(self.project, layer_id, notes, text, old_selection=old, new_selection=new_selection,
                            merge_key=merge_key)
        )

    def _edit(self, text: str, notes: list[Note], selection: set[Note]) -> None:
        layer = self.view.current_layer()
        if layer is not None:
            self.push_notes(layer.id, notes, text, selection)

    def snap_seconds(self, t: float) -> float:
        g = self.view.grid_beats()
        if g <= 0:
            return max(0.0, t)
        tm = self.project.timing().tempo_map
        return max(0.0, tm.beats_to_seconds(round(tm.seconds_to_beats(max(0.0, t)) / g) * g))

    # --- note edits -----------------------------------------------------------------------
    def move_selected(self, dt: float, semitones: int) -> None:
        layer = self._layer()
        sel = self.view.note_selection()
        if layer is None or not sel:
            return
        anchor = min(sel, key=lambda n: n.start)
        dt = self.snap_seconds(anchor.start + dt) - anchor.start
        notes, moved = move_notes(layer.sequence.notes, sel, dt, semitones)
        self._edit(f"move {len(sel)} notes", notes, moved)

    def resize_selected(self, d_end: float) -> None:
        layer = self._layer()
        sel = self.view.note_selection()
        if layer is None or not sel:
            return
        notes, changed = resize_notes(layer.sequence.notes, sel, d_end)
        self._edit(f"resize {len(sel)} notes", notes, changed)

    def add_note(self, pitch: int, t: float) -> None:
        layer = self.view.current_layer()
        if layer is None:  # an empty project: drawing a note starts a layer for it
            self.undo_stack.beginMacro("add note")
            self.new_empty_layer()
            self.add_note(pitch, t)
            self.undo_stack.endMacro()
            return
        if not layer.visible:
            self.view.show_status(f"'{layer.name}' is hidden: show it to edit its notes")
            return
        start = self.snap_seconds(t) if self.view.grid_beats() > 0 else t
        tm = self.project.timing().tempo_map
        length = self.view.grid_beats() or 0.5
        end = tm.beats_to_seconds(tm.seconds_to_beats(start) + length)
        note = Note(pitch, start, end, self.view.new_velocity())
        self._edit("add note", [*layer.sequence.notes, note], {note})

    def delete_selected(self) -> None:
        layer = self._layer()
        sel = self.view.note_selection()
        if layer is None or not sel:
            return
        self._edit(f"delete {len(sel)} notes", delete_notes(layer.sequence.notes, sel), set())

    def set_velocity(self, velocity: int) -> None:
        layer = self.view.current_layer()
        sel = self.view.note_selection()
        if layer is None or not sel or all(n.velocity == velocity for n in sel):
            return
        notes, changed = set_velocity(layer.sequence.notes, sel, velocity)
        self._edit(f"velocity {velocity}", notes, changed)

    def lane_velocities(self, changes: dict[Note, int]) -> None:
        layer = self.view.current_layer()
        if layer is None:
            return
        new = [dataclasses.replace(n, velocity=changes[n]) if n in changes else n for n in layer.sequence.notes]
        sel = {dataclasses.replace(n, velocity=changes[n]) if n in changes else n for n in self.view.note_selection()}
        self._edit(f"velocity of {len(changes)} notes", new, sel)

    def quantize_selected(self) -> None:
        layer = self._layer()
        if layer is None or not len(layer.sequence):
            return
        g = self.view.grid_beats() or 0.25
        sel = self.view.note_selection()
        timing = self.project.timing()
        seq = layer.sequence.copy(tempo_map=timing.tempo_map)  # the project's grid, which the ruler shows
        notes, changed = quantize_notes(seq, sel, g)
        self._edit(f"quantize {f'{len(sel)} notes' if sel else 'layer'}", notes, changed if sel else set())

    def transpose_selected(self, semitones: int) -> None:
        layer = self._layer()
        if layer is None or not len(layer.sequence):
            return
        sel = self.view.note_selection()
        notes, changed = transpose_notes(layer.sequence.notes, sel, semitones)
        self._edit(f"transpose {semitones:+d}", notes, changed if sel else set())

    # --- clipboard ---------------------------------------------------------------------------
    def copy(self) -> int:
        sel = sorted(self.view.note_selection(), key=lambda n: (n.start, n.pitch))
        if not sel:
            self.view.show_status("Select notes to copy")
            return 0
        _set_clipboard(notes_to_mime(sel))
        self.view.show_status(f"Copied {len(sel)} note(s)")
        return len(sel)

    def cut(self) -> int:
        n = self.copy()
        if n:
            layer = self.view.current_layer()
            if layer is not None:
                self._edit(f"cut {n} notes", delete_notes(layer.sequence.notes, self.view.note_selection()), set())
        return n

    def paste(self, at: float | None = None) -> int:
        """Paste at the playhead (snapped to the grid); the pasted notes become the selection."""
        notes = notes_from_mime(QApplication.clipboard().mimeData())
        if not notes:
            self.view.show_status("Nothing to paste: copy some notes first")
            return 0
        layer = self.view.current_layer()
        if layer is None:
            self.undo_stack.beginMacro("paste notes")
            self.new_empty_layer()
            n = self.paste(at)
            self.undo_stack.endMacro()
            return n
        t0 = min(n.start for n in notes)
        where = self.snap_seconds(self.view.playhead() if at is None else at)
        pasted = [n.shifted(dt=where - t0) for n in notes]
        self._edit(f"paste {len(pasted)} notes", [*layer.sequence.notes, *pasted], set(pasted))
        self.view.show_status(f"Pasted {len(pasted)} note(s) at {where:.2f} s")
        return len(pasted)

    # --- layers -------------------------------------------------------------------------------
    def add_layer(self, name: str, seq: NoteSequence, kind: str = "continuation", **props: Any) -> Layer:
        layer = self.project.new_layer(name, seq, kind, **props)
        self.undo_stack.push(AddLayerCommand(self.project, layer, len(self.project.layers)))
        return layer

    def new_empty_layer(self) -> Layer:
        layer = self.add_layer("edit", NoteSequence(), "edit")
        self.view.select_layer(layer.id)
        return layer

    def delete_layers(self, layer_ids: list[str]) -> None:
        if not layer_ids:
            return
        self.undo_stack.beginMacro("delete layers")
        for lid in layer_ids:
            self.undo_stack.push(RemoveLayerCommand(self.project, lid))
        self.undo_stack.endMacro()

    def set_layer_props(self, layer_id: str, **props: Any) -> None:
        self.undo_stack.push(LayerPropsCommand(self.project, layer_id, props))

    def toggle_layer(self, layer_id: str, prop: str, value: bool) -> None:
        """Show/mute/solo: switches, not undo steps (as in a mixer)."""
        self.project.set_layer_props(layer_id, **{prop: value})

    # --- generated candidates -------------------------------------------------------------------
    def add_candidate(self, name: str, seq: NoteSequence, *, seed_layer_id: str | None, seed_end: float) -> Layer:
        return self.add_layer(name, seq, "continuation", candidate_of=seed_layer_id or "", seed_end=float(seed_end))

    def accept_candidate(self, candidate_id: str, *, mode: str = "replace", gap: float = 0.0) -> Layer:
        """One undo step: a new layer = seed before the range's end + continuation + the rest; candidates go.

        Undo brings the candidate layers back, and since being a candidate is
        recorded in the layers themselves, the Candidates list comes back too.
        """
        if mode not in ACCEPT_MODES:
            raise ValueError(f"accept mode must be one of {ACCEPT_MODES}")
        chosen = self.project.layer(candidate_id)
        seed = next((la for la in self.project.layers if la.id == chosen.candidate_of), None)
        seed_end = chosen.seed_end if chosen.seed_end is not None else 0.0
        if seed is None:  # the seed layer was deleted: the continuation alone
            merged = chosen.sequence.copy()
            name = chosen.name
        else:
            merged = accept_continuation(seed.sequence, chosen.sequence, seed_end, mode=mode, gap=gap)
            name = f"{seed.name} + {chosen.name}"
        self.undo_stack.beginMacro(f"accept '{chosen.name}'")
        try:
            layer = self.add_layer(name, merged, "continuation")
            for cand in self.project.candidates():
                self.undo_stack.push(RemoveLayerCommand(self.project, cand.id))
        finally:
            self.undo_stack.endMacro()
        self.view.select_layer(layer.id)
        return layer

    # --- the tempo map ----------------------------------------------------------------------------
    def set_timing(
        self,
        tempo_map: TempoMap | None,
        time_signatures: list[TimeSignature] | None = None,
        key_signatures: list[KeySignature] | None = None,
        text: str = "set tempo map",
    ) -> None:
        self.undo_stack.push(SetTimingCommand(self.project, tempo_map, time_signatures, key_signatures, text))

    def set_constant_tempo(self, qpm: float, numerator: int = 4, denominator: int = 4) -> None:
        self.set_timing(TempoMap.constant(qpm, 960), [TimeSignature(0.0, numerator, denominator)],
                        self.project.timing().key_signatures, text=f"tempo {qpm:g} qpm, {numerator}/{denominator}")
