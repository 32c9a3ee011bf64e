"""Scripts for a lent GPU: each packs what a run may carry here, then trains and exports there."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

#: The share of a run's --minutes given to training; the rest is start-up and the export.
TRAIN_SHARE = 0.92


def add_run_options(parser: argparse.ArgumentParser, out: str, minutes: float, init_from: str) -> None:
    """The options every warm-started GPU entry's ``run`` takes (beats, transcriber)."""
    parser.add_argument("--out", default=out)
    parser.add_argument("--minutes", type=float, default=minutes)
    parser.add_argument("--init-from", default=init_from)
    parser.add_argument("--check", action="store_true", help="one step on the CPU")


def budget_args(check: bool, check_args: list[str], gpu_args: list[str], minutes: float) -> list[str]:
    """The trainer's options for the one-step CPU check, or for the GPU run stopped after ``minutes``."""
    return list(check_args) if check else [*gpu_args, "--max-minutes", f"{minutes:.2f}"]


def train_then_export(argv: list[str], run_dir: Path, export_to: Path, after: str) -> Path:
    """The trainer on ``argv`` (which writes ``run_dir``), then its last weights exported to ``export_to``;
    prints the command and the time taken, and ``after``: what is left to do on this side."""
    from training.__main__ import main as training_main
    from training.export import export_run

    t = time.time()
    print(f"== {' '.join(argv)}", flush=True)
    training_main(argv)
    path = export_run(run_dir, export_to, weights="last")
    print(f"== done in {time.time() - t:.0f} s -> {path} ({after})", flush=True)
    return path
