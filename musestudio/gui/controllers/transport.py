"""Transport: the playhead and play/stop/loop, shared by the piano roll, the spectrogram and the player."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class Transport(QObject):
    position_changed = Signal(float)

    def __init__(self, roll: Any, spectrogram: Any, player: Any, loop_enabled: Callable[[], bool],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.roll, self.spectrogram, self.player = roll, spectrogram, player
        self.loop_enabled = loop_enabled
        roll.playhead_moved.connect(self.seek)
        player.position_changed.connect(self._follow)

    @property
    def playing(self) -> bool:
        return bool(self.player.playing)

    def position(self) -> float:
        return float(self.roll.playhead.value())

    def seek(self, t: float) -> None:
        t = max(0.0, float(t))
        self.roll.set_playhead(t)
        self.spectrogram.set_playhead(t)
        if self.player.playing:
            self.player.seek(t)
        self.position_changed.emit(t)

    def to_start(self) -> None:
        self.seek(0.0)

    def toggle(self) -> None:
        if self.player.playing:
            self.stop()
        else:
            self.player.play(self.position(), self.roll.time_range() if self.loop_enabled() else None)

    def stop(self) -> None:
        self.player.stop()

    def _follow(self, t: float) -> None:
        self.roll.set_playhead(t)
        self.spectrogram.set_playhead(t)
        x0, x1 = self.roll.vb.viewRange()[0]
        if t > x1 or t < x0:  # page along with the music
            self.roll.vb.setXRange(t, t + (x1 - x0), padding=0)
        self.position_changed.emit(t)
