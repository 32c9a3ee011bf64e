"""Symbolic training data: sources, preprocessing, memory-mapped token caches, windows.

With the REMI tokens (:mod:`musestudio.ml.remi`, the default since round 2) every
piece is read on a beat grid: ASAP performances on their annotated beats and
downbeats (``*_annotations.txt``, HUMAN mode, microtiming kept), ASAP score
MIDIs (one per piece) on theirs as quantized examples (GRID mode), other MIDI
files on their own tempo map.  Windows start at a bar line and begin with the
piece's mode token; augmentation transposes into all 12 keys (-6..+5 semitones).

Sources (``--data`` values, repeatable):

* ``asap`` or ``asap:DIR``: ASAP performances, split by piece through
  :func:`training.splits.asap_split` (the ``folder`` column).
* ``maestro:DIR``: MAESTRO's MIDI files with the official split of its CSV.
* ``midi:DIR``: any folder of .mid/.midi files, split by piece (file stem, stable hash).
* ``music21`` or ``music21:COMPOSER``: the music21 corpus, split by work.

Preprocessing follows the reference paper: times quantized to the
tokenizer's resolution, velocities binned, duplicate and overlapping notes
removed (both in :meth:`PerformanceTokenizer.encode`), and random semitone
transposition as augmentation (at window level, on the cached tokens) instead
of folding every piece into one key.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from musestudio.core.notes import NoteSequence
from musestudio.ml.tokenizer import PAD, PerformanceTokenizer
from training.splits import asap_split, split_of


@dataclass(frozen=True)
class PieceRef:
    piece: str  # split unit
    source: str  # file path, or "music21:<corpus path>"
    annotations: str | None = None  # ASAP-style beat annotation file (REMI tokens read the piece on its beats)
    humanized: bool = True  # False: a quantized score (GRID mode)

    def load(self) -> NoteSequence:
        if self.source.startswith("music21:"):
            return _music21_sequence(self.source.split(":", 1)[1])
        from musestudio.io.midi import read_midi

        return read_midi(self.source)


def _music21_sequence(path: str) -> NoteSequence:
    import music21

    from musestudio.io.midi import midi_bytes_to_sequence

    score = music21.converter.parse(path)
    mf = music21.midi.translate.streamToMidiFile(score)
    return midi_bytes_to_sequence(mf.writestr(), path)


def list_pieces(spec: str, split: str) -> list[PieceRef]:
    """Pieces of one ``--data`` source in one split."""
    kind, _, arg = spec.partition(":")
    if kind == "asap":
        return [PieceRef(p.piece, str(p.performance_midi)) for p in asap_split(split, arg or None)]
    if kind == "asap-beats":  # performances on their annotated beats + one score MIDI per piece
        perfs = asap_split(split, arg or None)
        out = [PieceRef(p.piece, str(p.performance_midi), str(p.annotations), True) for p in perfs]
        seen: set[str] = set()
        for p in perfs:
            ann = p.score_midi.parent / "midi_score_annotations.txt"
            if p.piece not in seen and p.score_midi.is_file() and ann.is_file():
                seen.add(p.piece)
                out.append(PieceRef(p.piece, str(p.score_midi), str(ann), False))
        return out
    if kind == "maestro":
        root = Path(arg)
        csvs = sorted(root.glob("maestro-v*.csv"))
        if not csvs:
            raise SystemExit(f"{root}: no maestro-v*.csv found")
        with open(csvs[-1], newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        return [
            PieceRef(f"{r['canonical_composer']}/{r['canonical_title']}", str(root / r["midi_filename"]))
            for r in rows
            if r["split"] == split
        ]
    if kind == "midi":
        root = Path(arg)
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        out = [PieceRef(str(p.relative_to(root).with_suffix("")), str(p)) for p in files]
        return [r for r in out if split_of(r.piece) == split]
    if kind == "music21":
        from music21 import corpus

        paths = corpus.getComposer(arg) if arg else corpus.getPaths(fileExtensions=("xml", "mxl", "krn", "mid"))
        out = [PieceRef(Path(str(p)).stem, f"music21:{p}", None, False) for p in paths]
        return [r for r in out if split_of(r.piece) == split]
    raise SystemExit(f"unknown data source '{spec}' (asap, asap-beats, maestro:DIR, midi:DIR, music21[:COMPOSER])")


def is_remi(tokenizer: object) -> bool:
    return getattr(tokenizer, "to_dict", lambda: {})().get("type") == "remi"


def encode_piece(ref: PieceRef, tokenizer: Any) -> np.ndarray:
    """The cached tokens of one piece (REMI: on its annotated beats, or its own tempo map)."""
    seq = ref.load()
    if not is_remi(tokenizer):
        return tokenizer.encode(seq)
    from musestudio.ml.beatgrid import BeatGrid, read_asap_annotations

    if ref.annotations:
        beats, downs, tss, _keys = read_asap_annotations(ref.annotations)
        grid = BeatGrid.from_beats(beats, downs, tss)
    else:
        grid = BeatGrid.from_sequence(seq)
    return tokenizer.encode(seq, grid, humanized=ref.humanized)


class TokenCache:
    """All pieces' tokens in one int16 memmap plus piece offsets (``tokens.npy``, ``index.json``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tokens = np.load(folder / "tokens.npy", mmap_mode="r")
        meta = json.loads((folder / "index.json").read_text())
        self.offsets = np.asarray(meta["offsets"], dtype=np.int64)  # [n_pieces + 1]
        self.pieces: list[str] = meta["pieces"]

    def __len__(self) -> int:
        return len(self.pieces)

    def piece_tokens(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]


def _cache_key(refs: list[PieceRef], tokenizer: Any) -> str:
    h = hashlib.sha256(json.dumps(tokenizer.to_dict(), sort_keys=True).encode())
    for r in refs:
        h.update(r.source.encode())
        if r.annotations or not r.humanized:
            h.update(f"{r.annotations}:{r.humanized}".encode())
        if not r.source.startswith("music21:"):
            st = os.stat(r.source)
            h.update(f"{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def build_cache(
    refs: list[PieceRef],
    tokenizer: Any,
    cache_root: str | os.PathLike[str],
    log: Callable[[str], None] = print,
) -> TokenCache:
    """Tokenize every piece once; later calls (and epochs) memory-map the result."""
    folder = Path(cache_root) / _cache_key(refs, tokenizer)
    if (folder / "index.json").is_file():
        return TokenCache(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chunks, pieces, offsets = [], [], [0]
    for i, ref in enumerate(refs):
        try:
            toks = encode_piece(ref, tokenizer)
        except Exception as exc:  # a broken file must not stop a long preprocessing run
            log(f"skipping {ref.source}: {exc}")
            continue
        chunks.append(toks.astype(np.int16))
        pieces.append(ref.piece)
        offsets.append(offsets[-1] + len(toks))
        if (i + 1) % 100 == 0:
            log(f"tokenized {i + 1}/{len(refs)} pieces")
    allt = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    # per-process temporary names + atomic renames: DDP ranks may build the same cache at once,
    # and since they write identical content, whichever rename lands last is fine
    tmp = folder / f"tokens.{os.getpid()}.tmp.npy"
    np.save(tmp, allt)
    os.replace(tmp, folder / "tokens.npy")
    tmp_index = folder / f"index.{os.getpid()}.tmp"
    tmp_index.write_text(json.dumps({"pieces": pieces, "offsets": offsets}))
    os.replace(tmp_index, folder / "index.json")
    return TokenCache(folder)


class ArrayTokenCache(TokenCache):
    """A :class:`TokenCache` held in memory (e.g. one split of a ``tokens:FILE.npz`` bundle)."""

    def __init__(self, tokens: np.ndarray, offsets: np.ndarray, pieces: list[str]) -> None:
        self.folder = Path(".")
        self.tokens = np.asarray(tokens)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.pieces = list(pieces)


def save_token_bundle(path: str | os.PathLike[str], caches: dict[str, TokenCache], tokenizer: Any) -> Path:
    """Splits of token caches in one compressed .npz (the data cache a GPU machine trains from)."""
    arrays: dict[str, np.ndarray] = {"tokenizer": np.frombuffer(json.dumps(tokenizer.to_dict()).encode(), np.uint8)}
    for split, c in caches.items():
        arrays[f"{split}_tokens"] = np.asarray(c.tokens, dtype=np.int16)
        arrays[f"{split}_offsets"] = c.offsets
        arrays[f"{split}_pieces"] = np.frombuffer(json.dumps(c.pieces).encode(), np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def load_token_bundle(path: str | os.PathLike[str], split: str, tokenizer: Any) -> ArrayTokenCache:
    with np.load(path) as z:
        saved = json.loads(bytes(z["tokenizer"]).decode())
        if saved != json.loads(json.dumps(tokenizer.to_dict())):
            raise SystemExit(f"{path}: its tokens were made by another tokenizer config")
        if f"{split}_tokens" not in z:
            raise SystemExit(f"{path}: no {split} split in this bundle")
        return ArrayTokenCache(z[f"{split}_tokens"], z[f"{split}_offsets"],
                               json.loads(bytes(z[f"{split}_pieces"]).decode()))


def load_split(specs: list[str], split: str, tokenizer: Any, cache_root: str | os.PathLike[str]) -> TokenCache:
    """Tokens of one split; ``tokens:FILE.npz`` reads a bundle made by :func:`save_token_bundle`."""
    bundles = [s for s in specs if s.startswith("tokens:")]
    if bundles:
        if len(specs) > 1:
            raise SystemExit("a tokens: bundle cannot be mixed with other --data sources")
        return load_token_bundle(bundles[0].split(":", 1)[1], split, tokenizer)
    refs = [r for spec in specs for r in list_pieces(spec, split)]
    return build_cache(refs, tokenizer, cache_root)


class WindowDataset(Dataset):
    """Fixed-length token windows (``seq_len + 1`` tokens: input and shifted target).

    Item ``i`` is a deterministic function of (seed, epoch, i), so DDP ranks and
    resumed runs see the same data.  With ``augment``, each window gets a random
    start jitter and a random transposition within ``max_transpose`` semitones
    that keeps every pitch on the keyboard.
    """

    def __init__(
        self,
        cache: TokenCache,
        tokenizer: PerformanceTokenizer,
        seq_len: int,
        *,
        augment: bool = False,
        max_transpose: int = 6,
        seed: int = 0,
    ) -> None:
        self.cache, self.tokenizer, self.seq_len = cache, tokenizer, seq_len
        self.augment, self.max_transpose, self.seed = augment, max_transpose, seed
        self.epoch = 0
        starts = []
        for i in range(len(cache)):
            n = int(cache.offsets[i + 1] - cache.offsets[i])
            starts += [(i, s) for s in range(0, max(n - 1, 1), seq_len)]
        self.windows = np.asarray(starts, dtype=np.int64).reshape(-1, 2)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> torch.Tensor:
        piece, start = (int(x) for x in self.windows[index])
        toks = self.cache.piece_tokens(piece)
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            start = int(rng.integers(0, max(1, len(toks) - self.seq_len))) if len(toks) > self.seq_len + 1 else 0
        win = np.asarray(toks[start : start + self.seq_len + 1], dtype=np.int64)
        if self.augment:
            span = self.tokenizer.pitch_span(win)
            if span is not None:
                lo = max(-self.max_transpose, self.tokenizer.config.pitch_low - span[0])
                hi = min(self.max_transpose, self.tokenizer.config.pitch_high - span[1])
                if hi >= lo:
                    win = self.tokenizer.transpose_tokens(win, int(rng.integers(lo, hi + 1)))
        out = np.full(self.seq_len + 1, PAD, dtype=np.int64)
        out[: len(win)] = win
        return torch.from_numpy(out)


class BarWindowDataset(Dataset):
    """REMI windows: ``[mode] + seq_len tokens`` starting at a bar line (``seq_len + 1`` tokens in all).

    Item ``i`` is a deterministic function of (seed, epoch, i).  With ``augment`` the
    window starts at a random bar of its piece and is transposed by a random shift
    in -6..+5 semitones (all 12 keys) that keeps every pitch on the keyboard.
    Without it, windows tile each piece from its first bar (validation).
    """

    def __init__(self, cache: TokenCache, tokenizer: Any, seq_len: int, *, augment: bool = False, seed: int = 0) -> None:
        from musestudio.ml.remi import BAR

        self.cache, self.tokenizer, self.seq_len = cache, tokenizer, seq_len
        self.augment, self.seed = augment, seed
        self.epoch = 0
        self.bars: list[np.ndarray] = []
        windows = []
        for i in range(len(cache)):
            toks = np.asarray(cache.piece_tokens(i))
            bars = np.flatnonzero(toks == BAR)
            self.bars.append(bars)
            if len(bars) == 0:
                continue
            # tile: the next window starts at the last bar line inside the previous one (or right after
            # it when a bar is longer than the window)
            start = int(bars[0])
            while True:
                windows.append((i, start))
                if start + seq_len >= len(toks):
                    break
                nxt = bars[(bars > start) & (bars <= start + seq_len)]
                start = int(nxt[-1]) if len(nxt) else start + seq_len
        self.windows = np.asarray(windows, dtype=np.int64).reshape(-1, 2)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> torch.Tensor:
        piece, start = (int(x) for x in self.windows[index])
        toks = self.cache.piece_tokens(piece)
        mode = int(toks[0])
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            bars = self.bars[piece]
            start = int(bars[rng.integers(0, len(bars))])
        win = np.asarray(toks[start : start + self.seq_len], dtype=np.int64)
        if self.augment:
            span = self.tokenizer.pitch_span(win)
            if span is not None:
                lo = max(-6, self.tokenizer.config.pitch_low - span[0])
                hi = min(5, self.tokenizer.config.pitch_high - span[1])
                if hi >= lo:
                    win = self.tokenizer.transpose_tokens(win, int(rng.integers(lo, hi + 1)))
        out = np.full(self.seq_len + 1, PAD, dtype=np.int64)
        out[0] = mode
        out[1 : 1 + len(win)] = win
        return torch.from_numpy(out)
