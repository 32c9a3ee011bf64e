"""Which kind of error costs the beat tracker its beat F: the metrical level, or phase and drift?

    .venv/bin/python tests/benchmarks/diag_beat_levels.py [--checkpoint models/beat_tracker] [--split validation]

A diagnosis for choosing the next change, so it reads the VALIDATION split by default (never tune on what
the test split says).  For every performance it scores the tracked beats with mir_eval against the
annotated beats, against the annotation at twice and three times its rate (each annotated interval cut
into 2 or 3), and against every second and third annotated beat (the best phase), plus continuity AMLt
(which forgives the metrical level).  A performance whose F at twice the rate beats its own by 0.15 is
counted as tracked at double tempo.  It also scores every second tracked beat, at the phase with more
downbeat activation (what a whole-piece "count in half notes" decision would write), and, for the performances
ASAP annotates in half-note beats, the tracked beats against those beats split in two (the quarters training
teaches).  Needs ../shared/data/asap (through runs/cache).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from training.beats_eval import activations_for, analysis_from_activations, item_sequence, load_tracker  # noqa: E402
from training.data.beats import half_note_beats, load_split, subdivided  # noqa: E402


def level_rows(checkpoint: str, split: str, cache: str) -> list[dict]:
    import mir_eval

    from musestudio.ml.beats import log_odds, sample_at

    items = load_split(split, cache=cache, with_scores=False)
    _, params = load_tracker(checkpoint)
    rows = []
    for it, (b, d, fps) in zip(items, activations_for(checkpoint, items)):
        a = analysis_from_activations(item_sequence(it), b, d, fps, params)
        ref = mir_eval.beat.trim_beats(np.asarray(it.beats))
        est = mir_eval.beat.trim_beats(np.asarray(a.beats))
        f = mir_eval.beat.f_measure
        down = log_odds(sample_at(d, np.asarray(a.beats), fps))
        phase = int(np.argmax([down[0::2].mean(), down[1::2].mean()])) if len(down) > 1 else 0
        halved = mir_eval.beat.trim_beats(np.asarray(a.beats)[phase::2])
        half_note = half_note_beats(it)
        rows.append({
            "name": it.name, "piece": it.piece, "f": f(ref, est),
            "amlt": mir_eval.beat.continuity(ref, est)[3],
            "x2": f(subdivided(ref, 2), est), "x3": f(subdivided(ref, 3), est),
            "half": max(f(ref[i::2], est) for i in range(2)), "third": max(f(ref[i::3], est) for i in range(3)),
            "halved": f(ref, halved), "half_note": half_note,
            "quarters": f(subdivided(ref, 2), est) if half_note else None,
            "ref_bpm": 60.0 / float(np.median(np.diff(ref))),
            "est_bpm": 60.0 / float(np.median(np.diff(est))) if len(est) > 1 else 0.0,
        })
    return rows


def summary(rows: list[dict]) -> dict:
    f = np.array([r["f"] for r in rows])
    other = np.array([max(r["x2"], r["x3"], r["half"], r["third"]) for r in rows])
    double = np.array([r["x2"] > r["f"] + 0.15 for r in rows])
    return {
        "performances": len(rows), "pieces": len({r["piece"] for r in rows}),
        "beat_f": float(f.mean()), "amlt": float(np.mean([r["amlt"] for r in rows])),
        "beat_f_if_level_right": float(np.maximum(f, other).mean()),
        "double_tempo_performances": int(double.sum()),
        "double_tempo_pieces": len({r["piece"] for r, d in zip(rows, double) if d}),
        "double_tempo_median_annotated_bpm": float(np.median([r["ref_bpm"] for r, d in zip(rows, double) if d]))
        if double.any() else None,
        "others_median_annotated_bpm": float(np.median([r["ref_bpm"] for r, d in zip(rows, double) if not d])),
        "beat_f_double_tempo": float(f[double].mean()) if double.any() else None,
        "beat_f_others": float(f[~double].mean()),
        "beat_f_if_halved_where_it_helps": float(np.maximum(f, [r["halved"] for r in rows]).mean()),
        "halving_helps": int(sum(r["halved"] > r["f"] for r in rows)),
    } | half_note_summary(rows)


def half_note_summary(rows: list[dict]) -> dict:
    """The performances annotated in half-note beats: their F, halved, and against the quarters."""
    half = [r for r in rows if r["half_note"]]
    if not half:
        return {"half_note_performances": 0}
    return {
        "half_note_performances": len(half),
        "half_note_beat_f": float(np.mean([r["f"] for r in half])),
        "half_note_beat_f_halved": float(np.mean([r["halved"] for r in half])),
        "half_note_halving_helps": int(sum(r["halved"] > r["f"] for r in half)),
        "half_note_beat_f_against_quarters": float(np.mean([r["quarters"] for r in half])),
        "half_note_quarters_tracked_at_0.85": int(sum(r["quarters"] >= 0.85 for r in half)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(REPO / "models" / "beat_tracker"))
    ap.add_argument("--split", default="validation", choices=("train", "validation", "test"))
    ap.add_argument("--cache", default=str(REPO / "runs" / "cache"))
    ap.add_argument("--json", help="write every performance's row here")
    args = ap.parse_args()
    rows = level_rows(args.checkpoint, args.split, args.cache)
    print(json.dumps(summary(rows), indent=1))
    for r in sorted(rows, key=lambda r: r["f"])[:10]:
        print(f'{r["f"]:.2f}  x2 {r["x2"]:.2f}  /2 {r["half"]:.2f}  annotated {r["ref_bpm"]:.0f} BPM, '
              f'tracked {r["est_bpm"]:.0f}  {r["name"]}')
    if args.json:
        Path(args.json).write_text(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
