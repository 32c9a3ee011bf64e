"""Frame-aligned training targets from a NoteSequence.

Targets describe what is *heard*: notes are first extended by the sustain
pedal (``with_sustain_applied``), as FluidSynth renders them, so the frame and
offset targets end where the sound is released.  Frame ``i`` is centred at
``i / frame_rate`` seconds, the convention of :mod:`musestudio.dsp.features`.
"""

from __future__ import annotations

import numpy as np

from musestudio.core.notes import PIANO_HIGH, PIANO_LOW, NoteSequence

N_KEYS = PIANO_HIGH - PIANO_LOW + 1


def frame_labels(seq: NoteSequence, n_frames: int, frame_rate: float) -> dict[str, np.ndarray]:
    """uint8 arrays: onset/frame/offset/velocity [n_frames, 88] and pedal [n_frames].

    velocity holds the MIDI velocity at onset frames (0 elsewhere); the others are 0/1.
    """
    onset = np.zeros((n_frames, N_KEYS), np.uint8)
    frame = np.zeros((n_frames, N_KEYS), np.uint8)
    offset = np.zeros((n_frames, N_KEYS), np.uint8)
    velocity = np.zeros((n_frames, N_KEYS), np.uint8)
    pedal = np.zeros(n_frames, np.uint8)
    heard = seq.with_sustain_applied()
    for n in heard.notes:
        if not PIANO_LOW <= n.pitch <= PIANO_HIGH:
            continue
        k = n.pitch - PIANO_LOW
        a = round(n.start * frame_rate)
        b = max(round(n.end * frame_rate), a + 1)
        if a >= n_frames:
            continue
        frame[a:min(b, n_frames), k] = 1
        onset[a, k] = 1
        velocity[a, k] = max(velocity[a, k], int(np.clip(n.velocity, 1, 127)))
        if b < n_frames:
            offset[b, k] = 1
    for down, up in seq.sustain_intervals():
        a = round(down * frame_rate)
        b = round(up * frame_rate)
        pedal[max(a, 0):min(max(b, a + 1), n_frames)] = 1
    return {"onset": onset, "frame": frame, "offset": offset, "velocity": velocity, "pedal": pedal}
