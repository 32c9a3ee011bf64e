"""Transcription per recording condition, several checkpoints side by side in one run (issue #16).

    .venv/bin/python tests/benchmarks/bench_transcribe_conditions.py --render          # once: build the clips
    .venv/bin/python tests/benchmarks/bench_transcribe_conditions.py \
        --checkpoint v4=/tmp/v4 --checkpoint v5=models/transcriber [--long-minutes 60] \
        [--bp-python /tmp/bp-venv/bin/python] [--transkun-python /tmp/tk-venv/bin/python]   # anchors.py

Conditions, all on TEST-split ASAP pieces (never trained on, never used to tune):

* ``palette``: training-palette pianos (palette-v2 draws: FluidR3, MuseScore Lite, FluidR3Mono,
  GM programs 0-2, FluidSynth rooms up to size 0.6, EQ, noise), one condition per clip;
* ``heldout_<room>``: the held-out piano TimGM6mb (no training run ever used it) in four rooms:
  FluidSynth's large hall (the test condition of earlier sessions), and synthetic rooms with early
  reflections: a close-miked booth, a living room, a distant-miked concert hall;
* ``level_<L>``: the ``heldout_fluid_hall`` clips stored at -40, -20 and 0 dBFS peak (16-bit WAV).

Scores: mir_eval at 50 ms onset tolerance against the reference with the sustain pedal applied
(``training.audio.evaluate``), mean over clips; onset F1, onset+offset F1, onset+velocity F1.
Speed: audio seconds / wall seconds (read + infer + decode, model loading excluded) on this
machine's cores.  ``--long-minutes``: a 60-minute 44.1 kHz file through ``musestudio transcribe``
in a child process, its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # anchors.py

from anchors import run_anchor, scores_of  # noqa: E402

BENCH_DIR = REPO / "data_cache" / "transcriber_bench"
LEVELS = (-40.0, -20.0, 0.0)
KEYS = ("onset_f1", "onset_precision", "onset_recall", "onset_offset_f1", "onset_velocity_f1", "x_real_time")


def render_sets(n_clips: int, seconds: float) -> None:
    from training.audio.dataset import render_clip_set
    from training.audio.render import heldout_room_conditions, random_train_condition

    rng = random.Random(31)
    render_clip_set(BENCH_DIR / "palette", "test", [random_train_condition(rng, "v2") for _ in range(n_clips)],
                    seconds=seconds, seed=7)
    for name, cond in heldout_room_conditions().items():
        levels = LEVELS if name == "fluid_hall" else ()
        render_clip_set(BENCH_DIR / f"heldout_{name}", "test", [cond] * n_clips, seconds=seconds, seed=7,
                        levels_dbfs=levels)


def condition_dirs() -> dict[str, Path]:
    dirs = {"palette": BENCH_DIR / "palette"}
    for d in sorted(BENCH_DIR.glob("heldout_*")):
        dirs[d.name] = d
    hall = BENCH_DIR / "heldout_fluid_hall"
    for level in LEVELS:
        tag = f"m{abs(round(level))}dB" if level < 0 else "0dB"
        if (hall / tag).is_dir():
            dirs[f"level_{tag}"] = hall / tag
    return {k: v for k, v in dirs.items() if any(v.glob("*.wav"))}


def long_file(checkpoint: str, minutes: float, clips: list[Path]) -> dict[str, float]:
    """Peak RSS of ``musestudio transcribe`` on a ``minutes``-long file (a fresh child per checkpoint)."""
    import soundfile as sf

    from musestudio.io.audio import resample

    tmp = Path(tempfile.mkdtemp(prefix="long-"))
    wav = tmp / "long.wav"
    target, written = int(minutes * 60 * 44100), 0
    with sf.SoundFile(wav, "w", samplerate=44100, channels=1, subtype="PCM_16") as fh:
        while written < target:
            for c in clips:
                data, sr = sf.read(c, dtype="float32")
                data = resample(data, sr, 44100)[: target - written]
                fh.write(data)
                written += len(data)
                if written >= target:
                    break
    child = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "dt = time.perf_counter() - t\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, dt)\n"
        "sys.stderr.write(p.stderr[-500:])\n"
    )
    cmd = [sys.executable, "-c", child, sys.executable, "-m", "musestudio", "transcribe", str(wav), "-o",
           str(tmp / "long.mid"), "--force", "--checkpoint", checkpoint]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    wav.unlink()
    code, rss_kb, dt = out.stdout.split()
    if int(code) != 0:
        raise SystemExit(f"long-file transcription failed: {out.stderr}")
    return {"minutes": minutes, "peak_rss_mb": int(rss_kb) / 1024, "x_real_time_incl_startup": minutes * 60 / float(dt)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--render", action="store_true", help="(re)build the clips under data_cache/transcriber_bench")
    p.add_argument("--clips", type=int, default=10)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=DIR",
                   help="checkpoint to score (repeatable); default: the shipped one as 'shipped'")
    p.add_argument("--long-minutes", type=float, default=0.0, help="also the long-file memory test (e.g. 60)")
    p.add_argument("--only", action="append", default=None, help="condition names to run (default: all)")
    p.add_argument("--json", type=Path, default=REPO / "runs" / "bench_transcribe_conditions.json")
    p.add_argument("--bp-python", metavar="PY", help="also Basic Pitch 0.4.0, run by this venv's python (see anchors.py)")
    p.add_argument("--transkun-python", metavar="PY", help="also Transkun 2.0, run by this venv's python (see anchors.py)")
    p.add_argument("--anchor-clips", type=int, default=0, metavar="N",
                   help="run the anchors on the first N clips of each condition only (the table then compares all "
                        "systems on those N)")
    args = p.parse_args()
    if args.render:
        render_sets(args.clips, args.seconds)
    from training.audio.evaluate import evaluate_folder, test_pairs

    checkpoints = [c.split("=", 1) if "=" in c else (Path(c).name, c) for c in args.checkpoint]
    if not checkpoints:
        checkpoints = [("shipped", str(REPO / "models" / "transcriber"))]
    dirs = condition_dirs()
    if args.only:
        dirs = {k: v for k, v in dirs.items() if k in args.only}
    if not dirs:
        raise SystemExit(f"no clips under {BENCH_DIR}; run with --render first")
    report: dict[str, dict] = {"cpus": os.cpu_count(), "conditions": {k: str(v) for k, v in dirs.items()}, "results": {}}
    per_file: dict[tuple[str, str], list[dict]] = {}
    for name, ckpt in checkpoints:
        report["results"][name] = {}
        for cond, folder in dirs.items():
            t0 = time.time()
            result = evaluate_folder(ckpt, folder)
            mean = result["mean"]
            report["results"][name][cond] = mean
            per_file[(name, cond)] = result["files"]
            print(f"{name:>10} {cond:<22} " + " ".join(f"{k} {mean.get(k, float('nan')):.3f}" for k in KEYS)
                  + f"  ({time.time() - t0:.0f}s)", flush=True)
        if args.long_minutes:
            clips = sorted((BENCH_DIR / "palette").glob("*.wav"))
            report["results"][name]["long_file"] = long_file(ckpt, args.long_minutes, clips)
            print(f"{name:>10} long file: {report['results'][name]['long_file']}", flush=True)
    anchors = [(n, py) for n, py in (("basic_pitch", args.bp_python), ("transkun", args.transkun_python)) if py]
    subset = ""
    if anchors and args.anchor_clips:
        # The anchors on the first N clips only (Transkun runs at ~1x real time here): ours re-averaged over
        # the same clips, as "<name>@N", so that every row of the table scores the same audio.
        subset = f"@{args.anchor_clips}"
        for name, _ in list(checkpoints):
            report["results"][name + subset] = {}
            for cond in dirs:
                rows = per_file[(name, cond)][: args.anchor_clips]
                report["results"][name + subset][cond] = {k: float(np.mean([r[k] for r in rows])) for k in KEYS}
        checkpoints = [(n + subset, c) for n, c in checkpoints]
    for name, python in anchors:
        report["results"][name + subset] = {}
        for cond, folder in dirs.items():
            t0 = time.time()
            pairs = test_pairs(folder)[: args.anchor_clips or None]
            mean = scores_of(run_anchor(name, pairs, python), pairs, with_pedal=False)
            report["results"][name + subset][cond] = mean
            print(f"{name + subset:>10} {cond:<22} " + " ".join(f"{k} {mean.get(k, float('nan')):.3f}" for k in KEYS)
                  + f"  ({time.time() - t0:.0f}s)", flush=True)
    checkpoints += [(n + subset, py) for n, py in anchors]
    print()
    print("| condition | " + " | ".join(f"{n} onset F1 | {n} on+off | {n} vel" for n, _ in checkpoints) + " |")
    print("|---" * (1 + 3 * len(checkpoints)) + "|")
    for cond in dirs:
        cells = []
        for n, _ in checkpoints:
            r = report["results"][n][cond]
            cells += [f"{r['onset_f1']:.3f}", f"{r['onset_offset_f1']:.3f}", f"{r['onset_velocity_f1']:.3f}"]
        print(f"| {cond} | " + " | ".join(cells) + " |")
    levels = [c for c in dirs if c.startswith("level_")]
    for n, _ in checkpoints:
        if len(levels) > 1:
            f1 = [report["results"][n][c]["onset_f1"] for c in levels]
            report["results"][n]["level_spread"] = max(f1) - min(f1)
            print(f"{n}: onset F1 spread across levels {max(f1) - min(f1):.3f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
