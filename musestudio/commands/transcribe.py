"""`musestudio transcribe AUDIO... (-o OUT.mid | --out-dir DIR)`: piano audio to MIDI."""

from __future__ import annotations

import argparse
import dataclasses

from musestudio.commands._common import add_force, check_output, progress_printer

HELP = "transcribe piano recordings (wav/flac/ogg/mp3) to MIDI with the CNN transcriber"
DESCRIPTION = (
    "Transcribe piano audio to MIDI: notes with velocities, and the sustain pedal as CC64. "
    "Audio of any sample rate or channel count is accepted; long files are streamed."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("audio", nargs="+", metavar="AUDIO", help="audio file(s)")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output", metavar="OUT.mid", help="output MIDI file (one input only)")
    out.add_argument("--out-dir", metavar="DIR", help="write DIR/<stem>.mid for each input")
    parser.add_argument("--onset-threshold", type=float, metavar="X",
                        help="onset probability above which a key is struck (default: tuned on validation data; "
                             "setting it decodes without the model's note filter)")
    parser.add_argument("--frame-threshold", type=float, metavar="X",
                        help="probability above which a key keeps sounding (default: tuned on validation data; "
                             "setting it ends notes without the model's note-end read-out)")
    parser.add_argument("--repeat-threshold", type=float, metavar="X",
                        help="stricter onset threshold for a key that is already sounding (default: the model's; "
                             "setting it decodes without the model's note filter)")
    parser.add_argument("--min-note-ms", type=float, metavar="N", help="shortest note kept, in ms (default: the model's, 30)")
    parser.add_argument("--no-pedal", action="store_true",
                        help="write no sustain-pedal (CC64) events (notes then end where their sound stops)")
    parser.add_argument("--key-release-offsets", action="store_true",
                        help="end each note where the model hears its sound stop, even under the pedal "
                             "(default: a note lasts until the pedal lifts or the key is struck again)")
    parser.add_argument("--save-note-events", metavar="CSV", help="also write the notes as CSV (with --out-dir: DIR/<stem>.csv)",
                        nargs="?", const="")
    parser.add_argument("--tempo-map", choices=("auto", "none"), default="auto",
                        help="auto (default): a tempo map and meter from the beat tracker run on the transcribed notes, "
                             "so bars line up in a DAW; none: a plain 120 BPM file")
    parser.add_argument("--tempo", type=float, metavar="BPM", help="a constant tempo instead (4/4); overrides --tempo-map")
    parser.add_argument("--quantize", action="store_true",
                        help="snap notes to sixteenths of the tempo map and also write OUT.musicxml (notation-ready)")
    parser.add_argument("--checkpoint", metavar="DIR", help="transcriber checkpoint folder (default: the shipped one)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal")
    add_force(parser)


def _check_threshold(name: str, value: float) -> None:
    from musestudio.core.errors import MusestudioError

    if not 0.0 < value < 1.0:
        raise MusestudioError(f"--{name} must be between 0 and 1 (exclusive), got {value}")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from musestudio.core.errors import MusestudioError, OutputFileError
    from musestudio.ml.transcribe import decode_defaults, load_transcriber, transcribe_to_file

    defaults = decode_defaults(args.checkpoint)  # the checkpoint's tuned thresholds
    onset = defaults.onset_threshold if args.onset_threshold is None else args.onset_threshold
    frame = defaults.frame_threshold if args.frame_threshold is None else args.frame_threshold
    min_note_ms = defaults.min_note_ms if args.min_note_ms is None else args.min_note_ms
    _check_threshold("onset-threshold", onset)
    _check_threshold("frame-threshold", frame)
    repeat = defaults.repeat_threshold if args.repeat_threshold is None else args.repeat_threshold
    if repeat is not None:
        _check_threshold("repeat-threshold", repeat)
    if min_note_ms < 0:
        raise MusestudioError(f"--min-note-ms must be >= 0, got {min_note_ms}")
    if args.output and len(args.audio) > 1:
        raise MusestudioError("-o takes one input; use --out-dir DIR for several files")
    # A checkpoint's note filter looks for onsets at its own thresholds: an onset or repeat threshold set on the
    # command line is decoded as given, without it.
    note_filter = defaults.note_filter if args.onset_threshold is None and args.repeat_threshold is None else None
    # Its note-end read-out chooses among ends the tuned frame threshold gives: a frame threshold set here ends notes
    # as it says, without it.
    note_end_model = defaults.note_end_model if args.frame_threshold is None else None
    settings = dataclasses.replace(  # the checkpoint's tuned settings, with what the flags change
        defaults, onset_threshold=onset, frame_threshold=frame, min_note_ms=min_note_ms, use_pedal=not args.no_pedal,
        repeat_threshold=repeat, sustain_offsets=not args.key_release_offsets, note_filter=note_filter,
        note_end_model=note_end_model,
    )
    jobs = []
    for audio in args.audio:
        if args.out_dir:
            folder = Path(args.out_dir)
            if not folder.is_dir():
                raise OutputFileError(f"{folder}: output folder does not exist")
            out = folder / f"{Path(audio).stem}.mid"
            csv = None
            if args.save_note_events is not None:
                csv = folder / f"{Path(audio).stem}.csv"
        else:
            out = Path(args.output)
            csv = Path(args.save_note_events) if args.save_note_events else None
            if args.save_note_events == "":
                csv = out.with_suffix(".csv")
        if out.suffix.lower() not in (".mid", ".midi"):
            raise OutputFileError(f"{out}: the output must be a .mid file")
        check_output(out, args.force)
        if csv is not None:
            check_output(csv, args.force)
        xml = out.with_suffix(".musicxml") if args.quantize else None
        if xml is not None:
            check_output(xml, args.force)
        jobs.append((audio, out, csv, xml))
    if args.tempo is not None and not (10.0 <= args.tempo <= 400.0):
        raise MusestudioError(f"--tempo must be between 10 and 400 BPM, got {args.tempo}")
    load_transcriber(args.checkpoint)  # fail early (before any work) on a bad checkpoint
    for audio, out, csv, xml in jobs:
        report = progress_printer(Path(audio).name, enabled=True if args.progress else None)
        notes: list[str] = []
        seq = transcribe_to_file(audio, out, settings, args.checkpoint, note_events=csv, on_progress=report,
                                 tempo_map=args.tempo_map, tempo=args.tempo, quantize_to=4 if args.quantize else None,
                                 musicxml=xml, on_tempo=notes.append)
        pedal = f", {len(seq.pedals) // 2} pedal presses" if seq.pedals else ""
        extra = f"; {xml}" if xml is not None and seq.notes else ""
        print(f"wrote {out}{extra} ({len(seq.notes)} notes{pedal}; {notes[0] if notes else '120 BPM'})")
    return 0
