"""The report's rendering: the paper's tables and every metric as Markdown and HTML.

Tables are (header, rows) of strings, built once and written by both
writers.  Extra tables (e.g. a listening test's results) join through
:attr:`ReportData.extra_tables`; see :meth:`ReportData.add_table`.
"""

from __future__ import annotations

import math

from musestudio.metrics import METRIC_NAMES, METRICS
from musestudio.metrics.report_data import ReportData
from musestudio.metrics.report_labels import EXTRA_LABELS, PAPER, PLOT_CAPTIONS, ROW_LABELS, TABLE_COLUMNS, TABLE_TITLES
from musestudio.metrics.symbolic import NAN


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
    for extra in data.extra_tables:
        blocks.append(("h2", extra.title))
        if extra.note:
            blocks.append(("p", extra.note))
        blocks.append(("table", (extra.header, extra.rows)))
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
