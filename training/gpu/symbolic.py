"""Train every symbolic model (Transformer, LSTM, GAN, Markov) in <= 10 minutes on one GPU.

Two steps::

    # here, with ../shared/data/asap: the data cache (REMI tokens of ASAP train/validation/test, < 64 MiB)
    .venv/bin/python -m training.gpu.symbolic build --bundle data_cache/symbolic_bundle.npz

    # on the GPU machine (no ASAP needed): all four models, then exported checkpoints under OUT/models
    python -m training.gpu.symbolic run --bundle data_cache/symbolic_bundle.npz --out runs/gpu --minutes 10

    # a one-step check of the same code path on the CPU (tiny presets, seconds)
    .venv/bin/python -m training.gpu.symbolic run --bundle data_cache/symbolic_bundle.npz --out /tmp/gpu-check --check

The runs go through the ordinary trainer (``training.trainer.train``: AMP on CUDA,
warm-up + cosine schedule, validation-chosen best weights) with ``--data
tokens:BUNDLE``; the GAN builds its bars from the same tokens
(:func:`training.tasks.gan.bundle_bars`).  Budgets (minutes of the total):
Transformer 50 %, LSTM 25 %, GAN 15 %, Markov counts the rest.  Export with the
usual ``python -m training export`` afterwards is done here already
(``OUT/models/<name>``), and the Transformer and LSTM can later be warm-started
from them on a CPU (``--init-from``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

SHARES = {"transformer": 0.50, "lstm": 0.25, "gan": 0.15}
GPU_ARGS = {
    # paper shapes (see training/tasks/symbolic.py): d 512, 8 heads, 6 layers, 1024-token windows
    "transformer": ["--preset", "paper", "--batch-size", "32", "--lr", "6e-4", "--warmup", "300",
                    "--eval-every", "250", "--eval-batches", "20", "--ckpt-every", "250", "--max-steps", "6000"],
    "lstm": ["--preset", "paper", "--batch-size", "64", "--lr", "2e-3", "--warmup", "100",
             "--eval-every", "200", "--eval-batches", "20", "--ckpt-every", "200", "--max-steps", "4000"],
    "gan": ["--preset", "desktop", "--eval-every", "200", "--eval-batches", "10", "--ckpt-every", "200",
            "--max-steps", "4000"],
    "markov": ["--preset", "desktop"],
}
CHECK_ARGS = ["--preset", "tiny", "--stop-after", "1", "--eval-every", "1", "--eval-batches", "1",
              "--ckpt-every", "1", "--device", "cpu", "--threads", "1", "--seq-len", "64", "--batch-size", "2"]


def build(bundle: str, cache: str) -> Path:
    from musestudio.ml.remi import RemiTokenizer
    from training.data.symbolic import load_split, save_token_bundle

    tk = RemiTokenizer()
    caches = {split: load_split(["asap-beats"], split, tk, cache) for split in ("train", "validation", "test")}
    path = save_token_bundle(bundle, caches, tk)
    size = path.stat().st_size / 2**20
    print(f"{path}: {size:.1f} MiB, " + ", ".join(f"{s} {len(c.tokens):,} tokens" for s, c in caches.items()))
    if size > 64:
        raise SystemExit(f"{path} is {size:.1f} MiB, over the 64 MiB a device run may carry")
    return path


def run(bundle: str, out: str, minutes: float, check: bool, models: list[str]) -> dict[str, Path]:
    from training.__main__ import main as training_main
    from training.export import export_run

    out_dir = Path(out)
    exported: dict[str, Path] = {}
    t0 = time.time()
    for model in models:
        run_dir = out_dir / model
        argv = ["train", "--model", model, "--data", f"tokens:{bundle}", "--out", str(run_dir),
                "--cache", str(out_dir / "cache")]
        if check:
            argv += CHECK_ARGS if model != "markov" else ["--preset", "tiny"]
            if model == "gan":  # the critic's batch norm needs more than one example per critic step
                argv = [*argv[: argv.index("--seq-len")], "--batch-size", "8"]
        else:
            argv += GPU_ARGS[model]
            if model in SHARES:
                argv += ["--max-minutes", f"{minutes * SHARES[model]:.2f}"]
        t = time.time()
        print(f"== {model}: {' '.join(argv)}", flush=True)
        training_main(argv)
        exported[model] = export_run(run_dir, out_dir / "models" / model)
        print(f"== {model} done in {time.time() - t:.0f} s -> {exported[model]}", flush=True)
    print(f"all done in {(time.time() - t0) / 60:.1f} min", flush=True)
    return exported


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.gpu.symbolic", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the token bundle (needs ../shared/data/asap)")
    b.add_argument("--bundle", default="data_cache/symbolic_bundle.npz")
    b.add_argument("--cache", default="runs/cache")
    r = sub.add_parser("run", help="train all symbolic models from the bundle and export them")
    r.add_argument("--bundle", default="data_cache/symbolic_bundle.npz")
    r.add_argument("--out", default="runs/gpu")
    r.add_argument("--minutes", type=float, default=10.0, help="the whole budget")
    r.add_argument("--models", default="transformer,lstm,gan,markov")
    r.add_argument("--check", action="store_true", help="one step of each on the CPU (tiny presets)")
    args = p.parse_args(argv)
    if args.command == "build":
        build(args.bundle, args.cache)
    else:
        # the time budget covers training; export and counting take seconds
        run(args.bundle, args.out, args.minutes * 0.92, args.check, [m for m in args.models.split(",") if m])
    return 0


if __name__ == "__main__":
    sys.exit(main())
