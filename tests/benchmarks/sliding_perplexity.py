"""Held-out perplexity the way sampling sees it: one token at a time, with the sampler's own context.

    .venv/bin/python tests/benchmarks/sliding_perplexity.py [--pieces 8] [--tokens 2200] [--windows 128 256 512]

``training evaluate`` scores independent 512-token windows (the context
restarts at each window for every model).  Sampling is different: the
Transformer attends over a sliding window of its last ``max_len`` tokens and
the LSTM carries its state along.  This script feeds the first ``--tokens``
tokens of one performance of each of the first ``--pieces`` test-split pieces
through each model's ``prime``/``step`` (the sampling path) and scores every
token after the first 1024, so every model has a full context.  For the
Transformer it also tries other attention windows, which is how the shipped
``max_len`` was chosen.  Reads ../shared/data/asap (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SKIP = 1024  # tokens of context before scoring starts


def held_out_tokens(tokenizer, pieces: int, length: int) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    from musestudio.io.midi import read_midi
    from training.splits import asap_split

    out, seen = [], set()
    for perf in sorted(asap_split("test"), key=lambda p: (p.piece, str(p.performance_midi))):
        if perf.piece in seen:
            continue
        seen.add(perf.piece)
        if tokenizer.to_dict().get("type") == "remi":  # round 2: the performance on its annotated beats
            from musestudio.ml.beatgrid import BeatGrid, read_asap_annotations

            grid = BeatGrid.from_beats(*read_asap_annotations(str(perf.annotations))[:3])
            tokens = tokenizer.encode(read_midi(perf.performance_midi), grid, humanized=True)
        else:
            tokens = tokenizer.encode(read_midi(perf.performance_midi))
        if len(tokens) > length:
            out.append(tokens[:length])
        if len(out) >= pieces:
            break
    return out


def sliding_nll(loaded, sequences: list[np.ndarray]) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    import torch

    total, count = 0.0, 0
    for tokens in sequences:
        if loaded.kind == "markov":
            scores, state = loaded.model.prime(tokens[:1])
            for i in range(1, len(tokens)):
                if i >= SKIP:
                    total -= float(scores[tokens[i]] - np.logaddexp.reduce(scores))
                    count += 1
                scores, state = loaded.model.step(int(tokens[i]), state)
            continue
        with torch.inference_mode():
            logits, state = loaded.model.prime(torch.from_numpy(tokens[:1])[None])
            token_in = torch.zeros(1, dtype=torch.long)
            for i in range(1, len(tokens)):
                if i >= SKIP:
                    total -= float(torch.log_softmax(logits[0].double(), -1)[tokens[i]])
                    count += 1
                token_in.fill_(int(tokens[i]))
                logits, state = loaded.model.step(token_in, state)
    return total, count


def main() -> int:
    import torch

    from musestudio.ml.generate import load_symbolic_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pieces", type=int, default=8)
    p.add_argument("--tokens", type=int, default=2200)
    p.add_argument("--windows", type=int, nargs="*", default=[128, 256, 512, 1024])
    args = p.parse_args()
    torch.set_num_threads(1)
    sequences = None
    print(f"{'model':<24} {'NLL/token':>10} {'perplexity':>11} {'tokens':>8}")
    for kind in ("markov", "lstm", "transformer"):
        loaded = load_symbolic_model(None, kind)
        if sequences is None:
            sequences = held_out_tokens(loaded.tokenizer, args.pieces, args.tokens)
        windows = [None]
        if kind == "transformer":
            shipped = loaded.model.config.max_len
            windows = [w for w in args.windows if w != shipped] + [shipped]
        for w in windows:
            label = kind
            if w is not None:
                loaded.model.config.max_len = w
                label = f"transformer (window {w})" + (" shipped" if w == windows[-1] else "")
            nll, n = sliding_nll(loaded, sequences)
            print(f"{label:<24} {nll / n:10.4f} {math.exp(nll / n):11.2f} {n:8d}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
