"""`musestudio report --seeds DIR --out DIR`: rebuild the paper's comparison tables on our models."""

from __future__ import annotations

import argparse

HELP = "continue seed pieces with every model and write a metrics report (Markdown, HTML, PNG plots)"
DESCRIPTION = (
    "Cut each MIDI file in --seeds into a seed and its true human continuation, continue every seed with "
    "every model, score all continuations (and the human ones) with the objective metrics, and write "
    "report.md, report.html, report.json, PNG plots and the continuations as MIDI into --out. "
    "A model that is not installed or fails is listed as missing."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", required=True, metavar="DIR", help="folder of MIDI files (searched recursively)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the report (created)")
    parser.add_argument(
        "--models", default="lstm,transformer,gan,markov", help="comma-separated (default lstm,transformer,gan,markov)"
    )
    parser.add_argument("--n", type=int, default=20, help="number of seed pieces (default 20)")
    parser.add_argument("--seed-seconds", type=float, default=10.0, help="seed length (default 10 s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="continuation length (default 20 s)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    parser.add_argument("--random-seed", type=int, default=0, help="base random seed (default 0)")
    parser.add_argument("--no-perplexity", action="store_true", help="skip the likelihood columns")
    parser.add_argument(
        "--listening-test", metavar="DIR", default=None,
        help="a finished listening-test folder: add its MOS and Turing-rate tables to the report",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from musestudio.commands._common import progress_printer
    from musestudio.core.errors import InputFileError, OutputFileError
    from musestudio.core.progress import run_work
    from musestudio.metrics.report import ReportSettings, build_report_work, seed_files, write_report

    folder = Path(args.seeds)
    if not folder.is_dir():
        raise InputFileError(folder, "not a folder")
    if args.n < 1 or args.seed_seconds <= 0 or args.seconds <= 0:
        raise InputFileError(folder, "--n, --seed-seconds and --seconds must be positive")
    files = seed_files(folder, args.n)
    if not files:
        raise InputFileError(folder, "holds no MIDI files (.mid, .midi)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise OutputFileError(f"{out}: exists and is not a folder")
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    settings = ReportSettings(
        models=models,
        n=args.n,
        seed_seconds=args.seed_seconds,
        seconds=args.seconds,
        random_seed=args.random_seed,
        temperature=args.temperature,
        with_perplexity=not args.no_perplexity,
    )
    show = None if not args.quiet else False
    data = run_work(build_report_work(files, settings), progress_printer("report", enabled=show))
    if not data.examples:
        raise InputFileError(folder, f"no file has {args.seed_seconds:g} s of seed and a continuation after it")
    if args.listening_test:
        from musestudio.listening.report import add_listening_tables

        add_listening_tables(data, args.listening_test)  # a bad folder: its MusestudioError ends the command
    path = write_report(data, out)
    for model, why in data.missing.items():
        print(f"{model}: missing ({why})")
    print(f"wrote {path} and {path.with_suffix('.html')} ({len(data.examples)} pieces)")
    return 0
