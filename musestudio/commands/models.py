"""`musestudio models`: list shipped and user checkpoints."""

from __future__ import annotations

import argparse

HELP = "list the shipped models and your own checkpoints"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from musestudio.ml.catalog import list_models, models_dir, user_models_dir

    entries = list_models()
    if args.json:
        print(json.dumps([
            {"name": e.name, "kind": e.kind, "path": str(e.path), "description": e.description, "shipped": e.shipped}
            for e in entries
        ], indent=2))
        return 0
    if not entries:
        print(f"no models found in {models_dir()} or {user_models_dir()}")
    for e in entries:
        where = "shipped" if e.shipped else "user"
        print(f"{e.name:<14} {e.kind:<12} {where:<8} {e.path}  ({e.description})")
    return 0
