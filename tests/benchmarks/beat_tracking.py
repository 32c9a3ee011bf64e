"""How good are the onset-tracked beats behind tempo stability and rubato usage?

    .venv/bin/python tests/benchmarks/beat_tracking.py [--n 20] [--seconds 30]

On held-out ASAP performances (test split), compares the beats that
musestudio.metrics.tempo tracks from note onsets with the annotated beats
(mir_eval beat F-measure, 70 ms window, on the first SECONDS of each piece),
and the tempo metrics computed from each.  Metrical-level errors (tracking
every half beat or every other beat) count as misses in the F-measure, so the
script also reports the share of pieces whose tracked period is within 10 %
of the annotated one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from training.splits import asap_split  # noqa: E402


def main() -> int:
    import mir_eval

    from musestudio.io.midi import read_midi
    from musestudio.metrics import tempo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    seen: set[str] = set()
    rows = []
    for perf in asap_split("test"):
        if perf.piece in seen or len(rows) >= args.n:
            continue
        seen.add(perf.piece)
        seq = read_midi(perf.performance_midi)
        t0 = seq.start_time
        part = seq.slice(t0, t0 + args.seconds)
        truth = tempo.beat_times(part, tempo.read_beat_annotations(perf.annotations))
        tracked = tempo.beat_times(part)
        f = mir_eval.beat.f_measure(truth, tracked)
        ratio = np.median(np.diff(tracked)) / np.median(np.diff(truth))
        rows.append(
            (
                perf.piece,
                f,
                ratio,
                tempo.tempo_stability(part, truth),
                tempo.tempo_stability(part, tracked),
                tempo.rubato_usage(part, truth),
                tempo.rubato_usage(part, tracked),
            )
        )
        print(f"{perf.piece:40s} F={f:.2f} period ratio={ratio:.2f} stability {rows[-1][3]:.1f}/{rows[-1][4]:.1f} "
              f"rubato {rows[-1][5]:.1f}/{rows[-1][6]:.1f} (annotated/tracked)")  # fmt: skip
    a = np.array([r[1:] for r in rows], dtype=float)
    print(f"\n{len(rows)} pieces, first {args.seconds:g} s each")
    print(f"beat F-measure (70 ms): mean {a[:, 0].mean():.3f}, median {np.median(a[:, 0]):.3f}")
    print(f"tracked period within 10 % of annotated: {np.mean(np.abs(a[:, 1] - 1) < 0.1) * 100:.0f} % of pieces")
    print(f"tempo stability, annotated vs tracked: {np.nanmean(a[:, 2]):.1f} vs {np.nanmean(a[:, 3]):.1f} %")
    print(f"rubato usage,    annotated vs tracked: {np.nanmean(a[:, 4]):.1f} vs {np.nanmean(a[:, 5]):.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
