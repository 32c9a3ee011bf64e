"""Build a listening test: sources -> equal-length, loudness-matched clips in one folder.

Sources are

* **continuations**: a seed (the first ``seed_seconds`` of a MIDI file)
  continued by a model through :func:`musestudio.ml.generate.generate`; the
  clip is the seed *followed by* its continuation, as a composer hears it;
* **human** excerpts: the same seed followed by the piece's true continuation,
  so human and model clips start identically and differ only after the seed;
* **files**: any MIDI, MusicXML or audio file, cut to the clip length, in a
  category the teacher names.

Symbolic clips are rendered through the SoundFont (FluidSynth; the built-in
synth when none is installed).  Rendering runs in a small thread pool while
the models generate: FluidSynth is a separate process, so two workers use two
cores.  The test is built in a hidden sibling folder and renamed into place at
the end, so a cancelled or failed build leaves nothing half-made.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from musestudio.core.atomic import write_bytes_atomic
from musestudio.core.errors import InputFileError, MusestudioError
from musestudio.core.notes import NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work, run_work
from musestudio.listening import audio as clip_audio
from musestudio.listening.manifest import (
    CLIPS_DIR,
    HUMAN,
    Clip,
    ListeningManifest,
    ListeningTestError,
    new_clip_id,
    new_test_id,
    save_manifest,
    write_secret,
)

MIN_SEED_NOTES = 4
MIN_FILL = 0.5  # an excerpt must hold music for at least half the clip length
CONTINUATION_MODELS = ("lstm", "transformer", "gan", "markov")


@dataclass
class Source:
    category: str
    kind: str  # "continuation" | "human" | "file"
    path: Path
    model: str | None = None
    start: float = 0.0  # files: excerpt start in seconds (after the first note for scores)
    is_human: bool | None = None  # default: category == "human"

    @property
    def truth_is_human(self) -> bool:
        return self.category == HUMAN if self.is_human is None else self.is_human


@dataclass
class BuildSettings:
    title: str = "Listening test"
    seed_seconds: float = 10.0
    seconds: float = 20.0  # continuation length; a clip lasts seed_seconds + seconds
    target_lufs: float = -23.0  # EBU R128 programme loudness
    sample_rate: int = 44100
    soundfont: str | None = None
    random_seed: int = 0
    temperature: float = 1.0
    clips_per_category: int | None = None  # per participant; default: the smallest category's size
    workers: int = 2
    checkpoints: dict[str, str] = field(default_factory=dict)  # model -> checkpoint folder

    @property
    def clip_seconds(self) -> float:
        return self.seed_seconds + self.seconds

    def validate(self) -> None:
        if self.seed_seconds < 0 or self.seconds <= 0:
            raise MusestudioError("seed and continuation lengths must be positive")
        if self.clip_seconds > 300:
            raise MusestudioError("clips longer than 5 minutes are not supported")
        if not -60 <= self.target_lufs <= -5:
            raise MusestudioError("target loudness must lie between -60 and -5 LUFS")
        if self.workers < 1:
            raise MusestudioError("workers must be at least 1")


def seed_sources(files: list[Path], models: list[str], *, human: bool = True) -> list[Source]:
    """One continuation per (seed file, model), plus each file's own human continuation."""
    out: list[Source] = []
    for model in models:
        if model not in CONTINUATION_MODELS:
            raise MusestudioError(f"unknown model '{model}' (choose from {', '.join(CONTINUATION_MODELS)})")
    for path in files:
        if human:
            out.append(Source(HUMAN, "human", Path(path)))
        out.extend(Source(m, "continuation", Path(path), model=m) for m in models)
    return out


def file_sources(specs: list[str]) -> list[Source]:
    """``CATEGORY=PATH`` (a file, or a folder searched for MIDI/MusicXML/audio files)."""
    from musestudio.io.audio import AUDIO_EXTENSIONS
    from musestudio.io.formats import SCORE_EXTENSIONS

    out: list[Source] = []
    known = SCORE_EXTENSIONS + AUDIO_EXTENSIONS
    for spec in specs:
        category, sep, raw = spec.partition("=")
        category = category.strip().lower()
        if not sep or not category or not raw:
            raise MusestudioError(f"'{spec}': expected CATEGORY=PATH (for example human=recordings/)")
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in known)
            if not files:
                raise InputFileError(path, "holds no MIDI, MusicXML or audio files")
        elif path.is_file():
            files = [path]
        else:
            raise InputFileError(path, "file not found")
        out.extend(Source(category, "file", f) for f in files)
    return out


@dataclass
class _Pending:
    source: Source
    future: Future[np.ndarray]
    clip_id: str
    start: float


def _render_symbolic(seq: NoteSequence, settings: BuildSettings) -> np.ndarray:
    from musestudio.io.synth import render

    if not seq.notes:
        return np.zeros(int(settings.clip_seconds * settings.sample_rate), np.float32)
    samples = render(seq, settings.sample_rate, settings.soundfont)
    return clip_audio.fit_length(samples, settings.sample_rate, settings.clip_seconds)


def _prepare(
    source: Source, settings: BuildSettings, index: int, cache: dict[Path, NoteSequence]
) -> tuple[NoteSequence | np.ndarray, float]:
    """The clip's music (notes to render, or audio) and where the excerpt starts in the source."""
    from musestudio.io.formats import kind_of, load_score

    clip_len = settings.clip_seconds
    if source.kind == "file" and kind_of(source.path) == "audio":
        from musestudio.io.audio import load_audio

        samples, _ = load_audio(source.path, settings.sample_rate)
        a = int(source.start * settings.sample_rate)
        excerpt = samples[a : a + int(clip_len * settings.sample_rate)]
        if len(excerpt) < MIN_FILL * clip_len * settings.sample_rate:
            raise InputFileError(source.path, f"shorter than {MIN_FILL * clip_len:g} s after {source.start:g} s")
        return clip_audio.fit_length(excerpt, settings.sample_rate, clip_len, fade_in=source.start > 0), source.start
    if source.path not in cache:
        cache[source.path] = load_score(source.path)
    seq = cache[source.path]
    t0 = seq.start_time
    if source.kind == "file":
        a = t0 + source.start
        excerpt = seq.slice(a, a + clip_len).shift_time(-a)
        if excerpt.duration < MIN_FILL * clip_len or len(excerpt.notes) < MIN_SEED_NOTES:
            raise InputFileError(source.path, f"holds less than {MIN_FILL * clip_len:g} s of music after {source.start:g} s")
        return excerpt, source.start
    cut = t0 + settings.seed_seconds
    seed = seq.slice(t0, cut)
    if len(seed.notes) < MIN_SEED_NOTES:
        raise InputFileError(source.path, f"its first {settings.seed_seconds:g} s hold fewer than {MIN_SEED_NOTES} notes")
    if source.kind == "human":
        whole = seq.slice(t0, cut + settings.seconds)
        if len(whole.notes) - len(seed.notes) < MIN_SEED_NOTES:
            raise InputFileError(source.path, "has no continuation after the seed")
        return whole.shift_time(-t0), 0.0
    from musestudio.ml.generate import GenerationSettings, generate

    gen = GenerationSettings(
        model=source.model or "transformer",
        checkpoint=settings.checkpoints.get(source.model or ""),
        seconds=settings.seconds,
        temperature=settings.temperature,
        random_seed=settings.random_seed + index,
    )
    continuation = generate(seed, gen)[0]
    return _heard_seed(seq, t0, cut).merged(continuation).shift_time(-t0), 0.0


def _heard_seed(seq: NoteSequence, t0: float, cut: float) -> NoteSequence:
    """The seed as the human clip plays it: last notes ring to their own ends, a held pedal is let go
    where the performer let it go.  (The model sees the seed cut at ``cut``; the listener must not hear
    the cut, or every model clip would give itself away at the same second.)"""
    notes = [n for n in seq.notes if t0 <= n.start < cut]
    pedals = [p for p in seq.pedals if p.time < cut]
    for controller in {p.controller for p in pedals}:
        last = [p for p in pedals if p.controller == controller][-1]
        if last.is_down:
            release = next((p for p in seq.pedals if p.time >= cut and p.controller == controller and not p.is_down),
                           None)
            if release is not None:
                pedals.append(release)
    return seq.copy(notes=notes, pedals=pedals)


def _relative(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def build_test_work(
    folder: str | os.PathLike[str],
    sources: list[Source],
    settings: BuildSettings,
    cancel: CancelToken | None = None,
) -> Work[ListeningManifest]:
    """Generate, render, match and write every clip; returns the saved manifest."""
    settings.validate()
    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ListeningTestError(f"{target}: already exists and is not empty (choose a new folder)")
    if not target.parent.is_dir():
        raise ListeningTestError(f"{target}: folder {target.parent} does not exist")
    if not sources:
        raise ListeningTestError("no sources: give seed files and models, human excerpts or files")
    work_dir = target.parent / f".{target.name}.building-{os.getpid()}"
    shutil.rmtree(work_dir, ignore_errors=True)
    (work_dir / CLIPS_DIR).mkdir(parents=True)
    sr = settings.sample_rate
    total = 2 * len(sources) + 1
    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="listening-render")
    try:
        taken: set[str] = set()
        pending: list[_Pending] = []
        skipped: list[str] = []
        cache: dict[Path, NoteSequence] = {}
        seed_index = {p: i for i, p in enumerate(dict.fromkeys(s.path for s in sources))}
        for i, src in enumerate(sources):
            if cancel is not None:
                cancel.check()
            yield Progress(i, total, f"{src.category}: {src.path.name}")
            try:
                music, start = _prepare(src, settings, seed_index[src.path], cache)
            except InputFileError as exc:
                skipped.append(str(exc))
                continue
            if isinstance(music, np.ndarray):
                fut: Future[np.ndarray] = Future()
                fut.set_result(music)
            else:
                fut = pool.submit(_render_symbolic, music, settings)
            pending.append(_Pending(src, fut, new_clip_id(taken), start))
        rendered: list[tuple[_Pending, np.ndarray]] = []
        for j, p in enumerate(pending):
            if cancel is not None:
                cancel.check()
            yield Progress(len(sources) + j * len(sources) / max(len(pending), 1), total, "rendering")
            rendered.append((p, p.future.result()))
        counts: dict[str, int] = {}
        for p, _ in rendered:
            counts[p.source.category] = counts.get(p.source.category, 0) + 1
        categories = list(dict.fromkeys(s.category for s in sources))
        empty = [c for c in categories if not counts.get(c)]
        if empty:
            why = f" ({skipped[0]})" if skipped else ""
            raise ListeningTestError(f"category {', '.join(empty)} has no usable clip{why}")
        per_cat = min(counts.values())
        if settings.clips_per_category is not None:
            if not 1 <= settings.clips_per_category <= per_cat:
                raise ListeningTestError(
                    f"clips per category must be between 1 and {per_cat} (the smallest category's size)"
                )
            per_cat = settings.clips_per_category
        yield Progress(2 * len(sources), total, "matching loudness")
        levels = list(pool.map(lambda pr: clip_audio.loudness(pr[1], sr), rendered))
        peaks = [clip_audio.peak_db(x) for _, x in rendered]
        gains, used_target = clip_audio.matching_gains(levels, peaks, settings.target_lufs)

        def write(item: tuple[tuple[_Pending, np.ndarray], float]) -> tuple[str, str]:
            (p, samples), gain = item
            data = clip_audio.encode_ogg(clip_audio.apply_gain(samples, gain), sr)
            rel = f"{CLIPS_DIR}/{p.clip_id}.ogg"
            write_bytes_atomic(work_dir / rel, data)
            return rel, hashlib.sha256(data).hexdigest()

        written = list(pool.map(write, zip(rendered, gains)))
        clips = [
            Clip(
                id=p.clip_id,
                category=p.source.category,
                is_human=p.source.truth_is_human,
                kind=p.source.kind,
                source=_relative(p.source.path),
                file=rel,
                sha256=digest,
                duration=settings.clip_seconds,
                model=p.source.model,
                seed_seconds=settings.seed_seconds if p.source.kind != "file" else 0.0,
                start=p.start,
                loudness_before=round(lu, 2),
                gain_db=round(g, 2),
            )
            for (p, _), lu, g, (rel, digest) in zip(rendered, levels, gains, written)
        ]
        from musestudio.io.synth import describe_renderer

        manifest = ListeningManifest(
            test_id=new_test_id(),
            title=settings.title,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            categories=categories,
            clips=clips,
            clip_seconds=settings.clip_seconds,
            sample_rate=sr,
            target_lufs=round(used_target, 2),
            clips_per_category=per_cat,
            random_seed=settings.random_seed,
            renderer=describe_renderer(settings.soundfont),
            notes={
                "skipped": skipped,
                "requested_target_lufs": settings.target_lufs,
                "build_seconds": round(time.perf_counter() - started, 2),
                "temperature": settings.temperature,
            },
        )
        save_manifest(work_dir, manifest)
        write_secret(work_dir)
        if target.exists():
            target.rmdir()  # it was empty (checked above)
        os.replace(work_dir, target)
        yield Progress(total, total, "done")
        return manifest
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(OSError):
            if work_dir.exists():
                shutil.rmtree(work_dir)


def build_test(
    folder: str | os.PathLike[str],
    sources: list[Source],
    settings: BuildSettings,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> ListeningManifest:
    """Drain :func:`build_test_work` (the CLI's and the tests' entry point)."""
    return run_work(build_test_work(folder, sources, settings, cancel), on_progress, cancel)
