"""`musestudio analyze FILE...`: tempo map, meter, downbeats and key of a performance or score."""

from __future__ import annotations

import argparse
import json

HELP = "find the beats, bars, tempo map, meter and key of MIDI or MusicXML files"
DESCRIPTION = (
    "Find the beats, downbeats, time signature, tempo map and key of each file. A file whose notes sit on "
    "its own tempo map (a DAW export, a score) keeps that map; a performance is tracked by the shipped "
    "beat tracker (models/beat_tracker)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="MIDI or MusicXML files")
    parser.add_argument("--json", action="store_true", help="print JSON: {FILE: {beats, downbeats, tempo, ...}}")
    parser.add_argument("--track", action="store_true", help="track the beats even when the file has its own grid")
    parser.add_argument("--checkpoint", help="beat tracker checkpoint folder (default: the shipped one)")


def analyze_path(path: str, *, track: bool = False, checkpoint: str | None = None) -> dict[str, object]:
    from musestudio.io.formats import load_score
    from musestudio.ml.beats import analyze_file_or_track

    seq = load_score(path)
    analysis, source = analyze_file_or_track(seq, force_tracking=track, checkpoint=checkpoint)
    out: dict[str, object] = {"source": source, "notes": len(seq.notes), "bars": len(analysis.downbeats)}
    out.update(analysis.to_dict())
    return out


def run(args: argparse.Namespace) -> int:
    results = {path: analyze_path(path, track=args.track, checkpoint=args.checkpoint) for path in args.files}
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    for path, r in results.items():
        sigs = ", ".join(f"{s['numerator']}/{s['denominator']} at {s['time']:.2f} s" for s in r["time_signatures"])
        keys = ", ".join(f"{k['key']} {k['mode']} at {k['time']:.2f} s" for k in r["key_signatures"]) or "none"
        qpm = [t["qpm"] for t in r["tempo"]]
        beats = r["beats"]
        print(path)
        print(f"  source          {'its own tempo map' if r['source'] == 'file' else 'beat tracker'}")
        print(f"  beats           {len(beats)} ({r['median_bpm']:.1f} beats/min median)")
        print(f"  bars            {r['bars']} (first downbeat {r['downbeats'][0]:.3f} s)" if r["downbeats"] else "  bars            0")
        print(f"  time signature  {sigs}")
        print(f"  tempo map       {len(qpm)} changes, {min(qpm):.1f}-{max(qpm):.1f} quarter notes/min")
        print(f"  key             {keys}")
    return 0
