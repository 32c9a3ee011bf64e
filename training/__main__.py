"""``python -m training {train,export,evaluate,ensemble,tune-decoding,tune-velocity,fit-velocity,fit-note-filter,fit-note-ends}`` (also under ``torchrun ... -m training train``)."""

from __future__ import annotations

import argparse
import json
import sys

from training.trainer import add_train_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(sub.add_parser("train", help="train a model into a run folder"))
    ex = sub.add_parser("export", help="run folder -> self-describing checkpoint folder for musestudio")
    ex.add_argument("run", help="run folder (holds run.json + best.safetensors)")
    ex.add_argument("--to", required=True, help="checkpoint folder, e.g. models/lstm")
    ex.add_argument("--name", default=None, help="display name (default: the folder name)")
    ex.add_argument("--weights", choices=["best", "last"], default="best",
                    help="best = lowest validation loss (best.safetensors); last = the final step (last.pt)")
    ev = sub.add_parser("evaluate", help="held-out numbers of an exported checkpoint, written into its card")
    ev.add_argument("checkpoint", help="checkpoint folder, e.g. models/transformer")
    ev.add_argument("--data", action="append", default=None, help="data source (repeatable); default asap")
    ev.add_argument("--split", default="test", choices=["train", "validation", "test"])
    ev.add_argument("--cache", default="runs/cache")
    ev.add_argument("--windows-per-piece", type=int, default=0,
                    help="score only N evenly spread 512-token windows per piece (0 = every window)")
    ev.add_argument("--no-write", action="store_true", help="print only; leave config.json and the card alone")
    tu = sub.add_parser("tune-decoding", help="choose a transcriber's decoding thresholds on validation renders")
    tu.add_argument("checkpoint", help="transcriber checkpoint folder, e.g. models/transcriber")
    tu.add_argument("--val", action="append", required=True, metavar="DIR",
                    help="rendered validation cache (repeatable), e.g. data_cache/transcriber/validation")
    tu.add_argument("--onset", type=float, nargs="+", default=[0.4, 0.5, 0.6, 0.7])
    tu.add_argument("--frame", type=float, nargs="+", default=[0.3, 0.4, 0.5])
    tu.add_argument("--repeat", type=str, nargs="+", default=["off", "0.7", "0.8"],
                    help="repeat thresholds to try ('off' = same as the onset threshold)")
    tu.add_argument("--harmonic", type=str, nargs="+", default=["off", "0.8", "0.9"],
                    help="probabilities an onset a partial above a stronger one must reach ('off' = no test)")
    tu.add_argument("--write", action="store_true", help="store the best in the checkpoint's config.json")
    tv = sub.add_parser("tune-velocity", help="choose how much playing level a transcriber's velocities get back, "
                                              "on validation audio clips (after tune-decoding)")
    tv.add_argument("checkpoint")
    tv.add_argument("--clips", required=True, help="folder of validation WAV + MIDI pairs, e.g. "
                                                   "data_cache/transcriber_v3/validation_clips_played")
    tv.add_argument("--per-db", type=float, nargs="+", default=[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    tv.add_argument("--lag-ms", type=float, nargs="+", default=[0.0, 100.0, 250.0, 500.0])
    tv.add_argument("--write", action="store_true", help="store the best in the checkpoint's config.json")
    fv = sub.add_parser("fit-velocity", help="fit the note-velocity model (key energy, level, head) on validation "
                                              "audio clips, cross-validated by piece (after tune-decoding)")
    fv.add_argument("checkpoint")
    fv.add_argument("--clips", action="append", required=True, metavar="DIR",
                    help="folder of VALIDATION WAV + MIDI pairs (repeatable; the first is the one scored)")
    fv.add_argument("--l2", type=float, default=0.1, help="ridge penalty (--kind linear)")
    fv.add_argument("--kind", choices=("linear", "mlp"), default="linear",
                    help="linear: ridge on 12 features; mlp: an ensemble of small MLPs on 18 features")
    fv.add_argument("--hidden", type=int, nargs="+", default=[32], help="MLP hidden layer sizes (--kind mlp)")
    fv.add_argument("--weight-decay", type=float, default=1e-2, help="MLP weight decay (--kind mlp; 0.01 chosen on validation)")
    fv.add_argument("--members", type=int, default=5, help="MLPs averaged (--kind mlp)")
    fv.add_argument("--more-features", action="store_true",
                    help="(--kind mlp) read the 7 MORE_VELOCITY_FEATURES too (decay, brightness, local dynamic): 25 inputs")
    fv.add_argument("--write", action="store_true", help="store the model in the checkpoint's config.json")
    nf = sub.add_parser("fit-note-filter", help="fit the decoder's note-candidate filter on clips of TRAINING-split "
                                                 "pieces, choosing its thresholds by cross-validation by piece")
    nf.add_argument("checkpoint")
    nf.add_argument("folders", nargs="+", metavar="FOLDER",
                    help="folders of WAV + MIDI clips of training-split pieces (meta.json split 'train': "
                         "python -m training.audio.prepare --val-clips N --clips-split train)")
    nf.add_argument("--onset", type=float, nargs="+", default=[0.4, 0.5],
                    help="candidate onset thresholds to try (below the decoder's own)")
    nf.add_argument("--keep", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7],
                    help="filter probabilities a candidate must reach to be kept, to try")
    nf.add_argument("--hidden", type=int, nargs="*", default=[32], help="MLP hidden layer sizes (none: logistic)")
    nf.add_argument("--weight-decay", type=float, default=1e-2)
    nf.add_argument("--members", type=int, default=5, help="MLPs averaged")
    nf.add_argument("--folds", type=int, default=5, help="cross-validation folds (by piece)")
    nf.add_argument("--no-candidate-tests", action="store_true",
                    help="look for candidates without the repeat and harmonic tests (the filter judges them)")
    nf.add_argument("--extended-features", action="store_true",
                    help="the filter also reads the 16 EXTRA_FILTER_FEATURES (neighbouring keys, partials above, the "
                         "key's decay): 43 inputs")
    nf.add_argument("--report", default=None, help="also write the report and the fitted filter as JSON here")
    nf.add_argument("--write", action="store_true", help="store the filter in the checkpoint's config.json")
    ne = sub.add_parser("fit-note-ends", help="fit the decoder's note-end read-out on clips of TRAINING-split pieces, "
                                               "reporting it cross-validated by piece")
    ne.add_argument("checkpoint")
    ne.add_argument("folders", nargs="+", metavar="FOLDER",
                    help="folders of WAV + MIDI clips of training-split pieces (meta.json split 'train')")
    ne.add_argument("--hidden", type=int, nargs="*", default=[64], help="MLP hidden layer sizes (none: logistic)")
    ne.add_argument("--members", type=int, default=3, help="MLPs averaged")
    ne.add_argument("--folds", type=int, default=5, help="cross-validation folds (by piece)")
    ne.add_argument("--report", default=None, help="also write the report and the fitted model as JSON here")
    ne.add_argument("--write", action="store_true", help="store the model in the checkpoint's config.json")
    en = sub.add_parser("ensemble", help="an output ensemble of trained transcriber or beat-tracker checkpoints of one "
                                         "shape (tune its decoding afterwards)")
    en.add_argument("to", help="new checkpoint folder")
    en.add_argument("members", nargs="+", help="checkpoint folders of one architecture (two or more)")
    en.add_argument("--name", default=None)
    args = parser.parse_args(argv)

    if args.command == "train":
        from training.trainer import train

        train(args)
    elif args.command == "export":
        from training.export import export_run

        print(export_run(args.run, args.to, name=args.name, weights=args.weights))
    elif args.command == "ensemble":
        from training.export import build_ensemble

        try:
            print(build_ensemble(args.members, args.to, name=args.name))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.command == "tune-decoding":
        from training.audio.evaluate import tune_thresholds, write_decode_defaults

        repeats = tuple(None if r == "off" else float(r) for r in args.repeat)
        harmonics = tuple(None if h == "off" else float(h) for h in args.harmonic)
        result = tune_thresholds(args.checkpoint, args.val, tuple(args.onset), tuple(args.frame), repeats,
                                 log=lambda m: print(m, flush=True), harmonic_grid=harmonics)
        best = result["best"]
        print(f"best on {result['excerpts']} validation excerpts: onset {best['onset_threshold']} frame "
              f"{best['frame_threshold']} repeat {best['repeat_threshold']} pedal {best['pedal_threshold']} harmonic {best['harmonic_threshold']} -> onset F1 {best['onset_f1']:.4f}, "
              f"onset+offset F1 {best['onset_offset_f1']:.4f}")
        if args.write:
            write_decode_defaults(args.checkpoint, best, ", ".join(args.val))
            print(f"wrote the thresholds into {args.checkpoint}/config.json")
    elif args.command == "tune-velocity":
        from training.audio.evaluate import tune_level_velocity, write_decode_defaults

        best = tune_level_velocity(args.checkpoint, args.clips, tuple(args.per_db), tuple(args.lag_ms),
                                   log=lambda m: print(m, flush=True))
        print(f"best on {best['clips']} validation clips: level_velocity {best['level_velocity']} per dB, lag "
              f"{best['level_lag_ms']} ms -> velocity F1 {best['onset_velocity_f1']:.4f} (off: {best['off_velocity_f1']:.4f})")
        if args.write:
            write_decode_defaults(args.checkpoint, best, args.clips, merge=True)
            print(f"wrote level_velocity and level_lag_ms into {args.checkpoint}/config.json")
    elif args.command == "fit-velocity":
        from training.audio.evaluate import fit_velocity_model, write_decode_defaults

        try:
            model, report = fit_velocity_model(args.checkpoint, args.clips, l2=args.l2, kind=args.kind,
                                               hidden=tuple(args.hidden), weight_decay=args.weight_decay,
                                               members=args.members, more_features=args.more_features,
                                               log=lambda m: print(m, flush=True))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(report, indent=1))
        if args.write:
            write_decode_defaults(args.checkpoint, {"velocity_model": model, **report}, ", ".join(args.clips), merge=True)
            print(f"wrote velocity_model into {args.checkpoint}/config.json")
    elif args.command == "fit-note-filter":
        return _fit_note_filter(args)
    elif args.command == "fit-note-ends":
        return _fit_note_ends(args)
    else:
        from training.export import evaluate_checkpoint

        metrics = evaluate_checkpoint(args.checkpoint, args)
        for k, v in metrics.items():
            print(f"{k}\t{v:.4f}")
    return 0


def _training_clip_folders_problem(folders: list[str]) -> str | None:
    """The first of ``folders`` that is not a folder of WAV + MIDI renders of training-split pieces, and why, as
    one line (a decoder read-out's choices are made on such clips; validation and test clips judge it)."""
    from pathlib import Path

    from training.audio.evaluate import test_pairs

    for folder in map(Path, folders):
        meta = folder / "meta.json"
        split = json.loads(meta.read_text()).get("split") if meta.is_file() else None
        problem = ("is not a folder" if not folder.is_dir() else "holds no WAV + MIDI pairs" if not test_pairs(folder)
                   else f"is not a render of training-split pieces (meta.json split: {split!r})" if split != "train"
                   else None)
        if problem:
            return f"{folder} {problem}"
    return None


def _read_out_args_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with a decoder read-out fit's folders, --members or --folds, as one line, or None."""
    problem = _training_clip_folders_problem(args.folders)
    if problem is None and (args.members < 1 or args.folds < 2):
        problem = "--members must be at least 1 and --folds at least 2"
    return problem


def _store_read_out(args: argparse.Namespace, key: str, model: dict, report: dict) -> None:
    """A fitted decoder read-out: with --report, the report and the model as JSON; with --write, the model as
    config.json decode.<key> of the checkpoint."""
    from pathlib import Path

    from training.audio.evaluate import write_decode_defaults

    if args.report:
        Path(args.report).write_text(json.dumps({**report, key: model}, indent=1) + "\n")
    if args.write:
        write_decode_defaults(args.checkpoint, {key: model, **report}, ", ".join(args.folders), merge=True)
        print(f"wrote {key} into {args.checkpoint}/config.json")


def _fit_note_ends(args: argparse.Namespace) -> int:
    """fit-note-ends: as fit-note-filter, on training-split clips only; fits, reports and, with --write, stores."""
    from training.audio.evaluate import fit_note_ends

    problem = _read_out_args_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        model, report = fit_note_ends(args.checkpoint, args.folders, hidden=tuple(args.hidden), members=args.members,
                                      folds=args.folds, log=lambda m: print(m, flush=True))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shipped, fitted = report["shipped"], report["fitted"]
    print(f"cross-validated by piece on {report['clips']} clips ({report['pieces']} pieces): onset+offset F1 "
          f"{shipped['onset_offset_f1']:.4f} as shipped, {fitted['onset_offset_f1']:.4f} with the note-end model")
    _store_read_out(args, "note_end_model", model, report)
    return 0


def _fit_note_filter(args: argparse.Namespace) -> int:
    """fit-note-filter: refuses folders that are not renders of training-split pieces (the filter's choices are
    made on them; validation and test clips judge it), then fits, reports and, with --write, stores it."""
    from training.audio.evaluate import fit_note_filter

    problem = _read_out_args_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        model, report = fit_note_filter(args.checkpoint, args.folders, onset_thresholds=tuple(args.onset),
                                        keep_thresholds=tuple(args.keep), hidden=tuple(args.hidden),
                                        weight_decay=args.weight_decay, members=args.members, folds=args.folds,
                                        candidate_tests=not args.no_candidate_tests,
                                        extended=args.extended_features, log=lambda m: print(m, flush=True))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    best, shipped = report["best"], report["shipped"]
    print(f"cross-validated by piece on {report['clips']} clips ({report['pieces']} pieces): without the filter onset "
          f"F1 {shipped['onset_f1']:.4f}; best {best['candidates']} keep {best['keep_threshold']}: onset F1 "
          f"{best['onset_f1']:.4f}, on+off {best['onset_offset_f1']:.4f}, velocity {best['onset_velocity_f1']:.4f}")
    _store_read_out(args, "note_filter", model, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
