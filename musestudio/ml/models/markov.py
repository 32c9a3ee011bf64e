"""n-gram (Markov chain) baseline over the same performance tokens.

Interpolated Witten-Bell smoothing: for a context ``h`` of length k,

    P_k(w | h) = (C(h, w) + T(h) * P_{k-1}(w | h')) / (C(h) + T(h))

where ``T(h)`` is the number of distinct tokens seen after ``h`` and ``h'``
drops the oldest token; an unseen context falls back to ``P_{k-1}`` and the
recursion ends in an add-one unigram.  Every order gives a proper
distribution, so perplexities compare with the neural models on the same
tokens.

Storage is plain count arrays (safetensors, no pickle): for each context
length k, the sorted codes ``context * V + next`` and their counts.  Context
totals and type counts are derived on load.  Rare long n-grams are pruned
(``min_count``) to keep the shipped file small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class MarkovConfig:
    vocab_size: int = 367  # REMI tokens (musestudio.ml.remi); round-1 event tokens had 313
    order: int = 3  # n of the longest n-gram (context of order - 1 tokens)
    min_count: int = 1  # n-grams (n >= 3) seen fewer times are pruned (1 = keep all)


def _codes(tokens: np.ndarray, k: int, vocab: int) -> np.ndarray:
    """Code of the k tokens ending at each position i >= k-1 (int64, base ``vocab``)."""
    n = len(tokens) - k + 1
    code = np.zeros(max(n, 0), dtype=np.int64)
    for j in range(k):
        code = code * vocab + tokens[j : j + n]
    return code


class MarkovModel:
    def __init__(self, config: MarkovConfig, tensors: dict[str, np.ndarray] | None = None) -> None:
        self.config = config
        v = config.vocab_size
        self.unigram = np.zeros(v, dtype=np.int64)
        self.keys: dict[int, np.ndarray] = {}
        self.counts: dict[int, np.ndarray] = {}
        if tensors is not None:
            self.unigram = np.asarray(tensors["unigram"], dtype=np.int64)
            for k in range(1, config.order):
                self.keys[k] = np.asarray(tensors[f"keys_{k}"], dtype=np.int64)
                self.counts[k] = np.asarray(tensors[f"counts_{k}"], dtype=np.int64)
        self._derive()

    # --- fitting ----------------------------------------------------------
    @classmethod
    def fit(cls, pieces: list[np.ndarray], config: MarkovConfig) -> MarkovModel:
        """Count n-grams within each piece (never across piece boundaries)."""
        v = config.vocab_size
        model = cls(config)
        model.unigram = np.bincount(np.concatenate(pieces).astype(np.int64), minlength=v)[:v]
        for k in range(1, config.order):
            codes = [_codes(np.asarray(p, dtype=np.int64), k + 1, v) for p in pieces if len(p) > k]
            keys, counts = np.unique(np.concatenate(codes) if codes else np.zeros(0, np.int64), return_counts=True)
            if k >= 2 and config.min_count > 1:
                keep = counts >= config.min_count
                keys, counts = keys[keep], counts[keep]
            model.keys[k], model.counts[k] = keys, counts.astype(np.int64)
        model._derive()
        return model

    def tensors(self) -> dict[str, np.ndarray]:
        out = {"unigram": self.unigram.astype(np.int64)}
        for k in self.keys:
            keys = self.keys[k]
            small = keys.size == 0 or int(keys.max()) < 2**31
            out[f"keys_{k}"] = keys.astype(np.int32) if small else keys  # halves the file for n <= 3
            out[f"counts_{k}"] = self.counts[k].astype(np.int32)
        return out

    def _derive(self) -> None:
        v = self.config.vocab_size
        self.ctx: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for k, keys in self.keys.items():
            ctx_codes = keys // v
            uniq, first, types = np.unique(ctx_codes, return_index=True, return_counts=True)
            totals = np.add.reduceat(self.counts[k], first) if len(first) else np.zeros(0, np.int64)
            self.ctx[k] = (uniq, first, types, totals)

    # --- probabilities ----------------------------------------------------
    def token_probabilities(self, tokens: np.ndarray) -> np.ndarray:
        """P(tokens[i] | tokens[:i]) for i >= 1, vectorised over the whole array ([T-1])."""
        v = self.config.vocab_size
        tokens = np.asarray(tokens, dtype=np.int64)
        target = tokens[1:]
        p = (self.unigram[target] + 1.0) / (self.unigram.sum() + v)
        for k in range(1, self.config.order):
            if len(tokens) <= k:
                break
            ctx = _codes(tokens[:-1], k, v)  # context ending at position i-1, for targets i >= k
            tgt = target[k - 1 :]
            uniq, _first, types, totals = self.ctx[k]
            pos = np.searchsorted(uniq, ctx)
            pos_c = np.minimum(pos, max(len(uniq) - 1, 0))
            found = (pos < len(uniq)) & (uniq[pos_c] == ctx) if len(uniq) else np.zeros(len(ctx), bool)
            pair = ctx * v + tgt
            kpos = np.searchsorted(self.keys[k], pair)
            kpos_c = np.minimum(kpos, max(len(self.keys[k]) - 1, 0))
            hit = (kpos < len(self.keys[k])) & (self.keys[k][kpos_c] == pair) if len(self.keys[k]) else found & False
            c = np.where(hit, self.counts[k][kpos_c] if len(self.keys[k]) else 0, 0)
            t = types[pos_c].astype(np.float64) if len(uniq) else np.zeros(len(ctx))
            n = totals[pos_c].astype(np.float64) if len(uniq) else np.zeros(len(ctx))
            sub = p[k - 1 :]
            p[k - 1 :] = np.where(found, (c + t * sub) / np.maximum(n + t, 1e-12), sub)
        return p

    def next_distribution(self, context: np.ndarray) -> np.ndarray:
        """P(next | context) over the vocabulary ([V])."""
        v = self.config.vocab_size
        context = np.asarray(context, dtype=np.int64)
        p = (self.unigram + 1.0) / (self.unigram.sum() + v)
        for k in range(1, self.config.order):
            if len(context) < k:
                break
            code = 0
            for tok in context[-k:].tolist():
                code = code * v + tok
            uniq, first, types, totals = self.ctx[k]
            i = int(np.searchsorted(uniq, code))
            if i >= len(uniq) or uniq[i] != code:
                break  # a longer context containing an unseen one is unseen too
            lo = int(first[i])
            hi = lo + int(types[i])
            counts = np.zeros(v)
            counts[self.keys[k][lo:hi] % v] = self.counts[k][lo:hi]
            p = (counts + types[i] * p) / (totals[i] + types[i])
        return p

    # --- sampling interface shared with the neural models -----------------
    def prime(self, tokens: np.ndarray) -> tuple[np.ndarray, Any]:
        ctx = list(np.asarray(tokens, dtype=np.int64).ravel()[-(self.config.order - 1) :])
        return np.log(self.next_distribution(np.array(ctx))), ctx

    def step(self, token: int, state: Any) -> tuple[np.ndarray, Any]:
        ctx = ([*state, int(token)])[-(self.config.order - 1) :]
        return np.log(self.next_distribution(np.array(ctx))), ctx
