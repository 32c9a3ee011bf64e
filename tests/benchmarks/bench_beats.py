"""Beat, downbeat, meter and key tracking on held-out ASAP performances, against two baselines.

    .venv/bin/python tests/benchmarks/bench_beats.py [--checkpoint models/beat_tracker] [--xml 20] [--audio 8]

Needs ../shared/data/asap (the test split of training/splits.py: pieces never trained on, decoder
settings chosen on the validation split).  Reports, as means over the test performances:

1. beat and downbeat F-measure (mir_eval, +-70 ms, first 5 s ignored), meter accuracy (beats per bar and
   beat division equal the first annotated time signature's; and the written signature), key-signature
   accuracy (ASAP annotates signatures: A minor = C major);
2. the same notes through the old onset follower (musestudio.metrics.tempo.track_beats) and through
   librosa's beat_track on a note-onset envelope (if librosa is installed: `pip install librosa`);
3. speed: a 10-minute performance analysed, model loaded (median of 5) and in a fresh process;
4. MusicXML from the first ``--xml`` test performances: measures against the performance's annotated bars
   (+-5 %), the time signature, and how many notes survive (music21 reads the file back);
5. the tracker on a *transcription* of rendered audio (``--audio`` clips of 60 s: FluidSynth, a SoundFont,
   the shipped transcriber), not only on clean MIDI;
6. ``--sections plain`` (not in the default set; reads no ASAP data): the two plain fixture performances of
   tests/ml/beat_fixtures.py (a waltz, a swelling march) at 70-150 BPM, three seeds each: how many are
   tracked (beat F >= 0.9 and beats per bar right).  The unit test checks one tempo each; this says how
   far that holds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from training.beats_eval import item_sequence, mean_scores, score_item  # noqa: E402
from training.data.beats import Annotated, load_split  # noqa: E402


def librosa_beats(seq) -> np.ndarray:  # type: ignore[no-untyped-def]
    """librosa.beat.beat_track on a note-onset envelope (sum of onset velocities per 10 ms frame, smoothed)."""
    import librosa

    hop, fps = 512, 100.0
    starts = np.array([n.start for n in seq.notes])
    vel = np.array([n.velocity for n in seq.notes], dtype=float)
    env = np.zeros(int(starts.max() * fps) + 10)
    np.add.at(env, np.rint(starts * fps).astype(int), vel / 127.0)
    env = np.convolve(env, np.hanning(5), mode="same")
    _, frames = librosa.beat.beat_track(onset_envelope=env, sr=int(hop * fps), hop_length=hop, units="frames")
    return np.asarray(frames, dtype=float) / fps


def baseline_rows(items: list[Annotated]) -> dict[str, dict[str, float]]:
    import mir_eval

    from musestudio.metrics.tempo import track_beats

    out: dict[str, list[float]] = {"onset follower": [], "librosa beat_track": []}
    try:
        import librosa  # noqa: F401
    except ImportError:
        out.pop("librosa beat_track")
    for it in items:
        seq = item_sequence(it)
        ref = mir_eval.beat.trim_beats(it.beats)
        out["onset follower"].append(mir_eval.beat.f_measure(ref, mir_eval.beat.trim_beats(track_beats(seq))))
        if "librosa beat_track" in out:
            out["librosa beat_track"].append(mir_eval.beat.f_measure(ref, mir_eval.beat.trim_beats(librosa_beats(seq))))
    return {k: {"beat_f": float(np.mean(v))} for k, v in out.items()}


def signature_of(it: Annotated) -> tuple[int, bool]:
    return it.beats_per_bar, it.ternary


def musicxml_rows(items: list[Annotated], checkpoint: str, n: int) -> dict[str, float]:
    from music21 import converter

    from musestudio.core.timing import TimeSignature
    from musestudio.io.musicxml import count_score_notes, write_musicxml
    from musestudio.ml.beats import analyze, with_tempo_map

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for it in items[:n]:
            seq = item_sequence(it)
            mapped = with_tempo_map(seq, analyze(seq, checkpoint=checkpoint))
            out = write_musicxml(mapped, Path(tmp) / "x.musicxml")
            score = converter.parse(str(out))
            measures = list(score.parts[0].getElementsByClass("Measure"))
            want = len(it.downbeats)
            # the signature most measures are in (a pickup bar has its own)
            counts: dict[str, int] = {}
            current = None
            for m in measures:
                current = m.timeSignature or current
                if current is not None:
                    counts[current.ratioString] = counts.get(current.ratioString, 0) + 1
            main_sig = max(counts, key=counts.get) if counts else "4/4"
            num, den = (int(x) for x in main_sig.split("/"))
            written = TimeSignature(0.0, num, den)
            ternary, per_bar = written.compound, written.beats_per_bar
            rows.append({
                "measures_within_5pct": float(abs(len(measures) - want) <= 0.05 * want),
                "measure_ratio": len(measures) / max(want, 1),
                "time_signature_right": float((per_bar, ternary) == signature_of(it)),
                "time_signature_string_right": float(main_sig == it.time_signature),
                "notes_surviving": count_score_notes(out) / max(len(seq.notes), 1),
            })
    return mean_scores(rows)


def speed(checkpoint: str, items: list[Annotated]) -> dict[str, float]:
    from musestudio.core.notes import NoteSequence
    from musestudio.ml.beats import analyze

    # A 10-minute performance: the longest test performance, cut or looped to 600 s.
    it = max(items, key=lambda x: float(x.end.max()))
    seq = item_sequence(it)
    notes = list(seq.notes)
    span = seq.duration
    k = 1
    while notes[-1].start < 600.0:
        notes += [n.shifted(dt=k * span) for n in seq.notes]
        k += 1
    ten = NoteSequence([n for n in notes if n.start < 600.0])
    analyze(ten, checkpoint=checkpoint)  # load the model once
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        analyze(ten, checkpoint=checkpoint)
        times.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        from musestudio.io.midi import write_midi

        path = write_midi(ten, Path(tmp) / "ten.mid")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "musestudio", "analyze", str(path), "--checkpoint", checkpoint],
                       check=True, capture_output=True)
        cold = time.perf_counter() - t0
    return {"notes": len(ten.notes), "seconds_loaded_median": float(np.median(times)), "seconds_fresh_process": cold}


def audio_rows(items: list[Annotated], checkpoint: str, n: int, seconds: float = 60.0) -> dict[str, float]:
    """Render, transcribe with the shipped transcriber, track the transcribed notes."""
    from musestudio.core.notes import NoteSequence
    from musestudio.io.synth import find_soundfont, render
    from musestudio.ml.beats import AnalysisError, analyze
    from musestudio.ml.transcribe import transcribe

    sf = find_soundfont()
    rows, clean_rows = [], []
    too_few = 0
    sr = 22050
    for it in items[:n]:
        seq = item_sequence(it)
        clip = NoteSequence([x for x in seq.notes if x.start < seconds])
        audio = render(clip, sr, sf)
        notes = transcribe((audio, sr))
        sub = Annotated(**{**it.__dict__, "beats": it.beats[it.beats < seconds], "downbeats": it.downbeats[it.downbeats < seconds]})
        try:
            tracked = analyze(notes, checkpoint=checkpoint)
        except AnalysisError:  # the transcription found (almost) nothing: counted, not scored
            too_few += 1
            continue
        rows.append(score_item(sub, tracked))
        clean_rows.append(score_item(sub, analyze(clip, checkpoint=checkpoint)))
    return {"transcribed": mean_scores(rows), "same clips, clean MIDI": mean_scores(clean_rows),
            "clips": len(rows), "clips whose transcription was too sparse to track": too_few, "soundfont": str(sf)}


PLAIN_TEMPI = tuple(range(70, 151, 10))


def plain_rows(checkpoint: str, seeds: int = 3) -> dict[str, dict[str, object]]:
    """The fixture textures swept over tempo (DAW-style plain input at every tempo a user might play)."""
    import mir_eval

    from musestudio.ml.beats import analyze
    from tests.ml.beat_fixtures import march, waltz

    out: dict[str, dict[str, object]] = {}
    for name, make, per_bar in (("waltz", waltz, 3), ("march", march, 4)):
        passed, scores, by_tempo = 0, [], {}
        for bpm in PLAIN_TEMPI:
            good = 0
            for seed in range(seeds):
                seq, beats, _ = make(bpm=float(bpm), seed=seed)
                a = analyze(seq, checkpoint=checkpoint)
                f = float(mir_eval.beat.f_measure(beats, a.beats))
                scores.append(f)
                good += int(f >= 0.9 and a.beats_per_bar == per_bar)
            passed += good
            by_tempo[bpm] = good
        out[name] = {"passed": passed, "of": len(PLAIN_TEMPI) * seeds, "mean_beat_f": float(np.mean(scores)),
                     "passed_by_bpm": by_tempo}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=str(REPO / "models" / "beat_tracker"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--xml", type=int, default=20, help="test performances written as MusicXML")
    ap.add_argument("--audio", type=int, default=8, help="test performances rendered and transcribed")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--sections", default="tracker,baselines,speed,musicxml,audio",
                    help="comma-separated subset of tracker,baselines,speed,musicxml,audio,plain")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    report: dict[str, object] = {}
    if "plain" in sections:
        report["plain"] = plain_rows(args.checkpoint)
        print(json.dumps(report["plain"], indent=1), flush=True)
    if sections - {"plain"}:  # every other section reads the split
        items = load_split(args.split, with_scores=False)
        report |= {"split": args.split, "performances": len(items), "pieces": len({it.piece for it in items})}
        if "tracker" in sections:
            tracker_section(report, items, args.checkpoint, args.split)
        if "baselines" in sections:
            report["baselines"] = baseline_rows(items)
            print(json.dumps(report["baselines"], indent=1), flush=True)
        if "speed" in sections:
            report["speed"] = speed(args.checkpoint, items)
            print(json.dumps(report["speed"], indent=1), flush=True)
        if "musicxml" in sections and args.xml:
            report["musicxml"] = musicxml_rows(items, args.checkpoint, args.xml)
            print(json.dumps(report["musicxml"], indent=1), flush=True)
        if "audio" in sections and args.audio:
            report["audio"] = audio_rows(items, args.checkpoint, args.audio)
            print(json.dumps(report["audio"], indent=1), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


def tracker_section(report: dict, items: list[Annotated], checkpoint: str, split: str) -> None:
    from training.beats_eval import evaluate_checkpoint

    t0 = time.perf_counter()
    res = evaluate_checkpoint(checkpoint, split)
    report["tracker"] = res["mean"]
    # per piece: a piece counts as right when most of its performances are
    by_piece: dict[str, list[float]] = {}
    for row, it in zip(res["rows"], items):
        by_piece.setdefault(it.piece, []).append(row["meter_correct"])
    report["meter_correct_by_piece"] = float(np.mean([np.mean(v) > 0.5 for v in by_piece.values()]))
    report["tracker_seconds"] = time.perf_counter() - t0
    print(json.dumps({"tracker": report["tracker"], "meter_by_piece": report["meter_correct_by_piece"]}, indent=1),
          flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
