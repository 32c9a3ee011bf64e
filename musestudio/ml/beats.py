"""Beats, downbeats, meter, tempo map and key of a performance, from its notes alone.

Layers, as for transcription:

- :func:`note_features` (notes -> frame features) and :func:`run_activations`
  (features -> per-frame beat and downbeat probabilities, the learned part:
  :mod:`musestudio.ml.models.beat_tracker`);
- :func:`decode_beats` and :func:`decode_meter` (activations -> beat times,
  bar positions; pure and tested on hand-built activations);
- :func:`build_tempo_map` (beats + bars -> a MIDI tempo map whose bar lines fall
  on the performed downbeats while every note keeps its time);
- :func:`analyze` (a :class:`NoteSequence` -> :class:`BeatAnalysis`) and
  :func:`with_tempo_map`.

The decoders are written here rather than taken from madmom (the field's
DBN beat decoder): madmom does not install on Python 3.11 with current NumPy,
and its frame-level bar-pointer HMM costs seconds per 10 minutes of music in
NumPy, where the candidate dynamic programme below, which only visits
activation peaks, takes a few milliseconds (``tests/benchmarks/bench_beats.py``
times :func:`analyze`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musestudio.core.errors import ModelError, MusestudioError
from musestudio.core.keys import Key, estimate_key
from musestudio.core.notes import Note, NoteSequence
from musestudio.core.timing import (
    KeySignature,
    TempoChange,
    TempoMap,
    TimeSignature,
    is_pickup,
    meter_signature,
    onset_beat_seconds,
    pickup_signature,
)

FRAME_RATE = 25.0
N_KEYS = 88
LOWEST_KEY = 21
PPQ = 960
#: Longest performance analysed (the features and the model are chunked, so memory is flat,
#: but hours of music are not a performance; a clear error beats minutes of work).
MAX_SECONDS = 4 * 3600.0
MIN_NOTES = 4
MIN_ONSETS = 3
#: Model chunks: frames per call, and context frames on each side (> the TCN's one-sided reach of 510 frames).
#: Fixed 40 s chunks, whatever the file's length: the model's GroupNorm normalises over its window, so a
#: frame's activation depends on the window it is computed in; fixed chunks (close to the 20 s training
#: windows) make it independent of how long the file is (validation beat F 0.785 vs 0.781 for one pass).
CHUNK_FRAMES = 1_000
CONTEXT_FRAMES = 520


class AnalysisError(MusestudioError):
    """The notes cannot carry a beat analysis (too few, one chord, too long)."""


@dataclass
class DecodeParams:
    """Decoder settings; the defaults were chosen on the validation split (see the model card)."""

    candidate_threshold: float = 0.02  # activation peaks below this are not candidate beats
    fill_gap: float = 0.30  # s; stretches without peaks get a candidate every fill_step
    fill_step: float = 0.10
    min_ioi: float = 0.18  # s between beats (333 beats/min)
    max_ioi: float = 2.0  # s between beats (30 beats/min)
    tempo_penalty: float = 6.0  # per unit of |log(interval ratio)| between consecutive beats
    # |log(interval ratio)| below this costs nothing: timing jitter of a few percent (a played note, a 10 ms
    # frame) is not a tempo change, and charging it per beat makes a chain of every beat of a waltz cost three
    # times what a chain of its bars does (tests/ml/test_beats.py, decoder tests)
    tempo_tolerance: float = 0.0
    restart_penalty: float = 8.0  # starting a new chain after a break
    # A log-normal prior on the beat period, per beat: ASAP's annotated beats (training split) have a
    # median period of 0.56 s and a log standard deviation of 0.55.  It separates the beat from its
    # double and half where the activation alone does not.
    tempo_prior: float = 0.0
    prior_period: float = 0.56
    prior_sigma: float = 0.55
    # Centre the prior on each piece's own beat instead: the onset autocorrelation's period
    # (core.timing.onset_beat_seconds).  A tracker taught on concert repertoire gives beats 2 and 3 of a
    # plain 97 BPM waltz odds near even and decodes its bars; the onsets, a note on every beat and none
    # between, say where the beat is (the seventh and eighth sessions' fixture failures, model card).
    prior_from_onsets: bool = False
    obs_weight: float = 1.0
    # Training up-weighted the rare positive frames (pos_weight w: 4 for beats, 8 for downbeats), which
    # shifts the logits by about log(w); the decoders add these shifts to the log-odds (chosen on
    # validation), since a bar of 2 against a bar of 4 is only decided by calibrated downbeat odds.
    beat_logit_shift: float = 0.0
    downbeat_logit_shift: float = -2.0
    snap_seconds: float = 0.035  # move a beat onto a note onset this close
    meters: tuple[int, ...] = (2, 3, 4)
    meter_change: float = 1e-3  # probability of a meter change at a bar line
    bar_reset: float = 1e-4  # probability of an irregular bar (restart at a downbeat)
    ternary_threshold: float = 1.0  # log-ratio of triplet to duplet onset phases above which beats divide in 3
    key_profile: tuple[float, ...] | None = None  # learned key-signature profile (training split), see estimate_key_with_profile
    # Beats per bar chosen by a small classifier (meter_features -> softmax over METER_CLASSES, fitted on the
    # training split by ``python -m training.beats_eval fit-meter``); None = the Viterbi over ``meters`` alone.
    meter_classifier: dict[str, Any] | None = None
    # Metrical level chosen by a small linear ranker over candidate beat chains at 1/3, 1/2, 1, 2 and 3x the
    # free chain's tempo (level_features; fitted on the training or the validation split by ``python -m
    # training.beats_eval fit-level``); None = the free chain of decode_beats alone.
    level_chooser: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecodeParams:
        known = {f: d[f] for f in cls.__dataclass_fields__ if f in d}
        if "meters" in known:
            known["meters"] = tuple(int(m) for m in known["meters"])
        if known.get("key_profile") is not None:
            known["key_profile"] = tuple(float(x) for x in known["key_profile"])
            if len(known["key_profile"]) != 12:
                raise ValueError("key_profile needs 12 values")
        return cls(**known)


@dataclass
class BeatAnalysis:
    """Beats and bars of a performance, and a tempo map that puts them on a MIDI grid."""

    beats: np.ndarray  # seconds
    downbeats: np.ndarray  # seconds, a subset of beats
    time_signatures: list[TimeSignature]
    key_signatures: list[KeySignature]
    tempo_map: TempoMap
    beat_positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # 0 = downbeat
    beats_per_bar: int = 4
    ternary: bool = False  # beats divide in three (6/8, 9/8, 12/8)

    @property
    def time_signature(self) -> TimeSignature:
        return self.time_signatures[0]

    @property
    def key(self) -> KeySignature | None:
        return self.key_signatures[0] if self.key_signatures else None

    def median_bpm(self) -> float:
        if len(self.beats) < 2:
            return 0.0
        return float(60.0 / np.median(np.diff(self.beats)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "beats": [round(float(b), 4) for b in self.beats],
            "downbeats": [round(float(b), 4) for b in self.downbeats],
            "time_signatures": [
                {"time": round(t.time, 4), "numerator": t.numerator, "denominator": t.denominator}
                for t in self.time_signatures
            ],
            "key_signatures": [{"time": round(k.time, 4), "key": k.key, "mode": k.mode} for k in self.key_signatures],
            "tempo": [{"time": round(t, 4), "qpm": round(q, 3)} for t, q in self.tempo_map.tempo_changes_seconds()],
            "median_bpm": round(self.median_bpm(), 2),
        }


# --------------------------------------------------------------------------- features

def note_arrays(seq: NoteSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pitch, start, end, velocity) arrays of the pitched notes, sorted by start."""
    notes = sorted(seq.notes, key=lambda n: (n.start, n.pitch))
    pitch = np.fromiter((n.pitch for n in notes), dtype=np.int64, count=len(notes))
    start = np.fromiter((n.start for n in notes), dtype=np.float64, count=len(notes))
    end = np.fromiter((n.end for n in notes), dtype=np.float64, count=len(notes))
    vel = np.fromiter((n.velocity for n in notes), dtype=np.float64, count=len(notes))
    return pitch, start, end, vel


N_SUMMARY = 6


def note_features(
    pitch: np.ndarray, start: np.ndarray, end: np.ndarray, velocity: np.ndarray,
    first_frame: int, n_frames: int, frame_rate: float = FRAME_RATE, summary: bool = True,
) -> np.ndarray:
    """Frames [first_frame, first_frame + n_frames) -> float32 [n_frames, 176 (+6)].

    Columns 0-87: the loudest onset velocity (/127) of each key in the frame;
    columns 88-175: 1 where the key sounds; with ``summary``, six more: the
    number of onsets (/10), the log of the summed durations of the notes that
    start, the loudest onset velocity, the lowest and the highest onset key
    (/88; 0 without onsets), and the number of sounding keys (/10).  Keys
    outside the piano are folded onto its nearest octave.
    """
    width = 2 * N_KEYS + (N_SUMMARY if summary else 0)
    out = np.zeros((n_frames, width), dtype=np.float32)
    if n_frames <= 0 or len(pitch) == 0:
        return out
    key = pitch - LOWEST_KEY
    key = np.where(key < 0, key % 12, key)
    key = np.where(key >= N_KEYS, N_KEYS - 12 + (key - N_KEYS) % 12, key)
    on = np.floor(start * frame_rate + 0.5).astype(np.int64) - first_frame
    off = np.maximum(np.floor(end * frame_rate + 0.5).astype(np.int64) - first_frame, on + 1)
    sel = (on < n_frames) & (off > 0)
    on, off, key, vel = on[sel], off[sel], key[sel], velocity[sel]
    dur = (end - start)[sel]
    inside = on >= 0
    np.maximum.at(out, (on[inside], key[inside]), (vel[inside] / 127.0).astype(np.float32))
    # Sounding keys: +1 at the onset frame, -1 after the offset, cumulative sum down the frames.
    diff = np.zeros((n_frames + 1, N_KEYS), dtype=np.int32)
    np.add.at(diff, (np.clip(on, 0, n_frames), key), 1)
    np.add.at(diff, (np.clip(off, 0, n_frames), key), -1)
    out[:, N_KEYS : 2 * N_KEYS] = (np.cumsum(diff[:-1], axis=0) > 0).astype(np.float32)
    if summary:
        c = 2 * N_KEYS
        f, k, v, d = on[inside], key[inside], vel[inside], np.clip(dur[inside], 0.0, 8.0)
        np.add.at(out[:, c], f, 0.1)
        total = np.zeros(n_frames)
        np.add.at(total, f, d)
        out[:, c + 1] = np.log1p(total)
        np.maximum.at(out[:, c + 2], f, (v / 127.0).astype(np.float32))
        low = np.full(n_frames, N_KEYS, dtype=np.float64)
        np.minimum.at(low, f, k)
        out[:, c + 3] = np.where(low < N_KEYS, 1.0 - low / N_KEYS, 0.0)
        high = np.full(n_frames, -1.0)
        np.maximum.at(high, f, k)
        out[:, c + 4] = np.where(high >= 0, (high + 1) / N_KEYS, 0.0)
        out[:, c + 5] = out[:, N_KEYS : 2 * N_KEYS].sum(axis=1) / 10.0
    return out


# --------------------------------------------------------------------------- model

def default_checkpoint() -> Path:
    """The shipped tracker (``models/beat_tracker``, or $MUSESTUDIO_MODELS/beat_tracker)."""
    from musestudio.ml.catalog import models_dir

    return Path(models_dir()) / "beat_tracker"


@functools.lru_cache(maxsize=2)
def _load(folder: str) -> tuple[Any, DecodeParams]:
    from musestudio.ml.checkpoint import load_checked

    model, info = load_checked(folder, "beat_tracker", "a beat tracker")
    try:
        params = DecodeParams.from_dict(info.meta.get("decode") or {})
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{folder}: invalid decode settings ({exc})") from None
    return model, params


def load_tracker(checkpoint: str | os.PathLike[str] | None = None) -> tuple[Any, DecodeParams]:
    """(model in eval mode, decoder settings); cached."""
    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    if not folder.exists():
        raise ModelError(f"{folder}: beat tracker checkpoint not found")
    return _load(str(folder.resolve()))


def run_activations(model: Any, arrays: tuple[np.ndarray, ...], n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Beat and downbeat probabilities per frame, computed in overlapping chunks (flat memory)."""
    import torch

    beat = np.zeros(n_frames, dtype=np.float32)
    down = np.zeros(n_frames, dtype=np.float32)
    fps = float(model.config.frame_rate)
    # One thread: the TCN takes 0.07-0.13 s for 10 minutes on one thread, but 0.08-0.55 s on two when the
    # other core is busy (measured side by side: the threads wait for each other); restored afterwards.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            _chunks(model, arrays, n_frames, fps, beat, down)
            if getattr(model.config, "note_network", None) is not None:
                beat, down = _blend_note_network(model, arrays, n_frames, fps, beat, down)
    finally:
        torch.set_num_threads(threads)
    return beat, down


def _blend_note_network(model: Any, arrays: tuple[np.ndarray, ...], n_frames: int, fps: float,
                        beat: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The TCN's activations blended with the attached note network's (BeatTrackerConfig.note_network)."""
    from musestudio.ml import note_beats as nb

    fb, fd = nb.note_network_activations(model.note, arrays, n_frames, fps)
    cfg = model.config
    return nb.blend(beat, fb, cfg.note_beat_weight), nb.blend(down, fd, cfg.note_downbeat_weight)


def trunk_features(model: Any, arrays: tuple[np.ndarray, ...], n_frames: int, fps: float) -> Any:
    """The TCN's features [C, T] of a whole piece, chunk by chunk as :func:`_chunks` computes them
    (a context head reads them; training.beats_context extracts them the same way)."""
    import torch

    x = torch.zeros((model.config.channels, n_frames))
    for lo, hi, feats, off in _windows(model, arrays, n_frames, fps):
        x[:, lo:hi] = model.trunk(torch.from_numpy(feats)[None])[0, :, off : off + hi - lo]
    return x


def _windows(model: Any, arrays: tuple[np.ndarray, ...], n_frames: int, fps: float):
    """(lo, hi, features of the chunk with its context, offset of lo in them) for each chunk."""
    for lo in range(0, n_frames, CHUNK_FRAMES):
        hi = min(lo + CHUNK_FRAMES, n_frames)
        a, b = max(0, lo - CONTEXT_FRAMES), min(n_frames, hi + CONTEXT_FRAMES)
        feats = note_features(*arrays, first_frame=a, n_frames=b - a, frame_rate=fps,
                              summary=model.config.in_channels > 2 * N_KEYS)
        yield lo, hi, feats, lo - a


def _chunks(model: Any, arrays: tuple[np.ndarray, ...], n_frames: int, fps: float,
            beat: np.ndarray, down: np.ndarray) -> None:
    """Fill ``beat``/``down`` chunk by chunk, each with ``CONTEXT_FRAMES`` of context thrown away.

    With a context head (config ``context``): the TCN chunk by chunk, then the head's pooled context over
    the whole piece once, and its per-frame part chunk by chunk again, so memory stays flat."""
    import torch

    if getattr(model.config, "context", 0):
        x = trunk_features(model, arrays, n_frames, fps)[None]  # [1, C, T]
        c, g = model.context(x)
        for lo in range(0, n_frames, CHUNK_FRAMES):
            hi = min(lo + CHUNK_FRAMES, n_frames)
            part = x[:, :, lo:hi]
            logits = (model.head(part).transpose(1, 2) + model.context_logits(part, c, g, lo))[0]
            beat[lo:hi] = torch.sigmoid(logits[:, 0]).numpy()
            down[lo:hi] = torch.sigmoid(logits[:, 1]).numpy()
        return
    for lo, hi, feats, off in _windows(model, arrays, n_frames, fps):
        logits = model.logits(torch.from_numpy(feats)[None])[0, off : off + hi - lo]
        beat[lo:hi] = torch.sigmoid(logits[:, 0]).numpy()
        down[lo:hi] = torch.sigmoid(logits[:, 1]).numpy()


# --------------------------------------------------------------------------- beat decoding

def _peaks(act: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima above ``threshold``: (fractional frame, height), parabolic sub-frame refinement."""
    if len(act) < 3:
        return np.zeros(0), np.zeros(0)
    mid = act[1:-1]
    idx = np.flatnonzero((mid >= act[:-2]) & (mid > act[2:]) & (mid > threshold)) + 1
    left, centre, right = act[idx - 1], act[idx], act[idx + 1]
    denom = left - 2 * centre + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / denom, 0.0)
    return idx + np.clip(offset, -0.5, 0.5), centre


def beat_candidates(act: np.ndarray, frame_rate: float, params: DecodeParams) -> tuple[np.ndarray, np.ndarray]:
    """Candidate beat times (s) and their activation: the peaks, plus a regular fill across long gaps."""
    frames, heights = _peaks(act, params.candidate_threshold)
    times = frames / frame_rate
    if len(act) == 0:
        return times, heights
    # Long stretches without a peak (held chords, rests) still need beats: offer a regular comb there.
    edges = np.concatenate([[0.0], times, [len(act) / frame_rate]])
    extra = []
    for a, b in itertools.pairwise(edges):
        if b - a > params.fill_gap:
            extra.append(np.arange(a + params.fill_step, b - params.fill_step / 2, params.fill_step))
    if extra:
        fill = np.concatenate(extra)
        fill_h = act[np.clip(np.rint(fill * frame_rate).astype(np.int64), 0, len(act) - 1)]
        times = np.concatenate([times, fill])
        heights = np.concatenate([heights, fill_h])
        order = np.argsort(times, kind="stable")
        times, heights = times[order], heights[order]
    return times, heights


def log_odds(x: np.ndarray, eps: float = 0.02) -> np.ndarray:
    """log(x / (1 - x)) of activations clipped to [eps, 1 - eps] (one saturated frame must not dominate)."""
    a = np.clip(x, eps, 1.0 - eps)
    return np.log(a) - np.log1p(-a)


def decode_beats(times: np.ndarray, heights: np.ndarray, params: DecodeParams | None = None) -> np.ndarray:
    """Choose the beats among candidates: the chain that best trades activation against tempo changes.

    A chain's score is the sum of its beats' log-odds minus ``tempo_penalty *
    max(|log(interval / previous interval)| - tempo_tolerance, 0)`` per beat, so skipping a real beat
    (its interval doubles) and adding an off-beat (negative log-odds, and the
    interval halves) both cost.  The state is the last two beats (i, j), which
    is what a tempo needs; predecessors are limited to ``[min_ioi, max_ioi]``,
    so the work is linear in the number of candidates.  A chain may break and
    restart (a fermata, a long rest) at ``restart_penalty``.
    """
    p = params or DecodeParams()
    n = len(times)
    if n == 0:
        return np.zeros(0)
    obs = p.obs_weight * (log_odds(heights) + p.beat_logit_shift)
    lo = np.searchsorted(times, times - p.max_ioi, side="left")
    hi = np.searchsorted(times, times - p.min_ioi, side="right")
    kmax = int(max(1, np.max(hi - lo)))
    neg = -np.inf
    # score[j, k]: best chain ending (lo[j]+k, j); back[j, k]: predecessor slot of lo[j]+k, -1 start
    score = np.full((n, kmax), neg)
    back = np.full((n, kmax), -1, dtype=np.int64)
    restart_from = np.full((n, kmax), -1, dtype=np.int64)
    best_end = np.full(n, neg)  # best chain ending at j (any predecessor), or a lone beat
    prefix_best = np.full(n + 1, neg)  # max(best_end[:i])
    prefix_arg = np.full(n + 1, -1, dtype=np.int64)
    for j in range(n):
        ii = np.arange(lo[j], hi[j])
        if len(ii):
            d = times[j] - times[ii]  # [K]
            # start a chain at i: alone (0) or after the best earlier chain (minus the restart cost)
            before = prefix_best[ii]
            start = np.where(before - p.restart_penalty > 0, before - p.restart_penalty, 0.0)
            start_from = np.where(before - p.restart_penalty > 0, prefix_arg[ii], -1)
            start = start + obs[ii]
            # continue a chain (h, i)
            prev = score[ii]  # [K, kmax]
            dprev = times[ii][:, None] - times[np.clip(lo[ii][:, None] + np.arange(kmax)[None, :], 0, n - 1)]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.maximum(np.abs(np.log(d[:, None] / dprev)) - p.tempo_tolerance, 0.0)
            cont = prev - p.tempo_penalty * np.where(np.isfinite(ratio), ratio, np.inf)
            k_best = np.argmax(cont, axis=1)
            cont_best = cont[np.arange(len(ii)), k_best]
            use_cont = cont_best > start
            prior = -p.tempo_prior * 0.5 * (np.log(d / p.prior_period) / p.prior_sigma) ** 2
            score[j, : len(ii)] = obs[j] + prior + np.where(use_cont, cont_best, start)
            back[j, : len(ii)] = np.where(use_cont, k_best, -1)
            restart_from[j, : len(ii)] = np.where(use_cont, -1, start_from)
            best_end[j] = np.max(score[j, : len(ii)])
        if prefix_best[j] >= best_end[j]:
            prefix_best[j + 1], prefix_arg[j + 1] = prefix_best[j], prefix_arg[j]
        else:
            prefix_best[j + 1], prefix_arg[j + 1] = best_end[j], j
    # Backtrack from the best chain end, through restarts.
    chosen: list[int] = []
    j = int(np.argmax(best_end)) if np.isfinite(best_end).any() else -1
    if j < 0:
        return times[[int(np.argmax(heights))]]
    while j >= 0:
        k = int(np.argmax(score[j]))
        while True:
            chosen.append(j)
            i = int(lo[j] + k)
            kb, rf = int(back[j, k]), int(restart_from[j, k])
            if kb >= 0:
                j, k = i, kb
                continue
            chosen.append(i)
            j = rf
            break
    return np.unique(times[np.array(chosen, dtype=np.int64)])


def fill_and_extend(beats: np.ndarray, first_onset: float, last_onset: float) -> np.ndarray:
    """Fill gaps of about a whole number of beats, then extend the grid over the first and last notes."""
    if len(beats) < 2:
        return beats
    out = [beats[0]]
    d = np.diff(beats)
    for k, gap in enumerate(d):
        local = np.median(d[max(0, k - 4) : k + 5])
        m = int(round(gap / local)) if local > 0 else 1
        if m >= 2 and abs(gap / m - local) < 0.25 * local:
            out.extend(beats[k] + gap * np.arange(1, m) / m)
        out.append(beats[k + 1])
    b = np.array(out)
    first, last = np.median(np.diff(b[:5])), np.median(np.diff(b[-5:]))
    head = []
    t = b[0] - first
    while t > first_onset - 0.5 * first and t > -1e-9 and len(head) < 64:
        head.append(t)
        t -= first
    tail = []
    t = b[-1] + last
    while t < last_onset + 0.5 * last and len(tail) < 64:
        tail.append(t)
        t += last
    return np.concatenate([np.array(head[::-1]), b, np.array(tail)])


def nearest_onsets(times: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """The note onset nearest to each time (``onsets`` sorted, not empty)."""
    idx = np.searchsorted(onsets, times)
    left, right = onsets[np.clip(idx - 1, 0, len(onsets) - 1)], onsets[np.clip(idx, 0, len(onsets) - 1)]
    return np.where(np.abs(times - left) <= np.abs(right - times), left, right)


def snap_to_onsets(beats: np.ndarray, onsets: np.ndarray, tolerance: float) -> np.ndarray:
    """Move each beat onto the nearest note onset within ``tolerance`` seconds (played beats sit on notes)."""
    if len(onsets) == 0 or tolerance <= 0:
        return beats
    nearest = nearest_onsets(beats, onsets)
    snapped = np.where(np.abs(nearest - beats) <= tolerance, nearest, beats)
    return np.unique(snapped)


# --------------------------------------------------------------------------- meter

def sample_at(act: np.ndarray, times: np.ndarray, frame_rate: float, radius: int = 2) -> np.ndarray:
    """Max of ``act`` within ``radius`` frames of each time."""
    if len(act) == 0:
        return np.zeros(len(times))
    centre = np.rint(times * frame_rate).astype(np.int64)
    offs = np.arange(-radius, radius + 1)
    idx = np.clip(centre[:, None] + offs[None, :], 0, len(act) - 1)
    return act[idx].max(axis=1)


METER_CLASSES = (2, 3, 4)
BASS_BELOW = 52  # MIDI pitch: onsets below E3 count as bass for the bass-accent features


def _phase_contrast(values: np.ndarray, m: int) -> float:
    """Largest (mean at one beat phase mod ``m``) - (mean over all beats), in units of the values' spread."""
    spread = float(np.std(values)) + 1e-6
    overall = float(np.mean(values))
    return max(float(np.mean(values[k::m])) - overall for k in range(m)) / spread


def _beat_spans(beats: np.ndarray) -> np.ndarray:
    """Edges of the span each beat owns: halfway to its neighbours (the ends extrapolated)."""
    first = beats[0] - (beats[1] - beats[0]) / 2
    last = beats[-1] + (beats[-1] - beats[-2]) / 2
    return np.concatenate([[first], (beats[1:] + beats[:-1]) / 2, [last]])


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-9)


def _lag_similarity(x: np.ndarray, lags: range) -> np.ndarray:
    """Mean cosine similarity of rows ``L`` apart, for each lag (0 where too short), less their mean over lags."""
    u = _unit_rows(x)
    sims = np.array([float(np.mean((u[:-lag] * u[lag:]).sum(axis=1))) if len(u) > lag else 0.0 for lag in lags])
    return sims - sims.mean()


METER_LAGS = range(1, 9)  # beats: bar lengths of 2, 3 and 4 and their multiples up to 8


def meter_features(beats: np.ndarray, down_at_beats: np.ndarray, onsets: np.ndarray, velocities: np.ndarray,
                   pitches: np.ndarray, ends: np.ndarray | None = None) -> np.ndarray:
    """Evidence for 2, 3 and 4 beats a bar (25 numbers).

    - 9: per meter, how much one beat phase stands out in the downbeat log-odds, in the loudness of the
      notes on the beat and in the bass notes on the beat (the summed length of the notes starting on each
      beat, as 3 more, lowered validation balanced accuracy from 0.52 to 0.46);
    - 8 (tenth session): how alike beats 1..8 apart are, each beat described by its rhythm (velocity of
      onsets in 12 steps of the beat) and its pitch classes (velocity x beats sounding): music repeats
      at the bar;
    - 8 (tenth session): the autocorrelation of the downbeat log-odds at lags 1..8 beats.
    Cross-validated by piece on train + validation (5 folds, v4's beats, 835 performances), the 16 new
    numbers raised the classifier's balanced accuracy from 0.566 to 0.661 (the beat tracker's card, tenth
    session).
    Classifiers fitted on the first 9 alone still work: :func:`classify_meter` reads as many as it was
    fitted on.

    Why a classifier at all: the Viterbi over (meter, position) decides 2 against 4 against 3 from the
    downbeat odds alone, and with this network's weak downbeat activations it chose one meter for every
    validation performance, whatever the setting (``python -m training.beats_eval fit-meter`` prints it).
    """
    d = np.clip(down_at_beats, 1e-3, 1 - 1e-3)
    logit = np.log(d) - np.log1p(-d)
    # notes within 70 ms of each beat: their summed velocity and their bass count
    idx = np.searchsorted(beats, onsets)
    near = np.full(len(onsets), -1, dtype=np.int64)
    for cand in (idx - 1, idx):
        ok = (cand >= 0) & (cand < len(beats))
        c = np.where(ok, cand, 0)
        close = ok & (np.abs(onsets - beats[c]) <= 0.07)
        better = close & ((near < 0) | (np.abs(onsets - beats[c]) < np.abs(onsets - beats[np.maximum(near, 0)])))
        near = np.where(better, c, near)
    on = near >= 0
    accent = np.bincount(near[on], weights=velocities[on], minlength=len(beats)).astype(np.float64)
    bass = np.bincount(near[on & (pitches < BASS_BELOW)], minlength=len(beats)).astype(np.float64)
    feats = []
    for values in (logit, accent, bass):
        feats.extend(_phase_contrast(values, m) for m in METER_CLASSES)
    # each beat's rhythm: onset velocity in 12 steps of the beat (the beat's own period; the last repeats)
    n = len(beats)
    period = np.diff(beats)
    period = np.concatenate([period, period[-1:]])
    k = np.searchsorted(beats, onsets, side="right") - 1
    inside = (k >= 0) & (k < n)
    frac = (onsets[inside] - beats[k[inside]]) / period[k[inside]]
    keep = frac < 1.0
    rhythm = np.zeros((n, 12))
    np.add.at(rhythm, (k[inside][keep], np.minimum((frac[keep] * 12).astype(np.int64), 11)),
              velocities[inside][keep])
    # each beat's pitch classes: velocity over the beats a note sounds in (a difference array, then cumsum)
    edges = _beat_spans(beats)
    stop = onsets if ends is None else np.maximum(ends, onsets)
    first = np.clip(np.searchsorted(edges, onsets, side="right") - 1, 0, n)
    past = np.clip(np.maximum(np.searchsorted(edges, stop, side="left"), first + 1), 0, n)
    span = first < past
    diff = np.zeros((n + 1, 12))
    pc = (pitches.astype(np.int64) % 12)[span]
    np.add.at(diff, (first[span], pc), velocities[span])
    np.add.at(diff, (past[span], pc), -velocities[span])
    chroma = np.cumsum(diff, axis=0)[:n]
    feats.extend(_lag_similarity(np.concatenate([_unit_rows(rhythm), _unit_rows(chroma)], axis=1), METER_LAGS))
    centred = logit - logit.mean()
    power = float(np.mean(centred * centred)) + 1e-9
    feats.extend(float(np.mean(centred[:-lag] * centred[lag:])) / power if n > lag else 0.0 for lag in METER_LAGS)
    return np.asarray(feats, dtype=np.float64)


def classify_meter(features: np.ndarray, clf: dict[str, Any]) -> int:
    """The most likely beats per bar under a fitted softmax classifier ({mean, scale, weights, bias, classes})."""
    mean = np.asarray(clf["mean"])
    x = (features[: len(mean)] - mean) / np.asarray(clf["scale"])  # a classifier fitted on the first 9 reads 9
    scores = np.asarray(clf["weights"]) @ x + np.asarray(clf["bias"])
    return int(np.asarray(clf["classes"])[int(np.argmax(scores))])


def decode_meter(down: np.ndarray, params: DecodeParams | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bar position of each beat (0 = downbeat) and the meter in force, by Viterbi over (meter, position).

    ``down`` is the downbeat probability at each beat.  Positions advance one
    per beat; at a bar line the meter usually stays (``1 - meter_change``);
    a bar may be cut short (``bar_reset``), as in a performed fermata or an
    irregular bar.
    """
    p = params or DecodeParams()
    states = [(m, k) for m in p.meters for k in range(m)]
    s = len(states)
    n = len(down)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    d = np.clip(down, 1e-3, 1 - 1e-3)
    logit = np.log(d) - np.log1p(-d) + p.downbeat_logit_shift
    emit_on, emit_off = -np.logaddexp(0.0, -logit), -np.logaddexp(0.0, logit)
    is_down = np.array([k == 0 for _, k in states])
    trans = np.full((s, s), -np.inf)
    stay = math.log(1 - p.meter_change - p.bar_reset)
    for a, (m, k) in enumerate(states):
        for b, (m2, k2) in enumerate(states):
            if k < m - 1 and m2 == m and k2 == k + 1:
                trans[a, b] = math.log(1 - p.bar_reset)
            elif k == m - 1 and k2 == 0:
                trans[a, b] = stay if m2 == m else math.log(p.meter_change / max(1, len(p.meters) - 1))
            if k < m - 1 and k2 == 0:
                trans[a, b] = np.logaddexp(trans[a, b], math.log(p.bar_reset / len(p.meters)))
    v = np.where(is_down, emit_on[0], emit_off[0]) - math.log(s)
    back = np.zeros((n, s), dtype=np.int64)
    for t in range(1, n):
        cand = v[:, None] + trans  # [from, to]
        back[t] = np.argmax(cand, axis=0)
        v = cand[back[t], np.arange(s)] + np.where(is_down, emit_on[t], emit_off[t])
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(np.argmax(v))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    positions = np.array([states[q][1] for q in path], dtype=np.int64)
    meters = np.array([states[q][0] for q in path], dtype=np.int64)
    return positions, meters


def triplet_ratio(beats: np.ndarray, onsets: np.ndarray) -> float:
    """log of (onsets near 1/3, 2/3 of a beat) / (onsets near 1/2), +1 smoothing: > 0 suggests compound time."""
    if len(beats) < 2 or len(onsets) == 0:
        return 0.0
    k = np.searchsorted(beats, onsets, side="right") - 1
    ok = (k >= 0) & (k < len(beats) - 1)
    k, t = k[ok], onsets[ok]
    phase = (t - beats[k]) / (beats[k + 1] - beats[k])
    thirds = np.sum((np.abs(phase - 1 / 3) < 0.05) | (np.abs(phase - 2 / 3) < 0.05))
    halves = np.sum(np.abs(phase - 0.5) < 0.05)
    return float(np.log((thirds + 1.0) / (halves + 1.0)))


# --------------------------------------------------------------------------- tempo map

#: A lead-in before the first tracked beat shorter than this (in beats) is not written as a pickup bar.
LEAD_IN_BEATS = 0.25


def build_tempo_map(
    beats: np.ndarray, positions: np.ndarray, meters: np.ndarray, *, ternary: bool = False, ppq: int = PPQ,
) -> tuple[TempoMap, list[TimeSignature]]:
    """A tempo map with one beat between consecutive tracked beats, and bar lines on their downbeats.

    The time before the first beat becomes a pickup at the first beat's tempo, as many sixteenths
    (eighths in a compound meter) as fit; under a quarter of a beat of it, the map's first beat moves
    to time 0 instead.  (It was one beat of whatever length: a first beat 60 ms in made a 1000 BPM
    "beat", which a DAW shows as the file's tempo, and an empty bar in notation.)  Before the first
    downbeat come as many whole bars of its meter as fit, counted back from it, and a pickup bar with
    the rest: a one-beat anacrusis played at time 0 gives a 1/4 pickup bar.  Tempi are rounded to whole microseconds per quarter with the
    rounding error carried into the next beat, so beat k falls on its tracked time to within a
    microsecond however long the piece.
    """
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < 2:
        raise AnalysisError("too few beats to build a tempo map")
    beat_ticks = ppq * 3 // 2 if ternary else ppq
    unit = beat_ticks // 3 if ternary else beat_ticks // 4
    first_ioi = beats[1] - beats[0]
    pre_ticks = 0
    lead = beats[0] / first_ioi * beat_ticks  # the lead-in in ticks at the first beat's tempo
    if lead >= beat_ticks * LEAD_IN_BEATS:
        pre_ticks = unit * max(1, round(lead / unit))
    # Knots (tick, time): time 0, then every tracked beat.  A lead-in shorter than LEAD_IN_BEATS is no
    # pickup: the map's first beat is time 0 (its first beat a little longer), the others are as tracked.
    ticks = pre_ticks + beat_ticks * np.arange(len(beats))
    knot_ticks = np.concatenate([[0], ticks]) if pre_ticks else ticks
    knot_times = np.concatenate([[0.0], beats]) if pre_ticks else np.concatenate([[0.0], beats[1:]])
    changes = []
    realized = 0.0
    for k in range(len(knot_ticks) - 1):
        span = int(knot_ticks[k + 1] - knot_ticks[k])
        us = max(1, round((knot_times[k + 1] - realized) * 1e6 * ppq / span))
        changes.append(TempoChange(int(knot_ticks[k]), us))
        realized += us * span / (ppq * 1e6)
    merged = [changes[0]]
    for c in changes[1:]:
        if c.us_per_quarter != merged[-1].us_per_quarter:
            merged.append(c)
    tempo_map = TempoMap(ppq=ppq, changes=merged)
    # Bar starts, in ticks, with the meter of each bar (the beats up to the next start).
    pos = np.asarray(positions, dtype=np.int64)
    met = np.asarray(meters, dtype=np.int64) if len(meters) else np.full(len(beats), 4)
    downs = [int(i) for i in np.flatnonzero(pos == 0)] or [0]
    first = downs[0]
    m0 = int(met[first])
    bar_len = m0 * beat_ticks
    lead_bars = int(ticks[first]) // bar_len  # whole bars of the first meter before the first downbeat
    pickup = int(ticks[first]) - lead_bars * bar_len  # and what is left before them
    bars: list[tuple[int, tuple[int, int]]] = []  # (tick, signature)
    if pickup:
        bars.append((0, pickup_signature(pickup, ppq, ternary)))
    bars += [(pickup + q * bar_len, meter_signature(m0, ternary)) for q in range(lead_bars)]
    for j, i in enumerate(downs):
        length = (downs[j + 1] - i) if j + 1 < len(downs) else int(met[i])
        bars.append((int(ticks[i]), meter_signature(max(1, length), ternary)))
    signatures: list[TimeSignature] = []
    last: tuple[int, int] | None = None
    for tick, sig in bars:
        if sig != last:
            signatures.append(TimeSignature(tempo_map.tick_to_seconds(tick), sig[0], sig[1]))
            last = sig
    return tempo_map, signatures


# --------------------------------------------------------------------------- keys

KEY_WINDOW_BARS = 16


def key_signature_of(key: Key, time: float = 0.0) -> KeySignature:
    from musestudio.core.keys import PITCH_CLASS_NAMES

    return KeySignature(time, PITCH_CLASS_NAMES[key.tonic], key.mode)


def pitch_class_weights(notes: list[Note]) -> np.ndarray:
    """Duration-weighted pitch-class histogram (durations capped at 2 s, so one pedalled chord cannot
    outweigh a melody), normalised to sum 1."""
    hist = np.zeros(12)
    for n in notes:
        hist[n.pitch % 12] += min(max(n.end - n.start, 0.0), 2.0) + 0.05
    total = hist.sum()
    return hist / total if total > 0 else hist


def estimate_key_with_profile(notes: list[Note], profile: np.ndarray | None) -> Key | None:
    """The key: its signature from ``profile`` (a learned pitch-class profile of a key *signature*,
    tonic of the major key at index 0), then major or minor between the two keys sharing that
    signature by Krumhansl-Kessler.  Without a profile, plain Krumhansl-Schmuckler."""
    from musestudio.core.keys import KK_MAJOR, KK_MINOR

    if profile is None:
        return estimate_key(notes)
    hist = pitch_class_weights(notes)
    if hist.sum() == 0:
        return None
    scores = [float(np.corrcoef(hist, np.roll(profile, r))[0, 1]) for r in range(12)]
    major = int(np.argmax(scores))
    minor = (major + 9) % 12
    r_major = float(np.corrcoef(hist, np.roll(KK_MAJOR, major))[0, 1])
    r_minor = float(np.corrcoef(hist, np.roll(KK_MINOR, minor))[0, 1])
    return Key(major, "major") if r_major >= r_minor else Key(minor, "minor")


def estimate_keys(notes: list[Note], downbeats: np.ndarray, profile: np.ndarray | None = None) -> list[KeySignature]:
    """The piece's key, then a change wherever ``KEY_WINDOW_BARS``-bar windows agree on another key for two windows running."""
    overall = estimate_key_with_profile(notes, profile)
    if overall is None:
        return []
    out = [key_signature_of(overall, 0.0)]
    if len(downbeats) < 3 * KEY_WINDOW_BARS:
        return out
    starts = np.array([n.start for n in notes])
    windows = []
    for w in range(0, len(downbeats) - KEY_WINDOW_BARS, KEY_WINDOW_BARS):
        a, b = downbeats[w], downbeats[min(w + KEY_WINDOW_BARS, len(downbeats) - 1)]
        sel = [notes[i] for i in np.flatnonzero((starts >= a) & (starts < b))]
        windows.append((a, estimate_key_with_profile(sel, profile) if sel else None))
    current = overall
    for (t, k1), (_, k2) in itertools.pairwise(windows):
        if k1 is not None and k1 == k2 and k1 != current:
            out.append(key_signature_of(k1, float(t)))
            current = k1
    return out


# --------------------------------------------------------------------------- analysis

def check_input(seq: NoteSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arrays = note_arrays(seq)
    pitch, start, end, _ = arrays
    if len(pitch) < MIN_NOTES:
        raise AnalysisError(f"too few notes to find a beat ({len(pitch)}; at least {MIN_NOTES} are needed)")
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(end))):
        raise AnalysisError("note times are not finite numbers")
    onsets = np.unique(np.round(start, 2))
    if len(onsets) < MIN_ONSETS:
        raise AnalysisError("the notes are a single chord: there is no rhythm to find a beat in")
    if float(np.max(end)) > MAX_SECONDS:
        raise AnalysisError(
            f"the music lasts {float(np.max(end)) / 3600:.1f} h; beat analysis handles up to {MAX_SECONDS / 3600:.0f} h"
        )
    return arrays


def analyze(seq: NoteSequence, *, checkpoint: str | os.PathLike[str] | None = None,
            params: DecodeParams | None = None) -> BeatAnalysis:
    """Beats, downbeats, meter, tempo map and key of a performance (or any MIDI) from its notes."""
    arrays = check_input(seq)
    model, tuned = load_tracker(checkpoint)
    p = params or tuned
    fps = float(model.config.frame_rate)
    n_frames = int(math.ceil(float(np.max(arrays[2])) * fps)) + int(fps)
    beat_act, down_act = run_activations(model, arrays, n_frames)
    return analysis_from_activations(seq, beat_act, down_act, fps, p)


# --------------------------------------------------------------------------- metrical level

# Tempo ratios of the candidate chains to the free chain: the beat, its half and third (a waltz counted in
# bars, a march in half notes) and its double and triple (a performance counted in eighths or in triplets).
LEVEL_RATIOS = (1 / 3, 1 / 2, 1.0, 2.0, 3.0)
LEVEL_BAND = 1.45  # a candidate chain's beat intervals stay within its target period x/÷ this
N_LEVEL_FEATURES = 12


def level_candidates(times: np.ndarray, heights: np.ndarray, free: np.ndarray,
                     p: DecodeParams) -> list[tuple[float, np.ndarray]]:
    """(tempo ratio, chain) per LEVEL_RATIOS: the free chain, and the DP re-run with its intervals held near
    the free chain's median period / ratio.  Ratios whose band leaves 20-400 beats/min are left out.

    Why a re-run and not interpolation: where the network saw beats 2 and 3 of a waltz at a probability of
    0.4 the constrained DP lands on those peaks, which a grid laid between the bar lines would miss."""
    out: list[tuple[float, np.ndarray]] = [(1.0, free)]
    if len(free) < 3:
        return out
    period = float(np.median(np.diff(free)))
    for r in LEVEL_RATIOS:
        if r == 1.0:
            continue
        lo, hi = period / r / LEVEL_BAND, period / r * LEVEL_BAND
        if lo < 60.0 / 400.0 or hi > 60.0 / 20.0:
            continue
        out.append((r, decode_beats(times, heights, dataclasses.replace(p, min_ioi=lo, max_ioi=hi))))
    return out


def level_features(ratio: float, beats: np.ndarray, beat_act: np.ndarray, frame_rate: float,
                   onsets: np.ndarray) -> np.ndarray:
    """What tells the beat from its double or half, for one candidate chain (N_LEVEL_FEATURES numbers):
    one-hot of the ratio to the free chain (5), log tempo and its square (a tempo prior), the mean beat
    log-odds on the chain and halfway between its beats, the share of beats on a note onset, log notes
    per beat, and the spread of log intervals."""
    onehot = [float(abs(ratio - r) < 1e-6) for r in LEVEL_RATIOS]
    if len(beats) < 3:
        return np.asarray(onehot + [0.0] * (N_LEVEL_FEATURES - len(onehot)))
    d = np.diff(beats)
    lt = float(np.log(60.0 / max(float(np.median(d)), 1e-3) / 100.0))

    on_chain = float(np.mean(log_odds(sample_at(beat_act, beats, frame_rate, radius=1))))
    between = float(np.mean(log_odds(sample_at(beat_act, beats[:-1] + d / 2, frame_rate, radius=1))))
    on_note = float(np.mean(np.abs(nearest_onsets(beats, onsets) - beats) <= 0.05))
    span = max(float(beats[-1] - beats[0]), 1e-3)
    inside = np.sum((onsets >= beats[0]) & (onsets <= beats[-1]))
    per_beat = float(np.log1p(inside / max(span / float(np.median(d)), 1.0)))
    spread = float(np.std(np.diff(np.log(np.maximum(d, 1e-3))))) if len(d) > 1 else 0.0
    return np.asarray([*onehot, lt, lt * lt, on_chain, between, on_note, per_beat, spread], dtype=np.float64)


def choose_level(candidates: list[tuple[float, np.ndarray]], beat_act: np.ndarray, frame_rate: float,
                 onsets: np.ndarray, chooser: dict[str, Any]) -> np.ndarray:
    """The candidate chain the fitted linear ranker ({mean, scale, weights}) scores highest."""
    feats = np.stack([level_features(r, b, beat_act, frame_rate, onsets) for r, b in candidates])
    z = (feats - np.asarray(chooser["mean"])) / np.asarray(chooser["scale"])
    return candidates[int(np.argmax(z @ np.asarray(chooser["weights"])))][1]


def finish_beats(beats: np.ndarray, onsets: np.ndarray, p: DecodeParams) -> np.ndarray:
    """Onset snapping and gap filling of a decoded chain (one place, shared by every candidate level)."""
    beats = snap_to_onsets(beats, onsets, p.snap_seconds)
    beats = fill_and_extend(beats, float(onsets[0]), float(onsets[-1]))
    if len(beats) < 2:  # nothing periodic was found: one beat per second over the notes
        beats = np.arange(onsets[0], max(onsets[-1], onsets[0] + 1.0) + 1e-9, 1.0)
    return beats


def track_candidates(beat_act: np.ndarray, frame_rate: float, onsets: np.ndarray,
                     p: DecodeParams) -> list[tuple[float, np.ndarray]]:
    """Every candidate level's finished chain (training/beats_eval.py fits the level chooser on these)."""
    times, heights = beat_candidates(beat_act, frame_rate, p)
    free = decode_beats(times, heights, p)
    return [(r, finish_beats(b, onsets, p)) for r, b in level_candidates(times, heights, free, p)]


def track_beats(beat_act: np.ndarray, frame_rate: float, onsets: np.ndarray, p: DecodeParams) -> np.ndarray:
    """Beat times from the beat activation: candidate peaks, the tempo DP, the metrical level (when a
    chooser is fitted), onset snapping, gap filling.

    One place for this chain, so the meter classifier is fitted (training/beats_eval.py) on the very
    beats it later sees here."""
    if p.level_chooser is not None:
        return choose_level(track_candidates(beat_act, frame_rate, onsets, p), beat_act, frame_rate, onsets,
                            p.level_chooser)
    times, heights = beat_candidates(beat_act, frame_rate, p)
    return finish_beats(decode_beats(times, heights, p), onsets, p)


def piece_params(p: DecodeParams, starts: np.ndarray) -> DecodeParams:
    """The decoder settings for one piece: with ``prior_from_onsets``, the tempo prior centred on the beat its
    note starts suggest.  Every caller of track_beats / track_candidates goes through this, so the meter
    classifier and the level chooser are fitted on the beats analysis gives."""
    if not p.prior_from_onsets:
        return p
    return dataclasses.replace(p, prior_period=onset_beat_seconds(starts, fallback=p.prior_period))


def analysis_from_activations(seq: NoteSequence, beat_act: np.ndarray, down_act: np.ndarray, frame_rate: float,
                              params: DecodeParams | None = None) -> BeatAnalysis:
    """The decoding half of :func:`analyze` (pure: no model)."""
    p = params or DecodeParams()
    pitch, start, end, vel = note_arrays(seq)
    onsets = np.unique(start)
    p = piece_params(p, start)
    beats = track_beats(beat_act, frame_rate, onsets, p)
    down_at_beats = sample_at(down_act, beats, frame_rate)
    if p.meter_classifier is not None and len(beats) >= 2 * max(METER_CLASSES):
        chosen = classify_meter(meter_features(beats, down_at_beats, start, vel, pitch, end),
                                 p.meter_classifier)
        positions, meters = decode_meter(down_at_beats, dataclasses.replace(p, meters=(chosen,)))
    else:
        positions, meters = decode_meter(down_at_beats, p)
    ternary = triplet_ratio(beats, onsets) > p.ternary_threshold
    tempo_map, signatures = build_tempo_map(beats, positions, meters, ternary=ternary)
    downbeats = beats[positions == 0]
    values, counts = np.unique(meters, return_counts=True)
    beats_per_bar = int(values[np.argmax(counts)])
    profile = np.array(p.key_profile) if p.key_profile is not None else None
    keys = estimate_keys(sorted(seq.notes, key=lambda n: n.start), downbeats, profile)
    return BeatAnalysis(beats, downbeats, signatures, keys, tempo_map, positions, beats_per_bar, ternary)


def with_tempo_map(seq: NoteSequence, analysis: BeatAnalysis) -> NoteSequence:
    """The same notes at the same times, with the analysis's tempo map, meters and keys."""
    return seq.copy(
        tempo_map=analysis.tempo_map,
        time_signatures=list(analysis.time_signatures),
        key_signatures=list(analysis.key_signatures),
    )


def on_own_grid(seq: NoteSequence) -> bool:
    """True when the notes sit on their file's tempo map (a DAW or score file): that map is authoritative."""
    from musestudio.core.timing import onsets_on_grid

    return onsets_on_grid(seq.tempo_map, [n.start for n in seq.notes])


def analysis_from_tempo_map(seq: NoteSequence) -> BeatAnalysis:
    """The beats and bars a file's own tempo map and time signatures define (no tracking)."""
    tm = seq.tempo_map
    sigs = sorted(seq.time_signatures or [TimeSignature(0.0)], key=lambda s: s.time)
    end = max(seq.duration, seq.start_time + 1.0)
    beats, positions, per_bar = [], [], []
    for i, ts in enumerate(sigs):
        beat_ticks = tm.ppq * 4 // ts.denominator * (3 if ts.compound else 1)
        n_beats = ts.beats_per_bar
        tick = tm.seconds_to_tick(ts.time)
        stop = tm.seconds_to_tick(sigs[i + 1].time) if i + 1 < len(sigs) else tm.seconds_to_tick(end) + 1
        k = 0
        shift = 0
        if i == 0 and len(sigs) > 1 and is_pickup(ts, (stop - tick) / tm.ppq, sigs[1]):
            # A pickup is counted in the next bar's beats, back from its bar line (a 3/8 lead-in to 6/8 is
            # its last dotted beat); a lead-in shorter than one of those beats holds no beat.
            nxt = sigs[1]
            n_beats = nxt.beats_per_bar
            beat_ticks = round(nxt.beat_quarters * tm.ppq)
            held = (stop - tick) // beat_ticks
            tick = stop - held * beat_ticks
            shift = n_beats - held
        while tick < stop and len(beats) < 200_000:
            beats.append(tm.tick_to_seconds(tick))
            positions.append(k % n_beats + shift)
            per_bar.append(n_beats)
            tick += beat_ticks
            k += 1
    b = np.array(beats)
    pos = np.array(positions, dtype=np.int64)
    values, counts = np.unique(np.array(per_bar), return_counts=True)
    keys = list(seq.key_signatures) or estimate_keys(sorted(seq.notes, key=lambda n: n.start), b[pos == 0])
    return BeatAnalysis(b, b[pos == 0], list(sigs), keys, tm, pos, int(values[np.argmax(counts)]), sigs[0].compound)


def analyze_file_or_track(seq: NoteSequence, *, force_tracking: bool = False,
                          checkpoint: str | os.PathLike[str] | None = None) -> tuple[BeatAnalysis, str]:
    """(analysis, source): the file's own grid when its notes sit on it, else the tracker's."""
    if not force_tracking and len(seq.notes) >= MIN_NOTES and on_own_grid(seq):
        return analysis_from_tempo_map(seq), "file"
    return analyze(seq, checkpoint=checkpoint), "tracker"


def ensure_tempo_map(seq: NoteSequence, *, checkpoint: str | os.PathLike[str] | None = None) -> NoteSequence:
    """``seq`` on a tempo map that fits it: its own when its notes sit on it, else the tracked one."""
    if not seq.notes or on_own_grid(seq):
        return seq
    return with_tempo_map(seq, analyze(seq, checkpoint=checkpoint))
