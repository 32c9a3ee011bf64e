"""`musestudio evaluate FILE... --model NAME --json`: per-token likelihood of pieces under a model."""

from __future__ import annotations

import argparse

HELP = "bits per note, per-token NLL and perplexity of MIDI files under the markov, lstm or transformer model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="MIDI or MusicXML files")
    parser.add_argument("--model", default="transformer", choices=["markov", "lstm", "transformer", "gan"])
    parser.add_argument("--checkpoint", metavar="DIR", help="checkpoint folder (default: the shipped model)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import json
    import math

    from musestudio.core.errors import ModelError
    from musestudio.io.formats import load_score
    from musestudio.ml.generate import score_sequence

    if args.model == "gan":
        raise ModelError("the GAN has no likelihood, so it cannot score files; use --model markov, lstm or transformer")
    files = {}
    for path in args.files:
        files[path] = score_sequence(load_score(path), args.model, args.checkpoint)
    total_tokens = sum(r["tokens"] - 1 for r in files.values())
    mean_nll = sum(r["nll_per_token"] * (r["tokens"] - 1) for r in files.values()) / max(total_tokens, 1)
    total_bits = sum(r["bits_per_note"] * r["notes"] for r in files.values())
    bits = total_bits / max(sum(r["notes"] for r in files.values()), 1)
    report = {"files": files, "mean": {"nll_per_token": mean_nll, "perplexity": math.exp(mean_nll),
                                       "bits_per_note": bits}}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for path, r in files.items():
            print(f"{path}\t{r['tokens']} tokens\t{r['bits_per_note']:.2f} bits/note\tNLL {r['nll_per_token']:.4f}"
                  f"\tperplexity {r['perplexity']:.2f}")
        print(f"pooled\t{bits:.2f} bits/note\tNLL {mean_nll:.4f}/token\tperplexity {math.exp(mean_nll):.2f}")
    return 0
