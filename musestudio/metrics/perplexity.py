"""Perplexity, the one metric that needs a model.

Two named forms:

* :func:`perplexity`: how well a *chosen* model predicts a file,
  ``exp(mean negative log-likelihood per token)`` under that model's own
  tokenizer.  Lower is better.  Only comparable between models that share a
  tokenizer (a per-token figure depends on what a token is).
* :func:`bits_per_note`: the summed token NLL of a piece in bits divided by its notes.  Unlike a
  per-token figure it compares models with different tokenizers (round-1 event tokens vs the REMI
  tokens of round 2), so held-out likelihoods are reported in it.
* :func:`plausibility`: the perplexity of (usually generated) music under the
  shipped reference Transformer.  Every generator's output, the GAN's too
  (which has no likelihood of its own), is scored by the same judge, so the
  numbers are comparable across models and with human music.

Both go through ``musestudio.ml.generate.score_sequence``, imported lazily so
that this package never loads torch until a likelihood is asked for.
"""

from __future__ import annotations

import math
from pathlib import Path

from musestudio.metrics.symbolic import Pieces, as_pieces

REFERENCE_MODEL = "transformer"


def score(seq: object, model: str, checkpoint: str | Path | None = None) -> dict:
    from musestudio.ml.generate import score_sequence

    return score_sequence(seq, model, checkpoint)  # type: ignore[arg-type]


def perplexity(pieces: Pieces, model: str, checkpoint: str | Path | None = None) -> float:
    """Perplexity of one piece, or of a corpus pooled per token: ``exp(sum nll / sum tokens)``.

    Raises ``ModelError`` for a model without a likelihood (the GAN).
    """
    total_nll = 0.0
    total_tokens = 0
    for seq in as_pieces(pieces):
        if not seq.notes:
            continue
        s = score(seq, model, checkpoint)
        tokens = int(s["tokens"])
        total_nll += float(s["nll_per_token"]) * tokens
        total_tokens += tokens
    if total_tokens == 0:
        return float("nan")
    return math.exp(total_nll / total_tokens)


def bits_per_note(pieces: Pieces, model: str, checkpoint: str | Path | None = None) -> float:
    """Bits per note of one piece or a corpus, pooled by notes; NaN for no notes."""
    bits = 0.0
    notes = 0
    for seq in as_pieces(pieces):
        if not seq.notes:
            continue
        s = score(seq, model, checkpoint)
        bits += float(s["bits_per_note"]) * int(s["notes"])
        notes += int(s["notes"])
    return bits / notes if notes else float("nan")


def plausibility(pieces: Pieces, checkpoint: str | Path | None = None) -> float:
    """Perplexity under the reference Transformer (lower means more like its training music)."""
    return perplexity(pieces, REFERENCE_MODEL, checkpoint)
