"""`musestudio listening-test new|run|export-html|import|status|report`: the blind listening study."""

from __future__ import annotations

import argparse

HELP = "build and run a blind listening test (MOS and human/AI judgements), import remote results, report"
DESCRIPTION = (
    "A listening test is one folder: equal-length, loudness-matched clips with opaque ids, a manifest, and the "
    "results in SQLite. 'new' builds it from seed continuations, human excerpts or any files; 'run' opens the "
    "participant window; 'export-html' writes an offline page for remote participants; 'import' adds their "
    "signed results files; 'report' writes the statistics (Markdown, HTML, CSV, plots)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    new = sub.add_parser("new", help="build a test folder", description=(
        "Build a test in OUT (a new or empty folder). With --seeds, every MIDI file (the first --n, by path) gives "
        "a seed of --seed-seconds; each model in --models continues it for --seconds, and its true human "
        "continuation is a clip too (unless --no-human). --add CATEGORY=PATH adds any MIDI/MusicXML/audio file or "
        "folder as a category of its own. Clips are rendered through the SoundFont and matched in length and "
        "loudness."))
    new.add_argument("out", metavar="OUT", help="folder for the test (must not exist, or be empty)")
    new.add_argument("--seeds", metavar="DIR", help="folder of MIDI files to take seeds from (searched recursively)")
    new.add_argument("--models", default="lstm,transformer,gan", help="comma-separated (default lstm,transformer,gan)")
    new.add_argument("--no-human", action="store_true", help="no human continuations of the seeds")
    new.add_argument("--n", type=int, default=10, help="number of seed files (default 10: 10 clips per category)")
    new.add_argument("--seed-seconds", type=float, default=10.0, help="seed length (default 10 s)")
    new.add_argument("--seconds", type=float, default=20.0, help="continuation length (default 20 s; clip = seed + this)")
    new.add_argument("--add", action="append", default=[], metavar="CATEGORY=PATH",
                     help="add a file or folder as clips of CATEGORY ('human' counts as human-made); repeatable")
    new.add_argument("--title", default="Listening test", help="shown to participants (say nothing about the clips)")
    new.add_argument("--clips-per-category", type=int, help="clips each participant hears per category "
                     "(default: all of the smallest category)")
    new.add_argument("--target-lufs", type=float, default=-23.0, help="loudness of every clip (default -23 LUFS)")
    new.add_argument("--soundfont", metavar="SF2", help="SoundFont for rendering (default: the installed piano)")
    new.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    new.add_argument("--random-seed", type=int, default=0, help="for generation and clip order (default 0)")
    new.add_argument("--workers", type=int, default=2, help="rendering workers (default 2)")
    new.add_argument("--quiet", action="store_true", help="no progress bar")

    run = sub.add_parser("run", help="open the participant window (one participant after another)")
    run.add_argument("test", metavar="DIR", help="test folder")

    html = sub.add_parser("export-html", help="write an offline HTML page for remote participants")
    html.add_argument("test", metavar="DIR", help="test folder")
    html.add_argument("-o", "--out", required=True, metavar="PAGE.html", help="the page to write")
    html.add_argument("--slots", type=int, default=100,
                      help="balanced playing orders in the page (participant numbers 1..N; default 100)")
    html.add_argument("-f", "--force", action="store_true", help="overwrite an existing page")

    imp = sub.add_parser("import", help="add remote participants' results files (checked and signed)")
    imp.add_argument("test", metavar="DIR", help="test folder")
    imp.add_argument("files", nargs="+", metavar="RESULTS.json", help="files saved by the HTML page")

    st = sub.add_parser("status", help="clips, categories and participants so far (no ratings)")
    st.add_argument("test", metavar="DIR", help="test folder")

    rep = sub.add_parser("report", help="statistics as report.md/report.html with plots, and answers.csv")
    rep.add_argument("test", metavar="DIR", help="test folder")
    rep.add_argument("--out", metavar="DIR", help="report folder (default DIR/report)")
    rep.add_argument("--csv", metavar="FILE", help="also write the answers, one row each, to FILE")


def _new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from musestudio.commands._common import progress_printer
    from musestudio.core.errors import InputFileError, MusestudioError
    from musestudio.listening.build import BuildSettings, build_test, file_sources, seed_sources

    sources = []
    if args.seeds:
        from musestudio.metrics.report import seed_files

        folder = Path(args.seeds)
        if not folder.is_dir():
            raise InputFileError(folder, "not a folder")
        if args.n < 1:
            raise MusestudioError("--n must be at least 1")
        files = seed_files(folder, args.n)
        if not files:
            raise InputFileError(folder, "holds no MIDI files (.mid, .midi)")
        models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
        sources += seed_sources(files, models, human=not args.no_human)
    sources += file_sources(args.add)
    if not sources:
        raise MusestudioError("nothing to put in the test: give --seeds DIR and/or --add CATEGORY=PATH")
    settings = BuildSettings(
        title=args.title, seed_seconds=args.seed_seconds, seconds=args.seconds, target_lufs=args.target_lufs,
        soundfont=args.soundfont, random_seed=args.random_seed, temperature=args.temperature,
        clips_per_category=args.clips_per_category, workers=args.workers,
    )
    show = None if not args.quiet else False
    manifest = build_test(args.out, sources, settings, progress_printer("building", enabled=show))
    for why in manifest.notes.get("skipped", []):
        print(f"skipped: {why}")
    counts = ", ".join(f"{c} {len(manifest.clips_of(c))}" for c in manifest.categories)
    print(f"wrote {args.out}: {len(manifest.clips)} clips ({counts}), {manifest.clip_seconds:g} s each at "
          f"{manifest.target_lufs:g} LUFS, {manifest.clips_per_participant} per participant, "
          f"built in {manifest.notes.get('build_seconds', 0):.1f} s")
    return 0


def _run(args: argparse.Namespace) -> int:
    from musestudio.listening.manifest import load_manifest

    load_manifest(args.test)  # a clear error before any window opens
    from musestudio.gui.listening import run_participant_app

    return run_participant_app(args.test)


def run(args: argparse.Namespace) -> int:
    action = args.action
    if action == "new":
        return _new(args)
    if action == "run":
        return _run(args)
    if action == "export-html":
        from musestudio.listening.remote import export_html

        page = export_html(args.test, args.out, slots=args.slots, overwrite=args.force)
        print(f"wrote {page} ({page.stat().st_size / 1e6:.1f} MB); participants open it in a browser and send back "
              "the results file it saves")
        return 0
    if action == "import":
        from musestudio.core.errors import MusestudioError
        from musestudio.listening.remote import import_results

        failed = 0
        for f in args.files:
            try:
                res = import_results(args.test, f)
            except MusestudioError as exc:
                print(f"musestudio: error: {exc}", file=__import__("sys").stderr)
                failed += 1
                continue
            state = "complete" if res.complete else "incomplete"
            print(f"imported {f}: participant {res.participant}, {res.answers} answers ({state})")
        return 1 if failed else 0
    if action == "status":
        from musestudio.listening.manifest import category_label, load_manifest
        from musestudio.listening.store import ResultsStore

        m = load_manifest(args.test)
        with ResultsStore.for_test(args.test) as store:
            sessions = store.sessions()
        done = sum(s.finished for s in sessions)
        cats = ", ".join(f"{category_label(c)} {len(m.clips_of(c))}" for c in m.categories)
        print(f"{m.title}: {len(m.clips)} clips ({cats}), {m.clips_per_participant} per participant")
        print(f"participants: {done} finished, {len(sessions) - done} unfinished "
              f"({sum(s.answered for s in sessions)} answers)")
        for s in sessions:
            print(f"  {s.participant}  {s.source:4s}  {s.answered}/{len(s.plan)}  started {s.started_at}")
        return 0
    if action == "report":
        from musestudio.listening.report import export_csv, write_report

        path = write_report(args.test, args.out)
        if args.csv:
            export_csv(args.test, args.csv)
        print(f"wrote {path}, {path.with_suffix('.html')} and {path.parent / 'answers.csv'}")
        return 0
    raise AssertionError(action)
