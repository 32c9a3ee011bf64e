"""Playback of the audible layers (SoundFont through FluidSynth, else the built-in synth) and the audio file.

sounddevice plays a rendered buffer; the playhead follows a monotonic clock
at ~30 Hz (throttled, never per audio block).  With no output device the
player says so once, in the status bar, and everything else keeps working.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from musestudio.core.progress import Progress, Work

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
PLAYHEAD_HZ = 30


def _query_output_devices() -> tuple[list[str], str]:
    """(names of output devices, a reason when there are none)."""
    try:
        import sounddevice as sd
    except Exception as exc:  # PortAudio missing: OSError from the import
        return [], f"no audio library ({str(exc).splitlines()[0][:80]})"
    try:
        devices = sd.query_devices()
    except Exception as exc:
        return [], f"audio devices cannot be listed ({str(exc)[:80]})"
    names = [d["name"] for d in devices if d.get("max_output_channels", 0) > 0]
    return names, "" if names else "no audio output device"


def mix_work(layers_seq: Any, audio: np.ndarray | None, soundfont: str | None) -> Work[np.ndarray]:
    """Render the audible notes and mix in the audio file (both at SAMPLE_RATE)."""
    from musestudio.io.synth import render

    yield Progress(0, 2, "rendering notes")
    parts = []
    if layers_seq is not None and len(layers_seq):
        parts.append(render(layers_seq, SAMPLE_RATE, soundfont))
    yield Progress(1, 2, "mixing")
    if audio is not None and len(audio):
        parts.append(audio.astype(np.float32))
    if not parts:
        return np.zeros(0, np.float32)
    out = np.zeros(max(len(p) for p in parts), np.float32)
    for p in parts:
        out[: len(p)] += p
    peak = float(np.abs(out).max()) if len(out) else 0.0
    if peak > 0.99:
        out *= 0.99 / peak
    yield Progress(2, 2, "")
    return out


class Player(QObject):
    position_changed = Signal(float)
    state_changed = Signal(str)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.playing = False
        self._buffer: np.ndarray | None = None
        self._devices: tuple[list[str], str] | None = None
        self._t0 = 0.0
        self._offset = 0.0
        self._loop: tuple[float, float] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / PLAYHEAD_HZ))
        self._timer.timeout.connect(self._tick)

    # --- devices ----------------------------------------------------------------------------------
    def output_devices(self) -> list[str]:
        if self._devices is None:
            self._devices = _query_output_devices()
        return self._devices[0]

    def available(self) -> tuple[bool, str]:
        devices = self.output_devices()
        assert self._devices is not None
        return bool(devices), self._devices[1]

    def status_text(self) -> str:
        ok, reason = self.available()
        if not ok:
            return f"Playback disabled: {reason}"
        from musestudio.io.synth import describe_renderer

        return f"Sound: {describe_renderer(self.window.settings.soundfont_path or None)}"

    # --- transport -----------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Notes, mutes or the SoundFont changed: render again on the next play."""
        self._buffer = None

    def play(self, start: float, loop: tuple[float, float] | None = None) -> bool:
        ok, reason = self.available()
        if not ok:
            msg = f"Playback disabled: {reason}. Everything else works; export to WAV to listen elsewhere."
            self.window.show_status(msg)
            self.state_changed.emit(f"Playback disabled: {reason}")
            return False
        if self._buffer is None:
            project = self.window.project
            layers = project.audible_layers()
            seq = None
            for layer in layers:
                seq = layer.sequence.copy() if seq is None else seq.merged(layer.sequence)
            audio = None
            if project.audio_path and self.window.spectrogram.play_audio_box.isChecked():
                got = self.window.audio_samples(SAMPLE_RATE)
                audio = got[0] if got else None
            soundfont = self.window.settings.soundfont_path or None

            def ready(buf: np.ndarray) -> None:
                self._buffer = buf
                self._start(start, loop)

            self.window.run_work(mix_work(seq, audio, soundfont), ready, label="Rendering")
            return True
        return self._start(start, loop)

    def _start(self, start: float, loop: tuple[float, float] | None) -> bool:
        import sounddevice as sd

        buf = self._buffer if self._buffer is not None else np.zeros(0, np.float32)
        self._loop = loop
        if loop is not None:
            a, b = (int(t * SAMPLE_RATE) for t in loop)
            chunk, self._offset = buf[a:b], loop[0]
        else:
            chunk, self._offset = buf[int(start * SAMPLE_RATE) :], start
        if not len(chunk):
            self.window.show_status("Nothing to play from here")
            return False
        try:
            device = self.window.settings.audio_device or None
            sd.play(chunk, SAMPLE_RATE, device=device, loop=loop is not None)
        except Exception as exc:  # device vanished or busy
            self.window.show_status(f"Playback failed: {str(exc).splitlines()[0][:120]}")
            return False
        self._t0 = time.monotonic()
        self._len = len(chunk) / SAMPLE_RATE
        self.playing = True
        self._timer.start()
        self.state_changed.emit("Playing (loop)" if loop else "Playing")
        return True

    def seek(self, t: float) -> None:
        self.stop()
        self.play(t, self._loop)

    def stop(self) -> None:
        if not self.playing:
            return
        self.playing = False
        self._timer.stop()
        try:
            import sounddevice as sd

            sd.stop()
        except Exception:
            pass
        self.state_changed.emit("Stopped")

    def _tick(self) -> None:
        elapsed = time.monotonic() - self._t0
        if self._loop is not None:
            elapsed %= max(self._len, 1e-6)
        elif elapsed >= self._len:
            self.stop()
            return
        self.position_changed.emit(self._offset + elapsed)
