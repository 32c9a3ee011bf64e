"""Training the bar-by-bar piano-roll GAN (WGAN-GP) on ASAP performances.

Data.  Performance MIDIs have no reliable tempo map, but ASAP annotates every
beat and downbeat of every performance (``*_annotations.txt``: time, time,
label ``db``/``b``...).  Notes are placed on that beat grid (linear between
annotated beats), quantised to ``steps_per_beat`` steps, and cut into bars at
the annotated downbeats - far better than guessing the beat.  Bars of 1 to
``max_beats`` beats are kept (99 % of ASAP); the previous bar(s) are the same
number of beats just before, exactly as :mod:`musestudio.ml.gan_generate`
builds its condition at inference.  Notes are taken as heard (sustain pedal
applied), so generated notes carry the pedal's length.

The rasterised rolls of a split are cached once in ``runs/gan_cache/`` as a
memory-mapped ``[steps, 3, 88]`` uint8 array, so epochs do not re-parse MIDI.
Transposition by a random -5..+6 semitones is applied per example.

Optimisation is WGAN-GP (Gulrajani et al. 2017): ``n_critic`` critic updates
with gradient penalty per generator update, Adam with betas (0.5, 0.9).  One
trainer batch is split into ``n_critic`` chunks for the critic steps; the
generator step reuses the whole batch's conditions with fresh noise.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from musestudio.core.notes import NoteSequence
from musestudio.ml.gan_generate import N_KEYS, BeatGrid, rasterize, window
from musestudio.ml.models.gan import GANConfig, GANModel, step_mask
from training.splits import AsapPerformance, asap_split
from training.tasks.base import Task

PRESETS: dict[str, dict[str, Any]] = {
    # Sizes after MidiNet (128-wide convolutions, z of 100); 12 steps per beat hold sixteenths and triplets.
    "paper": {
        "config": {"steps_per_bar": 48, "steps_per_beat": 12, "z_dim": 100, "gen_width": 128,
                   "cond_width": 64, "critic_width": 128, "n_prev_bars": 1},
        "n_critic": 5, "batch_size": 160, "lr": 1e-4,
    },
    # Small enough for a 2-core CPU in well under an hour and instant at inference.
    "desktop": {
        "config": {"steps_per_bar": 16, "steps_per_beat": 4, "z_dim": 64, "gen_width": 32,
                   "cond_width": 16, "critic_width": 32, "n_prev_bars": 1},
        "n_critic": 3, "batch_size": 48, "lr": 2e-4,
    },
    # For tests and smoke runs only.
    "tiny": {
        "config": {"steps_per_bar": 16, "steps_per_beat": 4, "z_dim": 8, "gen_width": 8,
                   "cond_width": 8, "critic_width": 8, "n_prev_bars": 1, "pitch_kernel": 5},
        "n_critic": 2, "batch_size": 8, "lr": 2e-4,
    },
}  # fmt: skip
TRANSPOSE_RANGE = (-5, 6)
DEFAULT_CACHE = Path("runs") / "cache" / "gan"


# --- data -------------------------------------------------------------------------------


def read_beat_annotations(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(beat times in seconds, bool is-downbeat) from an ASAP annotation file, strictly increasing."""
    times, down = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[2].strip():
                continue
            label = parts[2].split(",")[0].strip()
            if not label.startswith(("b", "db")):
                continue
            t = float(parts[0])
            if times and t <= times[-1] + 1e-4:
                continue
            times.append(t)
            down.append(label.startswith("db"))
    return np.asarray(times), np.asarray(down, dtype=bool)


def performance_bars(
    seq: NoteSequence, beat_times: np.ndarray, downbeats: np.ndarray, config: GANConfig
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One performance -> (roll [steps, 3, 88] uint8, [(bar start step, beats in bar)])."""
    spb = config.steps_per_beat
    grid = BeatGrid(beat_times)
    n_steps = len(beat_times) * spb
    roll = rasterize(seq.with_sustain_applied().notes, grid, spb, n_steps)  # [3, steps, 88]
    marks = np.nonzero(downbeats)[0]
    bars = [(int(a) * spb, int(b - a)) for a, b in itertools.pairwise(marks) if 1 <= b - a <= config.max_beats]
    return np.ascontiguousarray(roll.transpose(1, 0, 2)), bars


def build_cache(
    split: str,
    config: GANConfig,
    cache_dir: str | os.PathLike[str] = DEFAULT_CACHE,
    root: str | None = None,
    limit: int | None = None,
) -> Path:
    """Rasterise every performance of ``split`` once; returns the cache folder (reused when present)."""
    from musestudio.io.midi import read_midi

    key = f"{split}_s{config.steps_per_beat}_b{config.max_beats}" + (f"_n{limit}" if limit else "")
    out = Path(cache_dir) / key
    if (out / "bars.npy").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    perfs: list[AsapPerformance] = asap_split(split, root)[:limit]
    rolls, bars, offset = [], [], 0
    for i, perf in enumerate(perfs):
        times, down = read_beat_annotations(perf.annotations)
        if len(times) < 8:
            continue
        roll, perf_bars = performance_bars(read_midi(perf.performance_midi), times, down, config)
        rolls.append(roll)
        bars.extend((offset + s, nb, offset) for s, nb in perf_bars)
        offset += roll.shape[0]
        if i % 50 == 0:
            print(f"[gan cache] {split}: {i + 1}/{len(perfs)} performances, {len(bars)} bars", flush=True)
    return _write_bar_cache(out, rolls, bars, {"split": split, "performances": len(perfs), "bars": len(bars)})


def _write_bar_cache(out: Path, rolls: list[np.ndarray], bars: list[tuple[int, int, int]], info: dict) -> Path:
    """Write the rolls end to end as one memory-mappable rolls.npy (renamed into place when whole), bars.npy
    and info.json; the ASAP and the bundle caches share this layout."""
    total = sum(len(r) for r in rolls)
    steps = np.lib.format.open_memmap(out / "rolls.part.npy", mode="w+", dtype=np.uint8, shape=(total, 3, N_KEYS))
    pos = 0
    for r in rolls:
        steps[pos : pos + len(r)] = r
        pos += len(r)
    steps.flush()
    del steps
    os.replace(out / "rolls.part.npy", out / "rolls.npy")
    np.save(out / "bars.npy", np.asarray(bars, dtype=np.int64).reshape(-1, 3))
    (out / "info.json").write_text(json.dumps(info))
    return out


def bundle_bars(bundle: str | os.PathLike[str], split: str, config: GANConfig, cache_dir: str | os.PathLike[str],
                humanized_only: bool = False) -> Path:
    """The GAN's roll cache built from a REMI token bundle (``--data tokens:FILE.npz``), no MIDI or ASAP needed.

    The tokens already place every note on its bar and beat (annotated beats for
    performances, the score's grid for score MIDIs), so the bars here are the same
    bar grid the token models learn from: each bar is cut into the GAN's beats
    (:func:`musestudio.ml.gan_grid.meter_beats`), notes are taken as heard (the
    decoded sustain pedal applied), and bars of 1..max_beats beats are kept.
    """
    from musestudio.core.notes import Note, PedalEvent
    from musestudio.ml.gan_generate import meter_beats
    from musestudio.ml.remi import HUMAN, RemiTokenizer
    from training.data.symbolic import load_token_bundle

    tk = RemiTokenizer()
    out = Path(cache_dir) / f"bundle_{split}_s{config.steps_per_beat}_b{config.max_beats}"
    if (out / "bars.npy").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    cache = load_token_bundle(str(bundle).removeprefix("tokens:"), split, tk)
    spb = config.steps_per_beat
    rolls, bars, offset = [], [], 0
    for i in range(len(cache)):
        toks = np.asarray(cache.piece_tokens(i), dtype=np.int64)
        if humanized_only and toks[0] != HUMAN:
            continue
        ev = tk.decode_events(toks, 0.0)
        meters = [tk.meter_of(int(t)) for t in toks if tk.kind[t] == tk.K_TS]
        starts = ev["bars"]
        if len(starts) < 3 or len(meters) < len(starts) - 1:
            continue
        beat_q: list[float] = []
        piece_bars: list[tuple[int, int]] = []
        for b in range(len(starts) - 1):
            bpb, qpb = meter_beats(*meters[b], config.max_beats)
            n_beats = max(1, int(round((starts[b + 1] - starts[b]) / qpb)))
            for k in range(0, n_beats, bpb):
                nb = min(bpb, n_beats - k)
                piece_bars.append((len(beat_q) + k, nb))
            beat_q.extend(starts[b] + qpb * np.arange(n_beats))
        beat_q.append(starts[-1])
        seq = NoteSequence(
            notes=[Note(int(p), float(a), float(max(b, a + 1e-3)), int(v))
                   for p, a, b, v in zip(ev["pitch"], ev["on_q"], ev["off_q"], ev["velocity"], strict=True)],
            pedals=[PedalEvent(float(t), 127 if d else 0) for t, d in zip(ev["pedal_q"], ev["pedal_down"], strict=True)],
        )
        grid = BeatGrid(np.asarray(beat_q))  # "seconds" here are quarter notes: the roll only needs beat positions
        roll = rasterize(seq.with_sustain_applied().notes, grid, spb, len(beat_q) * spb)
        rolls.append(np.ascontiguousarray(roll.transpose(1, 0, 2)))
        bars.extend((offset + s * spb, nb, offset) for s, nb in piece_bars if 1 <= nb <= config.max_beats)
        offset += rolls[-1].shape[0]
    return _write_bar_cache(out, rolls, bars, {"split": split, "source": str(bundle), "bars": len(bars)})


class GANBarDataset(Dataset):
    """(previous bar(s), bar, beats) examples from a cache folder; optional random transposition."""

    def __init__(self, cache: str | os.PathLike[str], config: GANConfig, *, transpose: bool = False) -> None:
        self.rolls = np.load(Path(cache) / "rolls.npy", mmap_mode="r")  # [steps, 3, 88]
        self.bars = np.load(Path(cache) / "bars.npy")  # [n, 3]: start step, beats, performance start step
        self.config = config
        self.transpose = transpose

    def __len__(self) -> int:
        return len(self.bars)

    def _window(self, start: int, length: int, perf_start: int) -> np.ndarray:
        c = self.config
        lo = max(start, perf_start)  # history before the performance began is silence
        part = np.asarray(self.rolls[lo : start + length]).transpose(1, 0, 2)  # [3, steps, 88]
        full = np.zeros((3, c.steps_per_bar, N_KEYS), dtype=np.uint8)
        full[:, lo - start : lo - start + part.shape[1]] = part
        return window(full, 0, length, c.steps_per_bar)  # zero past the bar's length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        c = self.config
        start, nb, perf_start = (int(v) for v in self.bars[i])
        length = nb * c.steps_per_beat
        bar = self._window(start, length, perf_start)
        prev = np.concatenate(
            [self._window(start - k * length, length, perf_start) for k in range(c.n_prev_bars, 0, -1)]
        )
        both = np.concatenate([prev, bar])  # [3*(n_prev+1), T, 88]
        if self.transpose:
            shift = int(torch.randint(TRANSPOSE_RANGE[0], TRANSPOSE_RANGE[1] + 1, ()).item())
            both = _shift_pitch(both, shift)
        both = both[_channel_index(c)]
        if c.channels == 3:
            both[2::3] /= 127.0
        k = c.channels * c.n_prev_bars
        return {"prev": torch.from_numpy(both[:k].copy()), "bar": torch.from_numpy(both[k:].copy()),
                "beats": torch.tensor(nb, dtype=torch.long)}  # fmt: skip


def _channel_index(c: GANConfig) -> list[int]:
    return [g * 3 + ch for g in range(c.n_prev_bars + 1) for ch in range(c.channels)]


def _shift_pitch(x: np.ndarray, shift: int) -> np.ndarray:
    if shift == 0:
        return x
    out = np.zeros_like(x)
    if shift > 0:
        out[..., shift:] = x[..., :-shift]
    else:
        out[..., :shift] = x[..., -shift:]
    return out


# --- held-out measures ------------------------------------------------------------------------


@torch.no_grad()
def calibrate_thresholds(model: GANModel, loader: Any, max_batches: int = 30, seed: int = 1) -> tuple[float, float]:
    """Set the model's onset/frame thresholds so generated bars are as busy as real ones.

    A WGAN's sigmoid outputs are not calibrated probabilities (early in training
    they sit well below 0.5 on sparse rolls), so a fixed 0.5 can silence the
    model.  The threshold is the quantile of generated values that yields the
    real onset (frame) rate over the same validation bars.
    """
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    fake_on, fake_fr, real_on, real_fr = [], [], [], []
    for i, batch in enumerate(loader):
        if i >= max_batches:
            break
        real, prev, beats = batch["bar"], batch["prev"], batch["beats"]
        fake = model.generate(prev, beats, model.sample_noise(real.shape[0], gen))
        valid = step_mask(beats, model.config)[:, 0].expand(-1, -1, real.shape[-1]) > 0  # [B, T, P]
        fake_on.append(fake[:, 0][valid])
        fake_fr.append(fake[:, 1][valid])
        real_on.append(real[:, 0][valid])
        real_fr.append(real[:, 1][valid])
    thresholds = []
    for f, r in ((fake_on, real_on), (fake_fr, real_fr)):
        values, rate = torch.cat(f), float(torch.cat(r).mean())
        sample = values[torch.randperm(len(values), generator=gen)[:2_000_000]]
        thresholds.append(float(torch.quantile(sample, min(max(1.0 - rate, 0.0), 1.0))))
    model.decode_thresholds.copy_(torch.tensor(thresholds))
    return thresholds[0], thresholds[1]


def binarize(fake: torch.Tensor, onset_threshold: float = 0.5, frame_threshold: float = 0.5) -> torch.Tensor:
    """Generator output -> the clean roll inference makes of it (onset/frame 0/1, velocity kept)."""
    on = (fake[:, 0] > onset_threshold).float()
    fr = torch.maximum((fake[:, 1] > frame_threshold).float(), on)
    parts = [on, fr]
    if fake.shape[1] > 2:
        parts.append(fake[:, 2] / fake[:, 1].clamp_min(1e-3) * fr)
    return torch.stack(parts, 1)


def _pc_hist(onsets: torch.Tensor) -> torch.Tensor:
    """[B, T, 88] onsets -> [B, 12] pitch-class counts (index 0 = A)."""
    per_key = onsets.sum(1)  # [B, 88]
    pad = torch.nn.functional.pad(per_key, (0, 96 - N_KEYS))
    return pad.view(-1, 8, 12).sum(1)


def _overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Histogram overlap in [0, 1] (1 = same distribution); rows with no notes are skipped."""
    pa = a / a.sum(-1, keepdim=True).clamp_min(1e-9)
    pb = b / b.sum(-1, keepdim=True).clamp_min(1e-9)
    valid = (a.sum(-1) > 0) & (b.sum(-1) > 0)
    return torch.minimum(pa, pb).sum(-1)[valid]


@torch.no_grad()
def heldout_metrics(
    model: GANModel, loader: DataLoader, max_batches: int | None = None, seed: int = 0
) -> dict[str, float]:
    """Critic's Wasserstein estimate and musical statistics of generated vs real held-out bars."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}

    def add(name: str, values: torch.Tensor) -> None:
        sums[name] = sums.get(name, 0.0) + float(values.sum())
        counts[name] = counts.get(name, 0) + int(values.numel())

    hist_real = torch.zeros(12)
    hist_fake = torch.zeros(12)
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        real, prev, beats = batch["bar"], batch["prev"], batch["beats"]
        z = model.sample_noise(real.shape[0], gen)
        fake = model.generate(prev, beats, z)
        add("critic_real", model.critic_score(real, prev, beats))
        add("critic_fake", model.critic_score(fake, prev, beats))
        clean = binarize(fake, *(float(v) for v in model.decode_thresholds))
        on_real, on_fake = real[:, 0], clean[:, 0]
        add("onsets_per_bar_real", on_real.sum((1, 2)))
        add("onsets_per_bar_generated", on_fake.sum((1, 2)))
        add("frame_occupancy_real", real[:, 1].mean((1, 2)))
        add("frame_occupancy_generated", clean[:, 1].mean((1, 2)))
        h_real, h_fake, h_prev = _pc_hist(on_real), _pc_hist(on_fake), _pc_hist(prev[:, -model.config.channels])
        hist_real += h_real.sum(0)
        hist_fake += h_fake.sum(0)
        add("pitch_class_overlap_generated_vs_real_bar", _overlap(h_fake, h_real))
        add("pitch_class_overlap_previous_bar_vs_real_bar", _overlap(h_prev, h_real))
        add("empty_bar_rate_generated", (on_fake.sum((1, 2)) == 0).float())
    out = {k: sums[k] / max(counts[k], 1) for k in sums}
    out["wasserstein_estimate"] = out["critic_real"] - out["critic_fake"]
    out["pitch_class_overlap_all_bars"] = float(_overlap(hist_fake[None], hist_real[None]).mean())
    return out


# --- the task ----------------------------------------------------------------------------------


def asap_root_from_args(args: argparse.Namespace) -> str | None:
    """The ASAP folder named by ``--data`` (``asap`` or a path holding metadata.csv); None = default."""
    data = getattr(args, "data", None)
    sources = [data] if isinstance(data, str) else list(data or [])
    roots: list[str | None] = []
    for src in sources:
        if src == "asap":
            roots.append(None)
        elif (Path(src) / "metadata.csv").is_file():
            roots.append(str(src))
        else:
            raise SystemExit(f"the GAN trains on ASAP (it needs beat annotations); cannot use data source '{src}'")
    if len(roots) > 1:
        raise SystemExit("the GAN trains on one ASAP folder; give --data once")
    return roots[0] if roots else None


def cache_dir_from_args(args: argparse.Namespace) -> Path:
    cache = getattr(args, "cache", None)
    return Path(cache) / "gan" if cache else DEFAULT_CACHE


def _sync_gradients(params: list[nn.Parameter]) -> None:
    """Average gradients over DDP ranks.

    The GAN step calls the generator and critic directly (not through the DDP
    wrapper's forward), so DDP's own all-reduce hooks never fire; this does
    their job so every rank takes the same step.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    world = torch.distributed.get_world_size()
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        torch.distributed.all_reduce(p.grad)
        p.grad /= world


class GANTask(Task):
    name = "gan"
    grad_clip = 0.0  # WGAN-GP's penalty already bounds the critic; clipping would fight it
    preset_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        name: {"batch_size": p["batch_size"], "lr": p["lr"]} for name, p in PRESETS.items()
    }

    def __init__(self) -> None:
        self.preset = "desktop"
        self.config = GANConfig(**PRESETS["desktop"]["config"])

    def build_model(self, preset: str) -> tuple[str, dict[str, Any], nn.Module]:
        if preset not in PRESETS:
            raise SystemExit(f"unknown GAN preset '{preset}' (known: {', '.join(PRESETS)})")
        self.preset = preset
        self.config = GANConfig(**PRESETS[preset]["config"])
        return "gan", asdict(self.config), GANModel(self.config)

    def datasets(self, args: argparse.Namespace) -> tuple[Dataset, Dataset]:
        data = getattr(args, "data", None) or []
        bundles = [d for d in ([data] if isinstance(data, str) else data) if d.startswith("tokens:")]
        if bundles:  # a REMI token bundle (the GPU path): bars from the tokens
            cache_dir = cache_dir_from_args(args)
            train = bundle_bars(bundles[0], "train", self.config, cache_dir)
            val = bundle_bars(bundles[0], "validation", self.config, cache_dir)
            return GANBarDataset(train, self.config, transpose=True), GANBarDataset(val, self.config)
        root = asap_root_from_args(args)
        cache_dir = cache_dir_from_args(args)
        limit = getattr(args, "limit_files", None)
        train = build_cache("train", self.config, cache_dir, root, limit)
        val = build_cache("validation", self.config, cache_dir, root, limit)
        return GANBarDataset(train, self.config, transpose=True), GANBarDataset(val, self.config)

    def make_optimizers(self, model: nn.Module, args: argparse.Namespace) -> dict[str, torch.optim.Optimizer]:
        lr = float(getattr(args, "lr", None) or PRESETS[self.preset]["lr"])
        return {
            "critic": torch.optim.Adam(model.critic_parameters(), lr=lr, betas=(0.5, 0.9)),  # type: ignore[operator]
            "generator": torch.optim.Adam(model.generator_parameters(), lr=lr, betas=(0.5, 0.9)),  # type: ignore[operator]
        }

    def train_step(
        self,
        model: nn.Module,
        batch: Any,
        optimizers: dict[str, torch.optim.Optimizer],
        step: int,
        scaler: torch.amp.GradScaler | None,
    ) -> dict[str, float]:
        """``n_critic`` critic steps (one per chunk of the batch), then one generator step.

        Runs in full precision: the gradient penalty's double backward is not
        worth the trouble of mixed precision for a model this size.
        """
        gan: GANModel = model.module if hasattr(model, "module") else model  # type: ignore[assignment]
        device = next(gan.parameters()).device
        batch = {k: v.to(device) for k, v in batch.items()}
        n_critic = int(PRESETS[self.preset]["n_critic"])
        real, prev, beats = batch["bar"], batch["prev"], batch["beats"]
        chunks = max(1, min(n_critic, real.shape[0]))
        w_sum = gp_sum = 0.0
        for r, p, b in zip(real.chunk(chunks), prev.chunk(chunks), beats.chunk(chunks), strict=False):
            with torch.no_grad():
                fake = gan.generate(p, b, gan.sample_noise(r.shape[0]))
            d_real = gan.critic_score(r, p, b).mean()
            d_fake = gan.critic_score(fake, p, b).mean()
            gp = gan.gradient_penalty(r, fake, p, b)
            loss = d_fake - d_real + gan.config.gp_weight * gp
            optimizers["critic"].zero_grad(set_to_none=True)
            loss.backward()
            _sync_gradients(gan.critic_parameters())
            optimizers["critic"].step()
            w_sum += float((d_real - d_fake).detach())
            gp_sum += float(gp.detach())
        # Generator step: the critic's parameters get gradients here but are not stepped.
        fake = gan.generate(prev, beats, gan.sample_noise(real.shape[0]))
        g_loss = -gan.critic_score(fake, prev, beats).mean()
        optimizers["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        _sync_gradients(gan.generator_parameters())
        optimizers["generator"].step()
        optimizers["critic"].zero_grad(set_to_none=True)
        return {"loss": -w_sum / chunks, "wasserstein": w_sum / chunks, "gradient_penalty": gp_sum / chunks,
                "generator": float(g_loss.detach())}  # fmt: skip

    @torch.no_grad()
    def evaluate(self, model: nn.Module, loader: DataLoader) -> dict[str, float]:
        """val_loss is the critic's Wasserstein estimate on validation bars (lower = closer to real)."""
        gan: GANModel = model.module if hasattr(model, "module") else model  # type: ignore[assignment]
        was_training = gan.training
        batches = [b for _, b in zip(range(8), loader, strict=False)]
        calibrate_thresholds(gan, batches)  # saved with the best weights, so exports carry them
        metrics = heldout_metrics(gan, batches)
        gan.train(was_training)
        out = {f"val_{k}": v for k, v in metrics.items()}
        out["val_loss"] = metrics["wasserstein_estimate"]
        return out

    def export_extra(self) -> dict[str, Any]:
        return {"data": {"representation": "onset/frame/velocity piano roll, 88 keys, steps on the beat grid",
                         "steps_per_beat": self.config.steps_per_beat}}  # fmt: skip

    def test_metrics(self, folder: str, args: argparse.Namespace) -> dict[str, float]:
        from musestudio.ml.checkpoint import load_model

        model, _ = load_model(folder)
        self.config = model.config
        split = getattr(args, "split", "test") or "test"
        data = getattr(args, "data", None) or []
        bundles = [d for d in ([data] if isinstance(data, str) else data) if d.startswith("tokens:")]
        if bundles:  # trained from a token bundle: score on the same bundle's held-out bars
            cache = bundle_bars(bundles[0], split, model.config, cache_dir_from_args(args))
        else:
            cache = build_cache(split, model.config, cache_dir_from_args(args), asap_root_from_args(args))
        loader = DataLoader(GANBarDataset(cache, model.config), batch_size=128, shuffle=False)
        return {f"{split}_{k}": v for k, v in heldout_metrics(model, loader).items()}

    def model_card(self, metrics: dict[str, float], facts: dict[str, Any]) -> str:
        return gan_model_card(metrics, facts)


def gan_model_card(metrics: dict[str, float], facts: dict[str, Any]) -> str:
    lines = [
        "# GAN continuation model (bar-by-bar piano roll, WGAN-GP)",
        "",
        "A MidiNet-style conditional GAN: the generator (transposed convolutions, fed by a conditioner CNN",
        "that reads the previous bar) makes the next bar of an 88-key piano roll with onset, frame and",
        "velocity channels; the critic (convolutions) scores a bar given its previous bar. Trained with the",
        "Wasserstein loss and gradient penalty. It has no likelihood, so it has no perplexity.",
        "",
        "## Data and split",
        "",
        "ASAP performance MIDIs (../shared/data/asap). Bars are cut at the annotated downbeats and notes are",
        "quantised to the annotated beats (4 steps per beat for the desktop preset), sustain pedal applied.",
        "Split by piece (`training.splits.asap_split`, the `folder` column): train for training, validation",
        "for monitoring, test only for the numbers below. Augmentation: random transposition -5..+6.",
        "",
        "## Facts",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines += ["", "## Held-out numbers (test pieces, one generated bar per real bar, same previous bar)", ""]
    lines += [f"- {k}: {v:.4f}" for k, v in sorted(metrics.items())]
    lines += [
        "",
        "How to read them: `wasserstein_estimate` is the trained critic's mean score of real minus generated",
        "test bars (0 would mean the critic cannot tell them apart; it is only comparable between checkpoints",
        "scored by the same critic). `pitch_class_overlap_*` is the histogram intersection (0..1) of onset",
        "pitch classes; `..._previous_bar_vs_real_bar` is the trivial 'repeat the previous bar' baseline.",
        "Onset and frame statistics compare how busy generated and real bars are after thresholding at 0.5.",
        "",
    ]
    return "\n".join(lines)


# --- a self-contained loop (used until/unless the generic trainer is available) ---------------


def count_parameters(model: nn.Module) -> dict[str, int]:
    gan: GANModel = model  # type: ignore[assignment]
    return {"generator": sum(p.numel() for p in gan.generator_parameters()),
            "critic": sum(p.numel() for p in gan.critic_parameters())}  # fmt: skip


def export(
    model: GANModel,
    task: GANTask,
    to: str | os.PathLike[str],
    facts: dict[str, Any],
    args: argparse.Namespace,
    calibration: DataLoader | None = None,
) -> dict[str, float]:
    """Write the app checkpoint, score it on the test split, and write the card with those numbers."""
    from musestudio.ml.checkpoint import save_checkpoint

    if calibration is not None:
        facts["decode_thresholds (onset, frame), set on validation bars"] = [
            round(t, 4) for t in calibrate_thresholds(model, calibration)
        ]
    extra = {**task.export_extra(), "training": facts}
    save_checkpoint(to, "gan", asdict(model.config), model.state_dict(), extra=extra)
    metrics = task.test_metrics(str(to), args)
    extra["metrics"] = metrics
    save_checkpoint(
        to, "gan", asdict(model.config), model.state_dict(), extra=extra, card=task.model_card(metrics, facts)
    )
    return metrics


def standalone_main(argv: list[str] | None = None) -> int:
    """``python -m training.tasks.gan --preset desktop --minutes 20 --out runs/gan --export models/gan``."""
    from safetensors.torch import load_file, save_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="desktop", choices=sorted(PRESETS))
    ap.add_argument("--out", default="runs/gan")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--export", default=None, help="checkpoint folder to write at the end (e.g. models/gan)")
    ap.add_argument("--data", default=None)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--export-only", action="store_true", help="skip training: export OUT/last.safetensors")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    task = GANTask()
    _, _, model = task.build_model(args.preset)
    train, val = task.datasets(args)
    bs = int(PRESETS[args.preset]["batch_size"])
    loader = DataLoader(train, batch_size=bs, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(args.seed))  # fmt: skip
    val_loader = DataLoader(val, batch_size=128, shuffle=False)
    opts = task.make_optimizers(model, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    step, elapsed_before = 0, 0.0
    if (args.resume or args.export_only) and (out / "last.safetensors").is_file():
        model.load_state_dict(load_file(str(out / "last.safetensors")), strict=False)
        state = json.loads((out / "last.json").read_text())
        step, elapsed_before = int(state["step"]), float(state["seconds"])
    log = open(out / "log.csv", "a", encoding="utf-8")  # noqa: SIM115 - held open for the whole run
    t0 = time.time() - elapsed_before
    budget = args.minutes * 60
    print(
        f"[gan] preset={args.preset} params={count_parameters(model)} train bars={len(train)} val bars={len(val)}",
        flush=True,
    )
    done = args.export_only
    while not done:
        for batch in loader:
            model.train()
            logs = task.train_step(model, batch, opts, step, None)
            step += 1
            if step % 20 == 0:
                el = time.time() - t0
                print(f"[gan] step {step} {el:6.0f}s " + " ".join(f"{k}={v:.3f}" for k, v in logs.items()), flush=True)
                log.write(json.dumps({"step": step, "seconds": el, **logs}) + "\n")
                log.flush()
            if step % 150 == 0 or time.time() - t0 > budget:
                val_logs = task.evaluate(model, val_loader)
                print(f"[gan] val step {step}: " + " ".join(f"{k}={v:.3f}" for k, v in val_logs.items()), flush=True)
                log.write(json.dumps({"step": step, **val_logs}) + "\n")
                save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "last.safetensors"))
                (out / "last.json").write_text(json.dumps({"step": step, "seconds": time.time() - t0}))
            if time.time() - t0 > budget:
                done = True
                break
    seconds = time.time() - t0
    if args.export:
        facts = {
            "preset": args.preset, "steps": step, "batch_size": bs, "n_critic": PRESETS[args.preset]["n_critic"],
            "training_seconds": round(seconds), "parameters": count_parameters(model),
            "hardware": f"CPU, {args.threads} torch thread(s), shared 2-core machine",
            "train_bars": len(train), "validation_bars": len(val), "trainer": "training.tasks.gan standalone loop",
        }  # fmt: skip
        metrics = export(model, task, args.export, facts, args, calibration=val_loader)
        print("[gan] exported to", args.export, json.dumps(metrics, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(standalone_main())
