"""ViewBinder: the project's change events -> the views and the panels' Qt signals.

This is the only place that knows which view redraws after which change, so
undo commands and controllers never call a view.  (The piano roll, the
velocity lane and the spectrogram are other people's widgets with their own
refresh methods; the binder calls them.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer

from musestudio.core.project import Project


class ViewBinder(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.w = window
        self._unbind: list[Callable[[], None]] = []
        # Layer properties change from inside the layer list's own itemChanged signal (a check box,
        # a rename): rebuilding that list synchronously would delete the item Qt is still using.
        self._panel_sync = QTimer(self)
        self._panel_sync.setSingleShot(True)
        self._panel_sync.setInterval(0)
        self._panel_sync.timeout.connect(window.layers_panel.sync)

    def bind(self, project: Project) -> None:
        for undo in self._unbind:
            undo()
        self._unbind = []
        ev = project.events
        for signal, slot in (
            (ev.layers_changed, self._layers),
            (ev.layer_props_changed, self._props),
            (ev.notes_changed, self._notes),
            (ev.timing_changed, self.sync_timing),
            (ev.audio_changed, self._audio),
            (ev.modified_changed, self._modified),
            (ev.saved, self._modified),
        ):
            signal.connect(slot)
            self._unbind.append(lambda s=signal, f=slot: s.disconnect(f))

    # --- reactions ------------------------------------------------------------------------------
    def _layers(self, *, defer_panel: bool = False) -> None:
        w = self.w
        w.roll.sync_layers()
        self.sync_timing()
        w.velocity_lane.refresh()
        if defer_panel:
            self._panel_sync.start()
        else:
            w.layers_panel.sync()
        w.spectrogram.sync_overlays()
        w.player.invalidate()
        w.context.events.layers_changed.emit()

    def _props(self, _layer_id: str) -> None:
        self._layers(defer_panel=True)

    def _notes(self, layer_id: str, selection: set[Any] | None) -> None:
        w = self.w
        w.roll.refresh_layer(layer_id)
        self.sync_timing()
        if layer_id == w.roll.active_id:
            if selection is not None:
                w.roll.set_selection(selection)
            w.velocity_lane.refresh()
        w.spectrogram.refresh_overlay(layer_id)
        self._panel_sync.start()  # the note counts
        w.player.invalidate()
        w.context.events.layers_changed.emit()

    def sync_timing(self) -> None:
        """The ruler and the grid follow the project's tempo map and ALL its time signatures."""
        w = self.w
        timing = w.project.timing()
        w.roll.ruler.set_timing(timing.tempo_map, timing.time_signatures or timing.time_signature)
        w.roll.grid.set_timing(timing.tempo_map, timing.time_signatures or timing.time_signature)
        w.update_tempo_label()

    def _audio(self) -> None:
        w = self.w
        w.spectrogram.clear()
        has_audio = bool(w.project.audio_path)
        w.act_show_spec.setChecked(has_audio)
        if has_audio:
            w.start_spectrogram()
        w.player.invalidate()
        w.context.events.audio_changed.emit()

    def _modified(self, *_: Any) -> None:
        self.w.update_title()
