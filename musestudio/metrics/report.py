"""The model-comparison report: the paper's Tables 2, 3 and 5 rebuilt on our models.

This module writes the report folder (:func:`write_report`) and re-exports
the public names of its parts, each in its own module:

* :mod:`~musestudio.metrics.report_labels`: row names, labels, captions, the paper's numbers;
* :mod:`~musestudio.metrics.report_data`: the dataclasses (with the ``add_table`` hook);
* :mod:`~musestudio.metrics.report_protocol`: seeds, continuations (the protocol is described there);
* :mod:`~musestudio.metrics.report_statistics`: means over pieces and 95 % intervals;
* :mod:`~musestudio.metrics.report_render`: Markdown and HTML tables;
* :mod:`~musestudio.metrics.plots`: PNG plots.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from musestudio.metrics.report_data import Example, ReportData, ReportSettings
from musestudio.metrics.report_labels import BASELINE, DEFAULT_MODELS, HUMAN, PAPER, ROW_LABELS
from musestudio.metrics.report_protocol import build_report_work, cut_seed, repeat_seed, seed_files
from musestudio.metrics.report_render import render_html, render_markdown
from musestudio.metrics.report_statistics import summarize

__all__ = [
    "BASELINE", "DEFAULT_MODELS", "HUMAN", "PAPER", "ROW_LABELS", "Example", "ReportData", "ReportSettings",
    "build_report_work", "cut_seed", "render_html", "render_markdown", "repeat_seed", "seed_files", "summarize",
    "write_report",
]  # fmt: skip


def write_report(data: ReportData, out_dir: str | os.PathLike[str]) -> Path:
    """Write report.md, report.html, report.json, the PNG plots and the continuations as MIDI."""
    import json

    from musestudio.core.atomic import write_bytes_atomic
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
        "extra_tables": [vars(t) for t in data.extra_tables],
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
