"""Continue a seed bar by bar with the GAN, on the seed's own beat grid.

The GAN thinks in bars of piano roll on a beat grid (see
:mod:`musestudio.ml.models.gan`).  The seed is read on its grid by
:func:`musestudio.ml.seed.read_seed`, the same reading the token models use: a
DAW part keeps its tempo map and meter, a performance gets the beat tracker's.
The grid and roll code lives in :mod:`musestudio.ml.gan_grid`, the decoding
constraints in :mod:`musestudio.ml.gan_constraints`; this module loads the model
and runs the bar loop.

The continuation starts at the first beat at or after the seed's end; the
bar(s) before that point condition the first generated bar, and each
generated bar (thresholded back to a clean roll) conditions the next.  The
rasterisation here is the one :mod:`training.tasks.gan` uses to build its
training bars, so training and inference agree on what a roll means.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musestudio.core.errors import ModelError
from musestudio.core.notes import PIANO_LOW, NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work
from musestudio.ml.gan_constraints import (  # noqa: F401 (re-exported: the module's public names before the split)
    MAX_NOTE_SECONDS,
    MAX_POLYPHONY,
    MAX_SILENCE_SECONDS,
    context_prior,
    enforce_sanity,
    pick_onsets,
    pitch_masks,
    snap_to_keys,
)
from musestudio.ml.gan_grid import (  # noqa: F401 (re-exported)
    N_KEYS,
    BeatGrid,
    from_reading,
    meter_beats,
    rasterize,
    roll_to_notes,
    seed_beat_grid,
    snap_to_bar_sixteenths,
    to_model_input,
    window,
)

MAX_CONTINUATION_SECONDS = 600.0
CONTEXT_BARS = 4  # bars of recent material that shape the pitch-class/register prior


# --- the model ------------------------------------------------------------------------


def _default_checkpoint() -> Path:
    from musestudio.ml.catalog import default_checkpoint

    return Path(default_checkpoint("gan"))


@functools.lru_cache(maxsize=4)
def _load_cached(folder: str, stamp: float) -> tuple[Any, dict[str, Any]]:
    from musestudio.ml.checkpoint import load_checked

    model, info = load_checked(folder, "gan", "a GAN")
    return model, info.meta


def load_gan(checkpoint: str | os.PathLike[str] | None = None) -> tuple[Any, dict[str, Any]]:
    """(GANModel in eval mode, config.json contents); cached per folder and file time."""
    folder = Path(checkpoint) if checkpoint else _default_checkpoint()
    weights = folder / "model.safetensors"
    if not folder.is_dir():
        raise ModelError(f"{folder}: GAN checkpoint folder not found")
    stamp = weights.stat().st_mtime if weights.is_file() else 0.0
    return _load_cached(str(folder.resolve()), stamp)


# --- continuation ------------------------------------------------------------------------


@dataclass
class _Plan:
    grid: BeatGrid
    start_beat: int
    end_time: float
    n_bars: int


def _plan(reading: Any, max_beats: int) -> _Plan:
    """The GAN's bars for a seed reading: from the first whole beat at the reading's start to its end."""
    grid, start, end = from_reading(reading, max_beats)
    start_beat = math.ceil(start - 1e-6)
    n_bars = max(1, math.ceil((end - start_beat) / grid.beats_per_bar - 1e-9))
    return _Plan(grid, start_beat, reading.end_seconds, min(n_bars, 400))


def continue_with_gan_work(
    seed: NoteSequence, settings: Any, random_seed: int, cancel: CancelToken | None = None, reading: Any = None
) -> Work[NoteSequence]:
    """Generate bars after ``seed``; returns only the new notes, at absolute times from the seed's end.

    ``settings`` is a :class:`musestudio.ml.generate.GenerationSettings`; the
    GAN uses checkpoint, seconds/bars, temperature (scales the noise), key,
    pitch_range and density (notes per second: the most likely onsets of each
    bar are kept instead of thresholding).  top_k/top_p have no meaning for a
    GAN and are ignored.  Onsets are weighted by :func:`context_prior` unless
    ``settings`` has ``context_prior=False``.  ``reading`` is the seed read on its
    grid (:func:`musestudio.ml.seed.read_seed`); it is made here when not given.
    """
    import torch

    from musestudio.ml.seed import read_seed

    if reading is None:
        reading = read_seed(seed, start=getattr(settings, "start", None), seconds=getattr(settings, "seconds", 20.0),
                            bars=getattr(settings, "bars", None), timing=getattr(settings, "timing", "auto"))
    seed = reading.seq

    model, _ = load_gan(getattr(settings, "checkpoint", None))
    cfg = model.config
    onset_threshold, frame_threshold = (float(v) for v in model.decode_thresholds)
    spb, model_steps = cfg.steps_per_beat, cfg.steps_per_bar
    plan = _plan(reading, cfg.max_beats)
    grid, bpb = plan.grid, plan.grid.beats_per_bar
    bar_steps = bpb * spb
    seed_end = reading.start_time
    in_range, allowed = pitch_masks(settings)
    density = getattr(settings, "density", None)
    temperature = float(getattr(settings, "temperature", 1.0) or 1.0)
    use_context_prior = bool(getattr(settings, "context_prior", True))
    velocities = [n.velocity for n in seed.notes]
    fill_velocity = int(np.median(velocities)) if velocities else 64

    first_step = plan.start_beat * spb
    total_steps = first_step + plan.n_bars * bar_steps
    # The seed as heard (sustain pedal applied) is the context of the first bar.
    roll = rasterize(seed.with_sustain_applied().notes, grid, spb, total_steps)
    roll[:, first_step:] = 0
    gen = torch.Generator().manual_seed(int(random_seed))
    beats = torch.tensor([bpb])
    for b in range(plan.n_bars):
        if cancel is not None:
            cancel.check()
        at = first_step + b * bar_steps
        prev = np.concatenate(
            [
                to_model_input(window(roll, at - k * bar_steps, bar_steps, model_steps), cfg.channels)
                for k in range(cfg.n_prev_bars, 0, -1)
            ]
        )
        z = model.sample_noise(1, gen, scale=temperature)
        with torch.no_grad():
            out = model.generate(torch.from_numpy(prev)[None], beats, z)[0].cpu().numpy()  # [C, T, 88]
        bar_seconds = float(grid.seconds_at((at + bar_steps) / spb) - grid.seconds_at(at / spb))
        onset_p = out[0, :bar_steps]
        target = None if density is None else float(density) * bar_seconds
        if target is None and (use_context_prior or not in_range.all()):
            # Re-rank, do not thin: keep as many onsets as the model wanted before the range
            # and the prior reshaped its probabilities, choosing the most likely allowed ones.
            target = float(np.count_nonzero(onset_p > onset_threshold))
        onset_p = onset_p * in_range
        if use_context_prior:
            onset_p = onset_p * context_prior(roll[0, max(at - CONTEXT_BARS * bar_steps, 0) : at])
        frame_p = out[1, :bar_steps] * in_range
        onsets = pick_onsets(onset_p, onset_threshold, target)
        frames = (frame_p > frame_threshold) | onsets
        if cfg.channels > 2:
            vel = out[2, :bar_steps] / np.maximum(out[1, :bar_steps], 1e-3) * 127
            recent = roll[2, max(at - CONTEXT_BARS * bar_steps, 0) : at][
                roll[0, max(at - CONTEXT_BARS * bar_steps, 0) : at] > 0
            ]
            if use_context_prior and recent.size:
                # The small model's per-note velocities are jumpy; pull them halfway to the recent level.
                vel = 0.5 * vel + 0.5 * float(np.median(recent))
            vel = np.clip(np.rint(vel), 1, 127)
        else:
            vel = np.full(onsets.shape, fill_velocity)
        bar = np.stack([onsets, frames, np.where(frames, vel, 0)]).astype(np.uint8)
        roll[:, at : at + bar_steps] = snap_to_keys(bar, allowed, onset_p.sum(0))
        yield Progress(b + 1, plan.n_bars, f"bar {b + 1}/{plan.n_bars}")
        if float(grid.seconds_at((at + bar_steps) / spb)) >= plan.end_time - 1e-6:
            break

    notes = roll_to_notes(roll[:, first_step:], grid, spb, first_step, fill_velocity)
    notes = [n for n in notes if seed_end - 1e-9 <= n.start < plan.end_time]
    last_pitch = seed.notes[-1].pitch if seed.notes else 60
    fill_pitch = min((int(k) + PIANO_LOW for k in np.nonzero(allowed)[0]), key=lambda p: abs(p - last_pitch))
    notes = enforce_sanity(notes, seed_end, fill_pitch, fill_velocity, end=plan.end_time)
    notes = [n for n in notes if n.start < plan.end_time]
    humanize = getattr(settings, "humanize", None)
    if reading.quantized if humanize is None else not humanize:
        # grid mode: the seed's own sixteenths, and --bars ends on its bar line (a performance seed keeps
        # the GAN's beat-relative steps on its tracked beats)
        bars = getattr(settings, "bars", None)
        notes = snap_to_bar_sixteenths(notes, reading.grid, reading.end_q,
                                       hold_last_to=reading.end_q if bars else None)
    return seed.copy(notes=notes, pedals=[], drum_notes=[], title=f"{seed.title} (GAN continuation)".strip())
