"""Start the desktop app: ``musestudio gui [FILES] [--screenshot PNG]`` or ``musestudio-gui``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The app's command line (shared by ``musestudio gui`` and ``musestudio-gui``; defined here so that
    ``commands/gui.py`` imports the app and never the other way round)."""
    parser.add_argument("files", nargs="*", metavar="FILE", help="MIDI, MusicXML, audio or .msproj files to open")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window offscreen to PNG and exit")
    parser.add_argument("--size", default="1400x900", help="window size for --screenshot (default 1400x900)")
    parser.add_argument("--no-demo", action="store_true", help="start empty instead of opening the demo piece")


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        from musestudio.core.errors import MusestudioError

        raise MusestudioError(f"--size must look like 1400x900, not {text!r}") from None
    return max(320, w), max(240, h)


def create_app() -> object:
    """The QApplication, with PySide6 bound before pyqtgraph and our pyqtgraph options set."""
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="#15171c", foreground="#d8dbe0")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("musestudio")
    app.setOrganizationName("musestudio")
    app.setApplicationDisplayName("musestudio")
    from musestudio.gui import gc_guard

    gc_guard.install(app)  # Qt objects must never be garbage-collected on a worker thread (see gc_guard)
    from musestudio.gui.resources import resource_path

    icon = resource_path("icons", "musestudio.svg")
    if icon is not None:
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    return app


def run_app(args: argparse.Namespace) -> int:
    screenshot = getattr(args, "screenshot", None)
    if screenshot and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no display needed to render a PNG
    size = _parse_size(getattr(args, "size", "1400x900") or "1400x900")
    app = create_app()
    from musestudio.gui.main_window import MainWindow

    window = MainWindow(interactive=not screenshot)
    if not screenshot:
        _install_excepthook(window)
    if not screenshot:
        window.restore_layout()
    else:
        window.resize(*size)
    window.show()
    files = list(getattr(args, "files", None) or [])
    from musestudio.gui.resources import resource_path

    demo = resource_path("demo", "maple_leaf_rag.mid")
    implicit_demo = not files and not getattr(args, "no_demo", False) and demo is not None
    if screenshot:
        paths = [str(demo)] if implicit_demo else files  # the first opens, the others are added to it
        failed = [f for i, f in enumerate(paths) if not window.open_path(f, mode="add" if i else None)]
        return _save_screenshot(window, app, Path(screenshot), failed)
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: window.start_session(files, str(demo) if implicit_demo else None))
    return int(app.exec())  # type: ignore[attr-defined]


def _install_excepthook(window: object) -> None:
    """A bug in a slot becomes a one-line dialog (and a log entry), not a silent traceback or a crash."""
    import logging

    from musestudio.gui.worker import one_line_error

    log = logging.getLogger("musestudio.gui")
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: object) -> None:
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, exc, tb)  # type: ignore[arg-type]
            return
        log.error("unexpected error", exc_info=(kind, exc, tb))  # type: ignore[arg-type]
        try:
            window.show_error(one_line_error(exc))  # type: ignore[attr-defined]
        except Exception:  # the window is gone: fall back to the default report
            previous(kind, exc, tb)  # type: ignore[arg-type]

    sys.excepthook = hook


def _save_screenshot(window: object, app: object, out: Path, failed: list[str]) -> int:
    from musestudio.core.errors import OutputFileError

    window.wait_for_jobs(180.0)  # type: ignore[attr-defined]
    for _ in range(5):
        app.processEvents()  # type: ignore[attr-defined]
    if not out.parent.is_dir():
        raise OutputFileError(f"{out}: folder {out.parent} does not exist")
    if not window.grab().save(str(out), "PNG"):  # type: ignore[attr-defined]
        raise OutputFileError(f"{out}: could not write the PNG")
    for f in failed:
        print(f"musestudio: could not open {f}: {window.status_label.text()}", file=sys.stderr)  # type: ignore[attr-defined]
    print(f"wrote {out}")
    window.close()  # type: ignore[attr-defined]
    return 1 if failed else 0


def main() -> int:
    """Entry point of the ``musestudio-gui`` launcher."""
    parser = argparse.ArgumentParser(prog="musestudio-gui")
    add_arguments(parser)
    return run_app(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
