"""Dark and light themes: Qt's Fusion palette plus matching pyqtgraph colours."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


def _palette(dark: bool) -> QPalette:
    pal = QPalette()
    if not dark:
        return QApplication.style().standardPalette() if QApplication.style() else pal
    roles = {
        QPalette.ColorRole.Window: "#23262d",
        QPalette.ColorRole.WindowText: "#e4e6ea",
        QPalette.ColorRole.Base: "#1a1c21",
        QPalette.ColorRole.AlternateBase: "#262a31",
        QPalette.ColorRole.ToolTipBase: "#30343c",
        QPalette.ColorRole.ToolTipText: "#f0f0f0",
        QPalette.ColorRole.Text: "#e4e6ea",
        QPalette.ColorRole.Button: "#2c3038",
        QPalette.ColorRole.ButtonText: "#e4e6ea",
        QPalette.ColorRole.BrightText: "#ff6060",
        QPalette.ColorRole.Highlight: "#3d7fcf",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: "#8a8f98",
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#70757e"))
    return pal


def apply_theme(name: str, *views: Any) -> None:
    dark = name != "light"
    app = QApplication.instance()
    if isinstance(app, QApplication):
        app.setStyle("Fusion")
        app.setPalette(_palette(dark))
    for view in views:
        if hasattr(view, "set_dark"):
            view.set_dark(dark)
