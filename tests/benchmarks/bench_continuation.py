"""Continuations a composer keeps (issue #15): grid, bars, key, texture, likelihood, speed, copying.

Not collected by CI (needs ../shared/data/asap and the shipped models).  Run::

    OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_continuation.py --n 12 \\
        [--models transformer,lstm,markov,gan] [--split test] [--round1 /tmp/round1] [--json runs/bench.json]

Seeds come from held-out pieces (``--split test``, or ``validation`` for tuning):

* quantized seeds: the piece's score MIDI, 4 bars from its 3rd bar line, continued 4 bars
  (``bars=4``) in the default grid mode; the human continuation is the score's next 4 bars;
* performance seeds: the piece's first performance, 10 s from 20 s in, continued 10 s;
  the human continuation is what the pianist played next.  The performance is read on the
  beat tracker's grid when it is installed, else on its own tempo map (printed).

Measured per model (targets of the issue in brackets):

* grid share: onsets of quantized-seed continuations on the sixteenth/triplet grid of the
  *written file's* tempo map (write_midi, read back) [>= 98 %];
* bars: the last note of a ``bars=4`` continuation ends within a sixteenth of the bar line [all];
* key share: note-time inside the seed's Krumhansl-Kessler key, model vs human [within 0.03];
* texture: notes per second and polyphony over the continuation window, model / human [x0.8-1.25];
* copying: longest run of identical (pitch, inter-onset interval) shared with the seed, model vs human;
* bits per note on the split's human performances (windows from bar lines; round-1 models with
  their own tokens) [Transformer < LSTM < Markov, Transformer >= 20 % below Markov];
* speed: a 4-bar continuation [< 1 s], 20 s of music idle [< 5 s] and beside two busy loops [< 2x].
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def _busy() -> None:  # a CPU-bound process for the loaded-machine timing
    while True:
        pass


def seeds(split: str, n: int, per_piece: int = 1) -> list[dict]:
    """Quantized and performance seeds (with their human continuations) of the first ``n`` pieces.

    ``per_piece`` seeds of each kind per piece, from non-overlapping spans: score bars 2-6 (human 6-10),
    then 14-18, 26-30, ...; performance seconds 20-30 (human 30-40), then 60-70, 100-110, ... (a piece
    too short for the k-th span gives fewer)."""
    from musestudio.io.midi import read_midi
    from musestudio.ml.beatgrid import BeatGrid
    from training.splits import asap_split

    out, seen = [], set()
    for perf in asap_split(split):
        if perf.piece in seen or len(seen) >= n:
            continue
        seen.add(perf.piece)
        score = read_midi(perf.score_midi)
        grid = BeatGrid.from_sequence(score)
        grid.extend_to_bar(12 * per_piece)
        for k in range(per_piece):
            first = 2 + 12 * k
            if len(grid.bar_quarters) > first + 8 and score.notes:
                a = float(grid.to_seconds(grid.bar_quarters[first]))
                b = float(grid.to_seconds(grid.bar_quarters[first + 4]))
                c = float(grid.to_seconds(grid.bar_quarters[first + 8]))
                if k == 0 or (score.slice(a, b).notes and score.slice(b, c).notes):
                    out.append({"piece": perf.piece, "kind": "quantized", "seed": score.slice(a, b), "start": b,
                                "human": score.slice(b, c), "bars": 4, "seconds": None})
        perf_seq = read_midi(perf.performance_midi)
        for k in range(per_piece):
            t0 = 20.0 + 40.0 * k
            if perf_seq.duration > t0 + 25:
                out.append({"piece": perf.piece, "kind": "performance", "seed": perf_seq.slice(t0, t0 + 10),
                            "start": t0 + 10, "human": perf_seq.slice(t0 + 10, t0 + 20), "bars": None,
                            "seconds": 10.0})
    return out


def bar_grid_share(notes, timing) -> float:  # type: ignore[no-untyped-def]
    """Share of onsets on sixteenths/triplet eighths counted from their bar line (the file's tempo map and
    time signatures: a pickup or an odd bar moves the bar lines off the quarter grid, as a DAW shows them)."""
    from musestudio.ml.beatgrid import BeatGrid
    from musestudio.ml.seed import on_grid

    if not notes.notes:
        return 1.0
    grid = BeatGrid.from_sequence(timing)
    q = np.array([timing.tempo_map.seconds_to_beats(n.start) for n in notes.notes])
    bars = np.array([grid.bar_quarters[grid.bar_index(float(x))] for x in q])
    return float(on_grid(q - bars, 0.01).mean())


def key_share(seq, key) -> float:  # type: ignore[no-untyped-def]
    if key is None or not seq.notes:
        return float("nan")
    pcs = key.pitch_classes()
    dur = np.array([n.end - n.start for n in seq.notes])
    inside = np.array([n.pitch % 12 in pcs for n in seq.notes])
    return float((dur * inside).sum() / max(dur.sum(), 1e-9))


def longest_copy(cont, seed) -> int:  # type: ignore[no-untyped-def]
    """Longest run of consecutive (pitch, IOI to 20 ms) events the continuation shares with the seed."""
    def events(seq) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
        notes = sorted(seq.notes, key=lambda n: (n.start, n.pitch))
        on = [n.start for n in notes]
        return [(n.pitch, round((on[i + 1] - on[i]) / 0.02) if i + 1 < len(on) else -1) for i, n in enumerate(notes)]

    a, b = events(cont), events(seed)
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def texture(seq, span: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from musestudio.metrics.symbolic import polyphony

    if not seq.notes:
        return 0.0, float("nan")
    return len(seq.notes) / span, polyphony(seq)


def continuation_metrics(models: list[str], cases: list[dict], checkpoints: dict[str, str | None],
                         extra: dict | None = None) -> dict:
    from musestudio.core.keys import estimate_key
    from musestudio.io.midi import read_midi, write_midi
    from musestudio.ml.generate import GenerationSettings, generate
    from musestudio.ml.seed import grid_share, read_seed

    rows: dict[str, dict[str, list]] = {}
    tmp = Path(tempfile.mkdtemp())
    timing = set()
    for index, case in enumerate(cases):
        seed = case["seed"]
        reading = read_seed(seed, start=case["start"], seconds=case["seconds"], bars=case["bars"])
        timing.add(f"{case['kind']}: {reading.timing_source}")
        key = estimate_key(seed.notes)
        span = reading.end_seconds - reading.start_time
        human = case["human"]
        h = rows.setdefault("human", {})
        h.setdefault(f"key_{case['kind']}", []).append(key_share(human, key))
        d, p = texture(human, span)
        h.setdefault(f"density_{case['kind']}", []).append(d)
        h.setdefault(f"polyphony_{case['kind']}", []).append(p)
        h.setdefault(f"copy_{case['kind']}", []).append(longest_copy(human, seed))
        if case["kind"] == "quantized" and human.notes:
            h.setdefault("grid_onsets", []).append((bar_grid_share(human, human) * len(human.notes), len(human.notes)))
            h.setdefault("grid_onsets_absolute", []).append((grid_share(human, tolerance=0.01) * len(human.notes),
                                                             len(human.notes)))
        for model in models:
            settings = GenerationSettings(model=model, checkpoint=checkpoints.get(model), seconds=case["seconds"],
                                          bars=case["bars"], start=case["start"], random_seed=index, **(extra or {}))
            t = time.perf_counter()
            out = generate(seed, settings)[0]
            dt = time.perf_counter() - t
            r = rows.setdefault(model, {})
            r.setdefault(f"seconds_{case['kind']}", []).append(dt)
            r.setdefault(f"key_{case['kind']}", []).append(key_share(out, key))
            d, p = texture(out, span)
            r.setdefault(f"density_{case['kind']}", []).append(d)
            r.setdefault(f"polyphony_{case['kind']}", []).append(p)
            r.setdefault(f"copy_{case['kind']}", []).append(longest_copy(out, seed))
            if case["kind"] == "quantized":
                path = tmp / f"{model}.mid"
                write_midi(seed.copy(tempo_map=out.tempo_map, time_signatures=out.time_signatures).merged(out), path)
                back = read_midi(path)
                new = back.copy(notes=[n for n in back.notes if n.start >= reading.start_time - 1e-3])
                r.setdefault("grid_onsets_absolute", []).append((grid_share(new, tolerance=0.01) * len(new.notes),
                                                                 len(new.notes)))
                r.setdefault("grid_onsets", []).append((bar_grid_share(new, back) * len(new.notes), len(new.notes)))
                if out.notes:
                    tm = out.tempo_map
                    last = max(tm.seconds_to_beats(n.end) for n in out.notes)
                    r.setdefault("bar_end_error_16ths", []).append(abs(last - reading.end_q) * 4)
    return {"rows": rows, "timing": sorted(timing)}


def bits_per_note(models: list[str], checkpoints: dict[str, str | None], split: str, round1: str | None,
                  windows_per_piece: int) -> dict[str, float]:
    """Bits per note on the split's human performances (REMI windows from bar lines; round-1 event tokens)."""
    from musestudio.ml.generate import load_symbolic_model, score_windows
    from musestudio.ml.remi import RemiTokenizer
    from musestudio.ml.tokenizer import PerformanceTokenizer
    from training.data.symbolic import load_split
    from training.tasks.symbolic import HUMAN_MODE, _spread_windows, bar_windows

    out: dict[str, float] = {}
    tk = RemiTokenizer()
    cache = load_split(["asap-beats"], split, tk, REPO / "runs" / "cache")
    windows = [w for i in range(len(cache)) if int(cache.piece_tokens(i)[0]) == HUMAN_MODE
               for w in bar_windows(cache, i, 512, windows_per_piece)]
    notes = sum(tk.count_notes(w[1:]) for w in windows)
    for model in models:
        if model == "gan":
            continue
        loaded = load_symbolic_model(checkpoints.get(model), None if checkpoints.get(model) else model)
        nll, _ = score_windows(loaded, windows)
        out[model] = nll / math.log(2) / notes
    if round1:
        old = PerformanceTokenizer()
        cache1 = load_split(["asap"], split, old, REPO / "runs" / "cache")
        win1 = [w for i in range(len(cache1))
                for w in _spread_windows(np.asarray(cache1.piece_tokens(i), dtype=np.int64), windows_per_piece, 512)]
        notes1 = sum(int(old.is_note_on(w[1:]).sum()) for w in win1)
        for model in ("transformer", "lstm", "markov"):
            folder = Path(round1) / model
            if folder.is_dir():
                nll, _ = score_windows(load_symbolic_model(folder), win1)
                out[f"{model} (round 1)"] = nll / math.log(2) / notes1
    return out


def speed(model: str, checkpoint: str | None, cases: list[dict]) -> dict[str, float]:
    """Worst seed: 4 bars (quantized seeds), 20 s of music idle and beside two busy loops."""
    from musestudio.ml.generate import GenerationSettings, generate, load_symbolic_model

    if model != "gan":
        load_symbolic_model(checkpoint, None if checkpoint else model)
    res: dict[str, float] = {}

    def worst(kind_filter: str | None, **kw) -> float:  # type: ignore[no-untyped-def]
        times, cpus = [], []
        for case in cases:
            if kind_filter and case["kind"] != kind_filter:
                continue
            s = GenerationSettings(model=model, checkpoint=checkpoint, start=case["start"], random_seed=0, **kw)
            t, c = time.perf_counter(), time.process_time()
            generate(case["seed"], s)
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        worst.cpu = max(cpus) if cpus else float("nan")  # type: ignore[attr-defined]
        return max(times) if times else float("nan")

    res["bars4_worst_s"] = worst("quantized", bars=4, seconds=None)
    res["bars4_worst_cpu_s"] = worst.cpu  # type: ignore[attr-defined]
    res["s20_worst_s"] = worst(None, seconds=20.0)
    res["s20_worst_cpu_s"] = worst.cpu  # type: ignore[attr-defined]
    procs = [mp.Process(target=_busy, daemon=True) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        res["s20_busy_worst_s"] = worst(None, seconds=20.0)
    finally:
        for p in procs:
            p.terminate()
            p.join()
    res["load_average"] = os.getloadavg()[0]
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="transformer,lstm,markov,gan")
    ap.add_argument("--n", type=int, default=12, help="held-out pieces")
    ap.add_argument("--per-piece", type=int, default=1, help="seeds of each kind per piece (non-overlapping spans)")
    ap.add_argument("--split", default="test", choices=["test", "validation"])
    ap.add_argument("--round1", default=None, help="folder with the round-1 transformer/lstm/markov checkpoints")
    ap.add_argument("--checkpoints", default=None, help="folder holding <model>/ checkpoints (default: shipped)")
    ap.add_argument("--windows-per-piece", type=int, default=4)
    ap.add_argument("--speed-seeds", type=int, default=4, help="seeds of each kind timed (Transformer, LSTM)")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: continuations,bits,speed")
    ap.add_argument("--json", default=None, help="write all numbers here")
    ap.add_argument("--key-strength", type=float, default=None, help="(tuning, on validation) override KEY_STRENGTH")
    ap.add_argument("--density-strength", type=float, default=None, help="(tuning, on validation)")
    ap.add_argument("--temperature", type=float, default=None, help="(tuning, on validation)")
    ap.add_argument("--kinds", default="quantized,performance", help="seed kinds to run")
    ap.add_argument("--cards", default=None, help="models folder: write the numbers into each MODEL_CARD.md")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    models = [m for m in args.models.split(",") if m]
    skip = set(args.skip.split(","))
    ckpts = {m: (str(Path(args.checkpoints) / m) if args.checkpoints else None) for m in models}
    cases = [c for c in seeds(args.split, args.n, args.per_piece) if c["kind"] in args.kinds.split(",")]
    print(f"{len(cases)} seeds from {args.n} {args.split} pieces "
          f"({sum(c['kind'] == 'quantized' for c in cases)} quantized, {sum(c['kind'] == 'performance' for c in cases)} "
          "performance)", flush=True)
    report: dict = {"split": args.split, "pieces": args.n, "per_piece": args.per_piece}
    if "continuations" not in skip:
        extra = {} if args.key_strength is None else {"key_strength": args.key_strength}
        if args.density_strength is not None:
            extra["density_strength"] = args.density_strength
        if args.temperature is not None:
            extra["temperature"] = args.temperature
        cm = continuation_metrics(models, cases, ckpts, extra)
        report["timing_sources"] = cm["timing"]
        rows = cm["rows"]
        table = {}
        h = rows["human"]
        for name, r in rows.items():
            t: dict[str, float] = {}
            for kind in ("quantized", "performance"):
                if f"key_{kind}" in r:
                    t[f"key_share_{kind}"] = float(np.nanmean(r[f"key_{kind}"]))
                    t[f"density_{kind}"] = float(np.nanmean(r[f"density_{kind}"]))
                    t[f"polyphony_{kind}"] = float(np.nanmean(r[f"polyphony_{kind}"]))
                    t[f"copy_{kind}"] = float(np.mean(r[f"copy_{kind}"]))
                    if name != "human":
                        t[f"density_ratio_{kind}"] = t[f"density_{kind}"] / float(np.nanmean(h[f"density_{kind}"]))
                        t[f"polyphony_ratio_{kind}"] = t[f"polyphony_{kind}"] / float(np.nanmean(h[f"polyphony_{kind}"]))
                        t[f"key_gap_{kind}"] = t[f"key_share_{kind}"] - float(np.nanmean(h[f"key_{kind}"]))
                        t[f"mean_seconds_{kind}"] = float(np.mean(r[f"seconds_{kind}"]))
            if "grid_onsets" in r:
                on = sum(a for a, _ in r["grid_onsets"])
                tot = sum(b for _, b in r["grid_onsets"])
                t["grid_share_quantized"] = on / max(tot, 1)
                t["grid_share_quantized_absolute"] = sum(a for a, _ in r["grid_onsets_absolute"]) / max(tot, 1)
            if "bar_end_error_16ths" in r:
                errs = np.asarray(r["bar_end_error_16ths"])
                t["bars4_end_within_16th"] = float(np.mean(errs <= 1.0 + 1e-6))
                t["bars4_end_error_16ths_max"] = float(errs.max())
            table[name] = t
        report["continuations"] = table
        for name, t in table.items():
            print(f"\n[{name}]")
            for k, v in t.items():
                print(f"  {k:32s} {v:8.3f}")
        print("timing sources:", "; ".join(cm["timing"]))
    if "bits" not in skip:
        bits = bits_per_note(models, ckpts, args.split, args.round1, args.windows_per_piece)
        report["bits_per_note"] = bits
        print("\nbits per note on held-out performances:")
        for k, v in bits.items():
            print(f"  {k:24s} {v:7.2f}")
    if "speed" not in skip:
        few = [c for c in cases if c["kind"] == "quantized"][: args.speed_seeds]
        few += [c for c in cases if c["kind"] == "performance"][: args.speed_seeds]
        report["speed"] = {m: speed(m, ckpts.get(m), few) for m in models if m in ("transformer", "lstm")}
        print("\nspeed (worst seed, seconds):")
        for m, r in report["speed"].items():
            print(f"  {m:12s} " + "  ".join(f"{k} {v:.2f}" for k, v in r.items()))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
    if args.cards:
        write_cards(Path(args.cards), report, models, " ".join(sys.argv[1:] if argv is None else argv))
    return 0


CARD_MARK = "## Continuation benchmark (issue #15)"


def write_cards(models_dir: Path, report: dict, models: list[str], command: str) -> None:
    """Replace the benchmark section of each model's MODEL_CARD.md and refresh the manifest."""
    from musestudio.ml.checkpoint import write_manifest

    cont = report.get("continuations", {})
    human = cont.get("human", {})
    bits = report.get("bits_per_note", {})
    for model in models:
        card = models_dir / model / "MODEL_CARD.md"
        if not card.is_file():
            continue
        t = cont.get(model, {})
        lines = [CARD_MARK, "", f"`python tests/benchmarks/bench_continuation.py {command}` "
                 f"({report.get('pieces')} held-out {report.get('split')} pieces; quantized seeds: 4 bars of the "
                 "score MIDI continued 4 bars in grid mode; performance seeds: 10 s continued 10 s).", ""]
        if t:
            lines += ["| measure | quantized seeds | performance seeds | human (q / p) |", "|---|---|---|---|"]
            for key, label in (("key_share", "note-time in the seed's key"), ("density", "notes per second"),
                               ("polyphony", "polyphony"), ("copy", "longest copied (pitch, IOI) run")):
                q, p = t.get(f"{key}_quantized", float("nan")), t.get(f"{key}_performance", float("nan"))
                hq, hp = human.get(f"{key}_quantized", float("nan")), human.get(f"{key}_performance", float("nan"))
                lines.append(f"| {label} | {q:.3f} | {p:.3f} | {hq:.3f} / {hp:.3f} |")
            for key, label in (("density_ratio", "density / human"), ("polyphony_ratio", "polyphony / human"),
                               ("key_gap", "key share - human")):
                lines.append(f"| {label} | {t.get(key + '_quantized', float('nan')):.3f} | "
                             f"{t.get(key + '_performance', float('nan')):.3f} | |")
            if "grid_share_quantized" in t:
                lines += ["", f"- onsets on the sixteenth/triplet grid of the written file's tempo map and bar lines "
                          f"(quantized seeds): {100 * t['grid_share_quantized']:.1f}% (counted from tick 0 instead "
                          f"of the bar lines: {100 * t['grid_share_quantized_absolute']:.1f}%)",
                          f"- `bars=4` ends within a sixteenth of the bar line: {100 * t['bars4_end_within_16th']:.0f}% "
                          f"of seeds (worst {t['bars4_end_error_16ths_max']:.2f} sixteenths)"]
        if model in bits:
            lines += ["", "Bits per note on held-out performances (same windows for every model): " + ", ".join(
                f"{k} {v:.2f}" for k, v in bits.items())]
        sp = report.get("speed", {}).get(model)
        if sp:
            lines += ["", f"Speed (worst seed, model loaded, one torch thread, load average {sp['load_average']:.1f} on "
                      f"the shared 2-core machine): 4 bars {sp['bars4_worst_s']:.2f} s wall "
                      f"({sp['bars4_worst_cpu_s']:.2f} s CPU); 20 s of music {sp['s20_worst_s']:.2f} s wall "
                      f"({sp['s20_worst_cpu_s']:.2f} s CPU); beside two busy loops {sp['s20_busy_worst_s']:.2f} s wall."]
        text = card.read_text()
        after = ""
        if CARD_MARK in text:  # replace only this section: the next "## " heading and what follows stay
            head, rest = text[: text.index(CARD_MARK)], text[text.index(CARD_MARK) + len(CARD_MARK):]
            nxt = rest.find("\n## ")
            after = "" if nxt < 0 else "\n" + rest[nxt + 1:].rstrip() + "\n"
            text = head.rstrip() + "\n"
        card.write_text(text + "\n" + "\n".join(lines) + "\n" + after)
    write_manifest(models_dir)


if __name__ == "__main__":
    sys.exit(main())
