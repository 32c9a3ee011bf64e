"""Piece-level train/validation/test splits.

Every performance of a piece lands in the same split, so no piece leaks from
training into test.  The split is a pure function of the piece identifier (a
stable hash), so it is the same on every machine, for every model, and does
not change when files are added.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
DEFAULT_ASAP = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "asap"


def split_of(piece_id: str, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> str:
    """'train', 'validation' or 'test' for a piece, from a stable hash of its id."""
    bucket = int(hashlib.sha256(piece_id.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    if bucket < fractions[0]:
        return "train"
    if bucket < fractions[0] + fractions[1]:
        return "validation"
    return "test"


@dataclass(frozen=True)
class AsapPerformance:
    piece: str  # the metadata `folder` column, e.g. "Bach/Fugue/bwv_846"
    composer: str
    title: str
    performance_midi: Path
    score_midi: Path
    annotations: Path

    @property
    def split(self) -> str:
        return split_of(self.piece)


def asap_root(root: str | os.PathLike[str] | None = None) -> Path:
    return Path(root or os.environ.get("MUSESTUDIO_ASAP", DEFAULT_ASAP))


def asap_performances(root: str | os.PathLike[str] | None = None) -> list[AsapPerformance]:
    base = asap_root(root)
    out = []
    with open(base / "metadata.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.append(
                AsapPerformance(
                    piece=row["folder"],
                    composer=row["composer"],
                    title=row["title"],
                    performance_midi=base / row["midi_performance"],
                    score_midi=base / row["midi_score"],
                    annotations=base / row["performance_annotations"],
                )
            )
    return out


def asap_split(split: str, root: str | os.PathLike[str] | None = None) -> list[AsapPerformance]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    return [p for p in asap_performances(root) if p.split == split]
