"""Fine-tune the transcriber on one GPU from compact cached features (rendered audio cannot travel).

    # here: pack rendered caches (features as uint8, labels as note lists) into one bundle under 64 MiB
    .venv/bin/python -m training.gpu.transcriber build --cache data_cache/transcriber_v3 --bundle data_cache/transcriber_bundle.npz

    # on the GPU machine: unpack into shards, warm-start from models/transcriber, train, export
    python -m training.gpu.transcriber run --bundle data_cache/transcriber_bundle.npz --out runs/gpu_transcriber --minutes 10

    # the same code path for one step on the CPU
    .venv/bin/python -m training.gpu.transcriber run --bundle data_cache/transcriber_bundle.npz --out /tmp/gpu-t --check

Why features and not MIDI + SoundFonts: the device machine is bare (no FluidSynth, no
SoundFonts, and FluidR3_GM alone is 141 MB, over what a run may carry).  Features are stored
as uint8 (``round(f * 255 / FEATURE_MAX)``; the loudness-normalised log features stay below
FEATURE_MAX, quantisation error < 0.012, well under the renders' own noise) and labels as the
frame-level onset/frame/offset/velocity/pedal events they are rebuilt from, so an hour of audio
takes about 22 MB.  ``build`` keeps whole shards, validation first, until the budget is spent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

FEATURE_MAX = 12.0
BUDGET_BYTES = 60 * 2**20
GPU_ARGS = ["--preset", "desktop", "--batch-size", "64", "--lr", "3e-4", "--warmup", "100", "--eval-every", "250",
            "--eval-batches", "20", "--ckpt-every", "250", "--max-steps", "6000", "--patience", "1000"]
CHECK_ARGS = ["--preset", "desktop", "--stop-after", "1", "--eval-every", "1", "--eval-batches", "1", "--ckpt-every", "1",
              "--device", "cpu", "--threads", "1", "--batch-size", "2", "--seq-len", "64"]
LABELS = ("onset", "frame", "offset", "velocity")


def pack_shard(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """uint8 features and sparse (frame, key, value) label triples of one cache shard."""
    feats = np.clip(np.rint(arrays["features"].astype(np.float32) * (255.0 / FEATURE_MAX)), 0, 255).astype(np.uint8)
    out = {"features": feats, "segments": arrays["segments"].astype(np.int64), "pedal": np.flatnonzero(arrays["pedal"])}
    for k in LABELS:
        f, key = np.nonzero(arrays[k])
        out[k] = np.stack([f, key, arrays[k][f, key]], axis=1).astype(np.int32)
    return out


def unpack_shard(packed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = len(packed["features"])
    arrays = {"features": (packed["features"].astype(np.float32) * (FEATURE_MAX / 255.0)).astype(np.float16),
              "segments": packed["segments"]}
    for k in LABELS:
        a = np.zeros((n, 88), np.uint8)
        t = packed[k]
        a[t[:, 0], t[:, 1]] = t[:, 2]
        arrays[k] = a
    pedal = np.zeros(n, np.uint8)
    pedal[packed["pedal"]] = 1
    arrays["pedal"] = pedal
    return arrays


def build(caches: list[str], bundle: str, budget: int = BUDGET_BYTES) -> Path:
    import io

    entries: dict[str, np.ndarray] = {}
    meta: dict[str, list] = {"train": [], "validation": [], "features": []}
    used = 0
    for cache in caches:
        for split in ("validation", "train"):
            folder = Path(cache) / split
            for shard in sorted(folder.glob("shard_*.npz")) if folder.is_dir() else []:
                if shard.name.endswith(".part.npz"):
                    continue
                with np.load(shard) as data:
                    packed = pack_shard({k: data[k] for k in data.files})
                buf = io.BytesIO()
                np.savez_compressed(buf, **packed)
                if used + buf.tell() > budget:
                    break
                used += buf.tell()
                name = f"{split}{len(meta[split]):04d}"
                entries.update({f"{name}/{k}": v for k, v in packed.items()})
                meta[split].append(name)
            fmeta = folder / "meta.json"
            if fmeta.is_file():
                meta["features"].append(json.loads(fmeta.read_text())["features"])
    if not meta["train"] or not meta["validation"]:
        raise SystemExit("no train or validation shards fit the budget (build the caches first)")
    if any(f != meta["features"][0] for f in meta["features"]):
        raise SystemExit("the caches were built with different feature configs")
    out = Path(bundle)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **entries)
    print(f"{out}: {out.stat().st_size / 2**20:.1f} MiB, {len(meta['train'])} train + {len(meta['validation'])} validation shards")
    return out


def unpack(bundle: str, cache: Path) -> Path:
    """The bundle as an ordinary cache folder (train/ and validation/ with meta.json) for the trainer."""
    with np.load(bundle) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        for split in ("train", "validation"):
            folder = cache / split
            folder.mkdir(parents=True, exist_ok=True)
            shards = []
            for i, name in enumerate(meta[split]):
                keys = [k for k in data.files if k.startswith(name + "/")]
                arrays = unpack_shard({k.split("/", 1)[1]: data[k] for k in keys})
                np.savez(folder / f"shard_{i:04d}.npz", **arrays)
                shards.append({"file": f"shard_{i:04d}.npz", "frames": len(arrays["features"])})
            (folder / "meta.json").write_text(json.dumps({"split": split, "features": meta["features"][0],
                                                          "shards": shards}))
    return cache


def run(bundle: str, out: str, minutes: float, check: bool, init_from: str) -> Path:
    from training.gpu import budget_args, train_then_export

    out_dir = Path(out)
    cache = unpack(bundle, out_dir / "cache")
    argv = ["train", "--model", "transcriber", "--data", str(cache), "--out", str(out_dir / "run"),
            "--init-from", init_from]
    argv += budget_args(check, CHECK_ARGS, GPU_ARGS, minutes)
    return train_then_export(argv, out_dir / "run", out_dir / "models" / "transcriber",
                             "choose it on validation before shipping")


def main(argv: list[str] | None = None) -> int:
    from training.gpu import TRAIN_SHARE, add_run_options

    p = argparse.ArgumentParser(prog="python -m training.gpu.transcriber", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="pack rendered caches into a bundle (< 64 MiB)")
    b.add_argument("--cache", action="append", default=None, help="cache folder with train/ and validation/ (repeatable)")
    b.add_argument("--bundle", default="data_cache/transcriber_bundle.npz")
    r = sub.add_parser("run", help="unpack, fine-tune, export")
    r.add_argument("--bundle", default="data_cache/transcriber_bundle.npz")
    add_run_options(r, out="runs/gpu_transcriber", minutes=10.0, init_from="models/transcriber")
    args = p.parse_args(argv)
    if args.command == "build":
        build(args.cache or ["data_cache/transcriber_v3"], args.bundle)
    else:
        run(args.bundle, args.out, args.minutes * TRAIN_SHARE, args.check, args.init_from)
    return 0


if __name__ == "__main__":
    sys.exit(main())
