"""The model-comparison report: the paper's Tables 2, 3 and 5 rebuilt on our models.

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

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musestudio.core.notes import NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work
from musestudio.metrics import METRIC_NAMES, METRICS, compute_metrics, harmony
from musestudio.metrics.symbolic import NAN, histogram_overlap

HUMAN = "human"
DEFAULT_MODELS = ("lstm", "transformer", "gan", "markov")
BASELINE = "seed_repeat"
ROW_LABELS = {
    "lstm": "LSTM",
    "transformer": "Transformer",
    "gan": "GAN",
    "markov": "Markov",
    BASELINE: "Seed repeated (baseline)",
    HUMAN: "Human",
}
BOOTSTRAP_SAMPLES = 1000
MIDI_SUFFIXES = (".mid", ".midi")

#: The reference paper's published numbers (Zhang 2025, Tables 2, 3 and 5).
PAPER: dict[str, dict[str, dict[str, float]]] = {
    "table2": {
        "LSTM": {"perplexity": 3.21, "pitch_class_similarity": 82.3, "harmonic_consistency": 74.8, "rhythmic_entropy": 4.12},
        "Transformer": {"perplexity": 2.87, "pitch_class_similarity": 85.6, "harmonic_consistency": 79.4, "rhythmic_entropy": 4.35},
        "GAN": {"perplexity": 3.02, "pitch_class_similarity": 88.1, "harmonic_consistency": 76.5, "rhythmic_entropy": 4.18},
    },
    "table3": {
        "LSTM": {"avg_note_duration": 0.62, "tempo_stability": 88.5, "velocity_std": 14.2, "rubato_usage": 12.1},
        "Transformer": {"avg_note_duration": 0.74, "tempo_stability": 91.2, "velocity_std": 18.5, "rubato_usage": 19.8},
        "GAN": {"avg_note_duration": 0.69, "tempo_stability": 92.4, "velocity_std": 16.8, "rubato_usage": 14.7},
    },
    "table5": {
        "LSTM": {"pitch_class_similarity": 82.3, "chord_transition_accuracy": 74.8, "rhythmic_entropy": 4.12, "note_duration_variance": 0.15},
        "Transformer": {"pitch_class_similarity": 87.6, "chord_transition_accuracy": 80.4, "rhythmic_entropy": 4.38, "note_duration_variance": 0.27},
        "GAN": {"pitch_class_similarity": 88.1, "chord_transition_accuracy": 77.3, "rhythmic_entropy": 4.18, "note_duration_variance": 0.23},
        "Human": {"pitch_class_similarity": 100.0, "chord_transition_accuracy": 100.0, "rhythmic_entropy": 4.55, "note_duration_variance": 0.32},
    },
}  # fmt: skip
TABLE_COLUMNS = {
    "table2": ("perplexity", "plausibility", "pitch_class_similarity", "harmonic_consistency", "rhythmic_entropy"),
    "table3": ("avg_note_duration", "tempo_stability", "velocity_std", "rubato_usage"),
    "table5": ("pitch_class_similarity", "chord_transition_accuracy", "rhythmic_entropy", "note_duration_variance"),
}
TABLE_TITLES = {
    "table2": "Table 2: prediction, pitch and harmony",
    "table3": "Table 3: expressive timing and dynamics",
    "table5": "Table 5: structure, with a Human row",
}
EXTRA_LABELS = {
    "perplexity": ("Perplexity (own model, human continuations)", ""),
    "plausibility": ("Plausibility (Transformer perplexity of the output)", ""),
}


@dataclass
class ReportSettings:
    models: tuple[str, ...] = DEFAULT_MODELS
    n: int = 20
    seed_seconds: float = 10.0
    seconds: float = 20.0
    random_seed: int = 0
    temperature: float = 1.0
    with_perplexity: bool = True
    baseline: bool = True  # add a row that just repeats the seed


@dataclass
class Example:
    name: str
    seed: NoteSequence
    human: NoteSequence
    generated: dict[str, NoteSequence] = field(default_factory=dict)


@dataclass
class ReportData:
    settings: ReportSettings
    examples: list[Example]
    rows: dict[str, dict[str, float]]  # row -> metric -> value
    ci: dict[str, dict[str, tuple[float, float]]]  # row -> metric -> 95 % interval over pieces
    missing: dict[str, str]  # model -> why it has no row
    generation_seconds: dict[str, float] = field(default_factory=dict)


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


def summarize(
    examples: list[Example], models: list[str], settings: ReportSettings | None = None
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, tuple[float, float]]]]:
    """Per-row values of every metric and their 95 % intervals over pieces.

    See the module docstring for the protocol.  Per-piece means get a
    percentile bootstrap (pieces resampled with replacement 1000 times, fixed
    random seed); the pooled chord metrics get a jackknife interval
    (:func:`_jackknife_interval`).
    """
    settings = settings or ReportSettings()
    rng = np.random.default_rng(0)
    n = len(examples)
    resamples = rng.integers(0, n, size=(BOOTSTRAP_SAMPLES, n)) if n else np.zeros((0, 0), dtype=np.int64)
    seed_counts = np.array([harmony.transition_counts(ex.seed) for ex in examples]).reshape(n, harmony.N_TRANSITIONS)
    rows: dict[str, dict[str, float]] = {}
    ci: dict[str, dict[str, tuple[float, float]]] = {}
    for row in [*models, HUMAN]:
        outputs = _outputs(examples, row)
        per_piece = [compute_metrics(out, ex.seed) for out, ex in zip(outputs, examples, strict=True)]
        means: dict[str, float] = {}
        intervals: dict[str, tuple[float, float]] = {}
        for name in METRIC_NAMES:
            values = np.array([m[name] for m in per_piece], dtype=np.float64)
            finite = values[np.isfinite(values)]
            means[name] = float(finite.mean()) if finite.size else NAN
            if finite.size > 1:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN resample is simply NaN
                    boot = np.nanmean(values[resamples], axis=1)
                intervals[name] = _interval(boot)
        counts = np.array([harmony.transition_counts(out) for out in outputs]).reshape(n, harmony.N_TRANSITIONS)
        means["harmonic_consistency"] = histogram_overlap(counts.sum(0), seed_counts.sum(0)) if n else NAN
        means["chord_transition_accuracy"] = harmony.transition_accuracy(counts.sum(0), seed_counts.sum(0))
        if n > 2:
            intervals["harmonic_consistency"] = _jackknife_interval(
                counts, seed_counts, histogram_overlap, means["harmonic_consistency"]
            )
            intervals["chord_transition_accuracy"] = _jackknife_interval(
                counts, seed_counts, harmony.transition_accuracy, means["chord_transition_accuracy"]
            )
        rows[row], ci[row] = means, intervals
    if settings.with_perplexity:
        humans = [ex.human for ex in examples]
        for row in [*models, HUMAN]:
            likelihood = row not in (HUMAN, BASELINE, "gan")
            rows[row]["perplexity"] = _safe_perplexity(humans, row) if likelihood else NAN
            rows[row]["plausibility"] = _safe_perplexity(_outputs(examples, row), "transformer")
    return rows, ci


def _outputs(examples: list[Example], row: str) -> list[NoteSequence]:
    return [ex.human if row == HUMAN else ex.generated[row] for ex in examples]


def _jackknife_interval(counts: np.ndarray, seed_counts: np.ndarray, stat: object, full: float) -> tuple[float, float]:
    """``full ± 1.96 * SE`` with the leave-one-piece-out jackknife standard error.

    Used for the pooled chord metrics instead of the bootstrap: resampling
    with replacement repeats pieces, which shrinks the set of distinct chord
    transitions and biases an overlap of sparse histograms downwards.
    """
    n = counts.shape[0]
    total, seed_total = counts.sum(0), seed_counts.sum(0)
    values = np.array([stat(total - counts[i], seed_total - seed_counts[i]) for i in range(n)])  # type: ignore[operator]
    values = values[np.isfinite(values)]
    if values.size < 2 or math.isnan(full):
        return (NAN, NAN)
    se = math.sqrt((values.size - 1) / values.size * float(((values - values.mean()) ** 2).sum()))
    return (full - 1.96 * se, full + 1.96 * se)


def _interval(samples: np.ndarray) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if not finite.size:
        return (NAN, NAN)
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return (float(lo), float(hi))


def _safe_perplexity(pieces: list[NoteSequence], model: str) -> float:
    from musestudio.metrics.perplexity import perplexity

    try:
        return perplexity(pieces, model)
    except Exception:  # no likelihood (GAN), or no shipped checkpoint: the cell stays empty
        return NAN


# --- rendering -----------------------------------------------------------------


def _fmt(value: float | None, name: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if name in ("avg_note_duration", "note_duration_variance"):
        return f"{value:.3f}"
    return f"{value:.2f}"


def paper_table(data: ReportData, table: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one paper table: for each metric, our value and the paper's."""
    header = ["Model"]
    for name in TABLE_COLUMNS[table]:
        label = EXTRA_LABELS.get(name, (METRICS[name].label if name in METRICS else name, ""))[0]
        unit = METRICS[name].unit if name in METRICS else ""
        header += [f"{label}{f' ({unit})' if unit else ''}", "paper"]
    out = []
    for row, values in data.rows.items():
        label = ROW_LABELS.get(row, row)
        published = PAPER[table].get(label, {})
        cells = [label]
        for name in TABLE_COLUMNS[table]:
            cells += [_fmt(values.get(name), name), _fmt(published.get(name), name)]
        out.append(cells)
    return header, out


def all_metrics_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    """Every metric with its 95 % interval over pieces."""
    header = ["Metric", "unit", *(ROW_LABELS.get(r, r) for r in data.rows)]
    out = []
    names = [*METRIC_NAMES, "perplexity", "plausibility"]
    for name in names:
        if not any(name in v for v in data.rows.values()):
            continue
        unit = METRICS[name].unit if name in METRICS else ""
        cells = [name, unit]
        for row, values in data.rows.items():
            text = _fmt(values.get(name), name)
            lo, hi = data.ci.get(row, {}).get(name, (NAN, NAN))
            if not math.isnan(lo):
                text += f" [{_fmt(lo, name)}, {_fmt(hi, name)}]"
            cells.append(text)
        out.append(cells)
    return header, out


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    import html

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _sections(data: ReportData) -> list[tuple[str, object]]:
    """The report as (kind, content) blocks shared by the Markdown and HTML writers."""
    s = data.settings
    blocks: list[tuple[str, object]] = [
        ("h1", "musestudio model comparison"),
        (
            "p",
            f"{len(data.examples)} seed pieces; each cut into a {s.seed_seconds:g} s seed and its true "
            f"{s.seconds:g} s human continuation; every model continues every seed once "
            f"(temperature {s.temperature:g}, random seed {s.random_seed} + piece index). "
            "Per-piece metrics are means over pieces with the piece's own seed as reference; "
            "harmonic consistency and chord transition accuracy pool all continuations against all seeds. "
            "Seed repeated (baseline) plays the seed again: it shows how much a metric rewards copying. "
            "'paper' columns are the published numbers of the reference paper (their data, models "
            "and metric formulas, which the paper does not give, differ from ours: compare trends, not digits).",
        ),
    ]
    if data.missing:
        blocks.append(("h2", "Models without a row"))
        blocks.append(("ul", [f"{ROW_LABELS.get(m, m)}: {why}" for m, why in data.missing.items()]))
    for table in ("table2", "table3", "table5"):
        blocks.append(("h2", TABLE_TITLES[table]))
        blocks.append(("table", paper_table(data, table)))
    blocks.append(("h2", "All metrics, with 95 % intervals over pieces (bootstrap; jackknife for the pooled chord metrics)"))
    blocks.append(("table", all_metrics_table(data)))
    if data.generation_seconds:
        blocks.append(("h2", "Generation time"))
        blocks.append(
            (
                "ul",
                [
                    f"{ROW_LABELS.get(m, m)}: {t:.1f} s for {len(data.examples)} continuations"
                    for m, t in data.generation_seconds.items()
                ],
            )
        )
    blocks.append(("h2", "Definitions"))
    blocks.append(
        (
            "ul",
            [f"{name}: {info.definition}" for name, info in METRICS.items() if info.definition]
            + [
                "perplexity: exp(mean negative log-likelihood per token) of the human continuations under the "
                "row's own model and tokenizer (the GAN has no likelihood)",
                "plausibility: the same under the shipped Transformer, for every row's continuations",
                "beats: tracked from the note onsets for every row alike (no annotations are used)",
            ],
        )
    )
    blocks.append(("h2", "Plots"))
    for name, caption in PLOT_CAPTIONS.items():
        blocks.append(("img", (f"{name}.png", caption)))
    blocks.append(("h2", "Pieces"))
    blocks.append(("ul", [ex.name for ex in data.examples]))
    return blocks


PLOT_CAPTIONS = {
    "pitch_class_histograms": "Pitch-class histograms (duration-weighted), relative to the tonic of each seed's estimated key",
    "duration_histograms": "Note durations",
    "ioi_histograms": "Inter-onset intervals between chord onsets",
    "velocity_distributions": "Velocity distributions",
}


def render_markdown(data: ReportData) -> str:
    out = []
    for kind, content in _sections(data):
        if kind == "h1":
            out.append(f"# {content}\n")
        elif kind == "h2":
            out.append(f"## {content}\n")
        elif kind == "p":
            out.append(f"{content}\n")
        elif kind == "ul":
            out.append("\n".join(f"- {x}" for x in content) + "\n")  # type: ignore[attr-defined]
        elif kind == "table":
            out.append(_markdown_table(*content) + "\n")  # type: ignore[misc]
        elif kind == "img":
            path, caption = content  # type: ignore[misc]
            out.append(f"![{caption}]({path})\n")
    return "\n".join(out)


def render_html(data: ReportData) -> str:
    import html

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>musestudio report</title><style>"
        "body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
        "img{max-width:100%}</style></head><body>"
    ]
    for kind, content in _sections(data):
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{html.escape(str(content))}</{kind}>")
        elif kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in content) + "</ul>")  # type: ignore[attr-defined]
        elif kind == "table":
            parts.append(_html_table(*content))  # type: ignore[misc]
        elif kind == "img":
            path, caption = content  # type: ignore[misc]
            parts.append(f"<figure><img src='{path}' alt='{html.escape(caption)}'><figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(data: ReportData, out_dir: str | os.PathLike[str]) -> Path:
    """Write report.md, report.html, report.json, the PNG plots and the continuations as MIDI."""
    import json

    from musestudio.io.atomic import write_bytes_atomic
    from musestudio.io.midi import write_midi
    from musestudio.metrics.plots import write_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_plots(data, out)
    write_bytes_atomic(out / "report.md", render_markdown(data).encode("utf-8"))
    write_bytes_atomic(out / "report.html", render_html(data).encode("utf-8"))
    payload = {
        "rows": {r: {k: (None if math.isnan(v) else v) for k, v in vals.items()} for r, vals in data.rows.items()},
        "ci95": {
            r: {k: [None if math.isnan(x) else x for x in lohi] for k, lohi in vals.items()} for r, vals in data.ci.items()
        },
        "missing": data.missing,
        "pieces": [ex.name for ex in data.examples],
        "settings": {k: v for k, v in vars(data.settings).items()},
    }
    write_bytes_atomic(out / "report.json", json.dumps(payload, indent=2).encode("utf-8"))
    midi_dir = out / "midi"
    midi_dir.mkdir(exist_ok=True)
    for ex in data.examples:
        write_midi(ex.seed, midi_dir / f"{ex.name}.seed.mid")
        write_midi(ex.human, midi_dir / f"{ex.name}.human.mid")
        for model, seq in ex.generated.items():
            write_midi(ex.seed.merged(seq), midi_dir / f"{ex.name}.{model}.mid")
    return out / "report.md"
