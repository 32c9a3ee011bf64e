"""Headless command line: ``musestudio COMMAND ...``.

Each command lives in ``musestudio/commands/<name>.py`` and exposes ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``.  Command modules import
only the standard library at module level, so that ``musestudio --help`` is
instant; torch, Qt and music21 are imported inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence

# name -> module; a command whose module is not present is simply not offered.
COMMANDS: dict[str, str] = {
    "info": "musestudio.commands.info",
    "export": "musestudio.commands.export",
    "analyze": "musestudio.commands.analyze",
    "generate": "musestudio.commands.generate",
    "evaluate": "musestudio.commands.evaluate",
    "transcribe": "musestudio.commands.transcribe",
    "metrics": "musestudio.commands.metrics",
    "report": "musestudio.commands.report",
    "models": "musestudio.commands.models",
    "gui": "musestudio.commands.gui",
    "listening-test": "musestudio.commands.listening_test",
}

DEBUG_ENV = "MUSESTUDIO_DEBUG"


def build_parser() -> argparse.ArgumentParser:
    from musestudio import __version__

    parser = argparse.ArgumentParser(
        prog="musestudio",
        description="Continue piano music with neural models, transcribe piano audio to MIDI, "
        "and score music with objective metrics.",
    )
    parser.add_argument("--version", action="version", version=f"musestudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP))
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 (one exit code per way a command ends)
    from musestudio.core.errors import MusestudioError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        # No command: open the desktop app, as a double-clicked launcher does.
        argv = ["gui"] if "gui" in COMMANDS else ["--help"]
    elif not argv[0].startswith("-") and argv[0] not in COMMANDS and os.path.exists(argv[0]):
        argv = ["gui", *argv]  # `musestudio FILE` opens FILE, as file managers call it
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except MusestudioError as exc:
        print(f"musestudio: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("musestudio: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # the file system said no (permission, disk full, name too long): not a bug
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"musestudio: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except MemoryError:
        print("musestudio: error: out of memory (the input is too large for this computer)", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line for the user, details on request
        if os.environ.get(DEBUG_ENV):
            raise
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        print(
            f"musestudio: internal error: {type(exc).__name__}: {first} (set {DEBUG_ENV}=1 for details)",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
