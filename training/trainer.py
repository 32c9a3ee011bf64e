"""The generic training loop every gradient-trained Task shares.

Single process (CPU or one GPU) or ``torchrun --nproc_per_node=N -m training
train ...`` (DDP: a ``DistributedSampler`` shards the data, gradients are
all-reduced, only rank 0 writes checkpoints and logs).

What it does for every model: deterministic seeds, Adam (from the Task),
linear warm-up then cosine decay, gradient clipping (in the Task's step),
mixed precision on CUDA, validation every ``--eval-every`` steps with early
stopping on ``val_loss``, a resumable checkpoint every ``--ckpt-every`` steps
(``last.pt``: weights, optimizer, schedule, scaler, RNG and counters), the best
weights as ``best.safetensors`` + ``run.json`` (what ``export`` reads), a CSV
log (``log.csv``) and a one-line progress bar with loss and throughput.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler

from training.tasks import get_task
from training.tasks.base import Task


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="task name: lstm, transformer, markov, gan, transcriber")
    p.add_argument("--preset", default="desktop", choices=["desktop", "wide", "paper", "tiny"],
                   help="model size (wide: the transcriber with 1.5x the convolution channels)")
    p.add_argument("--data", action="append", default=None, help="data source (repeatable); default asap")
    p.add_argument("--out", required=True, help="run folder, e.g. runs/lstm")
    p.add_argument("--cache", default="runs/cache", help="tokenized-data cache folder")
    p.add_argument("--seq-len", type=int, default=None, help="training window in tokens (preset default)")
    p.add_argument("--batch-size", type=int, default=None, help="per-process batch size (preset default)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (preset default)")
    p.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--stop-after", type=int, default=None, help="stop at this step without changing the schedule")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and keep the best) after this wall time")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-batches", type=int, default=50, help="validation batches per evaluation (0 = all)")
    p.add_argument("--ckpt-every", type=int, default=250)
    p.add_argument("--patience", type=int, default=6, help="evaluations without improvement before stopping")
    p.add_argument("--clip", type=float, default=None, help="gradient-norm clip (task default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init-from", default=None,
                   help="warm start: weights of an exported checkpoint folder (model.safetensors) or a run folder "
                        "(best.safetensors); the task maps them onto this model, which may be larger")
    p.add_argument("--synthetic-share", type=float, default=None,
                   help="beats: share of training windows drawn from synthetic steady phrases (task default 0.15)")
    p.add_argument("--pattern-swell", type=float, default=0.0,
                   help="beats: share of synthetic phrases whose beat period swells or ramps (played without a click)")
    p.add_argument("--split-half-beats", action="store_true",
                   help="beats: train on quarter-note beats where ASAP annotates half notes (2/2, 4/4 in two)")
    p.add_argument("--split-slow-compound", action="store_true",
                   help="beats: train on eighth-note beats where ASAP counts a slow compound meter in dotted beats")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    p.add_argument("--amp", choices=["auto", "on", "off"], default="auto", help="mixed precision (CUDA only)")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--rank-weights", action="store_true", help="(tests) every rank writes rank<N>.safetensors at the end")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Distributed:
    """World facts from torchrun's environment (a world of one without it)."""

    def __init__(self) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def init(self, device: torch.device) -> None:
        if self.enabled and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend=backend)

    def close(self) -> None:
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0.1 at ``total`` steps."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _ddp_wrapper(model: nn.Module, device: torch.device) -> nn.Module:
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def train(args: argparse.Namespace) -> Path:
    """Run ``args.model``'s task to completion; returns the run folder."""
    task = get_task(args.model)
    out = Path(args.out)
    if not task.uses_gradients:
        return _fit_directly(task, args, out)
    if args.threads:
        torch.set_num_threads(args.threads)
    dist = Distributed()
    if args.device:
        device = torch.device(args.device)
    elif torch.cuda.is_available():
        device = torch.device("cuda", dist.local_rank)
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init(device)
    seed_everything(args.seed)  # same seed on every rank: identical initial weights
    if args.clip is not None:
        task.grad_clip = args.clip

    arch, config, model = task.build_model(args.preset)
    task.apply_preset_defaults(args)
    if args.init_from and not (args.resume and (out / "last.pt").is_file()):
        report = task.init_from(model, _read_init_weights(Path(args.init_from)))
        if dist.is_main:
            print(f"warm start from {args.init_from}: {report}", file=sys.stderr)
    model.to(device)
    train_ds, val_ds = task.datasets(args)
    if dist.enabled:
        train_sampler: Any = DistributedSampler(train_ds, shuffle=True, seed=args.seed)
        val_sampler: Any = DistributedSampler(val_ds, shuffle=False)
    else:
        train_sampler = RandomSampler(train_ds, generator=torch.Generator().manual_seed(args.seed))
        val_sampler = SequentialSampler(val_ds)
    to_device = _mover(device)
    train_loader = DataLoader(
        train_ds, batch_size=args.batch_size, sampler=train_sampler, collate_fn=task.collate,
        num_workers=args.workers, drop_last=True,
    )
    val_loader = DataLoader(val_ds, batch_size=args.batch_size, sampler=val_sampler, collate_fn=task.collate,
                            num_workers=args.workers)
    if len(train_loader) == 0:  # every epoch would be empty and the loop would never end
        raise SystemExit(f"{len(train_ds)} training windows do not fill one batch of {args.batch_size} per process")
    net = _ddp_wrapper(model, device) if dist.enabled else model
    optimizers = task.make_optimizers(model, args)
    total_steps = args.max_steps
    schedulers = {
        k: torch.optim.lr_scheduler.LambdaLR(o, lambda s: lr_factor(s, args.warmup, total_steps))
        for k, o in optimizers.items()
    }
    use_amp = device.type == "cuda" and args.amp != "off"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    state = {"step": 0, "epoch": 0, "best_val": float("inf"), "bad_evals": 0, "train_seconds": 0.0}
    if args.resume and (out / "last.pt").is_file():
        state = _load_resume(out / "last.pt", model, optimizers, schedulers, scaler)
        if dist.is_main:
            print(f"resumed at step {state['step']}", file=sys.stderr)
    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        _write_run_json(out, task, arch=arch, config=config, args=args, state=state, model=model, device=device, dist=dist)
    log = _CsvLog(out / "log.csv") if dist.is_main else None
    params = sum(p.numel() for p in model.parameters())
    if dist.is_main:
        print(f"{task.name}/{args.preset}: {params:,} parameters on {device} x{dist.world_size}", file=sys.stderr)

    t_start = time.time() - state["train_seconds"]
    tty = sys.stderr.isatty()  # progress: one line redrawn in a terminal, a line per report in a log file
    samples = 0
    t_window = time.time()
    stop = False
    while not stop:
        epoch = state["epoch"]
        if hasattr(train_sampler, "set_epoch"):
            train_sampler.set_epoch(epoch)
        if hasattr(train_ds, "set_epoch"):
            train_ds.set_epoch(epoch)
        # RandomSampler: reseed per epoch so a resumed run draws the same order
        if isinstance(train_sampler, RandomSampler):
            train_sampler.generator = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        skip = state.get("batch_in_epoch", 0)
        for b_idx, batch in enumerate(train_loader):
            if b_idx < skip:
                continue
            net.train()
            metrics = task.train_step(net, to_device(batch), optimizers, state["step"], scaler)
            for s in schedulers.values():
                s.step()
            state["step"] += 1
            state["batch_in_epoch"] = b_idx + 1
            samples += _batch_size(batch) * dist.world_size
            step = state["step"]
            if dist.is_main and step % args.log_every == 0:
                dt = max(time.time() - t_window, 1e-9)
                rate = samples / dt
                lr = next(iter(optimizers.values())).param_groups[0]["lr"]
                print(f"{chr(13) if tty else ''}step {step} loss {metrics['loss']:.4f} lr {lr:.2e} {rate:.1f} samples/s",
                      end="" if tty else "\n", file=sys.stderr, flush=True)
                assert log is not None
                log.write({"step": step, "time": time.time() - t_start, "lr": lr, "samples_per_s": rate, **metrics})
                samples, t_window = 0, time.time()
            if step % args.eval_every == 0 or step >= args.max_steps:
                val = task.evaluate(unwrap(net), _limited(val_loader, args.eval_batches, to_device))
                improved = val["val_loss"] < state["best_val"]
                if improved:
                    state["best_val"] = val["val_loss"]
                    state["bad_evals"] = 0
                else:
                    state["bad_evals"] += 1
                if dist.is_main:
                    print(("\n" if tty else "") + f"step {step} " + " ".join(f"{k} {v:.4f}" for k, v in val.items()), file=sys.stderr)
                    assert log is not None
                    log.write({"step": step, "time": time.time() - t_start, **val})
                    if improved:
                        _save_best(out, model, val, state, time.time() - t_start)
                if state["bad_evals"] >= args.patience:
                    stop = True
            if dist.is_main and step % args.ckpt_every == 0:
                state["train_seconds"] = time.time() - t_start
                _save_resume(out / "last.pt", model, optimizers=optimizers, schedulers=schedulers, scaler=scaler, state=state)
            over_time = args.max_minutes is not None and time.time() - t_start > args.max_minutes * 60
            at_end = step >= args.max_steps or (args.stop_after is not None and step >= args.stop_after)
            stop = _agree(stop or over_time or at_end, dist, device)
            if stop:
                break
        else:
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
    if args.rank_weights:
        from safetensors.torch import save_file

        out.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        _untie(tensors)
        save_file(tensors, str(out / f"rank{dist.rank}.safetensors"))
    if dist.is_main:
        state["train_seconds"] = time.time() - t_start
        _save_resume(out / "last.pt", model, optimizers=optimizers, schedulers=schedulers, scaler=scaler, state=state)
        if not (out / "best.safetensors").is_file():
            val = task.evaluate(model, _limited(val_loader, args.eval_batches, to_device))
            _save_best(out, model, val, state, state["train_seconds"])
        print(("\n" if tty else "") + f"done after {state['step']} steps, best val_loss {state['best_val']:.4f}", file=sys.stderr)
    dist.close()
    return out


def _agree(flag: bool, dist: Distributed, device: torch.device) -> bool:
    """Make a stop decision collective so no rank waits forever in an all-reduce."""
    if not dist.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return bool(t.item() > 0)


def _batch_size(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0])
    if isinstance(batch, dict):
        return _batch_size(next(iter(batch.values())))
    if isinstance(batch, (list, tuple)):
        return _batch_size(batch[0])
    return 1


def _mover(device: torch.device) -> Any:
    def move(batch: Any) -> Any:
        if isinstance(batch, torch.Tensor):
            return batch.to(device, non_blocking=True)
        if isinstance(batch, dict):
            return {k: move(v) for k, v in batch.items()}
        if isinstance(batch, (list, tuple)):
            return type(batch)(move(v) for v in batch)
        return batch

    return move


def _limited(loader: DataLoader, n: int, move: Any) -> Any:
    for i, batch in enumerate(loader):
        if n and i >= n:
            break
        yield move(batch)


class _CsvLog:
    """Append-only CSV with a growing header (rewritten when a new column appears)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if path.is_file():
            with open(path, newline="") as fh:
                self.rows = list(csv.DictReader(fh))

    def write(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        cols: list[str] = []
        for r in self.rows:
            cols += [k for k in r if k not in cols]
        with open(self.path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            w.writerows(self.rows)


def _save_resume(path: Path, model: nn.Module, *, optimizers: dict, schedulers: dict, scaler: Any, state: dict) -> None:
    blob = {
        "model": model.state_dict(),
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
        "scaler": scaler.state_dict(),
        "state": dict(state),
        "rng": {"torch": torch.get_rng_state()},
    }
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)


def _read_init_weights(folder: Path) -> dict[str, torch.Tensor]:
    """An exported checkpoint through the app's verified loader (sha256 checked), or a run's best weights."""
    from safetensors.torch import load_file

    from musestudio.core.errors import ModelError
    from musestudio.ml.checkpoint import CONFIG_FILE, load_state_dict, read_info

    if (folder / CONFIG_FILE).is_file():
        try:
            return load_state_dict(read_info(folder))
        except ModelError as exc:
            raise SystemExit(f"--init-from: {exc}") from None
    if (folder / "best.safetensors").is_file():
        return load_file(str(folder / "best.safetensors"))
    raise SystemExit(f"--init-from {folder}: neither an exported checkpoint nor a run folder with best.safetensors")


def _load_resume(path: Path, model: nn.Module, optimizers: dict, schedulers: dict, scaler: Any) -> dict:
    blob = torch.load(path, map_location="cpu", weights_only=True)  # our own file; no code is unpickled
    model.load_state_dict(blob["model"])
    for k, o in optimizers.items():
        o.load_state_dict(blob["optimizers"][k])
    for k, s in schedulers.items():
        s.load_state_dict(blob["schedulers"][k])
    scaler.load_state_dict(blob["scaler"])
    torch.set_rng_state(blob["rng"]["torch"])
    return dict(blob["state"])


def _save_best(out: Path, model: nn.Module, val: dict[str, float], state: dict, seconds: float) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _untie(tensors)
    save_file(tensors, str(out / "best.tmp"))
    os.replace(out / "best.tmp", out / "best.safetensors")
    meta = json.loads((out / "run.json").read_text())
    meta["best"] = {"step": state["step"], "train_seconds": round(seconds, 1), **val}
    (out / "run.json").write_text(json.dumps(meta, indent=2))


def _untie(tensors: dict[str, torch.Tensor]) -> None:
    """safetensors refuses shared storage (tied embeddings): give each name its own copy."""
    seen: dict[int, str] = {}
    for k, v in tensors.items():
        ptr = v.data_ptr()
        if ptr in seen:
            tensors[k] = v.clone()
        else:
            seen[ptr] = k


def _write_run_json(
    out: Path, task: Task, *, arch: str, config: dict, args: argparse.Namespace, state: dict,
    model: nn.Module, device: torch.device, dist: Distributed,
) -> None:
    path = out / "run.json"
    meta = json.loads(path.read_text()) if path.is_file() else {}
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    meta.update({
        "task": task.name,
        "architecture": arch,
        "config": config,
        "extra": task.export_extra(),
        "preset": args.preset,
        "data": args.data,
        "parameters": sum(p.numel() for p in model.parameters()),
        "hardware": f"{hardware} x{dist.world_size}",
        "args": {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool, list, type(None)))},
    })
    path.write_text(json.dumps(meta, indent=2))


def _fit_directly(task: Task, args: argparse.Namespace, out: Path) -> Path:
    """Models without gradients (Markov): count, then write the same run files."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    arch, config, tensors, val = task.fit_directly(args)
    seconds = time.time() - t0
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "best.safetensors"))
    meta = {
        "task": task.name, "architecture": arch, "config": config, "extra": task.export_extra(),
        "preset": args.preset, "data": args.data, "parameters": int(sum(v.numel() for v in tensors.values())),
        "hardware": f"CPU (counting, numpy), {os.cpu_count()} cores on the machine",
        "best": {"train_seconds": round(seconds, 1), **val},
    }
    (out / "run.json").write_text(json.dumps(meta, indent=2))
    print(f"fitted in {seconds:.1f} s: " + " ".join(f"{k} {v:.4f}" for k, v in val.items()), file=sys.stderr)
    return out
