"""Listening-test report: Markdown and HTML with plots, CSV export, and the paper-style table.

:func:`paper_table` is the piece ``musestudio report --listening-test DIR``
puts beside the objective metrics: MOS and Turing rate per model, next to
the reference paper's published MOS (Zhang 2025, Tables 4 and 6; the paper
gives no Turing-rate figures, so that column says "not reported").
"""

from __future__ import annotations

import csv
import html
import math
import os
from pathlib import Path

from musestudio.core.atomic import atomic_path, write_bytes_atomic
from musestudio.listening.manifest import DIMENSION_LABELS, DIMENSIONS, ListeningManifest, category_label
from musestudio.listening.stats import Analysis, analyze_test

#: Zhang 2025, Table 6 (AI and human compositions; Table 4 gives LSTM 3.4 / Transformer 4.3 / GAN 4.0 overall).
#: The paper's scales were melodic fluency, harmonic richness and expressiveness; "coherence" is set
#: beside its melodic fluency, the closest of them.
PAPER_MOS: dict[str, dict[str, float]] = {
    "lstm": {"coherence": 3.2, "harmonic_richness": 3.4, "expressiveness": 3.1, "overall": 3.2},
    "transformer": {"coherence": 4.3, "harmonic_richness": 4.5, "expressiveness": 4.2, "overall": 4.3},
    "gan": {"coherence": 4.0, "harmonic_richness": 4.2, "expressiveness": 3.8, "overall": 4.0},
    "human": {"coherence": 4.8, "harmonic_richness": 4.9, "expressiveness": 4.7, "overall": 4.8},
}
PAPER_LISTENERS = 50
MEASURE_LABELS = {**DIMENSION_LABELS, "overall": "Overall MOS", "judged_human": "Judged human"}


def _ci(value: float, low: float, high: float, *, percent: bool = False) -> str:
    if not math.isfinite(value):
        return "–"
    scale, fmt = (100.0, "{:.0f}") if percent else (1.0, "{:.2f}")
    main = fmt.format(value * scale) + ("%" if percent else "")
    if not (math.isfinite(low) and math.isfinite(high)):
        return main
    return f"{main} [{fmt.format(low * scale)}, {fmt.format(high * scale)}]"


def paper_table(analysis: Analysis) -> tuple[list[str], list[list[str]]]:
    """Table 4 style: per category, our MOS and Turing rate (95 % CI) beside the paper's MOS."""
    header = ["Model", "Listeners", "Answers", "Coherence", "Expressiveness", "Overall MOS", "Paper overall MOS",
              "Turing rate (judged human)", "Paper Turing rate"]
    rows = []
    for c in analysis.categories:
        m = c.measures
        paper = PAPER_MOS.get(c.category, {})
        rows.append([
            c.label, str(c.n_participants), str(c.n_answers),
            _ci(m["coherence"].value, m["coherence"].low, m["coherence"].high),
            _ci(m["expressiveness"].value, m["expressiveness"].low, m["expressiveness"].high),
            _ci(c.overall.value, c.overall.low, c.overall.high),
            f"{paper['overall']:.1f}" if paper else "–",
            _ci(c.judged_human.value, c.judged_human.low, c.judged_human.high, percent=True),
            "not reported" if paper else "–",
        ])
    return header, rows


def detail_table(analysis: Analysis) -> tuple[list[str], list[list[str]]]:
    header = ["Category", *(MEASURE_LABELS[d] for d in (*DIMENSIONS, "overall", "judged_human"))]
    rows = []
    for c in analysis.categories:
        cells = [c.label]
        for d in (*DIMENSIONS, "overall", "judged_human"):
            iv = c.measures[d]
            cells.append(_ci(iv.value, iv.low, iv.high, percent=d == "judged_human"))
        rows.append(cells)
    return header, rows


def tests_table(analysis: Analysis) -> tuple[list[str], list[list[str]]]:
    header = ["Measure", "A", "B", "Listeners", "Mean A − B", "Wilcoxon p", "Holm p", "Significant (5 %)"]
    rows = []
    for t in analysis.tests:
        pct = t.measure == "judged_human"
        diff = f"{t.mean_difference * 100:+.0f} pts" if pct else f"{t.mean_difference:+.2f}"
        rows.append([MEASURE_LABELS[t.measure], category_label(t.a), category_label(t.b), str(t.n),
                     diff if math.isfinite(t.mean_difference) else "–",
                     f"{t.p:.4f}" if math.isfinite(t.p) else "–", f"{t.p_holm:.4f}", "yes" if t.significant else "no"])
    return header, rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def listening_markdown(folder: str | os.PathLike[str], *, heading: str = "##") -> str:
    """The paper-style listening table of a finished test, as a Markdown section (for `musestudio report`)."""
    manifest, analysis = analyze_test(folder)
    header, rows = paper_table(analysis)
    return "\n".join([
        f"{heading} Listening test: {manifest.title}", "",
        f"{analysis.n_participants} listeners, {analysis.n_answers} answers; MOS 1-5 with 95 % cluster-bootstrap "
        "intervals over listeners; the Turing rate is the share of a model's clips judged human. The paper's "
        f"values are Zhang 2025, Table 6 ({PAPER_LISTENERS} listeners).", "",
        markdown_table(header, rows), "",
    ])


def plot_measures(analysis: Analysis, out: Path) -> list[Path]:
    """mos.png (four scales + overall per category) and judged_human.png, with 95 % intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cats = [c for c in analysis.categories if c.n_answers]
    paths = []
    measures = [*DIMENSIONS, "overall"]
    fig, ax = plt.subplots(figsize=(8.5, 4.2), dpi=110)
    width = 0.8 / max(len(cats), 1)
    x = np.arange(len(measures))
    for i, c in enumerate(cats):
        vals = np.array([c.measures[m].value for m in measures])
        lo = np.array([c.measures[m].low for m in measures])
        hi = np.array([c.measures[m].high for m in measures])
        err = np.nan_to_num(np.vstack([vals - lo, hi - vals]), nan=0.0)
        ax.bar(x + (i - (len(cats) - 1) / 2) * width, vals, width, yerr=err, capsize=3, label=c.label)
    ax.set_xticks(x, [MEASURE_LABELS[m] for m in measures])
    ax.set_ylim(1, 5)
    ax.set_ylabel("Mean opinion score (1-5)")
    ax.set_title("MOS per category (95 % intervals over listeners)")
    ax.legend(ncols=min(len(cats), 4), fontsize=8, loc="upper right")
    fig.tight_layout()
    paths.append(out / "mos.png")
    with atomic_path(paths[-1]) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    vals = np.array([c.judged_human.value for c in cats]) * 100
    lo = np.array([c.judged_human.low for c in cats]) * 100
    hi = np.array([c.judged_human.high for c in cats]) * 100
    ax.bar([c.label for c in cats], vals, yerr=np.nan_to_num(np.vstack([vals - lo, hi - vals])), capsize=4,
           color="#5b8def")
    ax.axhline(50, color="#888", lw=1, ls="--")
    ax.set_ylim(0, 100)
    ax.set_ylabel("judged human (%)")
    ax.set_title("Turing rate: clips judged human")
    fig.tight_layout()
    paths.append(out / "judged_human.png")
    with atomic_path(paths[-1]) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return paths


def export_csv(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """One row per answer, with the clip's category and source (the teacher's view)."""
    from musestudio.listening.manifest import load_manifest
    from musestudio.listening.store import ResultsStore

    manifest = load_manifest(folder)
    with ResultsStore.for_test(folder) as store:
        rows = store.answers()
    clips = {c.id: c for c in manifest.clips}
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["session_id", "participant", "slot", "source", "position", "clip_id", "category", "is_human",
                    "clip_source", *DIMENSIONS, "overall", "judged_human", "correct", "comment", "listened_seconds",
                    "answered_at"])
        for r in rows:
            clip = clips.get(r.clip_id)
            overall = sum(r.ratings[d] for d in DIMENSIONS) / len(DIMENSIONS)
            w.writerow([r.session_id, r.participant, r.slot, r.source, r.position + 1, r.clip_id,
                        clip.category if clip else "?", int(clip.is_human) if clip else "", clip.source if clip else "",
                        *(r.ratings[d] for d in DIMENSIONS), f"{overall:.2f}", int(r.judged_human),
                        int(r.judged_human == clip.is_human) if clip else "", r.comment, f"{r.listened_seconds:.1f}",
                        r.answered_at])
    return path


def _intro(manifest: ListeningManifest, analysis: Analysis) -> list[str]:
    cats = ", ".join(f"{category_label(c)} ({len(manifest.clips_of(c))} clips)" for c in manifest.categories)
    return [
        f"Test id {manifest.test_id}, built {manifest.created}. Categories: {cats}. Each listener hears "
        f"{manifest.clips_per_category} clips per category ({manifest.clips_per_participant} in all), "
        f"{manifest.clip_seconds:g} s each, loudness-matched to {manifest.target_lufs:g} LUFS; rendered with "
        f"{manifest.renderer or 'the built-in synth'}.",
        f"{analysis.n_participants} listeners gave {analysis.n_answers} answers.",
        "Intervals: 95 % cluster bootstrap (BCa) over listeners. Tests: paired Wilcoxon signed-rank on each "
        "listener's mean per category, Holm-adjusted over all pairs (why: see musestudio/listening/stats.py).",
    ]


def write_report(folder: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """report.md, report.html, answers.csv and plots into ``out`` (default: FOLDER/report)."""
    folder = Path(folder)
    out_dir = Path(out) if out is not None else folder / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest, analysis = analyze_test(folder)
    sections = [
        ("Table 4 style: MOS and Turing rate per model", paper_table(analysis)),
        ("All scales", detail_table(analysis)),
        ("Differences between categories", tests_table(analysis)),
    ]
    plots = plot_measures(analysis, out_dir) if analysis.n_answers else []
    export_csv(folder, out_dir / "answers.csv")
    intro = _intro(manifest, analysis)
    md = [f"# Listening test: {manifest.title}", "", *intro, ""]
    for title, (header, rows) in sections:
        md += [f"## {title}", "", markdown_table(header, rows), ""]
    md += [f"![{p.stem}]({p.name})" for p in plots]
    md += ["", "Answers, one row per clip and listener: [answers.csv](answers.csv).", ""]
    write_bytes_atomic(out_dir / "report.md", "\n".join(md).encode("utf-8"))
    style = ("body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem}"
             "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem}"
             "th{background:#eef}img{max-width:100%}")
    body = [f"<h1>Listening test: {html.escape(manifest.title)}</h1>", *(f"<p>{html.escape(s)}</p>" for s in intro)]
    for title, (header, rows) in sections:
        body += [f"<h2>{html.escape(title)}</h2>", html_table(header, rows)]
    body += [f'<p><img src="{p.name}" alt="{p.stem}"></p>' for p in plots]
    body.append('<p>Answers, one row per clip and listener: <a href="answers.csv">answers.csv</a>.</p>')
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(manifest.title)}"
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>")
    write_bytes_atomic(out_dir / "report.html", page.encode("utf-8"))
    return out_dir / "report.md"


OBJECTIVE_COLUMNS = ("perplexity", "pitch_class_similarity", "harmonic_consistency", "rhythmic_entropy")


def add_listening_tables(data: object, folder: str | os.PathLike[str]) -> None:
    """Put a finished test's tables into a ``musestudio report`` (``ReportData.add_table``).

    Two tables: the Table 4-style MOS and Turing rate beside the paper's MOS,
    and each category's overall MOS and Turing rate beside the objective
    metrics that report measured for the same model (matched by name:
    lstm, transformer, gan, markov, human).
    """
    manifest, analysis = analyze_test(folder)
    header, rows = paper_table(analysis)
    note = (f"'{manifest.title}': {analysis.n_participants} listeners, {analysis.n_answers} answers; "
            "95 % cluster-bootstrap intervals over listeners. Paper: Zhang 2025, Table 6 "
            f"({PAPER_LISTENERS} listeners; no Turing-rate figures published).")
    data.add_table("Listening test: MOS and Turing rate per model (Table 4 style)", header, rows, note)  # type: ignore[attr-defined]
    objective: dict[str, dict[str, float]] = getattr(data, "rows", {}) or {}
    cols = [c for c in OBJECTIVE_COLUMNS if any(c in v for v in objective.values())]
    header2 = ["Model", "Overall MOS", "Turing rate", *cols]
    rows2 = []
    for c in analysis.categories:
        metrics = objective.get(c.category, {})
        cells = [c.label, _ci(c.overall.value, c.overall.low, c.overall.high),
                 _ci(c.judged_human.value, c.judged_human.low, c.judged_human.high, percent=True)]
        for col in cols:
            v = metrics.get(col, math.nan)
            cells.append("–" if v is None or not math.isfinite(v) else f"{v:.2f}")
        rows2.append(cells)
    data.add_table("Listening test beside the objective metrics", header2, rows2,  # type: ignore[attr-defined]
                   "Objective metrics from this report's own rows for the same model names; '–' where this "
                   "report has no row for a category.")
