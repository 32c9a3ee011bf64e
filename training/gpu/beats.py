"""Train the beat tracker on one GPU, warm-started from the shipped weights, with the shipped recipe.

    # here, with ../shared/data/asap: the annotated splits' caches (~38 MB), copied into one folder to carry
    .venv/bin/python -m training.gpu.beats build --out data_cache/beats_gpu

    # on the GPU machine (no ASAP needed): train, then export the last weights under OUT/models/beat_tracker
    python -m training.gpu.beats run --cache data_cache/beats_gpu --out runs/gpu_beats --minutes 8

    # the same code path for one step on the CPU
    .venv/bin/python -m training.gpu.beats run --cache data_cache/beats_gpu --out /tmp/gpu-b --check

Why: on this project's 2-core CPU a tracker run is about 65 minutes for 6,000 steps of batch 8, and the
thirteenth and fourteenth sessions found that the decoder has little left to give on the shipped network's
activations (model card).  On an H200 the same trainer runs batch 64 with DataLoader workers on the
machine's 16 cores.  The exported weights come back undecoded: choose the decoder and refit the meter
classifier here, on validation (``python -m training.beats_eval tune ... --write`` and ``fit-meter``),
and ship only by rules written before scoring, as for every CPU candidate.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

BUDGET_BYTES = 60 * 2**20
#: What the trainer reads (training.data.beats.load_split): the training split with its score MIDIs, and validation.
CACHE_FILES = ("beats_train_v1_s.npz", "beats_validation_v1.npz")
#: The shipped tracker's recipe (v6: runs of the eleventh and twelfth sessions, model card), at GPU batch size.
RECIPE = ["--model", "beats", "--preset", "paper", "--synthetic-share", "0.5", "--pattern-swell", "0.5",
          "--split-half-beats", "--split-slow-compound", "--seq-len", "1000"]
GPU_ARGS = ["--batch-size", "64", "--lr", "6e-4", "--warmup", "200", "--max-steps", "3000", "--eval-every", "250",
            "--eval-batches", "16", "--ckpt-every", "250", "--patience", "1000", "--workers", "12"]
CHECK_ARGS = ["--batch-size", "2", "--stop-after", "1", "--eval-every", "1", "--eval-batches", "1", "--ckpt-every", "1",
              "--device", "cpu", "--threads", "1", "--seq-len", "200"]


def build(source: str, out: str, budget: int = BUDGET_BYTES) -> Path:
    """Copy the caches the trainer reads into ``out`` (a folder small enough to carry)."""
    src, dst = Path(source), Path(out)
    missing = [f for f in CACHE_FILES if not (src / f).is_file()]
    if missing:
        raise SystemExit(f"{src}: no {', '.join(missing)}; build them first (any beats training or "
                         "`python -m training.beats_eval tune` writes them from ../shared/data/asap)")
    size = sum((src / f).stat().st_size for f in CACHE_FILES)
    if size > budget:
        raise SystemExit(f"the caches take {size / 2**20:.1f} MiB, over the {budget / 2**20:.0f} MiB a run may carry")
    dst.mkdir(parents=True, exist_ok=True)
    for f in CACHE_FILES:
        shutil.copy2(src / f, dst / f)
    print(f"{dst}: {size / 2**20:.1f} MiB ({', '.join(CACHE_FILES)})")
    return dst


def train_argv(cache: str, run_dir: str, init_from: str, minutes: float, check: bool) -> list[str]:
    from training.gpu import budget_args

    argv = ["train", *RECIPE, "--cache", cache, "--out", run_dir, "--init-from", init_from, "--seed", "14"]
    return argv + budget_args(check, CHECK_ARGS, GPU_ARGS, minutes)


def run(cache: str, out: str, minutes: float, check: bool, init_from: str) -> Path:
    from training.gpu import train_then_export

    missing = [f for f in CACHE_FILES if not (Path(cache) / f).is_file()]
    if missing:
        raise SystemExit(f"{cache}: no {', '.join(missing)} (run `build` where ../shared/data/asap is)")
    out_dir = Path(out)
    argv = train_argv(cache, str(out_dir / "run"), init_from, minutes, check)
    return train_then_export(argv, out_dir / "run", out_dir / "models" / "beat_tracker",
                             "tune the decoder and fit the meter on validation here")


def main(argv: list[str] | None = None) -> int:
    from training.gpu import TRAIN_SHARE, add_run_options

    p = argparse.ArgumentParser(prog="python -m training.gpu.beats", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="copy the annotated splits' caches into one folder (< 64 MiB)")
    b.add_argument("--source", default="runs/cache")
    b.add_argument("--out", default="data_cache/beats_gpu")
    r = sub.add_parser("run", help="fine-tune and export")
    r.add_argument("--cache", default="data_cache/beats_gpu")
    add_run_options(r, out="runs/gpu_beats", minutes=8.0, init_from="models/beat_tracker")
    args = p.parse_args(argv)
    if args.command == "build":
        build(args.source, args.out)
    else:
        run(args.cache, args.out, args.minutes * TRAIN_SHARE, args.check, args.init_from)
    return 0


if __name__ == "__main__":
    sys.exit(main())
