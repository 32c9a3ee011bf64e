"""Cached audio datasets for the transcriber.

Building a cache renders excerpts of ASAP performances (or reads real
audio/MIDI pairs such as MAESTRO's), computes features with the app's own
:func:`musestudio.dsp.features.compute_features`, and writes *shards* of
frame-aligned arrays under ``data_cache/transcriber/<name>/``::

    shard_0003.npz   features [N, bins] float16, onset/frame/offset/velocity [N, 88] uint8,
                     pedal [N] uint8, segments [S, 2] (first frame, end frame of each excerpt)
    meta.json        feature config, conditions, excerpt sources

Training samples random fixed-length windows inside one excerpt.  Shards are
written one by one, so training can start while the cache is still growing
(:meth:`WindowDataset.refresh`).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from musestudio.core.notes import NoteSequence
from musestudio.dsp.features import FeatureConfig, compute_features
from training.audio.augment import played_velocity
from training.audio.labels import frame_labels
from training.audio.render import (
    TEST_CONDITION,
    RenderCondition,
    concatenate_excerpts,
    excerpt,
    random_train_condition,
    render,
)

DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "data_cache" / "transcriber"
ARRAYS = ("features", "onset", "frame", "offset", "velocity", "pedal")


def choose_excerpts(performances: list[Any], seconds: float, rng: random.Random, per_piece: int | None = None) -> list[tuple[Any, float]]:
    """(performance, start second) pairs; at most ``per_piece`` performances of one piece."""
    from musestudio.io.midi import read_midi

    chosen: list[tuple[Any, float]] = []
    count: dict[str, int] = {}
    order = list(performances)
    rng.shuffle(order)
    for perf in order:
        if per_piece is not None and count.get(perf.piece, 0) >= per_piece:
            continue
        try:
            duration = read_midi(perf.performance_midi).duration
        except Exception:  # an unreadable file is skipped, not fatal for a cache build
            continue
        start = rng.uniform(0.0, max(0.0, duration - seconds))
        chosen.append((perf, start))
        count[perf.piece] = count.get(perf.piece, 0) + 1
    return chosen


def _load_excerpt(perf: Any, start: float, seconds: float) -> NoteSequence:
    from musestudio.io.midi import read_midi

    return excerpt(read_midi(perf.performance_midi), start, seconds)


def render_group(
    parts: list[NoteSequence], condition: RenderCondition, config: FeatureConfig, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Render excerpts in one FluidSynth call and return the shard arrays."""
    seq, spans = concatenate_excerpts(parts)
    audio, labels_seq = render(seq, condition, config.sample_rate, rng)
    feats = compute_features(audio, config.sample_rate, config)
    labels = frame_labels(labels_seq, len(feats), config.frame_rate)
    scale = 1.0 if not condition.detune_cents else 2.0 ** (-condition.detune_cents / 1200.0)
    segments = np.array(
        [[int(a * scale * config.frame_rate), min(len(feats), int((b * scale + 1.0) * config.frame_rate))] for a, b in spans],
        dtype=np.int64,
    )
    return {"features": feats.astype(np.float16), **labels, "segments": segments}


def build_rendered_cache(
    out_dir: str | Path,
    split: str,
    *,
    n_excerpts: int,
    seconds: float = 60.0,
    per_group: int = 20,
    test_condition: bool = False,
    seed: int = 0,
    palette: str = "v1",
    config: FeatureConfig | None = None,
    asap_root: str | None = None,
    log: Any = print,
    resume: bool = False,
    tag: str = "",
) -> Path:
    """Render ``n_excerpts`` excerpts of ``split`` pieces into shards (a random condition per shard,
    drawn from ``palette``, see :func:`training.audio.render.random_train_condition`).

    ``resume``: shards already listed in ``meta.json`` are kept, not re-rendered (the conditions
    are still drawn, so the remaining shards get the conditions a full run gives them).  Palette
    v3 seeds each shard's noise generator by (seed, shard), so a resumed shard renders as in a full run.
    ``tag``: a second draw into the same folder (``shard_<tag>NNNN.npz``, described in
    ``meta_<tag>.json``; ``meta.json`` stays the first draw's), which training picks up with the rest.
    """
    from training.splits import asap_split

    config = config or FeatureConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    picks = choose_excerpts(asap_split(split, asap_root), seconds, rng, per_piece=None)[:n_excerpts]
    meta: dict[str, Any] = {"split": split, "features": config.to_dict(), "seconds": seconds, "palette": palette,
                            "velocity_labels": "played", "shards": []}
    done: dict[str, Any] = {}
    meta_file = out / (f"meta_{tag}.json" if tag else "meta.json")
    if tag and not (out / "meta.json").is_file():
        raise ValueError(f"{out}: a tagged draw goes next to a first one (no meta.json here)")
    if resume and meta_file.is_file():
        old = json.loads(meta_file.read_text())
        if old.get("features") != meta["features"]:
            raise ValueError(f"{out}: cached features differ; cannot resume")
        done = {s["file"]: s for s in old["shards"] if (out / s["file"]).is_file()}
    for g in range(0, len(picks), per_group):
        group = picks[g : g + per_group]
        cond = TEST_CONDITION if test_condition else random_train_condition(rng, palette)
        name = f"shard_{tag}{g // per_group:04d}.npz"
        if name in done:
            meta["shards"].append(done[name])
            continue
        if palette in ("v3", "v4", "v5"):
            nrng = np.random.default_rng((seed, g // per_group))
        t0 = time.time()
        parts = [_load_excerpt(p, s, seconds) for p, s in group]
        arrays = render_group(parts, cond, config, nrng)
        np.savez(out / (name + ".part.npz"), **arrays)
        (out / (name + ".part.npz")).replace(out / name)
        meta["shards"].append(
            {
                "file": name,
                "condition": asdict(cond),
                "excerpts": [{"piece": p.piece, "midi": str(p.performance_midi), "start": s} for p, s in group],
                "frames": len(arrays["features"]),
            }
        )
        meta_file.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        log(f"{split}: shard {name} ({len(group)} excerpts, {len(arrays['features'])} frames) in {time.time() - t0:.1f}s")
    return out


def build_test_files(
    out_dir: str | Path,
    *,
    n_files: int = 12,
    seconds: float = 60.0,
    sample_rate: int = 44100,
    seed: int = 1,
    condition: RenderCondition = TEST_CONDITION,
    asap_root: str | None = None,
) -> list[tuple[Path, Path]]:
    """Held-out test clips as WAV + reference MIDI pairs (one performance per test piece).

    The reference MIDI holds the performed notes of the excerpt (key-release
    offsets, pedal as CC64), so any system can be scored against it.
    """
    from musestudio.io.audio import write_wav
    from musestudio.io.midi import write_midi
    from training.splits import asap_split

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    picks = choose_excerpts(asap_split("test", asap_root), seconds, rng, per_piece=1)[:n_files]
    parts = [_load_excerpt(p, s, seconds) for p, s in picks]
    seq, spans = concatenate_excerpts(parts)
    audio, _ = render(seq, condition, sample_rate, np.random.default_rng(seed))
    pairs = []
    info = []
    for i, ((perf, start), part, (a, b)) in enumerate(zip(picks, parts, spans, strict=True)):
        stem = f"test_{i:02d}"
        clip = audio[int(a * sample_rate) : int((b + 1.5) * sample_rate)]
        wav = write_wav(out / f"{stem}.wav", clip, sample_rate)
        mid = out / f"{stem}.mid"
        write_midi(part, mid)
        pairs.append((wav, mid))
        info.append({"file": stem, "piece": perf.piece, "midi": str(perf.performance_midi), "start": start})
    (out / "meta.json").write_text(
        json.dumps({"condition": asdict(condition), "seconds": seconds, "files": info}, indent=1), encoding="utf-8"
    )
    return pairs


def build_pairs_cache(folder: str | Path, out_dir: str | Path, config: FeatureConfig | None = None, log: Any = print) -> Path:
    """Shards from real recordings: every ``X.wav``/``X.flac`` next to ``X.mid``/``X.midi`` (MAESTRO layout)."""
    from musestudio.io.audio import load_audio
    from musestudio.io.midi import read_midi

    config = config or FeatureConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"source": str(folder), "features": config.to_dict(), "shards": []}
    for i, (audio_path, midi_path) in enumerate(find_pairs(folder)):
        samples, sr = load_audio(audio_path, config.sample_rate)
        feats = compute_features(samples, sr, config)
        labels = frame_labels(read_midi(midi_path), len(feats), config.frame_rate)
        name = f"shard_{i:04d}.npz"
        np.savez(out / name, features=feats.astype(np.float16), **labels, segments=np.array([[0, len(feats)]]))
        meta["shards"].append({"file": name, "audio": str(audio_path), "midi": str(midi_path), "frames": len(feats)})
        (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        log(f"pairs: {audio_path.name} ({len(feats)} frames)")
    return out


def find_pairs(folder: str | Path) -> Iterator[tuple[Path, Path]]:
    for audio in sorted(Path(folder).rglob("*")):
        if audio.suffix.lower() not in (".wav", ".flac"):
            continue
        for ext in (".midi", ".mid"):
            midi = audio.with_suffix(ext)
            if midi.is_file():
                yield audio, midi
                break


def performed_velocity_gammas(folder: Path) -> dict[str, float]:
    """Shard file -> velocity curve, for shards whose labels hold the *performed* velocities.

    Palette-v3 caches written before ``velocity_labels: "played"`` (the v5 transcriber's) label each
    onset with the performed velocity while the instrument was played 127 * (v / 127) ** gamma; their
    labels are mapped to the played velocity when loaded, so old and new caches agree.
    """
    out: dict[str, float] = {}
    for meta_file in sorted(folder.glob("meta*.json")):
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("velocity_labels") == "played":
            continue
        for shard in meta.get("shards", []):
            instrument = (shard.get("condition") or {}).get("instrument") or {}
            gamma = float(instrument.get("velocity_gamma", 1.0) or 1.0)
            if gamma != 1.0:
                out[shard["file"]] = gamma
    return out


class WindowDataset:
    """Random fixed-length windows from the shards of one or more cache folders (a map-style Dataset)."""

    def __init__(self, folders: list[str | Path], window: int = 256, length: int = 10_000, seed: int = 0, random_windows: bool = True) -> None:
        self.folders = [Path(f) for f in folders]
        self.window = window
        self.length = length
        self.random_windows = random_windows
        self.rng = np.random.default_rng(seed)
        self.loaded: set[Path] = set()
        self.arrays: list[dict[str, np.ndarray]] = []
        self.windows: list[tuple[int, int]] = []  # (shard index, first frame) of every valid start
        self.starts: list[tuple[int, int, int]] = []  # (shard, first, end) of each excerpt
        self.refresh()

    def refresh(self) -> int:
        """Load shards written since the last call; returns how many shards are loaded."""
        for folder in self.folders:
            gammas = performed_velocity_gammas(folder)
            for path in sorted(folder.glob("shard_*.npz")):
                if path in self.loaded or path.name.endswith(".part.npz"):
                    continue
                with np.load(path) as data:
                    arrays = {k: data[k] for k in (*ARRAYS, "segments")}
                if gammas.get(path.name, 1.0) != 1.0:
                    arrays["velocity"] = played_velocity(arrays["velocity"], gammas[path.name])
                self.loaded.add(path)
                idx = len(self.arrays)
                self.arrays.append(arrays)
                for a, b in arrays["segments"]:
                    if b - a >= 8:
                        self.starts.append((idx, int(a), int(b)))
        if not self.random_windows:
            self.windows = [
                (s, a) for s, first, end in self.starts for a in range(first, max(first + 1, end - self.window + 1), self.window)
            ]
        return len(self.arrays)

    @property
    def frames(self) -> int:
        return sum(b - a for _, a, b in self.starts)

    def __len__(self) -> int:
        return self.length if self.random_windows else len(self.windows)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if not self.starts:
            raise IndexError("the cache holds no shards yet")
        if self.random_windows:
            shard, first, end = self.starts[int(self.rng.integers(len(self.starts)))]
            a = int(self.rng.integers(first, max(first + 1, end - self.window + 1)))
        else:
            shard, a = self.windows[i]
        arrays = self.arrays[shard]
        out = {}
        for k in ARRAYS:
            chunk = arrays[k][a : a + self.window]
            if len(chunk) < self.window:  # pad a short excerpt with silence
                pad = np.zeros((self.window - len(chunk), *chunk.shape[1:]), chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            out[k] = chunk
        return out


def collate(items: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Stack windows into float tensors (velocity scaled to 0..1)."""
    import torch

    batch = {k: torch.from_numpy(np.stack([it[k] for it in items])) for k in items[0]}
    batch["features"] = batch["features"].float()
    batch["velocity"] = batch["velocity"].float() / 127.0
    return batch


def render_clip_set(
    out_dir: str | Path,
    split: str,
    conditions: list[RenderCondition],
    *,
    seconds: float = 30.0,
    sample_rate: int = 44100,
    seed: int = 1,
    asap_root: str | None = None,
    levels_dbfs: tuple[float, ...] = (),
    log: Any = print,
) -> list[tuple[Path, Path]]:
    """WAV + reference-MIDI clips of ``split`` pieces, clip ``i`` rendered alone under ``conditions[i]``.

    One performance per piece, so the clips are as varied as the split allows.  With
    ``levels_dbfs``, every clip is also written at each of those peak levels (16-bit, as a
    quiet recording would be stored): ``X_m40dB.wav`` next to ``X.wav``, for the level-invariance
    benchmark.  The reference MIDI holds the performed notes (key-release ends, pedal as CC64).
    """
    from musestudio.io.audio import write_wav
    from musestudio.io.midi import write_midi
    from training.splits import asap_split

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    picks = choose_excerpts(asap_split(split, asap_root), seconds, rng, per_piece=1)[: len(conditions)]
    pairs, info = [], []
    for i, ((perf, start), cond) in enumerate(zip(picks, conditions, strict=False)):
        part = _load_excerpt(perf, start, seconds)
        # the reference is the render's labels: a detuned (resampled) render is time-scaled with them
        audio, part = render(part, cond, sample_rate, np.random.default_rng(seed * 1000 + i))
        audio = audio[: int((part.duration + 1.5) * sample_rate)]
        stem = f"clip_{i:02d}"
        mid = write_midi(part, out / f"{stem}.mid")
        pairs.append((write_wav(out / f"{stem}.wav", audio, sample_rate), mid))
        peak = float(np.abs(audio).max()) if len(audio) else 0.0
        for level in levels_dbfs:
            if peak > 0:
                tag = f"m{abs(round(level))}dB" if level < 0 else "0dB"
                folder = out / tag
                folder.mkdir(exist_ok=True)
                write_wav(folder / f"{stem}.wav", audio * (10 ** (level / 20) / peak), sample_rate)
                write_midi(part, folder / f"{stem}.mid")
        info.append({"file": stem, "piece": perf.piece, "midi": str(perf.performance_midi), "start": start,
                     "condition": asdict(cond)})
        log(f"{out.name}: {stem} ({cond.name or cond.soundfont})")
    (out / "meta.json").write_text(json.dumps({"split": split, "seconds": seconds, "files": info}, indent=1),
                                   encoding="utf-8")
    return pairs
