"""Sub-frame onset and offset times from synthetic activations (musestudio.ml.decode)."""

from __future__ import annotations

import numpy as np
import pytest

from musestudio.ml.activations import Activations
from musestudio.ml.decode import DecodeSettings, decode, subframe_end, subframe_onsets

FPS = 31.25


def bump(n: int, centre: float, width: float = 0.8) -> np.ndarray:
    """An onset activation peaking between frames, as a smeared model output would."""
    t = np.arange(n)
    return (0.95 * np.exp(-0.5 * ((t - centre) / width) ** 2)).astype(np.float32)


def make(onset_at: float, end_at: float, pitch: int = 60, n: int = 120) -> Activations:
    z = np.zeros((n, 88), np.float32)
    onset, frame, offset, vel = z.copy(), z.copy(), z.copy(), z.copy()
    k = pitch - 21
    onset[:, k] = bump(n, onset_at)
    t = np.arange(n)
    # frame probability: high inside the note, a linear fall through 0.5 at end_at over 2 frames
    frame[:, k] = np.clip(0.5 - (t - end_at) * 0.25, 0.0, 0.9) * (t >= int(onset_at))
    vel[:, k] = 0.6
    return Activations(onset, frame, offset, vel, np.zeros(n, np.float32), FPS)


@pytest.mark.parametrize("centre", [20.0, 20.25, 20.4, 19.7, 35.5])
def test_parabolic_onset_finds_the_peak_between_frames(centre: float) -> None:
    acts = make(centre, 80.0)
    settings = DecodeSettings(onset_threshold=0.5, frame_threshold=0.5, repeat_threshold=None)
    (note,) = decode(acts, settings).notes
    # a sampled Gaussian's parabolic vertex is biased towards the sample by < 0.1 frame
    assert abs(note.start * FPS - centre) < 0.12
    frame_only = decode(acts, DecodeSettings(onset_threshold=0.5, frame_threshold=0.5, repeat_threshold=None,
                                             subframe=False)).notes[0]
    assert frame_only.start * FPS == round(centre - 1e-9) or abs(frame_only.start * FPS - centre) <= 0.5
    assert abs(note.start * FPS - centre) <= abs(frame_only.start * FPS - centre) + 1e-9


@pytest.mark.parametrize("end_at", [60.0, 60.3, 60.8])
def test_offset_is_where_the_frame_probability_crosses(end_at: float) -> None:
    acts = make(20.0, end_at)
    (note,) = decode(acts, DecodeSettings(onset_threshold=0.5, frame_threshold=0.5, repeat_threshold=None)).notes
    # frame i covers [i - 0.5, i + 0.5): the crossing at end_at means sound until end_at + 0.5
    assert note.end * FPS == pytest.approx(end_at + 0.5, abs=1e-3)


def test_edges_and_flat_tops_keep_their_frame() -> None:
    onset = np.zeros((10, 88), np.float32)
    onset[0, 3] = 0.9  # first frame: no left neighbour
    onset[9, 4] = 0.9  # last frame
    onset[4:6, 5] = 0.8  # a plateau: the parabola has no curvature at frame 4's left
    got = subframe_onsets(onset, np.array([0, 9, 4]), np.array([3, 4, 5]))
    assert got[0] == 0.0 and got[1] == 9.0
    assert 4.0 <= got[2] <= 4.5
    assert subframe_end(np.array([0.9, 0.9, 0.1]), 2, 0.5) == pytest.approx(1.5 + 0.4 / 0.8)
    assert subframe_end(np.array([0.9, 0.9]), 2, 0.5) == 2.0  # the column ends: nothing to interpolate


def test_repeated_key_never_overlaps_itself() -> None:
    n = 100
    z = np.zeros((n, 88), np.float32)
    onset, frame = z.copy(), z.copy()
    onset[:, 39] = bump(n, 20.4, 0.5) + bump(n, 22.7, 0.5)  # two strikes 2.3 frames apart
    frame[18:60, 39] = 0.9
    acts = Activations(onset, frame, z.copy(), z + 0.5, np.zeros(n, np.float32), FPS)
    notes = decode(acts, DecodeSettings(onset_threshold=0.5, frame_threshold=0.5, repeat_threshold=None)).notes
    assert len(notes) == 2
    assert notes[0].end <= notes[1].start + 1e-9
    assert all(nt.end > nt.start for nt in notes)
