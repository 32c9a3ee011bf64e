"""Held-out scores of a transcriber checkpoint on WAV + reference-MIDI pairs.

Notes are scored with mir_eval (via :func:`musestudio.metrics.transcription.note_scores`)
at a 50 ms onset tolerance against the reference *as heard*: note ends extended
by the sustain pedal, which is what the model is trained to report.  Pedal F1
is frame-level (31.25 Hz) agreement of sustain-down between the decoded CC64
events and the reference's.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from musestudio.core.notes import NoteSequence

KEYS = ("onset_precision", "onset_recall", "onset_f1", "onset_offset_f1", "onset_velocity_f1", "frame_f1")


def pedal_f1(estimate: NoteSequence, reference: NoteSequence, frame_rate: float = 31.25) -> float:
    """F1 of sustain-pedal-down frames (1.0 when neither side uses the pedal)."""
    duration = max(estimate.duration, reference.duration)
    n = int(np.ceil(duration * frame_rate)) + 1

    def roll(seq: NoteSequence) -> np.ndarray:
        r = np.zeros(n, bool)
        for a, b in seq.sustain_intervals():
            r[int(a * frame_rate) : int(b * frame_rate)] = True
        return r

    e, r = roll(estimate), roll(reference)
    tp, fp, fn = float((e & r).sum()), float((e & ~r).sum()), float((~e & r).sum())
    if tp + fp + fn == 0:
        return 1.0
    return 2 * tp / (2 * tp + fp + fn)


def score(estimate: NoteSequence, reference: NoteSequence) -> dict[str, float]:
    from musestudio.metrics.transcription import note_scores

    heard = reference.with_sustain_applied()
    s = note_scores(estimate, heard, onset_tolerance=0.05)
    return {k: s[k] for k in KEYS}


def test_pairs(folder: str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    folder = Path(folder)
    return [(w, w.with_suffix(".mid")) for w in sorted(folder.glob("*.wav")) if w.with_suffix(".mid").is_file()]


def evaluate_folder(checkpoint: str | os.PathLike[str], folder: str | os.PathLike[str], settings: Any = None) -> dict[str, Any]:
    """Per-file and mean scores plus speed (x real time, inference + decoding, file read included)."""
    from musestudio.io.audio import audio_info
    from musestudio.io.midi import read_midi
    from musestudio.ml.transcribe import load_transcriber, transcribe

    load_transcriber(checkpoint)  # load once, outside the timing
    rows = []
    seconds_audio = seconds_spent = 0.0
    for wav, mid in test_pairs(folder):
        t0 = time.perf_counter()
        est = transcribe(wav, settings, checkpoint)
        dt = time.perf_counter() - t0
        ref = read_midi(mid)
        row = score(est, ref)
        row["pedal_f1"] = pedal_f1(est, ref)
        row["x_real_time"] = audio_info(wav).duration / dt
        rows.append({"file": wav.name, **row})
        seconds_audio += audio_info(wav).duration
        seconds_spent += dt
    mean = {k: float(np.mean([r[k] for r in rows])) for k in (*KEYS, "pedal_f1")} if rows else {}
    if rows:
        mean["x_real_time"] = seconds_audio / seconds_spent
        mean["test_files"] = float(len(rows))
    return {"files": rows, "mean": mean}


def model_card(metrics: dict[str, float], facts: dict[str, Any]) -> str:
    test_meta = Path(__file__).resolve().parents[2] / "data_cache" / "transcriber" / "test" / "meta.json"
    condition = json.loads(test_meta.read_text())["condition"] if test_meta.is_file() else {}
    lines = [
        "# Piano transcriber (CNN, Onsets-and-Frames-style heads)",
        "",
        "Convolutions on a log-frequency spectrogram (16 kHz, 2048-point STFT, hop 512 = 31.25 frames/s,",
        "192 triangular bins at 2 per semitone from A0), with harmonic stacking (copies of the input",
        "shifted by the sub-octave and harmonics 2-8 as extra input channels, so one 3x3 convolution sees",
        "a key's partials together), then a dense layer and residual dilated temporal convolutions, with",
        "per-key onset, frame, offset and velocity heads and a sustain-pedal head.",
        "",
        "## Data and split",
        "",
        "- ASAP performances (MIDI with pedal), split by piece (`training.splits.asap_split`): train pieces",
        "  for training, validation pieces for early stopping, test pieces for the numbers below.",
        "- Training audio: 60 s excerpts rendered with FluidSynth through FluidR3_GM and MuseScore_General",
        "  Lite (GM programs 0-2), random reverb (room size <= 0.6), gain, shelving EQ, white noise and",
        "  +-20 cent detuning; a random condition per group of 20 excerpts.  Palette v2 caches add",
        "  FluidR3Mono, three random peaking filters (+-6 dB) and, in half the conditions, a synthetic",
        "  room (decaying noise, RT60 0.4-2.5 s) instead of FluidSynth's reverb.  csound-soundfont's GM",
        "  bank is never used: its piano is the held-out TimGM6mb's samples.  Palette v3 (v5 and later) uses",
        "  every usable Debian piano except TimGM6mb (FluidR3_GM, MuseScore_General Lite, FluidR3Mono; GM",
        "  programs 0-3) and varies each render: stretched tuning/detune by register (+-15 cents, pitch bend",
        "  on 12 register channels), a random velocity curve, velocity-to-brightness (SF2 filter cutoff per",
        "  note), sample-start jitter (SF2 start offset per note), sympathetic resonance, pedal thumps,",
        "  synthetic rooms with early reflections (RT60 0.15-3 s) at random mic distances, EQ, compression,",
        "  coloured noise and mains hum, 8/11 kHz band limits, MP3/Vorbis/Opus, peak level -45..0 dBFS",
        "  (training/audio/augment.py).",
        "- Input loudness: v5 and later scale each frame by a causal running loudness estimate before the",
        "  log (config.json features.loudness = \"running\"), so recording level does not change the input.",
        f"- Held-out test audio: test-split pieces rendered with a SoundFont and room never used in training: {condition.get('name', 'TimGM6mb, large hall')}.",
        "- Scores: mir_eval at 50 ms onset tolerance against the reference notes with sustain applied.",
        "",
        "## Facts",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines += ["", "## Measured on the held-out test clips", ""]
    lines += [f"- {k}: {v:.4f}" for k, v in sorted(metrics.items())]
    lines += benchmark_section(Path(__file__).resolve().parents[2] / "runs" / "bench_transcribe.json")
    return "\n".join(lines) + "\n"


BENCH_COLUMNS = (
    "onset_precision", "onset_recall", "onset_f1", "onset_offset_f1", "onset_velocity_f1", "frame_f1", "pedal_f1",
    "x_real_time", "x_real_time_per_cpu_second",
)


def benchmark_section(path: Path) -> list[str]:
    """Markdown lines for the side-by-side table written by tests/benchmarks/bench_transcribe.py."""
    if not path.is_file():
        return []
    report = json.loads(path.read_text())
    if "ours" not in report:
        return []
    lines = [
        "",
        "## Side by side with Basic Pitch 0.4.0 (same clips, same run, same scoring)",
        "",
        f"{report['files']} held-out clips, {report['ours']['audio_seconds'] / 60:.1f} min of audio; "
        f"{report.get('cpus')} CPU cores on the machine, torch threads {report.get('torch_threads')}; "
        "x_real_time = audio seconds / wall seconds (read + infer + decode, model loading excluded);",
        "x_real_time_per_cpu_second = audio seconds / CPU seconds of all the process's threads (what one",
        "dedicated core gives; less sensitive to other jobs on this shared machine). Load average after",
        f"each system's pass: ours {report['ours'].get('load_average_after', float('nan')):.1f}, "
        f"Basic Pitch {report.get('basic_pitch', {}).get('load_average_after', float('nan')):.1f}.",
        "",
        "| system | " + " | ".join(BENCH_COLUMNS) + " |",
        "|---" * (len(BENCH_COLUMNS) + 1) + "|",
    ]
    for name in ("ours", "basic_pitch"):
        if name in report:
            r = report[name]
            lines.append(f"| {name} | " + " | ".join(f"{r[c]:.3f}" if c in r else "n/a" for c in BENCH_COLUMNS) + " |")
    if "long_file" in report:
        lf = report["long_file"]
        lines += ["", f"A {lf['minutes']:.0f}-minute 44.1 kHz file: peak RSS {lf['peak_rss_mb']:.0f} MB, "
                  f"{lf['x_real_time_incl_startup']:.0f}x real time including process start-up and model loading."]
    return lines


def validation_excerpts(val_dir: str | os.PathLike[str]) -> list[tuple[Path, int, int, NoteSequence]]:
    """(shard, first frame, end frame, reference notes) for every excerpt of a rendered cache.

    Scores are averaged over excerpts, as over the test clips: a mean over whole shards would
    let a 4-excerpt shard weigh as much as a 20-excerpt one.
    """
    from musestudio.io.midi import read_midi
    from training.audio.render import excerpt, scale_time

    val_dir = Path(val_dir)
    meta = json.loads((val_dir / "meta.json").read_text())
    out = []
    for shard in meta["shards"]:
        with np.load(val_dir / shard["file"]) as data:
            segments = data["segments"]
        cents = shard["condition"].get("detune_cents") or 0.0
        for e, (a, b) in zip(shard["excerpts"], segments, strict=True):
            ref = excerpt(read_midi(e["midi"]), e["start"], meta["seconds"])
            if cents:
                ref = scale_time(ref, 2.0 ** (-cents / 1200.0))
            out.append((val_dir / shard["file"], int(a), int(b), ref))
    return out


def validation_activations(model: Any, frame_rate: float, val_dir: str | os.PathLike[str]) -> list[tuple[Any, NoteSequence]]:
    """(activations, reference) per validation excerpt; the excerpt's frames start at time 0."""
    from musestudio.ml.transcribe import activations_from_features

    out = []
    loaded: dict[Path, np.ndarray] = {}
    for shard, a, b, ref in validation_excerpts(val_dir):
        if shard not in loaded:
            loaded.clear()
            with np.load(shard) as data:
                loaded[shard] = data["features"]
        feats = loaded[shard][a:b].astype(np.float32)
        out.append((activations_from_features(model, feats, frame_rate), ref))
    return out


def tune_thresholds(
    checkpoint: str | os.PathLike[str],
    val_dirs: str | os.PathLike[str] | list[str | os.PathLike[str]],
    onset_grid: tuple[float, ...] = (0.4, 0.5, 0.6, 0.7),
    frame_grid: tuple[float, ...] = (0.3, 0.4, 0.5),
    repeat_grid: tuple[float | None, ...] = (None, 0.7, 0.8),
    log: Any = None,
    pedal_grid: tuple[float, ...] = (0.3, 0.5, 0.7),
    harmonic_grid: tuple[float | None, ...] = (None, 0.8, 0.9),
) -> dict[str, Any]:
    """Pick decoding thresholds on validation pieces (never on test): best mean onset F1 over the
    excerpts (to 3 places), then onset+offset F1.  A second stage picks the pedal threshold, which
    moves offsets only (pedal-aware offsets), by onset+offset F1.  Activations are computed once;
    only decoding is repeated."""
    from musestudio.ml.decode import DecodeSettings, decode
    from musestudio.ml.transcribe import load_transcriber

    dirs = [val_dirs] if isinstance(val_dirs, (str, os.PathLike)) else list(val_dirs)
    model, fc = load_transcriber(checkpoint)
    cached = [pair for val_dir in dirs for pair in validation_activations(model, fc.frame_rate, val_dir)]
    def mean_scores(settings: DecodeSettings) -> dict[str, float]:
        rows = [score(decode(acts, settings), ref) for acts, ref in cached]
        return {k: float(np.mean([r[k] for r in rows])) for k in KEYS}

    table = []
    for onset, frame, repeat, harmonic in itertools.product(onset_grid, frame_grid, repeat_grid, harmonic_grid):
        if repeat is not None and repeat <= onset:
            continue  # a repeat threshold at or below the onset threshold changes nothing
        if harmonic is not None and harmonic <= onset:
            continue  # likewise
        chosen = {"onset_threshold": onset, "frame_threshold": frame, "repeat_threshold": repeat,
                  "harmonic_threshold": harmonic}
        mean = mean_scores(DecodeSettings(**chosen))
        table.append({**chosen, **mean})
        if log:
            log(f"onset {onset} frame {frame} repeat {repeat} harmonic {harmonic}: onset F1 {mean['onset_f1']:.4f} "
                f"on+off F1 {mean['onset_offset_f1']:.4f}")
    best = max(table, key=lambda r: (round(r["onset_f1"], 3), r["onset_offset_f1"]))
    best = {**best, "pedal_threshold": DecodeSettings().pedal_threshold}
    for pedal in pedal_grid:
        chosen = {k: best[k] for k in ("onset_threshold", "frame_threshold", "repeat_threshold", "harmonic_threshold")}
        mean = mean_scores(DecodeSettings(**chosen, pedal_threshold=pedal))
        row = {**chosen, "pedal_threshold": pedal, **mean}
        table.append(row)
        if log:
            log(f"pedal {pedal}: onset F1 {mean['onset_f1']:.4f} on+off F1 {mean['onset_offset_f1']:.4f}")
        if mean["onset_offset_f1"] > best["onset_offset_f1"] and round(mean["onset_f1"], 3) >= round(best["onset_f1"], 3):
            best = row
    return {"best": best, "table": table, "excerpts": len(cached)}


def tune_level_velocity(checkpoint: str | os.PathLike[str], clips: str | os.PathLike[str],
                        per_db: tuple[float, ...], lag_ms: tuple[float, ...],
                        log: Any = None) -> dict[str, Any]:
    """Grid search of ``DecodeSettings.level_velocity`` x ``level_lag_ms`` by mean onset+velocity F1 on
    VALIDATION audio clips (the level exists only for audio run through the normaliser, not for cached
    features).  The checkpoint's other decode settings are kept."""
    import dataclasses

    from musestudio.io.midi import read_midi
    from musestudio.ml.decode import decode, with_level_velocity
    from musestudio.ml.transcribe import decode_defaults, run_inference

    plain = dataclasses.replace(decode_defaults(checkpoint), level_velocity=0.0)
    pairs = test_pairs(clips)
    if not pairs:
        raise SystemExit(f"{clips}: no WAV + MIDI pairs")
    # Decode each clip once: the grid changes velocities only (as decode() would, through with_level_velocity).
    runs = []
    for wav, mid in pairs:
        acts = run_inference(wav, checkpoint)
        runs.append((decode(acts, plain), acts, read_midi(mid)))
    grid = [(0.0, 0.0)] + [(a, g) for a in per_db if a > 0 for g in lag_ms]
    scores = {}
    for a, g in grid:
        rows = []
        for seq, acts, ref in runs:
            est = seq
            if a > 0 and acts.level is not None and len(acts.level):
                est = dataclasses.replace(seq, notes=with_level_velocity(seq.notes, acts.level, acts.frame_rate, a, g))
            rows.append(score(est, ref)["onset_velocity_f1"])
        scores[(a, g)] = float(np.mean(rows))
        if log:
            log(f"level_velocity {a} lag {g} ms: velocity F1 {scores[(a, g)]:.4f}")
    (a, g), best = max(scores.items(), key=lambda kv: (kv[1], -kv[0][0]))
    return {"level_velocity": a, "level_lag_ms": g, "onset_velocity_f1": best, "off_velocity_f1": scores[(0.0, 0.0)],
            "clips": len(runs)}


def velocity_examples(checkpoint: str | os.PathLike[str], folders: list[str], log: Any = None,
                      extended: bool = False, more: bool = False) -> list[dict[str, Any]]:
    """Per clip of the folders' WAV + MIDI pairs: its piece, the decoded notes (head velocities, no level
    velocity or model), the activations, the reference, and the velocity features and reference velocities
    of the notes that match one (onset within 50 ms, same pitch)."""
    import dataclasses

    import mir_eval

    from musestudio.io.midi import read_midi
    from musestudio.metrics.transcription import mir_eval_arrays
    from musestudio.ml.decode import decode, extended_velocity_features, more_velocity_features, velocity_features
    from musestudio.ml.transcribe import decode_defaults, run_inference

    plain = dataclasses.replace(decode_defaults(checkpoint), level_velocity=0.0, velocity_model=None)
    out = []
    for folder in folders:
        meta_file = Path(folder) / "meta.json"
        pieces = {f["file"]: f["piece"] for f in json.loads(meta_file.read_text())["files"]} if meta_file.is_file() else {}
        for wav, mid in test_pairs(folder):
            acts = run_inference(wav, checkpoint)
            est, ref = decode(acts, plain), read_midi(mid)
            features = more_velocity_features if more else extended_velocity_features if extended else velocity_features
            x = features(est.notes, acts)
            pairs = []
            if est.notes and ref.notes:
                (ri, rp, _), (ei, ep, _) = mir_eval_arrays(ref), mir_eval_arrays(est)
                pairs = mir_eval.transcription.match_notes(ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=None)
            y = np.array([ref.notes[i].velocity for i, _ in pairs], float)
            out.append({"folder": str(folder), "clip": wav.stem, "piece": pieces.get(wav.stem, f"{folder}/{wav.stem}"),
                        "notes": est, "acts": acts, "reference": ref, "x": x[[j for _, j in pairs]] if pairs else x[:0],
                        "y": y - y.mean() if len(y) else y})
            if log:
                log(f"{folder}/{wav.stem}: {len(est.notes)} notes, {len(pairs)} matched")
    return out


def fit_ridge(xs: list[np.ndarray], ys: list[np.ndarray], l2: float) -> dict[str, list[float]]:
    """Ridge regression on standardised features (no intercept: features and targets are centred per
    file).  Twelve weights' least squares; numpy's solve is all it needs."""
    x, y = np.concatenate(xs), np.concatenate(ys)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    w = np.linalg.solve(z.T @ z + l2 * len(z) * np.eye(z.shape[1]), z.T @ y)
    return {"mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(), "weights": w.round(6).tolist()}


def fit_mlp(xs: list[np.ndarray], ys: list[np.ndarray], *, hidden: tuple[int, ...] = (32,), weight_decay: float = 1e-2,
            members: int = 5, seed: int = 0, loss: str = "mse", batch: int = 256, patience: int = 20) -> dict[str, Any]:
    """An ensemble of small ReLU MLPs (torch, Adam at 3e-3, mini-batches of 256, early stopping on a random tenth
    of the notes after 20 epochs without gain) on standardised features, stored as plain weight lists for
    musestudio.ml.decode.velocity_model_output.  Why an MLP: on v9m's 40 validation clips, cross-validated by
    piece, the shipped ridge on 12 features scores velocity F1 0.622, a ridge on these 18 features 0.640 (a
    scikit-learn probe, ignored runs/s14/vel_probe2.py) and this ensemble 0.663-0.667 (`fit-velocity --kind mlp`).

    ``loss`` "bce": targets are 0/1 labels and the output is a logit (the note filter); ``hidden`` () is then a
    logistic regression.  ``batch`` and ``patience`` (epochs without gain before stopping): the note-end model's
    ~15 rows a note are fitted in larger batches with less patience."""
    import torch

    if loss not in ("mse", "bce"):
        raise ValueError(f"fit_mlp loss {loss!r}: mse or bce")
    criterion = torch.nn.functional.mse_loss if loss == "mse" else torch.nn.functional.binary_cross_entropy_with_logits

    x, y = np.concatenate(xs), np.concatenate(ys)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = torch.tensor((x - mean) / scale, dtype=torch.float32)
    t = torch.tensor(y, dtype=torch.float32)[:, None]
    out: list[list[list[Any]]] = []
    for m in range(members):
        gen = torch.Generator().manual_seed(seed * 1000 + m)
        torch.manual_seed(seed * 1000 + m)
        order = torch.randperm(len(z), generator=gen)
        n_val = max(1, len(z) // 10)
        val, train = order[:n_val], order[n_val:]
        sizes = (z.shape[1], *hidden, 1)
        layers: list[torch.nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*layers)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=weight_decay)
        best, best_state, bad = float("inf"), None, 0
        for _ in range(1000):
            perm = train[torch.randperm(len(train), generator=gen)]
            for i in range(0, len(perm), batch):
                b = perm[i : i + batch]
                opt.zero_grad()
                criterion(net(z[b]), t[b]).backward()
                opt.step()
            with torch.no_grad():
                val_loss = float(criterion(net(z[val]), t[val]))
            if val_loss < best - 1e-4:
                best, bad = val_loss, 0
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
                if bad >= patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        linears = [mod for mod in net if isinstance(mod, torch.nn.Linear)]
        out.append([[mod.weight.detach().numpy().T.round(6).tolist(), mod.bias.detach().numpy().round(6).tolist()]
                    for mod in linears])
    return {"kind": "mlp", "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(), "members": out}


def fit_velocity_model(checkpoint: str | os.PathLike[str], folders: list[str], *, l2: float = 0.1,
                       kind: str = "linear", hidden: tuple[int, ...] = (32,), weight_decay: float = 1e-2,
                       members: int = 5, more_features: bool = False,
                       log: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The note-velocity model (DecodeSettings.velocity_model) fitted on VALIDATION clips, and its report:
    mean onset+velocity F1 on the first folder's clips with the checkpoint's level velocity, and with the
    model cross-validated by piece (each clip scored by a model fitted on the other pieces' clips of every
    folder).  The returned model is fitted on all the clips.  ``more_features`` (mlp only): the 25 inputs of
    more_velocity_features instead of the 18."""
    import dataclasses

    from musestudio.ml.decode import decode, with_velocity_model
    from musestudio.ml.transcribe import decode_defaults

    if kind not in ("linear", "mlp"):
        raise ValueError(f"velocity model kind {kind!r}: linear or mlp")
    if more_features and kind != "mlp":
        raise ValueError("fit-velocity: --more-features needs --kind mlp")
    level_only = dataclasses.replace(decode_defaults(checkpoint), velocity_model=None)
    data = velocity_examples(checkpoint, folders, extended=kind == "mlp", more=more_features, log=log)

    def fit(xs: list[np.ndarray], ys: list[np.ndarray]) -> dict[str, Any]:
        if kind == "linear":
            return fit_ridge(xs, ys, l2)
        return fit_mlp(xs, ys, hidden=hidden, weight_decay=weight_decay, members=members)

    if not data or not sum(len(d["y"]) for d in data):
        raise SystemExit("fit-velocity: no matched notes in " + ", ".join(folders))
    first = [d for d in data if d["folder"] == str(folders[0])]
    level, fitted = [], []
    for d in first:
        acts, est = d["acts"], d["notes"]
        level.append(score(decode(acts, level_only), d["reference"])["onset_velocity_f1"])  # as shipped before
        others = [o for o in data if o["piece"] != d["piece"]]
        model = fit([o["x"] for o in others], [o["y"] for o in others])
        notes = with_velocity_model(est.notes, acts, model)
        fitted.append(score(dataclasses.replace(est, notes=notes), d["reference"])["onset_velocity_f1"])
    model = fit([d["x"] for d in data], [d["y"] for d in data])
    settings = {"l2": l2} if kind == "linear" else {"hidden": list(hidden), "weight_decay": weight_decay, "members": members}
    report = {"clips": len(data), "scored_clips": len(first), "pieces": len({d["piece"] for d in data}),
              "matched_notes": int(sum(len(d["y"]) for d in data)), "kind": kind, **settings,
              "level_velocity_f1": float(np.mean(level)), "model_cv_velocity_f1": float(np.mean(fitted))}
    return model, report


def note_filter_examples(acts: Any, reference: NoteSequence, settings: Any, thresholds: dict[str, Any],
                         extended: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of one clip's onset candidates under ``settings`` with the filter's candidate
    ``thresholds`` (onset, and optionally repeat and harmonic): label 1 where the candidate matches a
    reference note (same pitch, onset within 50 ms, one-to-one as mir_eval scores), else 0.  ``extended``: the
    features include EXTRA_FILTER_FEATURES."""
    import mir_eval

    from musestudio.core.notes import PIANO_LOW
    from musestudio.metrics.transcription import mir_eval_arrays
    from musestudio.ml.decode import candidate_settings, note_filter_features, onset_candidates, subframe_onsets

    cand = candidate_settings(settings, thresholds)
    frames, keys = onset_candidates(acts.onset, acts.frame, cand)
    x = note_filter_features(acts, frames, keys, settings.frame_threshold, extended)
    y = np.zeros(len(frames))
    if len(frames) and reference.notes:
        onset = np.nan_to_num(np.asarray(acts.onset, np.float32))
        start = (subframe_onsets(onset, frames, keys) if settings.subframe else frames.astype(float)) / acts.frame_rate
        est = np.stack([start, start + 0.1], axis=1)
        ri, rp, _ = mir_eval_arrays(reference)
        pairs = mir_eval.transcription.match_notes(ri, rp, est, mir_eval.util.midi_to_hz(keys + float(PIANO_LOW)),
                                                   onset_tolerance=0.05, offset_ratio=None)
        y[[j for _, j in pairs]] = 1.0
    return x, y


def piece_folds(pieces: list[str], folds: int, seed: int = 0) -> dict[str, int]:
    """Each piece's fold (pieces shuffled, then dealt round-robin), so no piece is on both sides of a split."""
    names = sorted(set(pieces))
    np.random.default_rng(seed).shuffle(names)
    return {name: i % folds for i, name in enumerate(names)}


def cross_validate_note_filter(data: list[dict[str, Any]], settings: Any, *, candidates: list[dict[str, Any]],
                               keep_thresholds: tuple[float, ...], hidden: tuple[int, ...] = (32,),
                               weight_decay: float = 1e-2, members: int = 5, folds: int = 5,
                               extended: bool = False, log: Any = None) -> list[dict[str, Any]]:
    """Mean scores over ``data``'s clips (velocity_examples' dicts: acts, reference, piece) of the decoder with
    a note filter fitted on the other folds' pieces, for each candidate thresholds dict x keep threshold, and
    (first row, ``candidates`` None) of ``settings`` as they are; each row also lists every clip's onset F1."""
    import dataclasses

    from musestudio.ml.decode import decode

    fold_of = piece_folds([d["piece"] for d in data], folds)

    def mean_scores(ests: list[NoteSequence]) -> dict[str, Any]:
        rows = [score(e, d["reference"]) for e, d in zip(ests, data, strict=True)]
        return {**{k: float(np.mean([r[k] for r in rows])) for k in KEYS if k != "frame_f1"},
                "clip_onset_f1": [round(r["onset_f1"], 4) for r in rows]}

    plain = dataclasses.replace(settings, note_filter=None)
    table = [{"candidates": None, "keep_threshold": None, **mean_scores([decode(d["acts"], plain) for d in data])}]
    if log:
        log(f"without a filter: onset F1 {table[0]['onset_f1']:.4f}")
    for thresholds in candidates:
        examples = [note_filter_examples(d["acts"], d["reference"], settings, thresholds, extended) for d in data]
        ests: dict[float, list[Any]] = {t: [None] * len(data) for t in keep_thresholds}
        for fold in range(folds):
            inside = [i for i, d in enumerate(data) if fold_of[d["piece"]] == fold]
            if not inside:
                continue
            train = [examples[i] for i, d in enumerate(data) if fold_of[d["piece"]] != fold]
            model = fit_mlp([x for x, _ in train], [y for _, y in train], hidden=hidden, weight_decay=weight_decay,
                            members=members, loss="bce")
            for keep in keep_thresholds:
                filt = dataclasses.replace(settings, note_filter={**model, **thresholds, "keep_threshold": keep})
                for i in inside:
                    ests[keep][i] = decode(data[i]["acts"], filt)
        n_cand = sum(len(y) for _, y in examples)
        n_pos = sum(float(y.sum()) for _, y in examples)
        for keep in keep_thresholds:
            row = {"candidates": thresholds, "keep_threshold": keep, "candidate_notes": n_cand,
                   "candidate_true": n_pos, **mean_scores(ests[keep])}
            table.append(row)
            if log:
                log(f"candidates {thresholds} keep {keep}: onset P/R/F1 {row['onset_precision']:.4f}/"
                    f"{row['onset_recall']:.4f}/{row['onset_f1']:.4f} on+off {row['onset_offset_f1']:.4f} "
                    f"vel {row['onset_velocity_f1']:.4f}")
    return table


def fit_set(checkpoint: str | os.PathLike[str], folders: list[str], folds: int, command: str,
            log: Any = None) -> list[dict[str, Any]]:
    """A decoder read-out's fit set (velocity_examples' dicts), refused with a ValueError naming ``command`` when it
    has no reference notes or fewer pieces than cross-validation folds."""
    data = velocity_examples(checkpoint, folders, log=log)
    if not data or not any(d["reference"].notes for d in data):
        raise ValueError(f"{command}: no reference notes in " + ", ".join(map(str, folders)))
    if len({d["piece"] for d in data}) < folds:
        raise ValueError(f"{command}: {len({d['piece'] for d in data})} pieces; cross-validation needs {folds}")
    return data


def fit_note_filter(checkpoint: str | os.PathLike[str], folders: list[str], *, onset_thresholds: tuple[float, ...],
                    keep_thresholds: tuple[float, ...], hidden: tuple[int, ...] = (32,), weight_decay: float = 1e-2,
                    members: int = 5, folds: int = 5, candidate_tests: bool = True, extended: bool = False,
                    log: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The note-candidate filter (DecodeSettings.note_filter) fitted on clips of TRAINING-split pieces, and its
    report: the checkpoint's decoding and, for each candidate onset threshold x keep threshold, the filter
    cross-validated by piece (``folds`` folds).  The best cell (mean onset F1 to 3 places, then onset+offset
    F1) is refitted on all the clips.  ``candidate_tests`` False looks for candidates without the repeat and
    harmonic tests (the filter's features then judge repeats and partials).  ``extended``: the filter also reads
    EXTRA_FILTER_FEATURES (43 inputs)."""
    from musestudio.ml.transcribe import decode_defaults

    if not onset_thresholds or not keep_thresholds:
        raise ValueError("fit-note-filter: give at least one onset and one keep threshold")
    for t in (*onset_thresholds, *keep_thresholds):
        if not 0 < t < 1:
            raise ValueError(f"fit-note-filter: thresholds are probabilities in (0, 1), not {t}")
    settings = decode_defaults(checkpoint)
    data = fit_set(checkpoint, folders, folds, "fit-note-filter", log)
    extra = {} if candidate_tests else {"repeat_threshold": None, "harmonic_threshold": None}
    candidates = [{"onset_threshold": t, **extra} for t in onset_thresholds]
    table = cross_validate_note_filter(data, settings, candidates=candidates, keep_thresholds=keep_thresholds,
                                       hidden=hidden, weight_decay=weight_decay, members=members, folds=folds,
                                       extended=extended, log=log)
    best = max(table[1:], key=lambda r: (round(r["onset_f1"], 3), r["onset_offset_f1"]))
    examples = [note_filter_examples(d["acts"], d["reference"], settings, best["candidates"], extended) for d in data]
    model = fit_mlp([x for x, _ in examples], [y for _, y in examples], hidden=hidden, weight_decay=weight_decay,
                    members=members, loss="bce")
    model = {**best["candidates"], "keep_threshold": best["keep_threshold"], **model}
    report = {"clips": len(data), "pieces": len({d["piece"] for d in data}), "folds": folds, "hidden": list(hidden),
              "weight_decay": weight_decay, "members": members, "extended_features": extended, "shipped": table[0],
              "best": best, "table": table}
    return model, report


def note_end_examples(acts: Any, reference: NoteSequence, settings: Any) -> tuple[np.ndarray, np.ndarray]:
    """(features [rows, len(NOTE_END_FEATURES)], labels [rows]) of one clip's note-end candidates, for the notes
    decoded under ``settings`` (onsets as shipped, key-release ends) that match a reference note (same pitch, onset
    within 50 ms, one-to-one as mir_eval scores): label 1 where the candidate end lies within mir_eval's offset
    tolerance (50 ms or a fifth of the note, whichever is longer) of the reference note's end with the sustain
    pedal applied, which is what a listener hears and what the scores compare against."""
    import dataclasses

    import mir_eval

    from musestudio.metrics.transcription import mir_eval_arrays
    from musestudio.ml.decode import NOTE_END_FEATURES, decode, decode_pedal, note_end_candidates

    released = dataclasses.replace(settings, sustain_offsets=False, note_end_model=None, velocity_model=None,
                                   level_velocity=0.0)
    notes = decode(acts, released).notes
    heard = reference.with_sustain_applied()
    empty = np.zeros((0, len(NOTE_END_FEATURES))), np.zeros(0)
    if not notes or not heard.notes or acts.key_energy is None or acts.level is None:
        return empty
    pedals = decode_pedal(acts.pedal, acts.frame_rate, settings) if acts.pedal is not None else []
    ends, x = note_end_candidates(notes, acts, pedals)
    ri, rp, _ = mir_eval_arrays(heard)
    est = np.array([[nt.start, nt.end] for nt in notes])
    pitch = mir_eval.util.midi_to_hz(np.array([nt.pitch for nt in notes], float))
    pairs = mir_eval.transcription.match_notes(ri, rp, est, pitch, onset_tolerance=0.05, offset_ratio=None)
    if not pairs:
        return empty
    r, j = (np.array(v) for v in zip(*pairs, strict=True))
    tolerance = np.maximum(0.05, 0.2 * (ri[r, 1] - ri[r, 0]))
    labels = np.abs(ends[j] - ri[r, 1][:, None]) <= tolerance[:, None]
    return x[j].reshape(-1, x.shape[2]), labels.reshape(-1).astype(float)


NOTE_END_FIT = {"batch": 1024, "patience": 8, "weight_decay": 1e-3}  # the sixteenth-session probe's training


def cross_validate_note_ends(data: list[dict[str, Any]], settings: Any, *, hidden: tuple[int, ...] = (64,),
                             members: int = 3, folds: int = 5, log: Any = None) -> dict[str, Any]:
    """Mean scores over ``data``'s clips (velocity_examples' dicts) of ``settings`` as they are (``shipped``) and
    with a note-end model fitted on the other folds' pieces (``fitted``), with every clip's onset+offset F1."""
    import dataclasses

    from musestudio.ml.decode import NOTE_END_CANDIDATES, decode

    fold_of = piece_folds([d["piece"] for d in data], folds)
    examples = [note_end_examples(d["acts"], d["reference"], settings) for d in data]
    plain = dataclasses.replace(settings, note_end_model=None)
    ests: list[Any] = [None] * len(data)
    for fold in range(folds):
        inside = [i for i, d in enumerate(data) if fold_of[d["piece"]] == fold]
        if not inside:
            continue
        train = [examples[i] for i, d in enumerate(data) if fold_of[d["piece"]] != fold]
        model = fit_mlp([x for x, _ in train], [y for _, y in train], hidden=hidden, members=members, loss="bce",
                        **NOTE_END_FIT)
        for i in inside:
            ests[i] = decode(data[i]["acts"], dataclasses.replace(settings, note_end_model=model))
        if log:
            log(f"note ends: fold {fold + 1} of {folds} scored")

    def mean_scores(seqs: list[Any]) -> dict[str, Any]:
        rows = [score(e, d["reference"]) for e, d in zip(seqs, data, strict=True)]
        return {**{k: float(np.mean([r[k] for r in rows])) for k in KEYS if k != "frame_f1"},
                "clip_onset_offset_f1": [round(r["onset_offset_f1"], 4) for r in rows]}

    rows = int(sum(len(y) for _, y in examples))
    return {"shipped": mean_scores([decode(d["acts"], plain) for d in data]), "fitted": mean_scores(ests),
            "rows": rows, "notes_matched": rows // len(NOTE_END_CANDIDATES)}


def fit_note_ends(checkpoint: str | os.PathLike[str], folders: list[str], *, hidden: tuple[int, ...] = (64,),
                  members: int = 3, folds: int = 5, log: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The note-end model (DecodeSettings.note_end_model) fitted on clips of TRAINING-split pieces, and its report:
    the checkpoint's decoding against the model cross-validated by piece (``folds`` folds).  The returned model is
    fitted on all the clips."""
    from musestudio.ml.transcribe import decode_defaults

    settings = decode_defaults(checkpoint)
    data = fit_set(checkpoint, folders, folds, "fit-note-ends", log)
    cv = cross_validate_note_ends(data, settings, hidden=hidden, members=members, folds=folds, log=log)
    examples = [note_end_examples(d["acts"], d["reference"], settings) for d in data]
    if not sum(len(y) for _, y in examples):
        raise ValueError("fit-note-ends: no decoded note matches a reference note in " + ", ".join(map(str, folders)))
    model = fit_mlp([x for x, _ in examples], [y for _, y in examples], hidden=hidden, members=members, loss="bce",
                    **NOTE_END_FIT)
    report = {"clips": len(data), "pieces": len({d["piece"] for d in data}), "folds": folds, "hidden": list(hidden),
              "members": members, **NOTE_END_FIT, **cv}
    return model, report


def write_decode_defaults(checkpoint: str | os.PathLike[str], best: dict[str, Any], source: str, *,
                          merge: bool = False) -> None:
    """Store tuned thresholds in the checkpoint's config.json ("decode"), where musestudio reads them.

    ``merge``: ``best`` holds the level-velocity settings only (tune-velocity); they join the thresholds.
    """
    from musestudio.ml.checkpoint import CONFIG_FILE
    from training.export import _refresh_manifest

    folder = Path(checkpoint)
    meta = json.loads((folder / CONFIG_FILE).read_text())
    if merge and "note_end_model" in best:
        meta["decode"] = {**meta.get("decode", {}), "note_end_model": best["note_end_model"],
                          "note_end_model_fitted_on": source,
                          "fit_set_cv_onset_offset_f1": round(best["fitted"]["onset_offset_f1"], 4)}
    elif merge and "note_filter" in best:
        meta["decode"] = {**meta.get("decode", {}), "note_filter": best["note_filter"], "note_filter_fitted_on": source,
                          "fit_set_cv_onset_f1": round(best["best"]["onset_f1"], 4)}
    elif merge and "velocity_model" in best:
        meta["decode"] = {**meta.get("decode", {}), "velocity_model": best["velocity_model"],
                          "velocity_model_fitted_on": source,
                          "validation_model_velocity_f1": round(best["model_cv_velocity_f1"], 4)}
    elif merge:
        meta["decode"] = {**meta.get("decode", {}), "level_velocity": best["level_velocity"],
                          "level_lag_ms": best["level_lag_ms"], "level_tuned_on": source,
                          "validation_velocity_f1": round(best["onset_velocity_f1"], 4)}
    else:
        meta["decode"] = {
            "onset_threshold": best["onset_threshold"],
            "frame_threshold": best["frame_threshold"],
            "repeat_threshold": best["repeat_threshold"],
            "pedal_threshold": best.get("pedal_threshold", 0.5),
            "harmonic_threshold": best.get("harmonic_threshold"),
            "tuned_on": source,
            "validation_onset_f1": round(best["onset_f1"], 4),
            "validation_onset_offset_f1": round(best["onset_offset_f1"], 4),
        }
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    _refresh_manifest(folder)
