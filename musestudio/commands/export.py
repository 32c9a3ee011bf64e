"""`musestudio export IN -o OUT`: convert between MIDI, MusicXML and WAV."""

from __future__ import annotations

import argparse

from musestudio.commands._common import add_force, check_output

HELP = "convert a score to .mid, .musicxml/.mxl or .wav (format from the output extension)"
TEMPO_MAPS = ("keep", "auto", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="MIDI or MusicXML file")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (.mid, .musicxml, .mxl, .wav)")
    parser.add_argument("--soundfont", help="SoundFont (.sf2/.sf3) for WAV export")
    parser.add_argument("--sample-rate", type=int, default=44100, help="WAV sample rate (default 44100)")
    parser.add_argument("--transpose", type=int, default=0, help="shift by this many semitones")
    parser.add_argument("--quantize", type=float, default=0.0, metavar="BEATS", help="snap to a grid, e.g. 0.25")
    parser.add_argument(
        "--tempo-map", choices=TEMPO_MAPS, default="keep",
        help="keep: the file's own tempo map (a performance is tracked for MusicXML); auto: track the beats "
        "and write a tempo map whose bar lines fall on the performed bars (note times unchanged); "
        "none: one constant tempo (120, or --tempo)",
    )
    parser.add_argument("--tempo", type=float, default=None, metavar="BPM",
                        help="a constant tempo in quarter notes per minute (note times unchanged)")
    add_force(parser)


def retimed(seq, tempo_map: str, tempo: float | None, *, notation: bool):  # type: ignore[no-untyped-def]
    """``seq`` with the tempo map the options ask for; note times are never changed."""
    from musestudio.core.errors import MusestudioError
    from musestudio.core.timing import TempoMap, TimeSignature

    if tempo is not None:
        if not 1.0 <= tempo <= 1000.0:
            raise MusestudioError(f"--tempo {tempo:g}: use a tempo between 1 and 1000 beats per minute")
        if tempo_map == "auto":
            raise MusestudioError("--tempo and --tempo-map auto contradict each other; give one of them")
        return seq.copy(tempo_map=TempoMap.constant(tempo, ppq=960), time_signatures=[seq.time_signature],
                        key_signatures=list(seq.key_signatures))
    if tempo_map == "none":
        return seq.copy(tempo_map=TempoMap.constant(120.0, ppq=960), time_signatures=[TimeSignature(0.0)])
    from musestudio.ml.beats import analyze, ensure_tempo_map, with_tempo_map

    if tempo_map == "auto":
        return with_tempo_map(seq, analyze(seq))
    return ensure_tempo_map(seq) if notation else seq


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from musestudio.core.errors import OutputFileError
    from musestudio.io.formats import EXPORT_EXTENSIONS, load_score, save_score
    from musestudio.io.musicxml import MUSICXML_EXTENSIONS

    suffix = Path(args.output).suffix.lower()
    if suffix not in EXPORT_EXTENSIONS:
        raise OutputFileError(f"{args.output}: cannot export to '{Path(args.output).suffix}' (use .mid, .musicxml, .mxl or .wav)")
    out = check_output(args.output, args.force)
    seq = load_score(args.input)
    if args.transpose:
        seq = seq.transpose(args.transpose)
    seq = retimed(seq, args.tempo_map, args.tempo, notation=suffix in MUSICXML_EXTENSIONS)
    if args.quantize:
        seq = seq.quantize(args.quantize)
    save_score(seq, out, sample_rate=args.sample_rate, soundfont=args.soundfont)
    print(f"wrote {out} ({len(seq.notes)} notes)")
    return 0
