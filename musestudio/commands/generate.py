"""`musestudio generate SEED.mid --model ... -o OUT.mid`: continue a seed."""

from __future__ import annotations

import argparse

from musestudio.commands._common import add_force, check_output, progress_printer

HELP = "continue a seed (MIDI/MusicXML) with the markov, lstm, transformer or gan model"


def _pitch_range(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in text.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"pitch range '{text}' should look like 36-96") from None
    return lo, hi


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("seed", metavar="SEED", help="seed file (.mid, .musicxml, .mxl)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.mid", help="seed + continuation")
    parser.add_argument("--model", default="transformer", choices=["markov", "lstm", "transformer", "gan"])
    parser.add_argument("--checkpoint", metavar="DIR", help="checkpoint folder (default: the shipped model)")
    parser.add_argument("--seed-start", type=float, default=None, metavar="S", help="seed starts here (seconds)")
    parser.add_argument("--seed-end", type=float, default=None, metavar="E", help="seed ends here (seconds)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the continuation (default 20)")
    parser.add_argument("--bars", type=float, default=None, help="length in bars of the seed's meter and tempo")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0, metavar="K", help="keep the K likeliest tokens (0 = off)")
    parser.add_argument("--top-p", type=float, default=1.0, metavar="P", help="nucleus sampling mass (1 = off)")
    parser.add_argument("--variations", type=int, default=1, metavar="N", help="write OUT_1.mid ... OUT_N.mid")
    parser.add_argument("--random-seed", type=int, default=None, metavar="N", help="make the result reproducible")
    parser.add_argument("--key", default="auto",
                        help='key the continuation leans to: "auto" (the seed\'s key, the default), "off", or e.g. "D minor"')
    parser.add_argument("--key-strength", type=float, default=None, metavar="NATS",
                        help="how hard the key holds: nats off each out-of-key note (default 1 in grid mode, 0.2 humanized; "
                             "inf = strict lock)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--humanize", dest="humanize", action="store_true", default=None,
                      help="humanized timing and dynamics (the default for a performance seed)")
    mode.add_argument("--grid", dest="humanize", action="store_false",
                      help="quantized output on the sixteenth/triplet grid (the default for a quantized seed)")
    parser.add_argument("--from", dest="start", type=float, default=None, metavar="S",
                        help="continue from this time (seconds; default: the seed's end), e.g. the playhead")
    parser.add_argument("--timing", choices=["auto", "tempo-map", "beats"], default="auto",
                        help="where the seed's beats come from: auto (its tempo map when its notes sit on it, "
                             "else the beat tracker), tempo-map or beats")
    parser.add_argument("--pitch-range", type=_pitch_range, default=(21, 108), metavar="LO-HI", help="e.g. 36-96")
    parser.add_argument("--density", type=float, default=None, metavar="X",
                        help="notes per second hint (default: follow the seed's density)")
    parser.add_argument("--free-density", action="store_true", help="do not steer the note density to the seed's")
    parser.add_argument("--free-register", action="store_true",
                        help="let the continuation leave the seed's register (by default it is steered to stay near it)")
    add_force(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from musestudio.core.errors import MusestudioError
    from musestudio.io.formats import load_score
    from musestudio.io.midi import write_midi
    from musestudio.ml.generate import GenerationSettings, generate

    if Path(args.output).suffix.lower() not in (".mid", ".midi"):
        raise MusestudioError(f"{args.output}: the output must be a .mid file")
    settings = GenerationSettings(
        model=args.model, checkpoint=args.checkpoint, seconds=args.seconds, bars=args.bars,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, variations=args.variations,
        random_seed=args.random_seed, key=args.key, pitch_range=args.pitch_range, density=args.density,
        keep_register=not args.free_register, follow_density=not args.free_density, humanize=args.humanize,
        key_strength=args.key_strength, timing=args.timing,
    )
    settings.validate()
    out = Path(args.output)
    targets = [out] if args.variations == 1 else [
        out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(1, args.variations + 1)
    ]
    for t in targets:
        check_output(t, args.force)
    seq = load_score(args.seed)
    if args.seed_start is not None or args.seed_end is not None:
        start = args.seed_start or 0.0
        if args.seed_end is not None and args.seed_end <= start:
            raise MusestudioError("--seed-end must be after --seed-start")
        seq = seq.slice(start, args.seed_end)
        if settings.start is None and args.seed_end is not None:
            settings.start = args.seed_end  # the selection ends there, even if its last note ends earlier
    if settings.start is not None:
        seq = seq.slice(0.0, settings.start)
    if not seq.notes:
        if seq.drum_notes:
            raise MusestudioError(f"{args.seed}: the seed has only drum notes; give it a pitched part to continue")
        raise MusestudioError(f"{args.seed}: the seed has no notes in the chosen range")
    results = generate(seq, settings, on_progress=progress_printer(f"generate ({args.model})"))
    for target, cont in zip(targets, results, strict=True):
        # the file carries the tempo map the continuation was written on (the seed's, or the beat tracker's)
        base = seq.copy(tempo_map=cont.tempo_map, time_signatures=cont.time_signatures)
        write_midi(base.merged(cont), target)
        print(f"wrote {target} ({len(seq.notes)} seed notes + {len(cont.notes)} new notes)")
    return 0
