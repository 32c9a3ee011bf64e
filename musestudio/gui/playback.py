"""Playback of the audible layers (SoundFont through FluidSynth, else the built-in synth) and the audio file.

sounddevice plays a rendered buffer, which is rendered, merged and mixed in a
worker (the audio file is decoded and resampled there too, once, then kept),
so pressing Play never blocks the window; the playhead follows a monotonic clock
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


def stop_sound() -> None:
    """Stop whatever sounddevice is playing; with no device (or no PortAudio) there is nothing to stop."""
    try:
        import sounddevice as sd

        sd.stop()
    except Exception:  # no PortAudio, no device: stopping silence is not an error
        pass


MIX_BLOCK = 1 << 16  # samples per mixing step (1.5 s at 44.1 kHz)


def mix_work(
    sequences: list[Any], audio: np.ndarray | str | None, soundfont: str | None
) -> Work[tuple[np.ndarray, np.ndarray | None]]:
    """Merge and render the audible layers and mix in the audio file, all at SAMPLE_RATE, off the UI thread.

    ``audio`` is samples already decoded at SAMPLE_RATE, or the path of the
    audio file: decoding and resampling a long recording takes seconds, so it
    happens here, in the worker, and the decoded samples come back with the
    mix for the player to keep.
    """
    from musestudio.io.synth import render

    yield Progress(0, 3, "reading audio" if isinstance(audio, str) else "merging layers")
    if isinstance(audio, str):
        from musestudio.io.audio import load_audio

        audio = load_audio(audio, SAMPLE_RATE)[0]
    seq = None
    for part in sequences:
        seq = part.copy() if seq is None else seq.merged(part)
    yield Progress(1, 3, "rendering notes")
    parts = []
    if seq is not None and len(seq):
        parts.append(render(seq, SAMPLE_RATE, soundfont))
    yield Progress(2, 3, "mixing")
    if audio is not None and len(audio):
        parts.append(audio.astype(np.float32))
    if not parts:
        return np.zeros(0, np.float32), audio
    # Block by block: one numpy call over 10 minutes of samples holds the GIL for tens of milliseconds,
    # and the UI thread waits for it (tests/benchmarks/bench_ui_responsive.py, Play).
    out = np.zeros(max(len(p) for p in parts), np.float32)
    peak = 0.0
    for lo in range(0, len(out), MIX_BLOCK):
        block = out[lo : lo + MIX_BLOCK]
        for p in parts:
            block[: max(0, min(len(p) - lo, len(block)))] += p[lo : lo + len(block)]
        peak = max(peak, float(np.abs(block).max()))
    if peak > 0.99:
        for lo in range(0, len(out), MIX_BLOCK):
            out[lo : lo + MIX_BLOCK] *= 0.99 / peak
    yield Progress(3, 3, "")
    return out, audio


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
        self._rendering = False
        self._pending: tuple[float, tuple[float, float] | None] | None = None
        self._audio: tuple[str, np.ndarray] | None = None  # (path, samples at SAMPLE_RATE), decoded in the worker
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
            if self._rendering:
                self._pending = (start, loop)  # a second Play while rendering: start from the latest request
                return True
            project = self.window.project
            sequences = [layer.sequence for layer in project.audible_layers()]
            audio: np.ndarray | str | None = None
            if project.audio_path and self.window.spectrogram.play_audio_box.isChecked():
                cached = self._audio
                audio = cached[1] if cached is not None and cached[0] == project.audio_path else project.audio_path
            soundfont = self.window.settings.soundfont_path or None
            path = project.audio_path
            self._rendering = True
            self._pending = (start, loop)

            def ready(result: tuple[np.ndarray, np.ndarray | None]) -> None:
                self._rendering = False
                self._buffer, decoded = result
                if decoded is not None and path:
                    self._audio = (path, decoded)
                pending, self._pending = self._pending, None
                if pending is not None:
                    self._start(*pending)

            def failed(message: str) -> None:
                self._rendering = False
                self._pending = None
                self.window.show_status(f"Playback failed: {message}")

            self.window.run_work(mix_work(sequences, audio, soundfont), ready, failed, label="Rendering")
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
        stop_sound()
        self.state_changed.emit("Stopped")

    def _tick(self) -> None:
        elapsed = time.monotonic() - self._t0
        if self._loop is not None:
            elapsed %= max(self._len, 1e-6)
        elif elapsed >= self._len:
            self.stop()
            return
        self.position_changed.emit(self._offset + elapsed)
