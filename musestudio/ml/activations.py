"""The transcriber's per-frame outputs, in a module of their own.

:mod:`musestudio.ml.transcribe` produces them and :mod:`musestudio.ml.decode`
consumes them; keeping the type here lets both import it without importing
each other (the cycle issue #17 pointed out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Activations:
    """Per-frame model outputs: probabilities in [0, 1] (velocity as a fraction of 127).

    onset/frame/offset/velocity are [frames, 88] (key 0 = A0, MIDI 21); pedal is
    [frames].  Frame ``i`` is centred at ``i / frame_rate`` seconds.  ``level`` is
    [frames] or None: the playing level in dB that the input's loudness normaliser
    took away (checkpoints with ``features.loudness = "running"``); the decoder
    gives part of it back to the velocities (``DecodeSettings.level_velocity``).
    """

    onset: np.ndarray
    frame: np.ndarray
    offset: np.ndarray
    velocity: np.ndarray
    pedal: np.ndarray
    frame_rate: float
    level: np.ndarray | None = None
    # [frames, 88] or None: each key's energy in the recording, in dB, before loudness normalisation (the
    # loudest of the three filterbank bins around the key's pitch); read by DecodeSettings.velocity_model.
    key_energy: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return int(self.onset.shape[0])

    @property
    def duration(self) -> float:
        return self.n_frames / self.frame_rate
