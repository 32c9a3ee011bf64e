"""Continue a seed bar by bar with the GAN, on the seed's own beat grid.

The GAN thinks in bars of piano roll on a beat grid (see
:mod:`musestudio.ml.models.gan`), so a seed in seconds is first put on a grid:

* a seed whose tempo map and time signature fit its notes (a score MIDI, a
  DAW export) keeps them;
* a performance gets a constant beat estimated from its onsets
  (:func:`musestudio.io.musicxml.estimate_beat_seconds`), with the beat phase
  chosen to fit the onsets and the meter taken from its time signature (4
  beats when it has none).

The continuation starts at the first beat at or after the seed's end; the
bar(s) before that point condition the first generated bar, and each
generated bar (thresholded back to a clean roll) conditions the next.  The
rasterisation here is the one :mod:`training.tasks.gan` uses to build its
training bars, so training and inference agree on what a roll means.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musestudio.core.errors import ModelError
from musestudio.core.keys import parse_key
from musestudio.core.notes import PIANO_HIGH, PIANO_LOW, Note, NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work

N_KEYS = PIANO_HIGH - PIANO_LOW + 1  # 88
MAX_POLYPHONY = 16
MAX_NOTE_SECONDS = 8.0
MAX_SILENCE_SECONDS = 4.0
MAX_CONTINUATION_SECONDS = 600.0
CONTEXT_BARS = 4  # bars of recent material that shape the pitch-class/register prior


# --- beat grids ----------------------------------------------------------------


@dataclass
class BeatGrid:
    """Beat onsets in seconds (beat ``i`` at ``times[i]``) and the meter.

    Outside the listed beats the grid continues at the nearest end's spacing,
    so a continuation can run past the seed.  ``first_downbeat`` is the index
    of a beat that starts a bar; bars repeat every ``beats_per_bar`` beats.
    """

    times: np.ndarray
    beats_per_bar: int = 4
    first_downbeat: int = 0

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64)
        if len(self.times) < 2 or np.any(np.diff(self.times) <= 0):
            raise ValueError("a beat grid needs at least two strictly increasing beat times")

    def beats_at(self, seconds: np.ndarray | float) -> np.ndarray:
        """Fractional beat index of times (linear inside, extrapolated outside)."""
        t = np.asarray(seconds, dtype=np.float64)
        idx = np.arange(len(self.times), dtype=np.float64)
        out = np.interp(t, self.times, idx)
        first = (self.times[1] - self.times[0]) or 1.0
        last = (self.times[-1] - self.times[-2]) or 1.0
        out = np.where(t < self.times[0], (t - self.times[0]) / first, out)
        return np.where(t > self.times[-1], len(self.times) - 1 + (t - self.times[-1]) / last, out)

    def seconds_at(self, beats: np.ndarray | float) -> np.ndarray:
        b = np.asarray(beats, dtype=np.float64)
        idx = np.arange(len(self.times), dtype=np.float64)
        out = np.interp(b, idx, self.times)
        first = self.times[1] - self.times[0]
        last = self.times[-1] - self.times[-2]
        out = np.where(b < 0, self.times[0] + b * first, out)
        return np.where(b > len(self.times) - 1, self.times[-1] + (b - len(self.times) + 1) * last, out)

    def is_downbeat(self, beat: int) -> bool:
        return (beat - self.first_downbeat) % self.beats_per_bar == 0


def meter_beats(numerator: int, denominator: int, max_beats: int = 4) -> tuple[int, float]:
    """(beats per bar, quarter notes per beat) of a time signature, folded to at most ``max_beats``.

    Compound meters (6/8, 9/8, 12/8) count dotted beats; long bars (6/4, 5/4)
    are folded into shorter units because the model's bars hold at most
    ``max_beats`` beats.
    """
    quarters = 4.0 / denominator
    beats = numerator
    if denominator >= 8 and numerator % 3 == 0 and numerator > 3:
        beats, quarters = numerator // 3, quarters * 3
    while beats > max_beats:
        beats = beats // 2 if beats % 2 == 0 else max_beats
    return max(beats, 1), quarters


def _tempo_map_fits(seq: NoteSequence) -> bool:
    """Do the notes sit on their file's sixteenth grid (a score rather than a performance)?"""
    if not seq.notes:
        return True
    tm = seq.tempo_map
    beats = tm.seconds_to_ticks_array(np.array([n.start for n in seq.notes[:2000]])) / tm.ppq
    err = np.abs(beats * 4 - np.round(beats * 4)) / 4 * 60.0 / tm.initial_qpm
    return float(np.mean(err < 0.015)) > 0.8


def seed_beat_grid(seed: NoteSequence, until: float, max_beats: int = 4) -> BeatGrid:
    """A beat grid covering ``[seed start, until]`` (see the module doc for how it is chosen)."""
    from musestudio.io.musicxml import estimate_beat_seconds

    ts = seed.time_signature
    beats_per_bar, quarters_per_beat = meter_beats(ts.numerator, ts.denominator, max_beats)
    if _tempo_map_fits(seed):
        tm = seed.tempo_map
        ts_beat = tm.seconds_to_beats(ts.time) / quarters_per_beat
        last = tm.seconds_to_beats(max(until, seed.duration)) / quarters_per_beat + 2
        times = np.array([tm.beats_to_seconds(i * quarters_per_beat) for i in range(math.ceil(last) + 2)])
        return BeatGrid(times, beats_per_bar, round(ts_beat) % beats_per_bar)
    beat = max(estimate_beat_seconds(seed), 0.1)
    onsets = np.array([n.start for n in seed.notes])
    weights = np.array([n.velocity for n in seed.notes], dtype=np.float64)
    # Phase: the offset in [0, beat) that puts most onset weight near a beat.
    phases = np.linspace(0, beat, 24, endpoint=False)
    fit = [np.sum(weights * np.cos(2 * np.pi * (onsets - p) / beat)) for p in phases]
    phase = phases[int(np.argmax(fit))]
    origin = phase + beat * math.floor((seed.start_time - phase) / beat + 1e-6)
    count = math.ceil((max(until, seed.duration) - origin) / beat) + 3
    times = origin + beat * np.arange(count)
    # Downbeat: the bar position whose beats carry the most onset weight (accents fall on bar lines).
    beat_idx = np.round((onsets - origin) / beat).astype(int)
    strength = [float(weights[(beat_idx % beats_per_bar) == k].sum()) for k in range(beats_per_bar)]
    return BeatGrid(times, beats_per_bar, int(np.argmax(strength)))


# --- notes <-> rolls -------------------------------------------------------------


def rasterize(notes: Iterable[Note], grid: BeatGrid, steps_per_beat: int, n_steps: int) -> np.ndarray:
    """Notes -> uint8 roll [3, n_steps, 88]: onset (0/1), frame (0/1), velocity (0..127).

    Step ``s`` is beat ``s / steps_per_beat`` of ``grid``.  Onsets and ends are
    rounded to the nearest step; a note lasts at least one step.
    """
    roll = np.zeros((3, n_steps, N_KEYS), dtype=np.uint8)
    notes = [n for n in notes if PIANO_LOW <= n.pitch <= PIANO_HIGH]
    if not notes or n_steps <= 0:
        return roll
    starts = np.rint(grid.beats_at(np.array([n.start for n in notes])) * steps_per_beat).astype(np.int64)
    ends = np.rint(grid.beats_at(np.array([n.end for n in notes])) * steps_per_beat).astype(np.int64)
    ends = np.maximum(ends, starts + 1)
    for n, a, b in zip(notes, starts, ends, strict=False):
        if b <= 0 or a >= n_steps:
            continue
        k = n.pitch - PIANO_LOW
        lo, hi = max(a, 0), min(b, n_steps)
        roll[1, lo:hi, k] = 1
        roll[2, lo:hi, k] = np.maximum(roll[2, lo:hi, k], n.velocity)
        if a >= 0:
            roll[0, a, k] = 1
            roll[2, a:hi, k] = n.velocity  # a new strike sets the velocity of what follows
    return roll


def roll_to_notes(
    roll: np.ndarray, grid: BeatGrid, steps_per_beat: int, first_step: int = 0, default_velocity: int = 80
) -> list[Note]:
    """Binary roll [3 or 2, steps, 88] -> notes: a note starts at an onset and lasts while its frame holds."""
    onset, frame = roll[0] > 0, roll[1] > 0
    velocity = roll[2] if roll.shape[0] > 2 else None
    n_steps = onset.shape[0]
    out: list[Note] = []
    for s, k in zip(*np.nonzero(onset), strict=False):
        e = s + 1
        while e < n_steps and frame[e, k] and not onset[e, k]:
            e += 1
        vel = int(velocity[s, k]) if velocity is not None else default_velocity
        start, end = grid.seconds_at(np.array([first_step + s, first_step + e]) / steps_per_beat)
        out.append(Note(int(k) + PIANO_LOW, float(start), float(end), int(np.clip(vel, 1, 127))))
    out.sort(key=lambda n: (n.start, n.pitch))
    return out


def window(roll: np.ndarray, start_step: int, length: int, pad_to: int) -> np.ndarray:
    """roll[:, start:start+length] zero-padded on both sides to ``pad_to`` steps (missing history is silence)."""
    c, total, p = roll.shape
    out = np.zeros((c, pad_to, p), dtype=np.float32)
    lo, hi = max(start_step, 0), min(start_step + length, total)
    if hi > lo:
        out[:, lo - start_step : hi - start_step] = roll[:, lo:hi]
    return out


def to_model_input(roll: np.ndarray, channels: int) -> np.ndarray:
    """uint8 roll -> float32 in [0, 1] with the model's channel count."""
    x = roll[:channels].astype(np.float32)
    if channels > 2:
        x[2] /= 127.0
    return x


# --- sanity ------------------------------------------------------------------------


def enforce_sanity(
    notes: list[Note], start: float, fill_pitch: int = 60, fill_velocity: int = 64, end: float | None = None
) -> list[Note]:
    """Pitches 21..108, notes <= 8 s, <= 16 sounding at once, no silence > 4 s in ``[start, end]``.

    A silence longer than 4 s is broken by a short note; the model rarely
    needs it, but a slow tempo with an empty bar can otherwise exceed it.
    """
    notes = sorted(
        (
            dataclasses.replace(n, end=min(n.end, n.start + MAX_NOTE_SECONDS - 0.01))
            for n in notes
            if PIANO_LOW <= n.pitch <= PIANO_HIGH and n.end > n.start
        ),
        key=lambda n: (n.start, n.pitch),
    )
    kept: list[Note] = []
    sounding: list[Note] = []
    for n in notes:
        sounding = [m for m in sounding if m.end > n.start + 1e-9]
        if len(sounding) >= MAX_POLYPHONY:
            continue
        sounding.append(n)
        kept.append(n)
    filled: list[Note] = []
    covered = start
    limit = MAX_SILENCE_SECONDS - 0.5
    stop = Note(fill_pitch, end, end, fill_velocity) if end is not None else None
    for n in [*kept, *([stop] if stop is not None else [])]:
        while n.start - covered > limit:
            t = covered + limit
            filled.append(Note(fill_pitch, t, t + 0.25, fill_velocity))
            covered = t + 0.25
        if n is not stop:
            filled.append(n)
        covered = max(covered, n.end)
    return filled


# --- the model ------------------------------------------------------------------------


def _default_checkpoint() -> Path:
    try:
        from musestudio.ml.catalog import default_checkpoint

        return Path(default_checkpoint("gan"))
    except ImportError:  # the catalog module is a colleague's; fall back to the repo layout
        root = os.environ.get("MUSESTUDIO_MODELS") or Path(__file__).resolve().parents[2] / "models"
        return Path(root) / "gan"


@functools.lru_cache(maxsize=4)
def _load_cached(folder: str, stamp: float) -> tuple[Any, dict[str, Any]]:
    from musestudio.ml.checkpoint import load_model, read_manifest

    path = Path(folder)
    manifest = read_manifest(path.parent) if (path.parent / "manifest.json").is_file() else None
    model, info = load_model(path, manifest)
    if info.architecture != "gan":
        raise ModelError(f"{path}: is a '{info.architecture}' checkpoint, not a GAN")
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


def _plan(seed: NoteSequence, settings: Any, max_beats: int) -> _Plan:
    seed_end = seed.duration
    seconds = getattr(settings, "seconds", None)
    bars = getattr(settings, "bars", None)
    if bars is None and seconds is None:
        seconds = 20.0
    guess = float(seconds) if seconds is not None else float(bars) * 4 * 1.5 + 10
    guess = min(max(guess, 0.0), MAX_CONTINUATION_SECONDS)
    grid = seed_beat_grid(seed, seed_end + guess + 10.0, max_beats)
    start_beat = math.ceil(float(grid.beats_at(seed_end)) - 1e-6) if seed.notes else 0
    if float(grid.seconds_at(start_beat)) < seed_end - 1e-9:
        start_beat += 1
    if bars is not None:
        n_bars = max(1, math.ceil(float(bars)))
        end_beat = start_beat + float(bars) * grid.beats_per_bar
        end_time = float(grid.seconds_at(end_beat))  # bars override seconds, as in GenerationSettings
    else:
        end_time = seed_end + guess
        n_bars = max(1, math.ceil((float(grid.beats_at(end_time)) - start_beat) / grid.beats_per_bar))
    return _Plan(grid, start_beat, end_time, min(n_bars, 400))


def _pitch_masks(settings: Any) -> tuple[np.ndarray, np.ndarray]:
    """([88] keys inside the pitch range, [88] of those also in the locked key's scale)."""
    low, high = getattr(settings, "pitch_range", None) or (PIANO_LOW, PIANO_HIGH)
    low, high = max(int(low), PIANO_LOW), min(int(high), PIANO_HIGH)
    if high < low:
        raise ModelError(f"empty pitch range {low}-{high}")
    in_range = np.zeros(N_KEYS, dtype=bool)
    in_range[low - PIANO_LOW : high - PIANO_LOW + 1] = True
    allowed = in_range.copy()
    key = getattr(settings, "key", None)
    if key:
        scale = parse_key(key).pitch_classes()
        allowed &= np.array([p % 12 in scale for p in range(PIANO_LOW, PIANO_HIGH + 1)])
    if not allowed.any():
        raise ModelError("the key lock leaves no pitch inside the pitch range")
    return in_range, allowed


def snap_to_keys(bar: np.ndarray, allowed: np.ndarray, preference: np.ndarray) -> np.ndarray:
    """Move notes on disallowed keys to the nearest allowed key ([C, T, 88] roll, max-merged).

    This is the key lock: the model's rhythm and register are kept and an
    out-of-scale note becomes its in-scale neighbour (of two equally near, the
    one the model rated higher), as a scale-quantiser in a DAW does.  Masking
    the probabilities instead silenced the model when the key was far from the
    seed's.
    """
    if allowed.all():
        return bar
    keys = np.nonzero(allowed)[0]
    out = bar * allowed[None, None, :]
    for k in np.nonzero(~allowed)[0]:
        if not bar[:, :, k].any():
            continue
        d = np.abs(keys - k)
        near = keys[d == d.min()]
        target = near[np.argmax(preference[near])] if len(near) > 1 else near[0]
        out[:, :, target] = np.maximum(out[:, :, target], bar[:, :, k])
    return out


def context_prior(context: np.ndarray, floor: float = 0.2, reach: float = 6.0) -> np.ndarray:
    """[steps, 88] recent onsets -> [88] weights favouring the context's pitch classes and register.

    The small desktop GAN, alone, wanders in key and register from bar to bar.
    Weighting its onset probabilities by what was just played (pitch classes
    with a floor, so chromatic notes stay possible; a soft fall-off beyond the
    played register) keeps a continuation near its seed, the way MidiNet
    conditions on a chord.  It is a decoding choice, not part of the model.
    """
    per_key = context.sum(0).astype(np.float64)
    if per_key.sum() <= 0:
        return np.ones(N_KEYS)
    pcs = np.zeros(12)
    np.add.at(pcs, (np.arange(N_KEYS) + PIANO_LOW) % 12, per_key)
    pc_weight = floor + (1 - floor) * pcs / pcs.max()
    keys = np.repeat(np.arange(N_KEYS), per_key.astype(np.int64))
    lo, hi = np.percentile(keys, 5), np.percentile(keys, 95)
    idx = np.arange(N_KEYS)
    distance = np.maximum(np.maximum(lo - idx, idx - hi), 0.0)
    return pc_weight[(idx + PIANO_LOW) % 12] * np.exp(-distance / reach)


def _pick_onsets(prob: np.ndarray, threshold: float, target: float | None) -> np.ndarray:
    """[T, 88] onset probabilities -> bool onsets: above threshold, or the ``target`` most likely."""
    if target is None:
        return prob > threshold
    n = round(target)
    out = np.zeros_like(prob, dtype=bool)
    if n <= 0:
        return out
    flat = np.argsort(prob, axis=None)[::-1][:n]
    flat = flat[prob.flat[flat] > 0.005]  # never strike keys the model all but rules out
    out.flat[flat] = True
    return out


def continue_with_gan_work(
    seed: NoteSequence, settings: Any, random_seed: int, cancel: CancelToken | None = None
) -> Work[NoteSequence]:
    """Generate bars after ``seed``; returns only the new notes, at absolute times from the seed's end.

    ``settings`` is a :class:`musestudio.ml.generate.GenerationSettings`; the
    GAN uses checkpoint, seconds/bars, temperature (scales the noise), key,
    pitch_range and density (notes per second: the most likely onsets of each
    bar are kept instead of thresholding).  top_k/top_p have no meaning for a
    GAN and are ignored.  Onsets are weighted by :func:`context_prior` unless
    ``settings`` has ``context_prior=False``.
    """
    import torch

    model, _ = load_gan(getattr(settings, "checkpoint", None))
    cfg = model.config
    onset_threshold, frame_threshold = (float(v) for v in model.decode_thresholds)
    spb, model_steps = cfg.steps_per_beat, cfg.steps_per_bar
    plan = _plan(seed, settings, cfg.max_beats)
    grid, bpb = plan.grid, plan.grid.beats_per_bar
    bar_steps = bpb * spb
    seed_end = seed.duration
    in_range, allowed = _pitch_masks(settings)
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
        onsets = _pick_onsets(onset_p, onset_threshold, target)
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

    notes = roll_to_notes(roll[:, first_step:], grid, spb, first_step, fill_velocity)
    notes = [n for n in notes if seed_end - 1e-9 <= n.start < plan.end_time]
    last_pitch = seed.notes[-1].pitch if seed.notes else 60
    fill_pitch = min((int(k) + PIANO_LOW for k in np.nonzero(allowed)[0]), key=lambda p: abs(p - last_pitch))
    notes = enforce_sanity(notes, seed_end, fill_pitch, fill_velocity, end=plan.end_time)
    notes = [n for n in notes if n.start < plan.end_time]
    return seed.copy(notes=notes, pedals=[], drum_notes=[], title=f"{seed.title} (GAN continuation)".strip())
