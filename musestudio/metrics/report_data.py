"""The report's data: settings, one example per seed piece, and the scored rows.

Plain dataclasses in their own module, so that the protocol (which builds
them), the statistics, the tables and the plots (which read them) depend on
this module and not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from musestudio.core.notes import NoteSequence
from musestudio.metrics.report_labels import DEFAULT_MODELS


@dataclass
class ExtraTable:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


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
    extra_tables: list[ExtraTable] = field(default_factory=list)

    def add_table(self, title: str, header: list[str], rows: list[list[str]], note: str = "") -> None:
        """Add a table of ready-formatted cells (e.g. a listening test's results) to every report format.

        The hook for results measured outside this protocol: they are shown
        after the paper's tables, under their own title, and saved in
        report.json as they are.
        """
        if any(len(r) != len(header) for r in rows):
            raise ValueError(f"table {title!r}: every row needs {len(header)} cells")
        self.extra_tables.append(ExtraTable(title, list(header), [list(map(str, r)) for r in rows], note))
