"""ASAP performances with their beat, downbeat, meter and key annotations, as compact arrays.

Each item is one performance (or one score MIDI, the quantized twin): note
arrays, annotated beat and downbeat times, the beats-per-bar and beat
division of its first time signature, and its first key signature.  The whole
set is cached as one ``.npz``-per-split pickle-free archive so that training
starts in seconds.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.splits import AsapPerformance, asap_performances

CACHE_VERSION = 1


@dataclass
class Annotated:
    name: str  # performance MIDI path relative to ASAP
    piece: str
    pitch: np.ndarray
    start: np.ndarray
    end: np.ndarray
    velocity: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray
    time_signature: str  # first annotated, e.g. "6/8"
    beats_per_bar: int  # annotated beats per bar of the first time signature
    ternary: bool  # beats divide in three (6/8 counted in 2)
    key_sharps: int | None  # first key signature, sharps (+) / flats (-)
    quantized: bool = False  # a score MIDI, not a performance


def read_annotations(path: Path) -> tuple[np.ndarray, np.ndarray, list[tuple[float, str]], list[tuple[float, int]]]:
    """(beats, downbeats, [(time, "3/4")], [(time, sharps)]) from an ASAP ``*_annotations.txt``."""
    beats, downbeats, sigs, keys = [], [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split("\t")
        if len(parts) < 3:
            continue
        t = float(parts[0])
        fields = parts[2].split(",")
        kind = fields[0]
        if kind in {"b", "db", "bR"}:
            beats.append(t)
            if kind == "db":
                downbeats.append(t)
        if len(fields) > 1 and fields[1]:
            sigs.append((t, fields[1]))
        if len(fields) > 2 and fields[2].strip().lstrip("-").isdigit():
            keys.append((t, int(fields[2])))
    return np.array(beats), np.array(downbeats), sigs, keys


def meter_of(sig: str, beats: np.ndarray, downbeats: np.ndarray) -> tuple[int, bool]:
    """(beats per bar as annotated, beats divide in three) for a time signature string."""
    num, _den = (int(x) for x in sig.split("/"))
    if len(downbeats) >= 3:
        counts = [np.sum((beats >= a) & (beats < b)) for a, b in itertools.pairwise(downbeats)]
        per_bar = int(np.bincount(counts).argmax())
    else:
        per_bar = num
    per_bar = max(1, per_bar)
    ternary = num % 3 == 0 and num // per_bar == 3
    return per_bar, ternary


def half_note_beats(item: Annotated) -> bool:
    """True when the annotators counted half notes: x/2 signatures, and 4/4 counted in two.

    64 of the 715 training performances are annotated this way (2/2: 35, 4/4 in two: 13,
    4/2: 12, 3/2: 4); a user tapping along to the same music in a DAW mostly counts quarters.
    """
    num, den = (int(x) for x in item.time_signature.split("/"))
    return (den == 2 and not item.ternary) or (num == 4 and den == 4 and item.beats_per_bar == 2)


def subdivided(beats: np.ndarray, parts: int) -> np.ndarray:
    """The beats with ``parts - 1`` evenly spaced beats added between each annotated pair."""
    a, b = beats[:-1], beats[1:]
    return np.sort(np.concatenate([beats, *(a + (b - a) * k / parts for k in range(1, parts))]))


def split_half_beats(item: Annotated) -> Annotated:
    """The item with a beat added halfway between each pair of annotated half-note beats."""
    if not half_note_beats(item) or len(item.beats) < 2:
        return item
    return dataclasses.replace(item, beats=subdivided(item.beats, 2), beats_per_bar=2 * item.beats_per_bar)


# A compound beat slower than this (s; 50 dotted beats a minute, eighths slower than 150 a minute) is split in
# three for training.  ASAP counts slow 6/8, 9/8 and 6/4 movements in dotted beats of 1.2-4.4 s (16 of the 715
# training performances); a listener, and a DAW user, counts their eighths.  Taught those, the 128-channel
# tracker read a plain 97 BPM waltz (three 0.62 s steps a bar) as one 1.86 s beat a bar (sessions 6-7).
SLOW_COMPOUND_BEAT = 1.2


def slow_compound_beats(item: Annotated) -> bool:
    """True when the annotators counted a compound meter in dotted beats slower than SLOW_COMPOUND_BEAT."""
    return item.ternary and len(item.beats) >= 2 and float(np.median(np.diff(item.beats))) > SLOW_COMPOUND_BEAT


def split_slow_compound(item: Annotated) -> Annotated:
    """The item with beats added at a third and two thirds between each pair of slow dotted beats."""
    if not slow_compound_beats(item):
        return item
    return dataclasses.replace(item, beats=subdivided(item.beats, 3), beats_per_bar=3 * item.beats_per_bar,
                               ternary=False)


def load_item(perf: AsapPerformance, root: Path, *, score: bool = False) -> Annotated | None:
    from musestudio.io.midi import read_midi

    midi = perf.score_midi if score else perf.performance_midi
    ann = (midi.parent / "midi_score_annotations.txt") if score else perf.annotations
    if not midi.exists() or not ann.exists():
        return None
    seq = read_midi(midi)
    notes = sorted(seq.notes, key=lambda n: (n.start, n.pitch))
    if len(notes) < 8:
        return None
    beats, downbeats, sigs, keys = read_annotations(ann)
    if len(beats) < 8 or not sigs:
        return None
    per_bar, ternary = meter_of(sigs[0][1], beats, downbeats)
    return Annotated(
        name=str(midi.relative_to(root)),
        piece=perf.piece,
        pitch=np.array([n.pitch for n in notes], dtype=np.int16),
        start=np.array([n.start for n in notes], dtype=np.float64),
        end=np.array([n.end for n in notes], dtype=np.float64),
        velocity=np.array([n.velocity for n in notes], dtype=np.int16),
        beats=beats,
        downbeats=downbeats,
        time_signature=sigs[0][1],
        beats_per_bar=per_bar,
        ternary=ternary,
        key_sharps=keys[0][1] if keys else None,
        quantized=score,
    )


def load_split(split: str, root: str | Path | None = None, cache: str | Path = "runs/cache",
               with_scores: bool = True) -> list[Annotated]:
    """All annotated items of a split (performances, plus one score MIDI per piece), cached."""
    from training.splits import asap_root

    base = asap_root(root)
    cache_file = Path(cache) / f"beats_{split}_v{CACHE_VERSION}{'_s' if with_scores else ''}.npz"
    if cache_file.exists():
        return _read_cache(cache_file)
    items: list[Annotated] = []
    seen_pieces: set[str] = set()
    for perf in asap_performances(base):
        if perf.split != split:
            continue
        item = load_item(perf, base)
        if item is not None:
            items.append(item)
        if with_scores and perf.piece not in seen_pieces:
            seen_pieces.add(perf.piece)
            s = load_item(perf, base, score=True)
            if s is not None:
                items.append(s)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    _write_cache(cache_file, items)
    return items


def _write_cache(path: Path, items: list[Annotated]) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i, it in enumerate(items):
        for f in ("pitch", "start", "end", "velocity", "beats", "downbeats"):
            arrays[f"{i}_{f}"] = getattr(it, f)
        meta.append({k: getattr(it, k) for k in ("name", "piece", "time_signature", "beats_per_bar", "ternary",
                                                  "key_sharps", "quantized")})
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def _read_cache(path: Path) -> list[Annotated]:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode("utf-8"))
        return [
            Annotated(**m, **{f: z[f"{i}_{f}"] for f in ("pitch", "start", "end", "velocity", "beats", "downbeats")})
            for i, m in enumerate(meta)
        ]
