"""PNG plots for the report, drawn with matplotlib's headless Agg backend.

matplotlib rather than pyqtgraph: the report runs without a display and
without Qt, and matplotlib writes PNGs directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musestudio.core.keys import estimate_key
from musestudio.core.notes import NoteSequence
from musestudio.metrics import symbolic
from musestudio.metrics.report_data import ReportData
from musestudio.metrics.report_labels import HUMAN, ROW_LABELS

DEGREE_NAMES = ("1", "♭2", "2", "♭3", "3", "4", "♯4", "5", "♭6", "6", "♭7", "7")


def _outputs(data: ReportData) -> dict[str, list[tuple[NoteSequence, NoteSequence]]]:
    out = {}
    for row in data.rows:
        pairs = [(ex.seed, ex.human if row == HUMAN else ex.generated[row]) for ex in data.examples]
        out[ROW_LABELS.get(row, row)] = pairs
    return out


def tonic_relative_histogram(pairs: list[tuple[NoteSequence, NoteSequence]]) -> np.ndarray:
    """Duration-weighted pitch-class histogram, each piece rotated so its seed's tonic is degree 0."""
    total = np.zeros(12)
    for seed, out in pairs:
        key = estimate_key(seed.notes)
        weight = sum(n.duration for n in out.notes)
        hist = symbolic.pitch_class_histogram(out) * weight
        total += np.roll(hist, -key.tonic) if key else hist
    return total / total.sum() if total.sum() > 0 else total


def write_plots(data: ReportData, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _outputs(data)
    written = []

    def save(fig: object, name: str) -> None:
        path = out_dir / f"{name}.png"
        fig.tight_layout()  # type: ignore[attr-defined]
        fig.savefig(path, dpi=110)  # type: ignore[attr-defined]
        plt.close(fig)  # type: ignore[arg-type]
        written.append(path)

    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(rows), 1)
    for i, (label, pairs) in enumerate(rows.items()):
        ax.bar(np.arange(12) + (i - (len(rows) - 1) / 2) * width, tonic_relative_histogram(pairs), width, label=label)
    ax.set_xticks(range(12), DEGREE_NAMES)
    ax.set_xlabel("pitch class relative to the seed's tonic")
    ax.set_ylabel("share of sounding time")
    if rows:  # an empty report (no usable seed) has nothing to label
        ax.legend()
    save(fig, "pitch_class_histograms")

    fig, ax = plt.subplots(figsize=(9, 4))
    bins = np.logspace(-2, 1, 40)
    for label, pairs in rows.items():
        d = symbolic.note_durations([o for _, o in pairs])
        if d.size:  # share of notes per bin: a density per second would inflate the narrow short bins
            ax.hist(np.clip(d, 0.01, 10), bins=bins, histtype="step", weights=np.full(d.size, 1 / d.size),
                    linewidth=1.5, label=label)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("note duration (s), clipped to 0.01-10 s")
    ax.set_ylabel("share of notes")
    if rows:  # an empty report (no usable seed) has nothing to label
        ax.legend()
    save(fig, "duration_histograms")

    fig, ax = plt.subplots(figsize=(9, 4))
    bins = np.arange(0, symbolic.IOI_MAX_S + symbolic.IOI_BIN_S, symbolic.IOI_BIN_S)
    for label, pairs in rows.items():
        ioi = symbolic.inter_onset_intervals([o for _, o in pairs])
        if ioi.size:
            ax.hist(np.clip(ioi, 0, symbolic.IOI_MAX_S), bins=bins, histtype="step",
                    weights=np.full(ioi.size, 1 / ioi.size), linewidth=1.5, label=label)  # fmt: skip
    ax.set_xlabel("inter-onset interval (s), 2 s and more in the last bin")
    ax.set_ylabel("share of intervals")
    if rows:  # an empty report (no usable seed) has nothing to label
        ax.legend()
    save(fig, "ioi_histograms")

    fig, ax = plt.subplots(figsize=(9, 4))
    labels = list(rows)
    values = [symbolic.velocities([o for _, o in rows[label]]) for label in labels]
    nonempty = [(lab, v) for lab, v in zip(labels, values, strict=True) if v.size]
    if nonempty:
        ax.violinplot([v for _, v in nonempty], showmedians=True)
        ax.set_xticks(range(1, len(nonempty) + 1), [lab for lab, _ in nonempty])
    ax.set_ylabel("MIDI velocity")
    ax.set_ylim(0, 128)
    save(fig, "velocity_distributions")
    return written
