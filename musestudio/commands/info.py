"""`musestudio info FILE`: what is in a score or audio file."""

from __future__ import annotations

import argparse
import json

HELP = "show notes, duration, tempo and key of a MIDI, MusicXML or audio file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="MIDI, MusicXML or audio files")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def describe(path: str) -> dict[str, object]:
    from musestudio.core.keys import estimate_key
    from musestudio.io.formats import kind_of, load_score

    kind = kind_of(path)
    if kind == "audio":
        from musestudio.io.audio import audio_info

        a = audio_info(path)
        return {
            "type": "audio",
            "duration_s": round(a.duration, 3),
            "sample_rate": a.sample_rate,
            "channels": a.channels,
        }
    seq = load_score(path)
    key = seq.key_signature
    est = estimate_key(seq.notes)
    tempos = seq.tempo_map.tempo_changes_seconds()
    ts = seq.time_signature
    return {
        "type": kind,
        "notes": len(seq.notes),
        "drum_notes": len(seq.drum_notes),
        "tracks": len(seq.tracks),
        "pedal_events": len(seq.pedals),
        "duration_s": round(seq.duration, 3),
        "tempo_qpm": round(tempos[0][1], 2),
        "tempo_changes": len(tempos),
        "time_signature": f"{ts.numerator}/{ts.denominator}",
        "key_signature": str(key) if key else None,
        "estimated_key": est.name if est else None,
        "pitch_range": [min(n.pitch for n in seq.notes), max(n.pitch for n in seq.notes)] if seq.notes else None,
        "ppq": seq.tempo_map.ppq,
    }


def run(args: argparse.Namespace) -> int:
    results = {path: describe(path) for path in args.files}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for path, info in results.items():
        print(path)
        for k, v in info.items():
            print(f"  {k:15s} {v}")
    return 0
