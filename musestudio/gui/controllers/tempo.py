"""TempoController: Tools > Detect Tempo — the beat tracker on a layer, in a job, applied as one undo step.

The analysis (``musestudio.ml.beats.analyze``) runs in a JobManager job; its
tempo map, time signatures and key signatures become the *project's* through
``EditController.set_timing`` (undoable), and the ruler and grid follow the
project's timing events.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QObject

from musestudio.core.progress import Progress, Work
from musestudio.core.project import Layer, Project
from musestudio.core.timing import meter_signature
from musestudio.gui.controllers.edit import EditController
from musestudio.gui.controllers.jobs import JobHandle, JobManager


class TempoUI(Protocol):
    project: Project

    def show_error(self, message: str) -> None: ...
    def show_status(self, message: str) -> None: ...


def analyze_work(layer_name: str, seq: Any) -> Work[Any]:
    from musestudio.ml.beats import analyze

    yield Progress(0, 1, f"finding the beat of '{layer_name}'")
    analysis = analyze(seq)
    yield Progress(1, 1, "")
    return analysis


class TempoController(QObject):
    def __init__(self, ui: TempoUI, jobs: JobManager, edits: EditController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ui, self.jobs, self.edits = ui, jobs, edits

    def detect(self, layer: Layer | None) -> JobHandle | None:
        if layer is None or len(layer.sequence) == 0:
            self.ui.show_error("Detect Tempo needs a layer with notes: open a file or select a layer.")
            return None
        project = self.ui.project

        def done(analysis: Any) -> None:
            if self.ui.project is not project:  # the project was replaced meanwhile: nothing to apply it to
                return
            self.edits.set_timing(analysis.tempo_map, list(analysis.time_signatures), list(analysis.key_signatures),
                                  text=f"detect tempo of '{layer.name}'")
            # the tracked meter, not the signature at time 0: that may be a pickup bar's (a lead-in of 1.25
            # beats is written as a 5/16 bar), which is not what "the meter" means to a user
            num, den = meter_signature(analysis.beats_per_bar, analysis.ternary)
            # likewise the typical tempo (the median over the beats), not the pickup bar's at time 0
            tm = analysis.tempo_map
            qpm = float(np.median([tm.qpm_at(float(b)) for b in analysis.beats])) if len(analysis.beats) else tm.initial_qpm
            self.ui.show_status(
                f"Tempo {qpm:.0f} qpm, {num}/{den}, "
                f"{len(analysis.beats)} beats (Undo restores the old tempo map)"
            )

        return self.jobs.start(analyze_work(layer.name, layer.sequence), done, label="Detecting tempo")
