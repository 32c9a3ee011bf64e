"""Docks for the feature panels (a mixin of MainWindow); see ``panels/base.py`` for writing one."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QScrollArea, QWidget

from musestudio.gui.panels import load_panel_classes
from musestudio.gui.worker import one_line_error

log = logging.getLogger(__name__)


class PanelHostMixin:
    """Creates one dock per registered panel; a broken panel is reported, never fatal."""

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)  # type: ignore[arg-type]
        dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)  # type: ignore[attr-defined]
        return dock

    def _build_panels(self) -> list[Any]:
        classes, problems = load_panel_classes()
        panels = []
        first_right: QDockWidget | None = None
        for cls in classes:
            try:
                panel = cls(self.context)
            except Exception as exc:  # one broken panel must not stop the app
                log.exception("panel %s failed", cls)
                problems.append(f"{cls.__name__}: {one_line_error(exc)}")
                continue
            area = {"left": Qt.DockWidgetArea.LeftDockWidgetArea, "bottom": Qt.DockWidgetArea.BottomDockWidgetArea}.get(
                getattr(cls, "AREA", "right"), Qt.DockWidgetArea.RightDockWidgetArea
            )
            # In a scroll area, so a tall panel never forces the window taller than the screen.
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(panel)
            dock = self._dock(getattr(cls, "TITLE", cls.__name__), scroll, area)
            if area == Qt.DockWidgetArea.RightDockWidgetArea:
                if first_right is None:
                    first_right = dock
                else:
                    self.tabifyDockWidget(first_right, dock)
            self.panels_menu.addAction(dock.toggleViewAction())
            panels.append(panel)
        if first_right is not None:
            first_right.raise_()
            # The piano roll gets the room; restore_layout() later brings back the user's own sizes.
            self.resizeDocks([self.layers_dock, first_right], [270, 330], Qt.Orientation.Horizontal)
        if problems:
            self.show_status("Some panels could not load: " + "; ".join(problems))
        return panels
