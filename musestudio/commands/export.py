"""`musestudio export IN -o OUT`: convert between MIDI, MusicXML and WAV."""

from __future__ import annotations

import argparse

from musestudio.commands._common import add_force, check_output

HELP = "convert a score to .mid, .musicxml/.mxl or .wav (format from the output extension)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="MIDI or MusicXML file")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (.mid, .musicxml, .mxl, .wav)")
    parser.add_argument("--soundfont", help="SoundFont (.sf2/.sf3) for WAV export")
    parser.add_argument("--sample-rate", type=int, default=44100, help="WAV sample rate (default 44100)")
    parser.add_argument("--transpose", type=int, default=0, help="shift by this many semitones")
    parser.add_argument("--quantize", type=float, default=0.0, metavar="BEATS", help="snap to a grid, e.g. 0.25")
    add_force(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from musestudio.core.errors import OutputFileError
    from musestudio.io.formats import EXPORT_EXTENSIONS, load_score, save_score

    if Path(args.output).suffix.lower() not in EXPORT_EXTENSIONS:
        raise OutputFileError(f"{args.output}: cannot export to '{Path(args.output).suffix}' (use .mid, .musicxml, .mxl or .wav)")
    out = check_output(args.output, args.force)
    seq = load_score(args.input)
    if args.transpose:
        seq = seq.transpose(args.transpose)
    if args.quantize:
        seq = seq.quantize(args.quantize)
    save_score(seq, out, sample_rate=args.sample_rate, soundfont=args.soundfont)
    print(f"wrote {out} ({len(seq.notes)} notes)")
    return 0
