"""Transcriber vs Basic Pitch on the same held-out renders, plus a 60-minute memory test.

    .venv/bin/python tests/benchmarks/bench_transcribe.py [--bp-python /tmp/bp-venv/bin/python]

Reads the held-out clips that ``python -m training.audio.prepare`` writes to
``data_cache/transcriber/test`` (test-split ASAP pieces rendered with a
SoundFont and room never used in training; each clip is a WAV with its
reference MIDI).  Both systems transcribe every clip in this one run; both are
scored by the same code (mir_eval, 50 ms onset tolerance, reference notes with
the sustain pedal applied).  Speed is audio seconds / wall seconds for reading,
inference and decoding, model loading excluded, on whatever cores the process
gets (torch and onnxruntime both use all cores by default).  Basic Pitch runs
in its own virtual environment (it needs onnxruntime/librosa, which musestudio
does not), with its default settings.

The 60-minute test concatenates the clips into one hour-long 44.1 kHz WAV and
runs ``musestudio transcribe`` on it in a subprocess; its peak RSS comes from
``getrusage(RUSAGE_CHILDREN)``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from anchors import run_basic_pitch, scores_of  # noqa: E402


def run_ours(pairs: list[tuple[Path, Path]], checkpoint: str | None) -> list[dict]:
    from musestudio.io.midi import write_midi
    from musestudio.ml.transcribe import load_transcriber, transcribe

    load_transcriber(checkpoint)
    out = []
    tmp = Path(tempfile.mkdtemp(prefix="ours-"))
    for wav, _ in pairs:
        t0, c0 = time.perf_counter(), time.process_time()
        seq = transcribe(wav, None, checkpoint)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        write_midi(seq, tmp / f"{wav.stem}.mid")
        out.append({"audio": str(wav), "midi": str(tmp / f"{wav.stem}.mid"), "seconds": dt, "cpu_seconds": cpu})
    return out


def long_file_test(pairs: list[tuple[Path, Path]], minutes: float, checkpoint: str | None) -> dict[str, float]:
    import soundfile as sf

    tmp = Path(tempfile.mkdtemp(prefix="long-"))
    wav = tmp / "long.wav"
    target = int(minutes * 60 * 44100)
    written = 0
    with sf.SoundFile(wav, "w", samplerate=44100, channels=1, subtype="PCM_16") as fh:
        while written < target:
            for w, _ in pairs:
                data, sr = sf.read(w, dtype="float32")
                if sr != 44100:
                    from musestudio.io.audio import resample

                    data = resample(data, sr, 44100)
                data = data[: target - written]
                fh.write(data)
                written += len(data)
                if written >= target:
                    break
    cmd = [sys.executable, "-m", "musestudio", "transcribe", str(wav), "-o", str(tmp / "long.mid"), "--force"]
    if checkpoint:
        cmd += ["--checkpoint", checkpoint]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"long-file transcription failed: {proc.stderr[-1000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wav.unlink()
    return {"minutes": minutes, "peak_rss_mb": peak_kb / 1024, "x_real_time_incl_startup": minutes * 60 / dt}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--test-dir", type=Path, default=REPO / "data_cache" / "transcriber" / "test")
    p.add_argument("--checkpoint", default=None, help="transcriber checkpoint (default: shipped)")
    p.add_argument("--bp-python", default="/tmp/bp-venv/bin/python", help="python of a venv with basic-pitch 0.4.0")
    p.add_argument("--long-minutes", type=float, default=60.0, help="0 skips the long-file memory test")
    p.add_argument("--json", type=Path, default=REPO / "runs" / "bench_transcribe.json")
    p.add_argument("--only", choices=["ours", "basic_pitch", "long"], action="append",
                   help="run only these parts and merge them into an existing --json report (default: all)")
    args = p.parse_args()
    parts = set(args.only or ["ours", "basic_pitch", "long"])

    from training.audio.evaluate import test_pairs

    pairs = test_pairs(args.test_dir)
    if not pairs:
        raise SystemExit(f"{args.test_dir}: no clips; run `python -m training.audio.prepare` first")
    import torch

    report: dict = json.loads(args.json.read_text()) if args.only and args.json.is_file() else {}
    report.update({"files": len(pairs), "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count()})
    if "ours" in parts:
        report["ours"] = scores_of(run_ours(pairs, args.checkpoint), pairs, with_pedal=True)
        report["ours"]["load_average_after"] = os.getloadavg()[0]
    if "basic_pitch" in parts and Path(args.bp_python).is_file():
        bp = run_basic_pitch(pairs, args.bp_python)
        report["basic_pitch"] = scores_of(bp, pairs, with_pedal=False)
        report["basic_pitch"]["load_average_after"] = os.getloadavg()[0]
    if "long" in parts and args.long_minutes > 0:
        report["long_file"] = long_file_test(pairs, args.long_minutes, args.checkpoint)

    cols = ("onset_precision", "onset_recall", "onset_f1", "onset_offset_f1", "onset_velocity_f1", "frame_f1", "pedal_f1",
            "x_real_time", "x_real_time_per_cpu_second")
    print(f"{len(pairs)} held-out clips\n")
    print("| system | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name in ("ours", "basic_pitch"):
        if name in report:
            r = report[name]
            print(f"| {name} | " + " | ".join(f"{r[c]:.3f}" if c in r else "n/a" for c in cols) + " |")
    if "long_file" in report:
        lf = report["long_file"]
        print(f"\n{lf['minutes']:.0f}-minute file: peak RSS {lf['peak_rss_mb']:.0f} MB, "
              f"{lf['x_real_time_incl_startup']:.0f}x real time including process start-up")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
