"""Balanced, randomised order of clips for each participant.

Each participant (a *slot*: 0, 1, 2, ...) hears ``clips_per_category`` clips
of every category, so every category weighs the same in everyone's answers.
Order effects are balanced with a Williams design, a Latin square in which
every category also follows every other one equally often (first-order
carry-over balance; for an odd number of categories the square and its mirror
image are used, 2k rows).  The listening is cut into blocks of one clip per
category; block ``b`` of slot ``s`` follows row ``(s + b) mod rows``.

Which clips of a category a slot hears rotates through that category's clips
(in an order shuffled once per test), so across participants every clip is
heard equally often, give or take one.  Within a category the clips are
shuffled per slot.  Everything is a pure function of (manifest, slot).
"""

from __future__ import annotations

import numpy as np

from musestudio.listening.manifest import ListeningManifest


def williams_rows(k: int) -> list[list[int]]:
    """Rows of a Williams design on k treatments (k rows if k is even, 2k if odd)."""
    if k < 1:
        return []
    first = [0]
    lo, hi = 1, k - 1
    take_low = True
    while len(first) < k:
        first.append(lo if take_low else hi)
        if take_low:
            lo += 1
        else:
            hi -= 1
        take_low = not take_low
    rows = [[(x + i) % k for x in first] for i in range(k)]
    if k % 2 == 1 and k > 1:
        rows += [list(reversed(r)) for r in rows]
    return rows


def _rng(manifest: ListeningManifest, *salt: int) -> np.random.Generator:
    return np.random.default_rng([int(manifest.random_seed) & 0xFFFFFFFF, *salt])


def schedule(manifest: ListeningManifest, slot: int) -> list[str]:
    """The clip ids participant ``slot`` hears, in order."""
    if slot < 0:
        raise ValueError("slot must be >= 0")
    cats = list(manifest.categories)
    m = manifest.clips_per_category
    rows = williams_rows(len(cats))
    picked: dict[str, list[str]] = {}
    for ci, cat in enumerate(cats):
        ids = [c.id for c in manifest.clips_of(cat)]
        if len(ids) < m:
            raise ValueError(f"category {cat} has {len(ids)} clips, fewer than {m}")
        ids.sort()
        ids = [ids[i] for i in _rng(manifest, 1, ci).permutation(len(ids))]  # once per test
        start = (slot * m) % len(ids)
        mine = [ids[(start + j) % len(ids)] for j in range(m)]
        picked[cat] = [mine[i] for i in _rng(manifest, 2, ci, slot).permutation(m)]  # per slot
    order: list[str] = []
    for block in range(m):
        row = rows[(slot + block) % len(rows)]
        order.extend(picked[cats[r]][block] for r in row)
    return order


def category_order(manifest: ListeningManifest, slot: int) -> list[str]:
    """Categories in the order ``slot`` hears them (used by tests and the design check)."""
    by_id = {c.id: c.category for c in manifest.clips}
    return [by_id[cid] for cid in schedule(manifest, slot)]
