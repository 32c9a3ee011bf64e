"""Where a transcriber goes wrong on the held-out test clips: a diagnosis, not a score to tune on.

    .venv/bin/python tests/benchmarks/transcribe_errors.py [--checkpoint models/transcriber]
        [--test data_cache/transcriber/test] [--json runs/transcribe_errors.json]

Notes are matched as the benchmark scores them (mir_eval, 50 ms onsets, pitch exact).  Every
unmatched estimated note (false alarm) gets the first category that fits:

- ``repeat``: the key was already sounding in the reference (a second strike heard in reverb/pedal);
- ``octave_above`` / ``octave_below``: a reference note 12 or 24 semitones below / above starts
  within 50 ms (above: the false note sits on a real note's 2nd or 4th harmonic);
- ``semitone``: a reference note 1 semitone away starts within 50 ms;
- ``other_near``: any other reference note starts within 50 ms (a wrong pitch);
- ``spurious``: nothing starts near it.

Missed reference notes are counted by register (octave of the key), by whether another
reference note starts on the same onset (chords hide notes) and by whether one 12 or 24
semitones below starts with it (the missed note hides in that note's harmonics); the timing
error of the matched onsets is summarised.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _intervals(seq):  # type: ignore[no-untyped-def]
    """Intervals and pitches exactly as the scores see them (same arrays as note_scores), plus MIDI keys."""
    from musestudio.metrics.transcription import mir_eval_arrays

    intervals, hz, _ = mir_eval_arrays(seq)
    return intervals, hz, seq.as_arrays()["pitch"].astype(int)


def categorise(estimate, reference, tol: float = 0.05) -> dict:  # type: ignore[no-untyped-def]
    from mir_eval.transcription import match_notes

    heard = reference.with_sustain_applied()
    ri, r_hz, rp = _intervals(heard)
    ei, e_hz, ep = _intervals(estimate)
    if not len(ri) or not len(ei):
        return {"false": Counter(), "missed_by_octave": Counter(), "missed_in_chord": 0, "missed": 0, "offsets_ms": [],
                "missed_over_octave": 0, "reference": len(ri), "estimate": len(ei)}
    pairs = match_notes(ri, r_hz, ei, e_hz, onset_tolerance=tol, offset_ratio=None)
    hit_r = {r for r, _ in pairs}
    hit_e = {e for _, e in pairs}
    false = Counter()
    for j in range(len(ei)):
        if j in hit_e:
            continue
        t, p = ei[j, 0], ep[j]
        near = np.abs(ri[:, 0] - t) <= tol
        sounding = (rp == p) & (ri[:, 0] < t - tol) & (ri[:, 1] > t)
        d = np.abs(rp[near] - p)
        if sounding.any():
            false["repeat"] += 1
        elif np.isin(d, (12, 24)).any():
            above = np.isin(p - rp[near], (12, 24)).any()
            false["octave_above" if above else "octave_below"] += 1
        elif (d == 1).any():
            false["semitone"] += 1
        elif near.any():
            false["other_near"] += 1
        else:
            false["spurious"] += 1
    missed_by_octave = Counter()
    in_chord = under_octave = 0
    for i in range(len(ri)):
        if i in hit_r:
            continue
        missed_by_octave[int(rp[i]) // 12 - 1] += 1
        together = np.abs(ri[:, 0] - ri[i, 0]) <= tol
        in_chord += int(together.sum() > 1)
        under_octave += int(np.isin(rp[i] - rp[together], (12, 24)).any())
    offsets = [1000.0 * (ei[e, 0] - ri[r, 0]) for r, e in pairs]
    return {"false": false, "missed_by_octave": missed_by_octave, "missed_in_chord": in_chord,
            "missed": len(ri) - len(hit_r), "missed_over_octave": under_octave, "offsets_ms": offsets, "reference": len(ri), "estimate": len(ei)}


def _validation_jobs(checkpoint: str, val_dir: str):  # type: ignore[no-untyped-def]
    """(estimate, reference) thunks for each excerpt of a rendered validation cache."""
    from musestudio.ml.decode import decode
    from musestudio.ml.transcribe import decode_defaults, load_transcriber
    from training.audio.evaluate import validation_activations

    model, fc = load_transcriber(checkpoint)
    settings = decode_defaults(checkpoint)
    for acts, ref in validation_activations(model, fc.frame_rate, val_dir):
        yield (lambda acts=acts: decode(acts, settings)), (lambda ref=ref: ref)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(ROOT / "models" / "transcriber"))
    p.add_argument("--test", default=str(ROOT / "data_cache" / "transcriber" / "test"))
    p.add_argument("--val", help="diagnose a rendered validation cache instead (e.g. data_cache/transcriber/validation)")
    p.add_argument("--json", help="also write the counts here")
    args = p.parse_args(argv)

    from musestudio.io.midi import read_midi
    from musestudio.ml.transcribe import transcribe
    from training.audio.evaluate import test_pairs

    if args.val:
        jobs = _validation_jobs(args.checkpoint, args.val)
    else:
        pairs = test_pairs(args.test)
        if not pairs:
            print(f"{args.test}: no held-out clips; run `python -m training.audio.prepare` first", file=sys.stderr)
            return 1
        jobs = ((lambda wav=wav: transcribe(wav, None, args.checkpoint), lambda mid=mid: read_midi(mid)) for wav, mid in pairs)
    total = {"false": Counter(), "missed_by_octave": Counter(), "missed_in_chord": 0, "missed": 0, "offsets_ms": [],
             "missed_over_octave": 0,
             "reference": 0, "estimate": 0}
    files = 0
    for estimate, reference in jobs:
        files += 1
        part = categorise(estimate(), reference())
        for k, v in part.items():
            total[k] = total[k] + v
    n_false = sum(total["false"].values())
    off = np.array(total["offsets_ms"])
    report = {
        "checkpoint": args.checkpoint, "data": args.val or args.test, "files": files, "reference_notes": total["reference"],
        "estimated_notes": total["estimate"], "false_alarms": n_false, "false_by_kind": dict(total["false"]),
        "missed": total["missed"], "missed_in_chord": total["missed_in_chord"],
        "missed_an_octave_above_another": total["missed_over_octave"],
        "missed_by_octave": dict(sorted(total["missed_by_octave"].items())),
        "onset_error_ms": {"median": float(np.median(off)), "p95_abs": float(np.percentile(np.abs(off), 95))} if len(off) else {},
    }
    print(f"{files} clips, {total['reference']} reference notes, {total['estimate']} estimated")
    print(f"false alarms {n_false}: " + ", ".join(f"{k} {v}" for k, v in total["false"].most_common()))
    print(f"missed {total['missed']} ({total['missed_in_chord']} in chords, {total['missed_over_octave']} an octave "
          "above a note struck with it); by octave: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(total["missed_by_octave"].items())))
    if len(off):
        print(f"matched onsets: median error {np.median(off):+.1f} ms, 95% within {np.percentile(np.abs(off), 95):.1f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
