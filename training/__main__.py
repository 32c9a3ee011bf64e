"""``python -m training {train,export,evaluate}`` (also under ``torchrun ... -m training train``)."""

from __future__ import annotations

import argparse
import sys

from training.trainer import add_train_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(sub.add_parser("train", help="train a model into a run folder"))
    ex = sub.add_parser("export", help="run folder -> self-describing checkpoint folder for musestudio")
    ex.add_argument("run", help="run folder (holds run.json + best.safetensors)")
    ex.add_argument("--to", required=True, help="checkpoint folder, e.g. models/lstm")
    ex.add_argument("--name", default=None, help="display name (default: the folder name)")
    ev = sub.add_parser("evaluate", help="held-out numbers of an exported checkpoint, written into its card")
    ev.add_argument("checkpoint", help="checkpoint folder, e.g. models/transformer")
    ev.add_argument("--data", action="append", default=None, help="data source (repeatable); default asap")
    ev.add_argument("--split", default="test", choices=["train", "validation", "test"])
    ev.add_argument("--cache", default="runs/cache")
    ev.add_argument("--windows-per-piece", type=int, default=0,
                    help="score only N evenly spread 512-token windows per piece (0 = every window)")
    ev.add_argument("--no-write", action="store_true", help="print only; leave config.json and the card alone")
    args = parser.parse_args(argv)

    if args.command == "train":
        from training.trainer import train

        train(args)
    elif args.command == "export":
        from training.export import export_run

        print(export_run(args.run, args.to, name=args.name))
    else:
        from training.export import evaluate_checkpoint

        metrics = evaluate_checkpoint(args.checkpoint, args)
        for k, v in metrics.items():
            print(f"{k}\t{v:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
