"""Continuations of held-out seeds compared with the human continuation of the same seed.

    python -m training.eval_continuations --models markov lstm transformer gan --n 20 --out runs/continuations

For ``n`` test-split ASAP performances (one per piece first, by sorted piece
id; second performances of the first pieces when there are fewer pieces), the seed is ``seed_seconds`` of music starting ``offset`` seconds
in, the human continuation the ``length`` seconds after it.  Each model
continues the seed for ``length`` seconds (random seed = the piece's index).
Metrics come from :func:`musestudio.metrics.compute_metrics` with the seed as
reference (pitch-class similarity and harmonic consistency to the seed), so
every row, human included, is measured the same way.  Writes a markdown
table, the MIDI files and piano-roll PNGs (seed grey, continuation coloured)
for listening and looking.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from musestudio.core.notes import NoteSequence
from training.splits import asap_split

COLUMNS = [
    "pitch_class_similarity", "harmonic_consistency", "scale_consistency", "rhythmic_entropy",
    "velocity_std", "note_density", "avg_note_duration", "polyphony",
]


def seeds(n: int, offset: float, seed_seconds: float, length: float) -> list[tuple[str, NoteSequence, NoteSequence]]:
    from musestudio.io.midi import read_midi

    by_piece: dict[str, list] = {}
    for perf in sorted(asap_split("test"), key=lambda p: (p.piece, str(p.performance_midi))):
        by_piece.setdefault(perf.piece, []).append(perf)
    # one performance per piece first; when there are fewer pieces than seeds, second performances follow
    picks = []
    for round_ in range(max(len(v) for v in by_piece.values())):
        picks += [(piece, perfs[round_]) for piece, perfs in sorted(by_piece.items()) if round_ < len(perfs)]
    out = []
    for piece, perf in picks[:n]:
        seq = read_midi(perf.performance_midi)
        start = seq.start_time + offset
        seed = seq.slice(start, start + seed_seconds, shift_to_zero=True)
        human = seq.slice(start + seed_seconds, start + seed_seconds + length, shift_to_zero=True)
        out.append((piece, seed, human.shift_time(seed_seconds)))
    return out


def _roll_png(seed: NoteSequence, cont: NoteSequence, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3))
    for seq, color in ((seed, "0.6"), (cont, "tab:blue")):
        for n in seq.notes:
            ax.plot([n.start, n.end], [n.pitch, n.pitch], color=color, lw=2, solid_capstyle="butt")
    ax.set_title(title, fontsize=8)
    ax.set_ylim(20, 109)
    ax.set_xlabel("s")
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import torch

    from musestudio.io.midi import write_midi
    from musestudio.metrics import compute_metrics
    from musestudio.ml.generate import GenerationSettings, generate

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", nargs="+", default=["markov", "lstm", "transformer", "gan"])
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--offset", type=float, default=20.0)
    p.add_argument("--seed-seconds", type=float, default=15.0)
    p.add_argument("--length", type=float, default=20.0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--out", default="runs/continuations")
    p.add_argument("--pngs", type=int, default=3, help="piano-roll pictures for the first N seeds")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[dict[str, float]]] = {"human": []}
    items = seeds(args.n, args.offset, args.seed_seconds, args.length)
    for i, (piece, seed, human) in enumerate(items):
        rows["human"].append(compute_metrics(human, reference=seed))
        if i < args.pngs:
            _roll_png(seed, human, out / f"{i:02d}_human.png", f"{piece} human")
        for model in args.models:
            try:
                cont = generate(seed, GenerationSettings(model=model, seconds=args.length, random_seed=i,
                                                         temperature=args.temperature))[0]
            except Exception as exc:  # a missing model is reported in the table, not fatal
                print(f"{model}: {exc}")
                continue
            rows.setdefault(model, []).append(compute_metrics(cont, reference=seed))
            if i < args.pngs:
                write_midi(seed.merged(cont), out / f"{i:02d}_{model}.mid")
                _roll_png(seed, cont, out / f"{i:02d}_{model}.png", f"{piece} {model}")
        print(f"{i + 1}/{len(items)} {piece}", flush=True)
    lines = ["| continuation | n | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 2)]
    summary = {}
    for name, rs in rows.items():
        means = {c: float(np.nanmean([r[c] for r in rs])) if rs else math.nan for c in COLUMNS}
        summary[name] = means
        lines.append(f"| {name} | {len(rs)} | " + " | ".join(f"{means[c]:.3g}" for c in COLUMNS) + " |")
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
