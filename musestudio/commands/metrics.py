"""`musestudio metrics FILE...`: objective metrics of scores, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import math

HELP = "score MIDI/MusicXML files with objective metrics (optionally against references)"
DESCRIPTION = (
    "Compute pitch-class, harmony, rhythm, duration, tempo and velocity metrics of each FILE. "
    "With --reference, the comparative metrics (pitch-class similarity, harmonic consistency, chord "
    "transition accuracy) use the reference files pooled as one corpus. With --model, add the perplexity "
    "under that model. With --transcription-reference, add note and frame P/R/F1 of each FILE as a "
    "transcription of the reference."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="MIDI or MusicXML files to score")
    parser.add_argument("--reference", nargs="+", default=None, metavar="REF", help="reference piece(s) or corpus")
    parser.add_argument(
        "--transcription-reference",
        default=None,
        metavar="REF",
        help="ground-truth MIDI: score every FILE as a transcription of it",
    )
    parser.add_argument("--onset-tolerance", type=float, default=0.05, help="seconds (default 0.05)")
    parser.add_argument("--model", default=None, help="add perplexity under this model (lstm, transformer, markov)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder for --model (default: shipped)")
    parser.add_argument("--plausibility", action="store_true", help="add perplexity under the reference Transformer")
    parser.add_argument("--beats", default=None, metavar="FILE", help="beat annotations (ASAP format) for FILE")
    parser.add_argument("--json", action="store_true", help="print JSON {FILE: {metric: value}}")


def score_files(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    from musestudio.io.formats import load_score
    from musestudio.metrics import compute_metrics

    references = [load_score(p) for p in args.reference] if args.reference else None
    beats = None
    if args.beats:
        from musestudio.metrics.tempo import read_beat_annotations

        beats = read_beat_annotations(args.beats)
    transcription_ref = load_score(args.transcription_reference) if args.transcription_reference else None
    results: dict[str, dict[str, float]] = {}
    for path in args.files:
        seq = load_score(path)
        row = compute_metrics(seq, references, beats)
        if args.model:
            from musestudio.metrics.perplexity import perplexity

            row["perplexity"] = perplexity(seq, args.model, args.checkpoint)
        if args.plausibility:
            from musestudio.metrics.perplexity import plausibility

            row["plausibility"] = plausibility(seq)
        if transcription_ref is not None:
            from musestudio.metrics.transcription import note_scores

            row.update(note_scores(seq, transcription_ref, onset_tolerance=args.onset_tolerance))
        results[path] = row
    return results


def _json_safe(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def format_table(results: dict[str, dict[str, float]]) -> str:
    """Metrics as rows, files as columns."""
    from musestudio.metrics import METRICS

    paths = list(results)
    names: list[str] = []
    for row in results.values():
        names.extend(n for n in row if n not in names)
    width = max(len(n) for n in names) + 2
    heads = [f"[{i + 1}]" for i in range(len(paths))]
    lines = [f"{i}: {p}" for i, p in zip(heads, paths, strict=True)]
    lines.append("metric".ljust(width) + "unit".ljust(10) + "".join(h.rjust(12) for h in heads))
    for name in names:
        unit = METRICS[name].unit if name in METRICS else ""
        cells = []
        for p in paths:
            v = results[p].get(name, float("nan"))
            cells.append(("-" if math.isnan(v) else f"{v:.4g}").rjust(12))
        lines.append(name.ljust(width) + unit.ljust(10) + "".join(cells))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    results = score_files(args)
    if args.json:
        print(json.dumps({p: {k: _json_safe(v) for k, v in row.items()} for p, row in results.items()}, indent=2))
    else:
        print(format_table(results))
    return 0
