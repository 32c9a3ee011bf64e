"""`musestudio gui [FILE]`: the desktop app."""

from __future__ import annotations

import argparse

HELP = "open the desktop app (optionally with a file; --screenshot renders offscreen and exits)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE", help="MIDI, MusicXML, audio or .msproj files to open")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window offscreen to PNG and exit")
    parser.add_argument("--size", default="1400x900", help="window size for --screenshot (default 1400x900)")
    parser.add_argument("--no-demo", action="store_true", help="start empty instead of opening the demo piece")


def run(args: argparse.Namespace) -> int:
    from musestudio.core.errors import MusestudioError

    try:
        from musestudio.gui.app import run_app
    except ImportError as exc:
        raise MusestudioError(f"the desktop app cannot start: {exc}") from None
    return run_app(args)
