"""Decoder-only Transformer with rotary positions and a KV cache.

Rotary embeddings (RoPE) encode *relative* distance in the attention scores,
the property Music Transformer's relative attention is after, at no memory
cost.  Because only relative offsets matter, the sampling cache can slide: when
it is full the oldest keys are dropped and generation goes on past
``max_len``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)
from torch import nn


@dataclass
class TransformerConfig:
    vocab_size: int = 367  # REMI tokens (musestudio.ml.remi); round-1 event tokens had 313
    d_model: int = 256
    n_heads: int = 8
    n_layers: int = 4
    d_ff: int = 1024
    dropout: float = 0.1
    # Attention window when sampling; keep it at the training window length.  RoPE does not
    # extrapolate far past the lengths it was trained on: the desktop checkpoint (trained on
    # 256-token windows) scores held-out sliding-window perplexity 17.7 with 256, 21.7 with 512.
    max_len: int = 1024
    rope_base: float = 10000.0


def _rope_tables(positions: torch.Tensor, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim))
    ang = positions.float()[:, None] * inv[None, :]  # [T, D/2]
    return ang.cos(), ang.sin()


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: [B, H, T, D]; rotate pairs (even, odd) by the position's angle
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2).to(x.dtype)


class Block(nn.Module):
    def __init__(self, c: TransformerConfig) -> None:
        super().__init__()
        self.n_heads = c.n_heads
        self.ln1 = nn.LayerNorm(c.d_model)
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model)
        self.proj = nn.Linear(c.d_model, c.d_model)
        self.ln2 = nn.LayerNorm(c.d_model)
        self.ff = nn.Sequential(nn.Linear(c.d_model, c.d_ff), nn.GELU(), nn.Linear(c.d_ff, c.d_model))
        self.drop = nn.Dropout(c.dropout)
        self.attn_dropout = c.dropout

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, d = x.shape  # [B, T, D]
        h = self.n_heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q = q.view(b, t, h, d // h).transpose(1, 2)  # [B, H, T, Dh]
        k = k.view(b, t, h, d // h).transpose(1, 2)
        v = v.view(b, t, h, d // h).transpose(1, 2)
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # [B, H, S+T, Dh]
            v = torch.cat([cache[1], v], dim=2)
        causal = t > 1
        if causal and cache is not None and cache[0].shape[2] > 0:
            # new queries see the whole cache plus the causal part of themselves
            s = k.shape[2]
            mask = torch.ones(t, s, dtype=torch.bool, device=x.device).tril(diagonal=s - t)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            p = self.attn_dropout if self.training else 0.0
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=p)
        y = y.transpose(1, 2).reshape(b, t, d)  # [B, T, D]
        x = x + self.drop(self.proj(y))
        x = x + self.drop(self.ff(self.ln2(x)))
        return x, (k, v)


Cache = dict[str, Any]


class TransformerModel(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if config.d_model % config.n_heads or (config.d_model // config.n_heads) % 2:
            raise ValueError("d_model must split into n_heads heads of even size")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied input/output embeddings
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def _run(self, tokens: torch.Tensor, cache: Cache | None) -> tuple[torch.Tensor, Cache]:
        t = tokens.shape[1]  # tokens: [B, T]
        start = 0 if cache is None else cache["pos"]
        head_dim = self.config.d_model // self.config.n_heads
        cos, sin = _rope_tables(torch.arange(start, start + t, device=tokens.device), head_dim, self.config.rope_base)
        x = self.drop(self.embed(tokens))  # [B, T, D]
        kv = []
        for i, block in enumerate(self.blocks):
            x, layer_kv = block(x, cos, sin, None if cache is None else cache["kv"][i])
            kv.append(layer_kv)
        logits = self.head(self.ln_f(x))  # [B, T, V]
        window = self.config.max_len
        kv = [(k[:, :, -window:], v[:, :, -window:]) for k, v in kv]  # slide: RoPE keeps offsets right
        return logits, {"pos": start + t, "kv": kv}

    def forward(self, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        tokens = batch["tokens"] if isinstance(batch, dict) else batch  # [B, T+1]
        logits, _ = self._run(tokens[:, :-1], None)  # [B, T, V]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), ignore_index=0)
        return logits, {"nll": nll}

    @torch.no_grad()
    def prime(self, tokens: torch.Tensor) -> tuple[torch.Tensor, Cache]:
        """Seed [B, T] (its last max_len tokens) -> next-token logits [B, V] and the cache."""
        tokens = tokens[:, -self.config.max_len :]
        logits, cache = self._run(tokens, None)
        return logits[:, -1], cache

    @torch.no_grad()
    def step(self, token: torch.Tensor, cache: Cache) -> tuple[torch.Tensor, Cache]:
        """One token [B] -> next-token logits [B, V].

        A lean path for sampling.  Keys and values live in a ring buffer of
        ``max_len`` slots: each new token overwrites the oldest, so every step
        attends over at most the last ``max_len`` tokens with no copying.  The
        order of the slots does not matter: keys carry their rotary angle from
        the position they were written at, and attention is a sum over keys.
        On a CPU at batch 1 the per-op overhead, not the arithmetic, bounds
        this loop, so the functional ops are called directly on weights looked
        up once per generation.
        """
        c = self.config
        window = c.max_len
        if "ring" not in cache:  # move the primed cache (_run keeps at most max_len entries) into ring buffers
            ring = []
            for k, v in cache["kv"]:
                b, h, s, dh = k.shape
                kb = k.new_zeros(b, h, window, dh)
                vb = v.new_zeros(b, h, window, dh)
                kb[:, :, :s], vb[:, :, :s] = k, v
                ring.append((kb, vb))
            fill = cache["kv"][0][0].shape[2]
            layers = [
                (blk.ln1.weight, blk.ln1.bias, blk.qkv.weight, blk.qkv.bias, blk.proj.weight, blk.proj.bias,
                 blk.ln2.weight, blk.ln2.bias, blk.ff[0].weight, blk.ff[0].bias, blk.ff[2].weight, blk.ff[2].bias)
                for blk in self.blocks
            ]
            final = (self.ln_f.weight, self.ln_f.bias, self.head.weight, self.embed.weight)
            cache = {"pos": cache["pos"], "ring": ring, "fill": fill, "slot": fill % window,
                     "layers": layers, "final": final}
        slot, fill = cache["slot"], cache["fill"]
        n = min(fill + 1, window)  # keys attended after this token is written
        rot = self._angles(cache["pos"])  # complex [Dh/2]
        ln_w, ln_b, head_w, embed_w = cache["final"]
        x = F.embedding(token, embed_w)  # [B, D]
        b, d = x.shape
        nh = c.n_heads
        dh = d // nh
        for (w1, b1, wqkv, bqkv, wp, bp, w2, b2, wf1, bf1, wf2, bf2), (kb, vb) in zip(
            cache["layers"], cache["ring"], strict=True
        ):
            hn = F.layer_norm(x, (d,), w1, b1)
            qkv = F.linear(hn, wqkv, bqkv).view(b, 3, nh, dh // 2, 2)
            qk = torch.view_as_real(torch.view_as_complex(qkv[:, :2].float().contiguous()) * rot)  # rotate q and k
            qk = qk.reshape(b, 2, nh, 1, dh)
            kb[:, :, slot] = qk[:, 1, :, 0]
            vb[:, :, slot] = qkv[:, 2].reshape(b, nh, dh)
            y = F.scaled_dot_product_attention(qk[:, 0], kb[:, :, :n], vb[:, :, :n])  # [B, H, 1, Dh]
            x = x + F.linear(y.reshape(b, d), wp, bp)
            hn = F.layer_norm(x, (d,), w2, b2)
            x = x + F.linear(F.gelu(F.linear(hn, wf1, bf1)), wf2, bf2)
        x = F.layer_norm(x, (d,), ln_w, ln_b)
        cache["fill"] = n
        cache["slot"] = (slot + 1) % window
        cache["pos"] += 1
        return F.linear(x, head_w), cache

    def _angles(self, pos: int) -> torch.Tensor:
        """Rotation for position ``pos`` as unit complex numbers [Dh/2] (cached table)."""
        table = getattr(self, "_angle_table", None)
        if table is None or pos >= table.shape[0]:
            size = max(4096, 2 * pos + 1)
            head_dim = self.config.d_model // self.config.n_heads
            cos, sin = _rope_tables(torch.arange(size), head_dim, self.config.rope_base)
            table = torch.complex(cos, sin)
            self._angle_table = table
        return table[pos]
