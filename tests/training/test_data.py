"""Splits by piece, token caches, windows and augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from musestudio.ml.tokenizer import PerformanceTokenizer
from training.data.symbolic import PieceRef, WindowDataset, list_pieces, load_split
from training.splits import SPLITS, asap_performances, split_of

TK = PerformanceTokenizer()


def test_split_is_a_stable_function_of_the_piece() -> None:
    names = [f"Composer/Work_{i}" for i in range(2000)]
    splits = [split_of(n) for n in names]
    assert splits == [split_of(n) for n in names]
    share = {s: splits.count(s) / len(splits) for s in SPLITS}
    assert 0.75 < share["train"] < 0.85 and 0.07 < share["validation"] < 0.13


@pytest.mark.shared_data
def test_asap_no_piece_in_two_splits(asap_dir) -> None:
    pieces = {s: {r.piece for r in list_pieces(f"asap:{asap_dir}", s)} for s in SPLITS}
    assert not pieces["train"] & pieces["validation"]
    assert not pieces["train"] & pieces["test"]
    assert not pieces["validation"] & pieces["test"]
    assert sum(len(list_pieces(f"asap:{asap_dir}", s)) for s in SPLITS) == len(asap_performances(asap_dir))
    # several performances share a piece, and they stay together
    assert len({p.piece for p in asap_performances(asap_dir)}) < len(asap_performances(asap_dir))


def test_midi_folder_split_is_disjoint(midi_folder) -> None:
    pieces = {s: {r.piece for r in list_pieces(f"midi:{midi_folder}", s)} for s in SPLITS}
    assert len(pieces["train"]) == 6 and len(pieces["validation"]) == 2 and len(pieces["test"]) == 2
    assert not (pieces["train"] & pieces["validation"]) and not (pieces["train"] & pieces["test"])


def test_token_cache_is_built_once_then_memory_mapped(midi_folder, tmp_path, monkeypatch) -> None:
    first = load_split([f"midi:{midi_folder}"], "train", TK, tmp_path)
    assert len(first) == 6 and first.tokens.dtype == np.int16
    assert isinstance(first.tokens, np.memmap)

    def refuse(self):  # a second build must not parse any MIDI
        raise AssertionError("MIDI parsed again")

    monkeypatch.setattr(PieceRef, "load", refuse)
    second = load_split([f"midi:{midi_folder}"], "train", TK, tmp_path)
    assert np.array_equal(np.asarray(first.tokens), np.asarray(second.tokens))
    assert second.pieces == first.pieces
    # the cached tokens are the tokenizer's tokens of each piece
    from musestudio.io.midi import read_midi

    ref = list_pieces(f"midi:{midi_folder}", "train")[0]
    assert np.array_equal(second.piece_tokens(0), TK.encode(read_midi(ref.source)))


def test_windows_are_deterministic_and_transposition_keeps_pitches_on_the_keyboard(midi_folder, tmp_path) -> None:
    cache = load_split([f"midi:{midi_folder}"], "train", TK, tmp_path)
    ds = WindowDataset(cache, TK, 64, augment=True, seed=1)
    a, b = ds[3], ds[3]
    assert a.shape == (65,) and np.array_equal(a.numpy(), b.numpy())
    ds.set_epoch(1)
    assert not np.array_equal(ds[3].numpy(), a.numpy())  # new epoch: new jitter/transposition
    transposed = 0
    plain = WindowDataset(cache, TK, 64)
    for i in range(len(ds)):
        span = TK.pitch_span(ds[i].numpy())
        assert span is not None and span[0] >= 21 and span[1] <= 108
        transposed += span != TK.pitch_span(plain[i].numpy())
    assert transposed > 0
    np.testing.assert_array_equal(plain[0].numpy(), np.asarray(cache.piece_tokens(0)[:65], dtype=np.int64))
