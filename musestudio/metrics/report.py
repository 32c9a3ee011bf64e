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

The Human row is the true continuations, scored exactly like a model.  The
paper's Human row shows 100 % similarity, i.e. human music compared with
itself; ours compares the human continuation with its seed, which is the
ceiling a model can sensibly reach.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musestudio.core.notes import NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work
from musestudio.metrics import METRIC_NAMES, METRICS, compute_metrics, harmony
from musestudio.metrics.symbolic import NAN

HUMAN = "human"
DEFAULT_MODELS = ("lstm", "transformer", "gan", "markov")
ROW_LABELS = {"lstm": "LSTM", "transformer": "Transformer", "gan": "GAN", "markov": "Markov", HUMAN: "Human"}
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
    spread: dict[str, dict[str, float]]  # row -> metric -> std across pieces
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
        examples.append(Example(path.stem, seed, human))
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
    rows, spread = summarize(examples, [m for m in settings.models if m not in missing], settings)
    yield Progress(total, total, "done")
    return ReportData(settings, examples, rows, spread, missing, spent)


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
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Per-row means and spreads of every metric (see the module docstring for the protocol)."""
    settings = settings or ReportSettings()
    seeds = [ex.seed for ex in examples]
    rows: dict[str, dict[str, float]] = {}
    spread: dict[str, dict[str, float]] = {}
    for row in [*models, HUMAN]:
        outputs = [ex.human if row == HUMAN else ex.generated[row] for ex in examples]
        per_piece = [compute_metrics(out, ex.seed) for out, ex in zip(outputs, examples, strict=True)]
        means, stds = {}, {}
        for name in METRIC_NAMES:
            values = np.array([m[name] for m in per_piece], dtype=np.float64)
            finite = values[np.isfinite(values)]
            means[name] = float(finite.mean()) if finite.size else NAN
            stds[name] = float(finite.std()) if finite.size > 1 else NAN
        means["harmonic_consistency"] = harmony.harmonic_consistency(outputs, seeds)
        means["chord_transition_accuracy"] = harmony.chord_transition_accuracy(outputs, seeds)
        stds["harmonic_consistency"] = stds["chord_transition_accuracy"] = NAN
        rows[row], spread[row] = means, stds
    if settings.with_perplexity:
        humans = [ex.human for ex in examples]
        for row in [*models, HUMAN]:
            rows[row]["perplexity"] = NAN
            rows[row]["plausibility"] = NAN
            if row not in (HUMAN, "gan"):
                rows[row]["perplexity"] = _safe_perplexity(humans, row)
            outputs = [ex.human if row == HUMAN else ex.generated[row] for ex in examples]
            rows[row]["plausibility"] = _safe_perplexity(outputs, "transformer")
    return rows, spread


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
    """Every metric, mean ± std across pieces (corpus metrics without a spread)."""
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
            sd = data.spread.get(row, {}).get(name, NAN)
            if not math.isnan(sd):
                text += f" ± {_fmt(sd, name)}"
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
    blocks.append(("h2", "All metrics (mean ± std across pieces)"))
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
