"""Train and measure the note-level beat network (musestudio.ml.models.note_beat).

    python -m training.note_beats train --out runs/note_beats [--steps 6000] [--threads 2]
    python -m training.note_beats blend-eval runs/note_beats/model.safetensors [--split validation]
    python -m training.note_beats attach runs/note_beats/model.safetensors --to runs/cand --beat-weight W

``train`` draws windows of ``--notes`` notes from the ASAP training split, augmented as the frame tracker's
training is (training.tasks.beats.augment: tempo, key, velocity curves, click/quantize, transcription-like
noise), with the same beat splits (half-note and slow compound beats split, as the shipped tracker was
taught) and a share of synthetic steady phrases.  It keeps the weights with the lowest validation loss and
the last ones.  ``blend-eval`` scores the shipped frame tracker alone and blended with the note network at
several weights, on the validation split by default (the test split is read only to report, once).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from musestudio.ml.models.note_beat import N_NOTE_FEATURES
from musestudio.ml.note_beats import note_event_features, note_targets, onset_order
from training.data.beats import Annotated, load_split, split_half_beats, split_slow_compound

BATCH_KEYS = ("features", "beat", "downbeat", "mask")


def prepared(pitch, start, end, vel, beats, downs) -> tuple[np.ndarray, ...]:
    """(features, beat, downbeat, mask) of one performance, notes in onset order."""
    o = onset_order(pitch, start)
    pitch, start, end, vel = pitch[o], start[o], end[o], vel[o]
    feats = note_event_features(pitch, start, end, vel)
    b, d, m = note_targets(start, np.asarray(beats), np.asarray(downs))
    return feats, b, d, m


class NoteWindows:
    """Random windows of ``notes`` notes from augmented items, items drawn in proportion to their notes."""

    def __init__(self, items: list[Annotated], notes: int, synthetic_share: float, seed: int) -> None:
        from training.tasks.beats import draw_weights

        self.items, self.notes, self.seed = items, notes, seed
        n = np.array([len(it.pitch) for it in items], np.float64)
        synthetic = np.array([it.piece == "synthetic" for it in items])
        self.weights = draw_weights(n, synthetic, synthetic_share)

    def batch(self, step: int, size: int) -> dict[str, np.ndarray]:
        from training.tasks.beats import augment

        rng = np.random.default_rng((self.seed, step))
        rows = []
        for _ in range(size):
            item = self.items[int(rng.choice(len(self.items), p=self.weights))]
            window = prepared(*augment(item, rng))
            lo = int(rng.integers(0, max(1, len(window[0]) - self.notes + 1)))
            rows.append(tuple(v[lo : lo + self.notes] for v in window))
        return padded(rows, self.notes)


def padded(rows: list[tuple[np.ndarray, ...]], size: int) -> dict[str, np.ndarray]:
    """A batch of (features, beat, downbeat, mask) windows, zero-padded to ``size`` notes (mask 0 there)."""
    out = {k: np.zeros((len(rows), size) + ((N_NOTE_FEATURES,) if k == "features" else ()), np.float32)
           for k in BATCH_KEYS}
    for j, row in enumerate(rows):
        for k, v in zip(BATCH_KEYS, row, strict=True):
            out[k][j, : len(v)] = v
    return out


def fixed_windows(items: list[Annotated], notes: int) -> list[dict[str, np.ndarray]]:
    """Validation batches: consecutive windows through each item, unaugmented."""
    rows = []
    for it in items:
        feats, b, d, m = prepared(it.pitch.astype(np.int64), it.start, it.end, it.velocity.astype(np.float64),
                                  it.beats, it.downbeats)
        for lo in range(0, max(1, len(feats) - notes + 1), notes * 2):
            rows.append((feats[lo:lo + notes], b[lo:lo + notes], d[lo:lo + notes], m[lo:lo + notes]))
    return [padded(rows[i : i + 16], max(len(r[0]) for r in rows[i : i + 16])) for i in range(0, len(rows), 16)]


def train(args: argparse.Namespace) -> int:
    import torch
    from safetensors.torch import save_file

    from musestudio.ml.models.note_beat import NoteBeatConfig, NoteBeatModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    items = load_split("train", cache=args.cache)
    items = [split_slow_compound(split_half_beats(it)) for it in items]
    if args.synthetic_share > 0:
        from training.data.patterns import patterns

        items = items + patterns(600, seed=args.seed + 101, swell_share=0.5)
    val = fixed_windows(load_split("validation", cache=args.cache, with_scores=False), args.notes)
    config = NoteBeatConfig(channels=args.channels, hidden=args.hidden)
    model = NoteBeatModel(config)
    if args.init:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(args.init))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    data = NoteWindows(items, args.notes, args.synthetic_share, args.seed)
    log = (out / "log.jsonl").open("a")
    best = float("inf")
    t0 = time.time()
    for step in range(1, args.steps + 1):
        model.train()
        batch = {k: torch.from_numpy(v) for k, v in data.batch(step, args.batch).items()}
        _, losses = model(batch)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % args.eval_every == 0 or step == args.steps:
            model.eval()
            with torch.no_grad():
                vl = [sum(model({k: torch.from_numpy(v) for k, v in b.items()})[1].values()).item() for b in val]
            v = float(np.mean(vl))
            row = {"step": step, "train_loss": float(loss.detach()), "val_loss": v, "minutes": (time.time() - t0) / 60}
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(json.dumps(row), flush=True)
            state = {k: t.contiguous() for k, t in model.state_dict().items()}
            meta = {"config": json.dumps(asdict(config)), "step": str(step)}
            save_file(state, str(out / "last.safetensors"), metadata=meta)
            if v < best:
                best = v
                save_file(state, str(out / "model.safetensors"), metadata=meta)
    return 0


def load_note_model(path: str):
    import torch  # noqa: F401  (safetensors' torch loader)
    from safetensors import safe_open
    from safetensors.torch import load_file

    from musestudio.ml.models.note_beat import NoteBeatConfig, NoteBeatModel

    with safe_open(path, "pt") as f:
        config = NoteBeatConfig(**json.loads(f.metadata()["config"]))
    model = NoteBeatModel(config)
    model.load_state_dict(load_file(path))
    return model.eval()


def blend_eval(args: argparse.Namespace) -> int:
    import torch

    from musestudio.ml.beats import analysis_from_activations, load_tracker
    from musestudio.ml.note_beats import blend, note_network_activations
    from training.beats_eval import activations_for, item_sequence, mean_scores, score_item

    torch.set_num_threads(args.threads)
    items = load_split(args.split, cache=args.cache, with_scores=False)
    if args.limit:
        items = items[: args.limit]
    _, params = load_tracker(args.tracker)
    model = load_note_model(args.weights)
    acts = activations_for(args.tracker, items)
    weights = [float(w) for w in args.weights_grid.split(",")]
    down_weights = [float(w) for w in args.down_grid.split(",")] if args.down_grid else None
    rows: dict[str, list] = {}
    for it, (b, d, fps) in zip(items, acts):
        arrays = (it.pitch.astype(np.int64), it.start, it.end, it.velocity.astype(np.float64))
        nb, nd = note_network_activations(model, arrays, len(b), fps)
        seq = item_sequence(it)
        for w in weights:
            for wd in (down_weights or [w]):
                a = analysis_from_activations(seq, blend(b, nb, w), blend(d, nd, wd), fps, params)
                r = score_item(it, a)
                r["piece"] = it.piece
                rows.setdefault(f"beat {w:g} / down {wd:g}", []).append(r)
    result = {}
    for k, rs in rows.items():
        m = mean_scores([{kk: vv for kk, vv in r.items() if kk != "piece"} for r in rs])
        m["rule"] = m["beat_f"] + 0.5 * m["downbeat_f"]
        result[k] = m
        print(f"{k:24s} beat F {m['beat_f']:.4f}  downbeat F {m['downbeat_f']:.4f}  "
              f"meter {m.get('meter_correct', float('nan')):.3f}  rule {m['rule']:.4f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"split": args.split, "n": len(items), "result": result,
                                               "rows": rows}))
    return 0


def attach(weights: str, tracker: str, to: str, beat_weight: float, downbeat_weight: float,
           name: str | None = None) -> Path:
    """A beat-tracker checkpoint = ``tracker``'s TCN + the note network in ``weights``, blended at the weights
    given (BeatTrackerConfig.note_network); its decode settings are copied, to be re-tuned on validation."""
    from dataclasses import asdict as _asdict

    from musestudio.ml.beats import load_tracker
    from musestudio.ml.checkpoint import read_info, save_checkpoint

    model, _ = load_tracker(tracker)
    info = read_info(tracker)
    note = load_note_model(weights)
    config = dict(info.config)
    config.update(note_network=_asdict(note.config), note_beat_weight=float(beat_weight),
                  note_downbeat_weight=float(downbeat_weight))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("note.")}
    state.update({f"note.{k}": v for k, v in note.state_dict().items()})
    extra = {k: v for k, v in info.meta.items() if k not in ("format_version", "architecture", "config", "sha256")}
    extra["name"] = name or f"{info.name}+notes"
    extra.setdefault("training", {})["note network"] = f"{Path(weights)} ({sum(v.numel() for v in note.state_dict().values()):,} values)"
    return save_checkpoint(to, "beat_tracker", config, state, extra=extra)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.note_beats", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, default=6000)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--notes", type=int, default=512)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--channels", type=int, default=96)
    t.add_argument("--hidden", type=int, default=96)
    t.add_argument("--synthetic-share", type=float, default=0.3)
    t.add_argument("--eval-every", type=int, default=250)
    t.add_argument("--seed", type=int, default=19)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--init", help="safetensors weights to start from")
    t.add_argument("--cache", default="runs/cache")
    e = sub.add_parser("blend-eval")
    e.add_argument("weights")
    e.add_argument("--tracker", default="models/beat_tracker")
    e.add_argument("--split", default="validation", choices=("train", "validation", "test"))
    e.add_argument("--weights-grid", default="0,0.3,0.5,0.7,1")
    e.add_argument("--down-grid", default="")
    e.add_argument("--limit", type=int, default=0)
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--json")
    e.add_argument("--cache", default="runs/cache")
    a = sub.add_parser("attach")
    a.add_argument("weights")
    a.add_argument("--tracker", default="models/beat_tracker")
    a.add_argument("--to", required=True)
    a.add_argument("--beat-weight", type=float, required=True)
    a.add_argument("--downbeat-weight", type=float)
    a.add_argument("--name")
    args = ap.parse_args(argv)
    if args.cmd == "attach":
        dw = args.beat_weight if args.downbeat_weight is None else args.downbeat_weight
        print(attach(args.weights, args.tracker, args.to, args.beat_weight, dw, args.name))
        return 0
    return train(args) if args.cmd == "train" else blend_eval(args)


if __name__ == "__main__":
    raise SystemExit(main())
