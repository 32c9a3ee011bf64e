"""`musestudio gui [FILE]`: the desktop app.

The arguments are defined in ``musestudio.gui.app`` (which imports no Qt at
module level), so this command depends on the app and never the reverse.
"""

from __future__ import annotations

import argparse

HELP = "open the desktop app (optionally with a file; --screenshot renders offscreen and exits)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from musestudio.gui.app import add_arguments as app_arguments

    app_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from musestudio.core.errors import MusestudioError

    try:
        from musestudio.gui.app import run_app
    except ImportError as exc:
        raise MusestudioError(f"the desktop app cannot start: {exc}") from None
    return run_app(args)
