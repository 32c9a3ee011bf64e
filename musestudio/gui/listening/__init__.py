"""The listening test in the app: a build wizard, the participant window and a results panel.

The main window's "Tools > Listening test…" calls :func:`open_listening_window`;
``musestudio listening-test run DIR`` calls :func:`run_participant_app`.
"""

from __future__ import annotations

from typing import Any


def open_listening_window(main_window: Any = None) -> Any:
    """Show (or raise) the listening-test window belonging to ``main_window``."""
    from musestudio.gui.listening.window import ListeningWindow

    existing = getattr(main_window, "_listening_window", None) if main_window is not None else None
    if existing is None:
        existing = ListeningWindow(main_window)
        if main_window is not None:
            main_window._listening_window = existing
    existing.show()
    existing.raise_()
    existing.activateWindow()
    return existing


def run_participant_app(folder: str) -> int:
    """A standalone participant window for one test (classroom use)."""
    from musestudio.gui.app import create_app

    app = create_app()
    from musestudio.gui.listening.runner import ParticipantWindow

    window = ParticipantWindow(folder)
    window.resize(760, 680)
    window.show()
    return int(app.exec())  # type: ignore[attr-defined]
