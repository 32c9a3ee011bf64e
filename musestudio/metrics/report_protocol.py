"""The report's protocol: seeds, true continuations and every model's continuations.

Protocol (:func:`build_report_work`):

1. Each seed file is cut at its first note into a *seed* (``seed_seconds``
   long) and the *true human continuation* (the next ``seconds``), both at
   their absolute times.
2. Every model continues every seed through
   ``musestudio.ml.generate.generate`` (one variation, a fixed random seed
   per piece).  A model that is missing or fails is reported as such.
3. Metrics (:func:`summarize`):

   * per-piece metrics (:func:`musestudio.metrics.compute_metrics`, with the
     piece's own seed as reference) are averaged over the pieces, with their
     standard deviation across pieces;
   * harmonic consistency and chord transition accuracy are corpus metrics:
     all continuations of a row pooled against all seeds pooled (chord
     transitions are key-independent, so pooling is sound, and one 20 s
     excerpt holds too few chord changes for a stable matrix);
   * perplexity is each likelihood model's own perplexity on the *human*
     continuations (how well it predicts held-out music: the paper's sense);
     plausibility is the reference Transformer's perplexity on each row's
     continuations (the GAN and the Human row included).

Every value comes with a 95 % interval over pieces (bootstrap or
jackknife, see :func:`summarize`): with 20 pieces, differences inside those intervals are
noise.  A baseline row, "Seed repeated", continues each seed by playing it
again; it shows how much a metric rewards plain copying.

The Human row is the true continuations, scored exactly like a model.  The
paper's Human row shows 100 % similarity, i.e. human music compared with
itself; ours compares the human continuation with its seed, which is the
ceiling a model can sensibly reach.
"""

from __future__ import annotations

import os
from pathlib import Path

from musestudio.core.notes import NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work
from musestudio.metrics.report_data import Example, ReportData, ReportSettings
from musestudio.metrics.report_labels import BASELINE
from musestudio.metrics.report_statistics import summarize

MIDI_SUFFIXES = (".mid", ".midi")


def seed_files(folder: str | os.PathLike[str], n: int) -> list[Path]:
    """The first ``n`` MIDI files under ``folder`` (recursively, sorted by path)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    return files[:n]


def cut_seed(seq: NoteSequence, seed_seconds: float, seconds: float) -> tuple[NoteSequence, NoteSequence]:
    """(seed, true continuation): the first ``seed_seconds`` from the first note, then the next ``seconds``."""
    t0 = seq.start_time
    cut = t0 + seed_seconds
    return seq.slice(t0, cut), seq.slice(cut, cut + seconds)


def build_report_work(
    files: list[Path], settings: ReportSettings, cancel: CancelToken | None = None
) -> Work[ReportData]:
    """Generate every model's continuations of every seed and score them (see the module docstring)."""
    import time

    from musestudio.io.midi import read_midi

    examples = []
    for path in files:
        seq = read_midi(path)
        seed, human = cut_seed(seq, settings.seed_seconds, settings.seconds)
        if len(seed.notes) < 4 or len(human.notes) < 4:
            continue  # too short to continue or to score
        # A non-UTF-8 file name (surrogate escapes) cannot go into UTF-8
        # reports; show its undecodable bytes as U+FFFD instead.
        name = path.stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        examples.append(Example(name, seed, human))
    missing: dict[str, str] = {}
    spent: dict[str, float] = {}
    total = len(examples) * len(settings.models) + 1
    done = 0
    for model in settings.models:
        for i, ex in enumerate(examples):
            if cancel is not None:
                cancel.check()
            yield Progress(done, total, f"{model}: {ex.name}")
            done += 1
            if model in missing:
                continue
            start = time.perf_counter()
            try:
                ex.generated[model] = _generate(ex.seed, model, settings, settings.random_seed + i)
            except Exception as exc:  # a missing or broken model is reported, not fatal
                missing[model] = _why(exc)
                for other in examples:
                    other.generated.pop(model, None)
                continue
            spent[model] = spent.get(model, 0.0) + time.perf_counter() - start
    yield Progress(done, total, "scoring")
    scored = [m for m in settings.models if m not in missing]
    if settings.baseline:
        for ex in examples:
            ex.generated[BASELINE] = repeat_seed(ex.seed, settings.seed_seconds, settings.seconds)
        scored.append(BASELINE)
    rows, ci = summarize(examples, scored, settings)
    yield Progress(total, total, "done")
    return ReportData(settings, examples, rows, ci, missing, spent)


def repeat_seed(seed: NoteSequence, seed_seconds: float, seconds: float) -> NoteSequence:
    """The baseline continuation: the seed played again and again until ``seconds`` are filled.

    It shows how far a metric rewards plain copying of the seed.
    """
    t0 = seed.start_time
    out = NoteSequence(tempo_map=seed.tempo_map, time_signatures=list(seed.time_signatures))
    if not seed.notes:
        return out
    k = 1
    while k * seed_seconds < seconds + seed_seconds:
        out = out.merged(seed.shift_time(k * seed_seconds))
        k += 1
    return out.slice(t0 + seed_seconds, t0 + seed_seconds + seconds)


def _generate(seed: NoteSequence, model: str, settings: ReportSettings, random_seed: int) -> NoteSequence:
    from musestudio.ml.generate import GenerationSettings, generate

    gen = GenerationSettings(
        model=model, seconds=settings.seconds, temperature=settings.temperature, random_seed=random_seed
    )
    out = generate(seed, gen)
    if not out:
        raise RuntimeError("the model returned no continuation")
    return out[0]


def _why(exc: BaseException) -> str:
    from musestudio.core.errors import MusestudioError

    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    if isinstance(exc, ImportError):
        return f"generation code not available ({text})"
    if isinstance(exc, MusestudioError):
        return text
    return f"failed: {type(exc).__name__}: {text}"
