"""The beat tracker as a training Task: ASAP windows with annotated beats, augmented toward real inputs.

``python -m training train --model beats --out runs/beats`` trains it;
``python -m training.beats_tune runs/beats`` (see :mod:`training.beats_eval`) picks the decoder
settings on the validation split; ``tests/benchmarks/bench_beats.py`` scores it on the test split.

Augmentation, so that the tracker meets what users bring rather than clean
MAESTRO takes: tempo scaled 0.6-1.6x, transposition of -6..+6, velocity
curves, and transcription-like noise (dropped notes, spurious short notes,
onset jitter of up to 25 ms).  Score MIDIs (quantized, mechanical) are part
of the data, as DAW files are.  Since the fifth session a share of the
performances is also made steady (:func:`steady_warp`: the annotated beats
are moved onto a constant-tempo grid and the notes with them, so the take
sounds as if played to a click) and some of those are snapped to a sixteenth
or triplet grid, as a DAW's quantize would; ASAP alone has too few steady
takes, and the first wider tracker lost steady 3/4 and 4/4 fixtures for it.
For the same reason 15 % of windows come from synthetic steady patterns
(:mod:`training.data.patterns`: block chords, oom-pah, Alberti and the like).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from musestudio.ml.beats import FRAME_RATE, note_features
from musestudio.ml.models.beat_tracker import BeatTrackerConfig, BeatTrackerModel
from training.data.beats import Annotated, load_split, split_half_beats, split_slow_compound
from training.tasks.base import Task

PRESETS: dict[str, dict[str, Any]] = {
    "desktop": {},
    "paper": {"channels": 128},
    # 128 channels in two norm groups: the preset a 64-channel tracker grows into (``--init-from``)
    "wide": {"channels": 128, "norm_groups": 2},
    "tiny": {"channels": 8, "dilations": (1, 2, 4)},
}


def targets(beats: np.ndarray, downbeats: np.ndarray, first_frame: int, n_frames: int,
            frame_rate: float = FRAME_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Beat and downbeat targets: 1 at the annotated frame, 0.5 on its two neighbours (widened targets)."""
    out = []
    for times in (beats, downbeats):
        y = np.zeros(n_frames, dtype=np.float32)
        f = np.rint(np.asarray(times) * frame_rate).astype(np.int64) - first_frame
        for off, val in ((-1, 0.5), (1, 0.5), (0, 1.0)):
            g = f + off
            g = g[(g >= 0) & (g < n_frames)]
            y[g] = np.maximum(y[g], val)
        out.append(y)
    return out[0], out[1]


# Share of performances made steady, and of those the share also snapped to a grid (set per run by the task).
STEADY_SHARE = 0.3
QUANTIZE_SHARE = 0.5
TEMPO_RANGE = (0.6, 1.6)
# Share of training windows drawn from synthetic steady patterns (training.data.patterns), and how many.
SYNTHETIC_SHARE = 0.15
SYNTHETIC_ITEMS = 600


def _warp(times: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Piecewise-linear map src -> dst, extended past both ends with the outermost segments' slopes."""
    out = np.interp(times, src, dst)
    lo, hi = times < src[0], times > src[-1]
    out[lo] = dst[0] + (times[lo] - src[0]) * (dst[1] - dst[0]) / max(src[1] - src[0], 1e-6)
    out[hi] = dst[-1] + (times[hi] - src[-1]) * (dst[-1] - dst[-2]) / max(src[-1] - src[-2], 1e-6)
    return out


def steady_warp(start: np.ndarray, end: np.ndarray, beats: np.ndarray, downbeats: np.ndarray, *,
                quantize: int = 0) -> tuple[np.ndarray, ...]:
    """(start, end, beats, downbeats) of the same take played to a click at its median tempo.

    Each annotated beat moves to ``beats[0] + i * median_ioi`` and every note time moves with the
    beat segment it lies in.  ``quantize`` > 0 then snaps onsets (and durations, to at least one
    step) to ``quantize`` steps per beat, as a DAW's quantize does.
    """
    ioi = float(np.median(np.diff(beats)))
    grid = beats[0] + ioi * np.arange(len(beats))
    s, e = _warp(start, beats, grid), _warp(end, beats, grid)
    if quantize > 0:
        step = ioi / quantize
        dur = np.maximum(np.rint((e - s) / step), 1.0) * step
        s = beats[0] + np.rint((s - beats[0]) / step) * step
        e = s + dur
    shift = -min(float(s.min()), 0.0)  # a pickup stretched before time 0 moves everything right
    d = _warp(downbeats, beats, grid) if len(downbeats) else downbeats
    return s + shift, np.maximum(e, s + 0.01) + shift, grid + shift, d + shift


def augment(item: Annotated, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(pitch, start, end, velocity, beats, downbeats) with tempo, key, velocity and noise changes."""
    scale = float(np.exp(rng.uniform(np.log(TEMPO_RANGE[0]), np.log(TEMPO_RANGE[1]))))
    pitch = item.pitch.astype(np.int64) + int(rng.integers(-6, 7))
    start, end, beats, downbeats = item.start, item.end, item.beats, item.downbeats
    if not item.quantized and len(beats) >= 3 and rng.random() < STEADY_SHARE:
        q = 0
        if rng.random() < QUANTIZE_SHARE:
            q = int(rng.choice([3, 6])) if item.ternary else int(rng.choice([2, 4, 4, 3]))
        start, end, beats, downbeats = steady_warp(start, end, beats, downbeats, quantize=q)
    start, end = start * scale, end * scale
    vel = item.velocity.astype(np.float64)
    gamma = float(rng.uniform(0.6, 1.6))
    vel = 127.0 * (np.clip(vel, 1, 127) / 127.0) ** gamma
    if rng.random() < 0.5:  # transcription-like noise
        keep = rng.random(len(pitch)) > rng.uniform(0.0, 0.1)
        pitch, start, end, vel = pitch[keep], start[keep], end[keep], vel[keep]
        jitter = rng.normal(0.0, rng.uniform(0.0, 0.012), len(start)).clip(-0.025, 0.025)
        start = np.maximum(start + jitter, 0.0)
        end = np.maximum(end + jitter, start + 0.01)
        n_fake = int(len(pitch) * rng.uniform(0.0, 0.06))
        if n_fake:
            fs = rng.uniform(0, float(end.max()), n_fake)
            pitch = np.concatenate([pitch, rng.integers(28, 100, n_fake)])
            start = np.concatenate([start, fs])
            end = np.concatenate([end, fs + rng.uniform(0.03, 0.3, n_fake)])
            vel = np.concatenate([vel, rng.uniform(10, 60, n_fake)])
    return pitch, start, end, vel, beats * scale, downbeats * scale


def draw_weights(durations: np.ndarray, synthetic: np.ndarray, synthetic_share: float) -> np.ndarray:
    """Items drawn in proportion to their length, synthetic patterns given ``synthetic_share`` of the draws
    (when there are both kinds); sums to 1.  Also the context head's sampler (training.beats_context)."""
    dur = np.asarray(durations, np.float64)
    if synthetic.any() and not synthetic.all():
        dur = np.where(synthetic, dur / dur[synthetic].sum() * synthetic_share,
                       dur / dur[~synthetic].sum() * (1.0 - synthetic_share))
    return dur / dur.sum()


def label_mask(beats: np.ndarray, first_frame: int, n_frames: int, frame_rate: float = FRAME_RATE) -> np.ndarray:
    """Frames that carry labels: from 0.1 s before the first annotated beat to 0.1 s after the last."""
    t = (first_frame + np.arange(n_frames)) / frame_rate
    return (t >= beats[0] - 0.1) & (t <= beats[-1] + 0.1)


class BeatWindows(Dataset):
    """Random windows of ``window`` frames, items drawn in proportion to their length."""

    def __init__(self, items: list[Annotated], window: int, length: int, seed: int = 0, train: bool = True,
                 synthetic_share: float = SYNTHETIC_SHARE) -> None:
        self.items = items
        self.window = window
        self.length = length
        self.seed = seed
        self.train = train
        dur = np.array([max(float(it.end.max()), 1.0) for it in items])
        synthetic = np.array([it.piece == "synthetic" for it in items])
        self.weights = draw_weights(dur, synthetic, synthetic_share) if train else dur / dur.sum()
        self.epoch = 0
        if not train:  # fixed validation windows: evenly spaced through each item
            self.fixed = []
            for i, it in enumerate(items):
                n = int(float(it.end.max()) * FRAME_RATE)
                for s in range(0, max(1, n - window), window * 3):
                    self.fixed.append((i, s))
            self.length = len(self.fixed)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, int(i)))
            item = self.items[int(rng.choice(len(self.items), p=self.weights))]
            pitch, start, end, vel, beats, downs = augment(item, rng)
            n = int(float(end.max()) * FRAME_RATE)
            first = int(rng.integers(-self.window // 4, max(1, n - self.window // 2)))
        else:
            idx, first = self.fixed[i]
            item = self.items[idx]
            pitch, start, end, vel = item.pitch.astype(np.int64), item.start, item.end, item.velocity.astype(np.float64)
            beats, downs = item.beats, item.downbeats
        feats = note_features(pitch, start, end, vel, first_frame=first, n_frames=self.window)
        beat, down = targets(beats, downs, first, self.window)
        # Frames before the music or after the last annotated beat carry no labels.
        mask = label_mask(beats, first, self.window).astype(np.float32)
        return {"features": feats, "beat": beat, "downbeat": down, "mask": mask}


class BeatTrackerTask(Task):
    name = "beats"
    grad_clip = 1.0
    preset_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "desktop": {"batch_size": 16, "lr": 2e-3, "seq_len": 500},
        "paper": {"batch_size": 32, "lr": 1e-3, "seq_len": 1000},
        "wide": {"batch_size": 16, "lr": 5e-4, "seq_len": 500},
        "tiny": {"batch_size": 2, "lr": 1e-3, "seq_len": 100},
    }

    def build_model(self, preset: str) -> tuple[str, dict[str, Any], nn.Module]:
        if preset not in PRESETS:
            raise SystemExit(f"unknown beats preset '{preset}' (known: {', '.join(PRESETS)})")
        config = BeatTrackerConfig(**PRESETS[preset])
        return "beat_tracker", dataclasses.asdict(config), BeatTrackerModel(config)

    def init_from(self, model: nn.Module, weights: dict[str, torch.Tensor]) -> str:
        """Warm start; a wider tracker grown from a narrower one computes exactly what the old one did.

        The base class zeroes every grown slice, which here would leave the new channels dead: a
        channel whose incoming and outgoing weights are both zero gets no gradient.  So the new
        channels keep their fresh incoming weights (they compute something from the start) and only
        the weights that *read* new channels into old ones are zeroed.  With the old channels in a
        GroupNorm group of their own (the ``wide`` preset) nothing old depends on anything new, and
        the head reads only old channels, so the outputs are unchanged until training moves those
        zeros (tested in tests/training/test_beats_widen.py).
        """
        state = model.state_dict()
        # fresh initial values of the tensors that grow, kept before the base class zeroes their new slices
        fresh = {n: t.clone() for n, t in state.items() if n in weights and weights[n].shape != t.shape}
        if not fresh:
            return super().init_from(model, weights)
        old_channels = weights["inp.weight"].shape[0]
        config = model.config  # BeatTrackerModel: channels is a multiple of norm_groups
        if config.norm_groups < 2 or config.channels // config.norm_groups != old_channels:
            raise SystemExit(f"--init-from: a {old_channels}-channel tracker grows only into one whose norm groups "
                             f"are {old_channels} channels each (the 'wide' preset), so that its function is kept")
        summary = super().init_from(model, weights)
        with torch.no_grad():
            for name, start in fresh.items():
                old, target = weights[name], state[name]
                target.copy_(start)
                if target.dim() >= 2:  # conv weight [out, in, k]: old rows read old channels only
                    target[: old.shape[0], old.shape[1]:] = 0
                target[tuple(slice(0, n) for n in old.shape)] = old
        return summary + " (new channels keep fresh incoming weights; function kept)"

    def datasets(self, args: argparse.Namespace) -> tuple[Dataset, Dataset]:
        cache = getattr(args, "cache", "runs/cache")
        train = load_split("train", cache=cache)
        if getattr(args, "split_half_beats", False):  # validation keeps its annotations as they are
            train = [split_half_beats(it) for it in train]
        if getattr(args, "split_slow_compound", False):
            train = [split_slow_compound(it) for it in train]
        share = SYNTHETIC_SHARE if getattr(args, "synthetic_share", None) is None else float(args.synthetic_share)
        if not 0.0 <= share < 1.0:
            raise SystemExit(f"--synthetic-share must be in [0, 1), got {share}")
        if share > 0:
            from training.data.patterns import patterns

            swell = float(getattr(args, "pattern_swell", 0.0) or 0.0)
            if not 0.0 <= swell <= 1.0:
                raise SystemExit(f"--pattern-swell must be in [0, 1], got {swell}")
            train = train + patterns(SYNTHETIC_ITEMS, seed=int(args.seed) + 101, swell_share=swell)
        val = load_split("validation", cache=cache, with_scores=False)
        window = int(args.seq_len or 1000)
        return (BeatWindows(train, window, length=200 * int(args.batch_size or 16), seed=args.seed,
                            synthetic_share=share),
                BeatWindows(val, window, length=0, train=False))

    def collate(self, items: list[Any]) -> Any:
        return {k: torch.from_numpy(np.stack([it[k] for it in items])) for k in items[0]}

    def test_metrics(self, folder: str, args: argparse.Namespace) -> dict[str, float]:
        from training.beats_eval import evaluate_checkpoint

        return evaluate_checkpoint(folder, "test", cache=getattr(args, "cache", "runs/cache"))["mean"]
