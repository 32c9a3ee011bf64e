"""Balancing: every participant hears each category equally often, in an order that varies."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from musestudio.listening.design import category_order, schedule, williams_rows
from musestudio.listening.manifest import Clip, ListeningManifest


def fake_manifest(sizes: dict[str, int], per_cat: int, seed: int = 0) -> ListeningManifest:
    clips = [
        Clip(id=f"x{cat[:1]}{i:02d}", category=cat, is_human=cat == "human", kind="file", source="", file="")
        for cat, n in sizes.items() for i in range(n)
    ]
    return ListeningManifest(test_id="t", title="t", created="", categories=list(sizes), clips=clips, clip_seconds=1,
                        sample_rate=16000, target_lufs=-23, clips_per_category=per_cat, random_seed=seed)


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_williams_rows_are_latin_and_carryover_balanced(k):
    rows = williams_rows(k)
    assert len(rows) == (k if k % 2 == 0 else 2 * k)
    for row in rows:
        assert sorted(row) == list(range(k))
    for col in range(k):  # every treatment equally often at every position
        assert Counter(r[col] for r in rows) == Counter({t: len(rows) // k for t in range(k)})
    pairs = Counter((r[i], r[i + 1]) for r in rows for i in range(k - 1))
    expected = len(rows) * (k - 1) // (k * (k - 1))
    assert set(pairs) == {(a, b) for a, b in itertools.permutations(range(k), 2)}
    assert set(pairs.values()) == {expected}


def test_each_participant_hears_each_category_equally_often():
    m = fake_manifest({"human": 10, "lstm": 10, "transformer": 10, "gan": 10}, per_cat=10)
    for slot in range(12):
        order = schedule(m, slot)
        assert len(order) == 40 and len(set(order)) == 40
        assert Counter(category_order(m, slot)) == Counter({c: 10 for c in m.categories})


def test_positions_are_balanced_and_orders_vary():
    m = fake_manifest({"human": 6, "lstm": 6, "transformer": 6, "gan": 6}, per_cat=3)
    rows = len(williams_rows(4))
    orders = [category_order(m, s) for s in range(rows)]
    for pos in range(len(orders[0])):  # over one full square, each category once at every position
        assert Counter(o[pos] for o in orders) == Counter({c: 1 for c in m.categories})
    assert len({tuple(schedule(m, s)) for s in range(8)}) == 8
    assert schedule(m, 5) == schedule(m, 5)  # a pure function of (manifest, slot)


def test_subsets_rotate_so_every_clip_is_heard_equally_often():
    m = fake_manifest({"human": 7, "gan": 5, "lstm": 9}, per_cat=3)
    for participants in (1, 4, 11, 30):
        heard = Counter(cid for s in range(participants) for cid in schedule(m, s))
        for cat in m.categories:
            counts = [heard.get(c.id, 0) for c in m.clips_of(cat)]
            assert max(counts) - min(counts) <= 1, (participants, cat, counts)
