"""The extension point for feature panels (generation, transcription, metrics, ...).

How to write a panel
--------------------
1. Create ``musestudio/gui/panels/<feature>_panel.py`` with a subclass of
   :class:`Panel`.  Set ``TITLE`` (the dock's title) and optionally ``AREA``
   ("right", "left" or "bottom").  Build your widgets in ``__init__``; keep
   torch and other heavy imports *inside* methods, so the window opens fast.
2. Register it with one line in ``PANELS`` in ``musestudio/gui/panels/__init__.py``:
   ``PanelSpec("musestudio.gui.panels.<feature>_panel", "<ClassName>")``.
   A panel whose module is missing is skipped; one that fails to import or
   build is skipped with a message in the status bar, so one broken panel
   never stops the app.
3. Talk to the app only through ``self.context`` (a :class:`PanelContext`):

   * ``context.project`` — the Qt-free :class:`~musestudio.core.project.Project`
     (read it; change it through ``add_layer`` so that undo works);
   * ``context.selected_layers()`` / ``context.current_layer()``;
   * ``context.selected_time_range()`` — the range dragged on the ruler
     (the seed region), or ``None``;
   * ``context.seed_sequence()`` — the current layer's notes in that range;
   * ``context.audio_path()`` / ``context.audio_samples(sample_rate)``;
   * ``context.add_layer(name, seq, kind)`` — adds a layer (undoable);
   * ``context.set_layer_notes(layer_id, notes, text, merge_key=...)`` — replaces notes (undoable);
   * ``context.add_candidate(...)`` / ``context.accept_candidate(...)`` — generated continuations;
   * ``context.run_work(work, on_done, on_error, cancel=token, label=...)`` —
     drives a :data:`~musestudio.core.progress.Work` generator in a worker
     thread with the progress bar and Cancel button; ``on_done(result)`` and
     ``on_error(message)`` run on the UI thread.  Pass the same
     :class:`~musestudio.core.progress.CancelToken` you gave the generator so
     Cancel reaches it at its next yield;
   * ``context.show_error(message)`` / ``context.show_status(message)``;
   * ``context.settings`` — the typed :class:`~musestudio.gui.settings.AppSettings`
     (``default_model``, ``soundfont_path``, ...);
   * ``context.events`` — Qt signals: ``project_changed``, ``layers_changed``,
     ``selection_changed``, ``time_range_changed``, ``audio_changed``;
   * ``context.project.events`` — the document's own (psygnal) events, finer
     grained: ``notes_changed(layer_id, selection)``, ``layer_props_changed(layer_id)``,
     ``timing_changed``, ``modified_changed(bool)``...  Connect again on
     ``project_changed`` (a new project has new events).

   Workers never touch widgets; only ``on_done``/``on_error`` do.

A minimal panel::

    class HelloPanel(Panel):
        TITLE = "Hello"

        def __init__(self, context, parent=None):
            super().__init__(context, parent)
            button = QPushButton("Count notes", self)
            button.clicked.connect(lambda: context.show_status(
                f"{len(context.current_layer().sequence)} notes"))
            QVBoxLayout(self).addWidget(button)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    import numpy as np

    from musestudio.core.notes import Note, NoteSequence
    from musestudio.core.progress import CancelToken, Work
    from musestudio.core.project import Layer, Project
    from musestudio.gui.settings import AppSettings


class PanelEvents(QObject):
    """Signals a panel can listen to (all emitted on the UI thread)."""

    project_changed = Signal()  # a new or reloaded project
    layers_changed = Signal()  # layers added/removed/renamed or their notes edited
    selection_changed = Signal()  # current/selected layers changed
    time_range_changed = Signal()  # the ruler selection (seed region) changed
    audio_changed = Signal()  # an audio file was loaded or removed


class PanelContext:
    """What a panel may use of the main window; see the module docstring.

    The main window implements the ``_window`` side; panels depend only on
    this class, so they can be tested with a small fake window.
    """

    def __init__(self, window: Any) -> None:
        self._window = window
        self.events = PanelEvents()

    @property
    def project(self) -> Project:
        return self._window.project

    @property
    def settings(self) -> AppSettings:
        return self._window.settings

    def selected_layers(self) -> list[Layer]:
        return self._window.selected_layers()

    def current_layer(self) -> Layer | None:
        return self._window.current_layer()

    def selected_time_range(self) -> tuple[float, float] | None:
        return self._window.selected_time_range()

    def seed_sequence(self) -> NoteSequence | None:
        """Notes of the current layer inside the ruler selection (all of it when none)."""
        layer = self.current_layer()
        if layer is None:
            return None
        rng = self.selected_time_range()
        return layer.sequence.copy() if rng is None else layer.sequence.slice(*rng)

    def audio_path(self) -> str | None:
        return self.project.audio_path

    def audio_samples(self, sample_rate: int | None = None) -> tuple[np.ndarray, int] | None:
        """The loaded audio as mono float32 (cached per rate), or None when no audio is loaded."""
        return self._window.audio_samples(sample_rate)

    def add_layer(self, name: str, seq: NoteSequence, kind: str = "continuation", **props: Any) -> Layer:
        """Add a layer as one undo step; ``props`` are Layer fields such as ``color``."""
        return self._window.add_layer(name, seq, kind, **props)

    def set_layer_notes(
        self, layer_id: str, notes: list[Note], text: str = "Replace notes", *, merge_key: str | None = None
    ) -> None:
        """Replace a layer's notes as one undo step (e.g. a re-decoded transcription).

        Consecutive calls with the same ``merge_key`` on the same layer merge into
        ONE undo step (a threshold dragged through ten values is not ten steps).
        """
        if merge_key is None:
            self._window.set_layer_notes(layer_id, notes, text)
        else:
            self._window.set_layer_notes(layer_id, notes, text, merge_key=merge_key)

    def notes_token(self, layer_id: str) -> object:
        """Remember a layer's notes now; see :meth:`layer_edited_since`."""
        return tuple(self.project.layer(layer_id).sequence.notes)

    def layer_edited_since(self, layer_id: str, token: object) -> bool:
        """Whether the layer's notes differ from when ``token`` was taken (e.g. hand edits to a
        transcription that a re-decode must not overwrite silently)."""
        try:
            return tuple(self.project.layer(layer_id).sequence.notes) != token
        except KeyError:
            return True

    def add_candidate(self, name: str, seq: NoteSequence, *, seed_layer_id: str | None, seed_end: float) -> Layer:
        """Add a generated continuation as a candidate layer (one undo step).

        Being a candidate is recorded in the layer (``Layer.candidate_of``), so
        undo/redo bring the Candidates list back with the layers:
        list them with ``context.project.candidates()``.
        """
        return self._window.edits.add_candidate(name, seq, seed_layer_id=seed_layer_id, seed_end=seed_end)

    def accept_candidate(self, candidate_id: str, *, mode: str = "replace", gap: float = 0.0) -> Layer:
        """ONE undo step: a new layer = the seed layer's notes before the seed range's end + the
        continuation + the original's notes after it (``mode="replace"``: from the continuation's
        end + ``gap`` on; ``"insert"``: all of them, moved later), and every candidate layer removed."""
        return self._window.edits.accept_candidate(candidate_id, mode=mode, gap=gap)

    def delete_layers(self, layer_ids: list[str]) -> None:
        """Remove layers as one undo step."""
        self._window.delete_layers(layer_ids)

    def run_work(
        self,
        work: Work[Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None] | None = None,
        *,
        cancel: CancelToken | None = None,
        label: str = "",
    ) -> Any:
        return self._window.run_work(work, on_done, on_error, cancel=cancel, label=label)

    def show_error(self, message: str) -> None:
        self._window.show_error(message)

    def show_status(self, message: str) -> None:
        self._window.show_status(message)


class Panel(QWidget):
    """Base class of a dock panel.  Subclasses set ``TITLE`` and build their widgets."""

    TITLE = "Panel"
    AREA = "right"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context


@dataclass(frozen=True)
class PanelSpec:
    """Where to find a panel class: imported only when the window builds its docks."""

    module: str
    class_name: str
