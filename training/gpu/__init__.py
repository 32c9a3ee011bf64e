"""Scripts for a lent GPU: each packs what a run may carry here, then trains and exports there."""

from __future__ import annotations

import time
from pathlib import Path


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
