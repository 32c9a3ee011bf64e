"""Play one listening-test clip, or say why not.

The device check is the app's own (``musestudio.gui.playback``), so the
listening window and the main window agree on whether there is sound.  A clip
counts as heard once it has played to its end (or was exported, the fallback
when there is no sound device: the participant listens in another player).
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal


class ClipPlayer(QObject):
    position_changed = Signal(float, float)  # seconds played, clip length
    finished = Signal()  # played to the end

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._samples: np.ndarray | None = None
        self._rate = 44100
        self._t0 = 0.0
        self.playing = False
        self.max_heard = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._tick)

    @staticmethod
    def available() -> tuple[bool, str]:
        from musestudio.gui import playback

        names, reason = playback._query_output_devices()
        return bool(names), reason

    def load(self, samples: np.ndarray, rate: int) -> None:
        self.stop()
        self._samples, self._rate = samples, rate
        self.max_heard = 0.0

    @property
    def duration(self) -> float:
        return 0.0 if self._samples is None else len(self._samples) / self._rate

    def play(self) -> str:
        """Start playing; returns '' or a one-line reason it could not."""
        ok, reason = self.available()
        if not ok:
            return f"No sound here ({reason}): use Export audio and listen in another player"
        if self._samples is None:
            return "nothing to play"
        try:
            import sounddevice as sd

            sd.play(self._samples, self._rate)
        except Exception as exc:  # the device vanished or is busy
            return f"Playback failed: {str(exc).splitlines()[0][:120]}"
        self._t0 = time.monotonic()
        self.playing = True
        self._timer.start()
        return ""

    def stop(self) -> None:
        if not self.playing:
            return
        self.playing = False
        self._timer.stop()
        from musestudio.gui.playback import stop_sound

        stop_sound()

    def _tick(self) -> None:
        elapsed = time.monotonic() - self._t0
        self.max_heard = max(self.max_heard, min(elapsed, self.duration))
        self.position_changed.emit(min(elapsed, self.duration), self.duration)
        if elapsed >= self.duration:
            self.stop()
            self.finished.emit()
