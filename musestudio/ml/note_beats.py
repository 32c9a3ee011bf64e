"""Note-level beat evidence: features per note, the note network's run, and its probabilities as frames.

The beat tracker's decoders read per-frame activations (:mod:`musestudio.ml.beats`).  The note network
(:mod:`musestudio.ml.models.note_beat`) scores notes instead; :func:`note_frame_activations` puts each
onset's probability on its frame, so that the two networks' evidence can be blended frame by frame and
everything downstream (the tempo DP, the meter, the tempo map) stays as it is.

Pure NumPy here; torch is imported only inside :func:`run_note_network`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musestudio.ml.models.note_beat import N_NOTE_FEATURES

#: Notes whose onsets lie within this of the first onset of their group are one chord.
CHORD_SECONDS = 0.035
#: A note's onset within this of an annotated beat is labelled a beat in training.
LABEL_SECONDS = 0.05
#: Notes per network call at inference: long pieces run in overlapping windows, so memory stays flat and a
#: note sees as much context as it did in training windows many times over.
INFER_NOTES = 2048
INFER_OVERLAP = 256


def onset_order(pitch: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Indices that sort notes by onset, then pitch (the order the network reads)."""
    return np.lexsort((np.asarray(pitch), np.asarray(start)))


def chord_ids(start: np.ndarray) -> np.ndarray:
    """Chord index of each note of a sorted onset array: a new chord where an onset is CHORD_SECONDS past
    the first onset of the current one."""
    ids = np.zeros(len(start), dtype=np.int64)
    if len(start) == 0:
        return ids
    cur, first = 0, float(start[0])
    for i in range(1, len(start)):  # one pass; vectorising it would need the running chord start anyway
        if start[i] - first > CHORD_SECONDS:
            cur += 1
            first = float(start[i])
        ids[i] = cur
    return ids


def _log_seconds(x: np.ndarray) -> np.ndarray:
    return (np.log1p(np.clip(x, 0.0, 8.0) / 0.02) / 6.0).astype(np.float32)


def note_event_features(pitch: np.ndarray, start: np.ndarray, end: np.ndarray,
                        velocity: np.ndarray) -> np.ndarray:
    """Notes already in onset order -> float32 [N, N_NOTE_FEATURES].

    Per note: pitch; the gaps from the previous and to the next chord; its duration; velocity and velocity
    against the mean of the 16 notes around it; its chord's size, whether it is the chord's lowest and
    highest note, the chord's span in keys; the gap from the previous note; and the chord's lowest pitch.
    Times enter as log seconds, so tempo changes scale them alike everywhere."""
    n = len(pitch)
    out = np.zeros((n, N_NOTE_FEATURES), dtype=np.float32)
    if n == 0:
        return out
    p = np.asarray(pitch, np.float64)
    s = np.asarray(start, np.float64)
    v = np.asarray(velocity, np.float64)
    ids = chord_ids(s)
    n_chords = int(ids[-1]) + 1
    chord_start = np.full(n_chords, np.inf)
    np.minimum.at(chord_start, ids, s)
    lo = np.full(n_chords, np.inf)
    hi = np.full(n_chords, -np.inf)
    np.minimum.at(lo, ids, p)
    np.maximum.at(hi, ids, p)
    size = np.bincount(ids, minlength=n_chords).astype(np.float64)
    gap_prev = np.diff(chord_start, prepend=chord_start[0] - 1.0)
    gap_next = np.diff(chord_start, append=chord_start[-1] + 1.0)
    # The mean velocity of the 16 notes around each (a centred window, fewer at the ends): the full
    # convolution sliced to the centre, which is np.convolve(mode="same") for n >= 16 and stays n long below.
    def centred(x: np.ndarray) -> np.ndarray:
        return np.convolve(x, np.ones(16), mode="full")[7 : 7 + n]

    local = centred(v) / centred(np.ones(n))
    out[:, 0] = (p - 21.0) / 87.0
    out[:, 1] = _log_seconds(gap_prev[ids])
    out[:, 2] = _log_seconds(gap_next[ids])
    out[:, 3] = _log_seconds(np.asarray(end, np.float64) - s)
    out[:, 4] = v / 127.0
    out[:, 5] = (v - local) / 40.0
    out[:, 6] = np.log1p(size[ids]) / 2.0
    out[:, 7] = (p == lo[ids]).astype(np.float32)
    out[:, 8] = (p == hi[ids]).astype(np.float32)
    out[:, 9] = (hi - lo)[ids] / 48.0
    out[:, 10] = _log_seconds(np.diff(s, prepend=s[0] - 1.0))
    out[:, 11] = (lo[ids] - 21.0) / 87.0
    return out


def note_targets(start: np.ndarray, beats: np.ndarray, downbeats: np.ndarray) -> tuple[np.ndarray, ...]:
    """(beat, downbeat, mask) per note of a sorted onset array: 1 where the onset is within LABEL_SECONDS
    of an annotated beat (downbeat); the mask is 0 outside the annotated span (0.1 s margin)."""
    out = []
    for times in (beats, downbeats):
        y = np.zeros(len(start), dtype=np.float32)
        if len(times):
            t = np.sort(np.asarray(times, np.float64))
            i = np.clip(np.searchsorted(t, start), 1, len(t) - 1) if len(t) > 1 else np.zeros(len(start), int)
            near = np.minimum(np.abs(start - t[i]), np.abs(start - t[np.maximum(i - 1, 0)]))
            y = (near <= LABEL_SECONDS).astype(np.float32)
        out.append(y)
    mask = np.zeros(len(start), dtype=np.float32)
    if len(beats):
        mask = ((start >= beats[0] - 0.1) & (start <= beats[-1] + 0.1)).astype(np.float32)
    return out[0], out[1], mask


def run_note_network(model: Any, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-note beat and downbeat probabilities, in overlapping windows of INFER_NOTES notes."""
    import torch

    n = len(features)
    beat = np.zeros(n, dtype=np.float32)
    down = np.zeros(n, dtype=np.float32)
    if n == 0:
        return beat, down
    step = INFER_NOTES - 2 * INFER_OVERLAP
    with torch.inference_mode():
        for lo in range(0, n, step):
            a, b = max(0, lo - INFER_OVERLAP), min(n, lo + step + INFER_OVERLAP)
            logits = model.logits(torch.from_numpy(features[a:b])[None])[0]
            prob = torch.sigmoid(logits).numpy()
            hi = min(n, lo + step)
            beat[lo:hi] = prob[lo - a : hi - a, 0]
            down[lo:hi] = prob[lo - a : hi - a, 1]
    return beat, down


def note_frame_activations(start: np.ndarray, beat: np.ndarray, down: np.ndarray, n_frames: int,
                           frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame activations: each frame gets the highest probability among the notes starting in it."""
    fb = np.zeros(n_frames, dtype=np.float32)
    fd = np.zeros(n_frames, dtype=np.float32)
    f = np.floor(np.asarray(start) * frame_rate + 0.5).astype(np.int64)
    ok = (f >= 0) & (f < n_frames)
    np.maximum.at(fb, f[ok], beat[ok])
    np.maximum.at(fd, f[ok], down[ok])
    return fb, fd


def note_network_activations(model: Any, arrays: tuple[np.ndarray, ...], n_frames: int,
                             frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(pitch, start, end, velocity) of a piece -> the note network's beat and downbeat activations per frame."""
    pitch, start, end, vel = arrays
    order = onset_order(pitch, start)
    feats = note_event_features(pitch[order], start[order], end[order], vel[order])
    beat, down = run_note_network(model, feats)
    return note_frame_activations(start[order], beat, down, n_frames, frame_rate)


def blend(frame_act: np.ndarray, note_act: np.ndarray, weight: float) -> np.ndarray:
    """(1 - weight) x the frame network's activation + weight x the note network's, per frame."""
    return ((1.0 - weight) * frame_act + weight * note_act).astype(np.float32)
