"""The report's parts stay apart (no cycles) and extra tables reach every output format."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from musestudio.metrics.report import ReportData, ReportSettings, render_html, render_markdown, write_report

METRICS_DIR = Path(__file__).resolve().parents[2] / "musestudio" / "metrics"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("part", ["plots", "report_render", "report_statistics", "report_protocol", "report_data", "report_labels"])
def test_report_parts_never_import_the_report_facade(part: str) -> None:
    assert "musestudio.metrics.report" not in _imports(METRICS_DIR / f"{part}.py")


def test_plots_and_tables_do_not_import_each_other() -> None:
    assert "musestudio.metrics.report_render" not in _imports(METRICS_DIR / "plots.py")
    assert "musestudio.metrics.plots" not in _imports(METRICS_DIR / "report_render.py")


def _listening_table(data: ReportData) -> None:
    data.add_table(
        "Listening test",
        ["System", "preferred (%)", "n"],
        [["Transformer", "41.0", "120"], ["Human", "59.0", "120"]],
        note="Blind pairwise preference, 12 listeners.",
    )


def test_extra_table_is_rendered_in_markdown_html_and_json(tmp_path) -> None:
    data = ReportData(ReportSettings(with_perplexity=False), [], {}, {}, {})
    _listening_table(data)
    md = render_markdown(data)
    assert "## Listening test" in md
    assert "| Transformer | 41.0 | 120 |" in md
    assert "Blind pairwise preference" in md
    html = render_html(data)
    assert "<h2>Listening test</h2>" in html and "<td>59.0</td>" in html
    write_report(data, tmp_path)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["extra_tables"][0]["rows"][1] == ["Human", "59.0", "120"]


def test_extra_table_rows_must_match_the_header() -> None:
    data = ReportData(ReportSettings(), [], {}, {}, {})
    with pytest.raises(ValueError, match="3 cells"):
        data.add_table("bad", ["a", "b", "c"], [["1", "2"]])
