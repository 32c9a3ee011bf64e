"""Registry of feature dock panels; see ``base.py`` for how to write one.

Each panel is registered with ONE line in ``PANELS``.  Modules are imported
lazily by :func:`load_panel_classes`; a missing module is skipped silently (the
feature has not landed yet) and a broken one is reported, never fatal.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

from musestudio.gui.panels.base import Panel, PanelContext, PanelSpec

__all__ = ["PANELS", "Panel", "PanelContext", "PanelSpec", "load_panel_classes"]

log = logging.getLogger(__name__)

PANELS: list[PanelSpec] = [
    PanelSpec("musestudio.gui.panels.generate_panel", "GeneratePanel"),
    PanelSpec("musestudio.gui.panels.transcribe_panel", "TranscribePanel"),
    PanelSpec("musestudio.gui.panels.metrics_panel", "MetricsPanel"),
]


def load_panel_classes(specs: list[PanelSpec] | None = None) -> tuple[list[type[Panel]], list[str]]:
    """Import the registered panels: (classes found, one-line problems for the status bar)."""
    classes: list[type[Panel]] = []
    problems: list[str] = []
    for spec in PANELS if specs is None else specs:
        try:
            if importlib.util.find_spec(spec.module) is None:
                continue
            module = importlib.import_module(spec.module)
            cls = getattr(module, spec.class_name)
        except Exception as exc:  # a broken panel must not stop the app
            log.exception("panel %s failed to import", spec.module)
            problems.append(f"{spec.module.rsplit('.', 1)[-1]}: {type(exc).__name__}: {str(exc)[:100]}")
            continue
        classes.append(cls)
    return classes, problems
