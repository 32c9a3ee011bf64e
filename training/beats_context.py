"""Train a whole-piece context head on a trained, frozen beat tracker (sixteenth session).

    python -m training.beats_context extract models/beat_tracker --out data_cache/beats_ctx --draws 3
    python -m training.beats_context train models/beat_tracker --features data_cache/beats_ctx --to runs/cand/c1

The head (``BeatTrackerConfig.context``; see musestudio/ml/models/beat_tracker.py) reads the TCN's
features of a whole piece.  Since the TCN stays frozen, its features are computed once per augmented draw
of every training performance (``extract``, the same chunking as inference, so the head is trained on
exactly what it will read) and the head is then trained on them alone (``train``): a step costs
milliseconds instead of a TCN's forward and backward pass, so whole minutes of a piece fit in a batch.
Augmentation and targets are the TCN's own (training/tasks/beats.py: tempo, transposition, velocity curve,
transcription-like noise, steady and quantized takes, both beat splits, synthetic patterns), so the head
learns from the same distribution as the network under it.  Validation is used for the loss printed
during training only; the last weights are written.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np


def _piece_arrays(items: list, draw: int, seed: int, train: bool):
    from training.tasks.beats import augment

    for i, item in enumerate(items):
        if train:
            rng = np.random.default_rng((seed, draw, i))
            yield item, augment(item, rng)
        else:
            yield item, (item.pitch.astype(np.int64), item.start, item.end, item.velocity.astype(np.float64),
                         item.beats, item.downbeats)


def extract(checkpoint: str, out: Path, draws: int, seed: int, cache: str, synthetic_items: int,
            pattern_swell: float) -> None:
    """One file per draw (and one for validation): the TCN's features (float16, [T, C]), its log-odds,
    the targets and the label mask of every item, concatenated, with their offsets."""
    import torch

    from musestudio.ml.beats import load_tracker, trunk_features
    from training.data.beats import load_split, split_half_beats, split_slow_compound
    from training.data.patterns import patterns
    from training.tasks.beats import label_mask, targets

    torch.set_num_threads(1)
    model, _ = load_tracker(checkpoint)
    model.eval()
    if getattr(model.config, "members", 1) > 1 or getattr(model.config, "context", 0):
        raise SystemExit("extract needs a single tracker without a context head")
    fps = float(model.config.frame_rate)
    train = [split_slow_compound(split_half_beats(it)) for it in load_split("train", cache=cache)]
    train += patterns(synthetic_items, seed=seed + 101, swell_share=pattern_swell)
    val = load_split("validation", cache=cache, with_scores=False)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(f"draw{d}", train, d, True) for d in range(draws)] + [("validation", val, 0, False)]
    for name, items, draw, is_train in jobs:
        if (out / f"{name}.npz").exists():
            print(f"{name}: exists, kept", flush=True)
            continue
        t0 = time.time()
        xs, base, tgt, mask, lengths, synthetic = [], [], [], [], [], []
        with torch.inference_mode():
            for item, (pitch, start, end, vel, beats, downs) in _piece_arrays(items, draw, seed, is_train):
                n = int(math.ceil(float(np.max(end)) * fps)) + int(fps)
                x = trunk_features(model, (pitch, start, end, vel), n, fps)  # [C, n]
                xs.append(x.T.numpy().astype(np.float16))
                base.append(model.head(x[None])[0].T.numpy())
                b, d = targets(beats, downs, 0, n, fps)
                tgt.append(np.stack([b, d], 1).astype(np.float16))
                mask.append(label_mask(beats, 0, n, fps))
                lengths.append(n)
                synthetic.append(item.piece == "synthetic")
        np.savez(out / f"{name}.npz", x=np.concatenate(xs), base=np.concatenate(base).astype(np.float32),
                 targets=np.concatenate(tgt), mask=np.concatenate(mask), lengths=np.array(lengths),
                 synthetic=np.array(synthetic))
        print(f"{name}: {len(items)} items, {sum(lengths)} frames, {time.time() - t0:.0f} s", flush=True)


class _Draw:
    def __init__(self, path: Path) -> None:
        z = np.load(path)
        self.x, self.base, self.targets, self.mask = z["x"], z["base"], z["targets"], z["mask"]
        self.lengths = z["lengths"]
        self.synthetic = z["synthetic"]
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])


def _batch(draw: _Draw, picks: np.ndarray, crop: int, rng: np.random.Generator):
    import torch

    spans = []
    for i in picks:
        n = int(draw.lengths[i])
        s = int(rng.integers(0, n - crop + 1)) if n > crop else 0
        spans.append((int(draw.offsets[i]) + s, min(n, crop)))
    width = max(n for _, n in spans)
    c = draw.x.shape[1]
    x = np.zeros((len(spans), width, c), np.float32)
    base = np.zeros((len(spans), width, 2), np.float32)
    y = np.zeros((len(spans), width, 2), np.float32)
    lab = np.zeros((len(spans), width), np.float32)
    pad = np.zeros((len(spans), width), np.float32)
    for k, (a, n) in enumerate(spans):
        x[k, :n] = draw.x[a : a + n]
        base[k, :n] = draw.base[a : a + n]
        y[k, :n] = draw.targets[a : a + n]
        lab[k, :n] = draw.mask[a : a + n]
        pad[k, :n] = 1.0
    t = torch.from_numpy
    return t(x).transpose(1, 2), t(base), t(y), t(lab), t(pad)


def _loss(model, x, base, y, lab, pad):
    import torch
    from torch.nn import functional

    cfg = model.config
    c, g = model.context(x, pad)
    logits = base + model.context_logits(x, c, g)
    w = lab * pad
    total = w.sum().clamp_min(1.0)
    lb = functional.binary_cross_entropy_with_logits(logits[..., 0], y[..., 0], weight=w, reduction="sum",
                                                     pos_weight=torch.tensor(cfg.beat_pos_weight)) / total
    ld = functional.binary_cross_entropy_with_logits(logits[..., 1], y[..., 1], weight=w, reduction="sum",
                                                     pos_weight=torch.tensor(cfg.downbeat_pos_weight)) / total
    return lb + cfg.downbeat_weight * ld


def train(checkpoint: str, features: Path, to: Path, *, width: int, steps: int, batch: int, crop: int, lr: float,
          seed: int, synthetic_share: float, name: str) -> None:
    import torch

    from musestudio.ml.checkpoint import load_state_dict, read_info, save_checkpoint
    from musestudio.ml.models.beat_tracker import BeatTrackerConfig, BeatTrackerModel
    from training.tasks.beats import draw_weights

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    info = read_info(checkpoint)
    config = BeatTrackerConfig(**{**info.config, "context": width})
    model = BeatTrackerModel(config)
    missing = model.load_state_dict(load_state_dict(info), strict=False).missing_keys
    if any(not k.startswith("ctx_") for k in missing):
        raise SystemExit(f"{checkpoint}: not a plain tracker of this shape")
    head = [p for n, p in model.named_parameters() if n.startswith("ctx_")]
    for n, p in model.named_parameters():
        p.requires_grad_(n.startswith("ctx_"))
    draws = [_Draw(p) for p in sorted(features.glob("draw*.npz"))]
    if not draws:
        raise SystemExit(f"{features}: no draw*.npz (run extract first)")
    val = _Draw(features / "validation.npz")
    opt = torch.optim.AdamW(head, lr=lr, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    weights = [draw_weights(d.lengths, d.synthetic, synthetic_share) for d in draws]

    def head_training() -> None:  # the head learns; the frozen TCN keeps its dropout off
        model.train()
        for m in (model.inp, model.blocks, model.head):
            m.eval()

    t0 = time.time()
    head_training()
    for step in range(1, steps + 1):
        frac = step / steps
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, step / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        k = int(rng.integers(len(draws)))
        picks = rng.choice(len(draws[k].lengths), size=batch, p=weights[k])
        loss = _loss(model, *_batch(draws[k], picks, crop, rng))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head, 1.0)
        opt.step()
        if step % 250 == 0 or step == steps:
            model.eval()
            with torch.no_grad():
                vl = []
                for i in range(0, len(val.lengths), 4):
                    picks = np.arange(i, min(i + 4, len(val.lengths)))
                    vl.append(float(_loss(model, *_batch(val, picks, 10**9, rng))))
            head_training()
            print(f"step {step} loss {loss.item():.4f} val {np.mean(vl):.4f} {time.time() - t0:.0f} s", flush=True)
    model.eval()
    minutes = (time.time() - t0) / 60
    extra = {k: v for k, v in info.meta.items() if k not in ("format_version", "architecture", "config", "sha256")}
    extra.pop("metrics", None)
    extra["name"] = name
    params = sum(p.numel() for p in model.parameters())
    extra["training"] = {
        "architecture": "beat_tracker",
        "parameters": f"{params:,}",
        "context head": (f"width {width}, {sum(p.numel() for p in head):,} parameters, trained on the frozen "
                         f"{Path(checkpoint).name}'s features ({len(draws)} augmented draws of the training split): "
                         f"{steps} steps, batch {batch} x {crop} frames, AdamW lr {lr}, seed {seed}, "
                         f"synthetic share {synthetic_share}, last weights"),
        "training time": f"{minutes:.1f} min (head only; 1 thread)",
        "trunk's training": info.meta.get("training", {}),
    }
    card = f"# {name}: {Path(checkpoint).name} with a whole-piece context head\n\n{extra['training']['context head']}.\n"
    save_checkpoint(to, "beat_tracker", dataclasses.asdict(config), model.state_dict(), extra=extra, card=card)
    print(json.dumps({"to": str(to), "minutes": round(minutes, 1), "parameters": params}), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.beats_context", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract", help="the frozen tracker's features of augmented training draws")
    e.add_argument("checkpoint")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--draws", type=int, default=3)
    e.add_argument("--seed", type=int, default=16)
    e.add_argument("--cache", default="runs/cache")
    e.add_argument("--synthetic-items", type=int, default=600)
    e.add_argument("--pattern-swell", type=float, default=0.5)
    t = sub.add_parser("train", help="train the context head on extracted features")
    t.add_argument("checkpoint")
    t.add_argument("--features", type=Path, required=True)
    t.add_argument("--to", type=Path, required=True)
    t.add_argument("--width", type=int, default=64)
    t.add_argument("--steps", type=int, default=4000)
    t.add_argument("--batch", type=int, default=4)
    t.add_argument("--crop", type=int, default=6000, help="frames per piece in a batch (6000 = 4 min)")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=16)
    t.add_argument("--synthetic-share", type=float, default=0.5)
    t.add_argument("--name", default="context")
    args = ap.parse_args(argv)
    if args.cmd == "extract":
        if args.draws < 1:
            raise SystemExit("--draws must be >= 1")
        extract(args.checkpoint, args.out, args.draws, args.seed, args.cache, args.synthetic_items, args.pattern_swell)
    else:
        if args.width < 1 or args.steps < 1 or args.batch < 1 or args.crop < 25:
            raise SystemExit("--width, --steps and --batch must be >= 1 and --crop >= 25 frames")
        train(args.checkpoint, args.features, args.to, width=args.width, steps=args.steps, batch=args.batch,
              crop=args.crop, lr=args.lr, seed=args.seed, synthetic_share=args.synthetic_share, name=args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
