"""Run `musestudio report` on held-out ASAP performances (the test split of training.splits).

    .venv/bin/python tests/benchmarks/asap_report.py --out runs/report [--n 20] [--models ...]

The selection lives here, not in musestudio, because musestudio never imports
training/.  It takes one performance per test piece first (so no piece
dominates), then further performances in split order, and copies them into
``OUT/seeds`` so the run can be repeated on the same files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from training.splits import asap_split  # noqa: E402


def select(n: int) -> list:
    test = asap_split("test")
    first, rest, seen = [], [], set()
    for perf in test:
        (rest if perf.piece in seen else first).append(perf)
        seen.add(perf.piece)
    return (first + rest)[:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "runs" / "report"))
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--models", default="lstm,transformer,gan,markov")
    parser.add_argument("--seed-seconds", default="10")
    parser.add_argument("--seconds", default="20")
    args = parser.parse_args()
    out = Path(args.out)
    seeds = out / "seeds"
    shutil.rmtree(seeds, ignore_errors=True)
    seeds.mkdir(parents=True)
    for i, perf in enumerate(select(args.n)):
        name = f"{i:02d}_{perf.piece.replace('/', '_')}_{perf.performance_midi.stem}.mid"
        shutil.copyfile(perf.performance_midi, seeds / name)
    from musestudio.cli import main as cli

    return cli(["report", "--seeds", str(seeds), "--out", str(out), "--n", str(args.n), "--models", args.models,
                "--seed-seconds", args.seed_seconds, "--seconds", args.seconds])  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
