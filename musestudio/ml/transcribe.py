"""Piano audio -> activations -> notes, streaming so memory stays flat for any length.

Layers, as in basic-pitch: :func:`run_inference_work` (audio -> per-frame
:class:`Activations`), :func:`musestudio.ml.decode.decode` (activations ->
notes, pure), :func:`transcribe` and :func:`transcribe_to_file`.  The CLI and
the GUI call these same functions.

Streaming: audio is read block by block (``iter_audio_blocks``), features are
computed for each new stretch of samples, and the model runs on chunks of
frames with ``context`` frames of overlap on each side that are computed but
thrown away.  Because the context is wider than the model's receptive field,
the chunked result equals a whole-file run, so a note held across a chunk edge
decodes as one note.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from musestudio.core.errors import ModelError
from musestudio.core.notes import NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work, run_work
from musestudio.ml.activations import Activations  # its own module; still importable from here
from musestudio.ml.decode import KEY_DB_FLOOR, DecodeSettings, decode

CHUNK_FRAMES = 2048  # ~65 s at 31.25 frames/s per model call
BLOCK_SECONDS = 30.0
HEADS = ("onset", "frame", "offset", "velocity")


def default_checkpoint() -> Path:
    """The shipped transcriber (``models/transcriber``, or $MUSESTUDIO_MODELS/transcriber)."""
    try:
        from musestudio.ml.catalog import default_checkpoint as catalog_default

        return Path(catalog_default("transcriber"))
    except (ImportError, AttributeError, KeyError, ModelError):
        base = os.environ.get("MUSESTUDIO_MODELS")
        root = Path(base) if base else Path(__file__).resolve().parents[2] / "models"
        return root / "transcriber"


@functools.lru_cache(maxsize=2)
def _load(folder: str) -> tuple[Any, Any]:
    from musestudio.dsp.features import FeatureConfig
    from musestudio.ml.checkpoint import load_model, read_manifest

    path = Path(folder)
    manifest = read_manifest(path.parent) if path.parent.is_dir() else {}
    model, info = load_model(path, manifest or None)
    if info.architecture != "transcriber":
        raise ModelError(f"{path}: is a {info.architecture} checkpoint, not a transcriber")
    try:
        features = FeatureConfig.from_dict(info.meta.get("features") or {})
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{path}: invalid feature config ({exc})") from None
    if features.n_bins != model.config.n_bins:
        raise ModelError(f"{path}: feature bins ({features.n_bins}) do not match the model ({model.config.n_bins})")
    return model, features


def load_transcriber(checkpoint: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """(model in eval mode, FeatureConfig); cached, so the GUI can re-run cheaply."""
    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    if not folder.exists():
        raise ModelError(f"{folder}: transcriber checkpoint not found")
    return _load(str(folder.resolve()))


# Decoding thresholds a checkpoint may carry in config.json's "decode" block (written by
# `python -m training tune-decoding ... --write`, chosen on validation data for those weights).
TUNED_DECODE_KEYS = ("onset_threshold", "frame_threshold", "offset_threshold", "repeat_threshold", "min_note_ms",
                     "pedal_threshold", "harmonic_threshold", "level_velocity", "level_lag_ms")
# Allowed [low, high] of the tuned values that are not probabilities (those lie in (0, 1]).
DECODE_VALUE_RANGES = {"min_note_ms": (0.0, 10_000.0), "level_velocity": (0.0, 10.0), "level_lag_ms": (0.0, 1000.0)}


def decode_defaults(checkpoint: str | os.PathLike[str] | None = None) -> DecodeSettings:
    """:class:`DecodeSettings` with the checkpoint's tuned thresholds over the built-in defaults.

    Reads only ``config.json`` (no weights).  A checkpoint without a ``decode`` block gets the
    built-in defaults; a value out of range raises :class:`ModelError`.
    """
    import dataclasses

    from musestudio.ml.checkpoint import read_info

    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    block = read_info(folder).meta.get("decode") or {}
    if not isinstance(block, dict):
        raise ModelError(f"{folder}: config.json 'decode' must be an object")
    values: dict[str, Any] = {}
    for key in TUNED_DECODE_KEYS:
        if key not in block:
            continue
        value = block[key]
        if value is None and key in ("repeat_threshold", "harmonic_threshold"):
            values[key] = None
            continue
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
        if key in DECODE_VALUE_RANGES:
            low, high = DECODE_VALUE_RANGES[key]
            ok = ok and low <= value <= high
        else:
            ok = ok and 0 < value <= 1
        if not ok:
            raise ModelError(f"{folder}: config.json decode.{key} = {value!r} is out of range")
        values[key] = float(value)
    if block.get("velocity_model") is not None:
        values["velocity_model"] = _velocity_model(folder, block["velocity_model"])
    if block.get("note_filter") is not None:
        values["note_filter"] = _note_filter(folder, block["note_filter"])
    if block.get("note_end_model") is not None:
        values["note_end_model"] = _note_end_model(folder, block["note_end_model"])
    return dataclasses.replace(DecodeSettings(), **values)


def _numbers(values: Any, n: int | None = None) -> bool:
    """A non-empty list of finite numbers (of length ``n`` when given)."""
    return isinstance(values, list) and (n is None or len(values) == n) and len(values) > 0 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in values)


def _standardiser(bad: str, model: dict[str, Any], n: int) -> dict[str, list[float]]:
    """A read-out's ``mean`` and ``scale`` (> 0): n finite numbers each."""
    out = {}
    for key in ("mean", "scale"):
        values = model.get(key)
        if not _numbers(values, n) or (key == "scale" and min(values) <= 0):
            raise ModelError(f"{bad}.{key} must be {n} finite numbers" + (" above 0" if key == "scale" else ""))
        out[key] = [float(v) for v in values]
    return out


def _mlp_members(bad: str, members: Any, n: int) -> list[Any]:
    """An MLP ensemble's ``members``: lists of [matrix, bias] layers whose shapes chain n features to 1 output."""
    if not isinstance(members, list) or not members:
        raise ModelError(f"{bad}.members must be a non-empty list of layer lists")
    checked = []
    for layers in members:
        width, ok, kept = n, isinstance(layers, list) and len(layers) > 0, []
        for layer in layers if ok else []:
            w, b = (layer if isinstance(layer, list) and len(layer) == 2 else (None, None))
            ok = isinstance(w, list) and len(w) == width and all(_numbers(row) for row in w)
            ok = ok and len({len(row) for row in w}) == 1 and _numbers(b, len(w[0]))
            if not ok:
                break
            kept.append([[[float(v) for v in row] for row in w], [float(v) for v in b]])
            width = len(b)
        if not ok or width != 1:
            raise ModelError(f"{bad}.members: each member's layers must chain {n} features to 1 output")
        checked.append(kept)
    return checked


def _note_filter(folder: Path, model: Any) -> dict[str, Any]:
    """config.json decode.note_filter, checked: ``onset_threshold`` and ``keep_threshold`` in (0, 1),
    optional ``repeat_threshold`` / ``harmonic_threshold`` (in (0, 1] or null), kind "mlp", and mean, scale and
    members over the NOTE_FILTER_FEATURES (27), or those and the EXTRA_FILTER_FEATURES (43)."""
    from musestudio.ml.decode import NOTE_FILTER_SIZES

    bad = f"{folder}: config.json decode.note_filter"
    if not isinstance(model, dict):
        raise ModelError(f"{bad} must be an object")
    out: dict[str, Any] = {}
    for key in ("onset_threshold", "keep_threshold", "repeat_threshold", "harmonic_threshold"):
        optional = key in ("repeat_threshold", "harmonic_threshold")
        if optional and key not in model:
            continue
        value = model.get(key)
        if optional and value is None:
            out[key] = None
            continue
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
        if not (ok and (0 < value < 1 or (optional and value == 1))):
            raise ModelError(f"{bad}.{key} must be a probability in (0, 1), not {value!r}")
        out[key] = float(value)
    if model.get("kind") != "mlp":
        raise ModelError(f"{bad}.kind must be 'mlp', not {model.get('kind')!r}")
    guard = model.get("repeat_guard")
    if guard is not None:  # optional: {"held": frame-head probability in [0, 1], "rise_db": dB}
        ok = isinstance(guard, dict) and all(
            isinstance(guard.get(k), (int, float)) and not isinstance(guard.get(k), bool) and np.isfinite(guard.get(k))
            for k in ("held", "rise_db"))
        if not ok or not 0 <= guard["held"] <= 1:
            raise ModelError(f"{bad}.repeat_guard must be {{\"held\": a probability, \"rise_db\": a number}}")
        out["repeat_guard"] = {"held": float(guard["held"]), "rise_db": float(guard["rise_db"])}
    sizes = NOTE_FILTER_SIZES
    n = len(model.get("mean") or []) if isinstance(model.get("mean"), list) else 0
    if n not in sizes:
        raise ModelError(f"{bad}.mean must be {sizes[0]} or {sizes[1]} finite numbers (one per filter feature)")
    out.update(_standardiser(bad, model, n), kind="mlp", members=_mlp_members(bad, model.get("members"), n))
    return out


def _note_end_model(folder: Path, model: Any) -> dict[str, Any]:
    """config.json decode.note_end_model, checked: kind "mlp", and mean, scale and members over NOTE_END_FEATURES."""
    from musestudio.ml.decode import NOTE_END_FEATURES

    bad = f"{folder}: config.json decode.note_end_model"
    if not isinstance(model, dict):
        raise ModelError(f"{bad} must be an object")
    if model.get("kind") != "mlp":
        raise ModelError(f"{bad}.kind must be 'mlp', not {model.get('kind')!r}")
    n = len(NOTE_END_FEATURES)
    return {**_standardiser(bad, model, n), "kind": "mlp", "members": _mlp_members(bad, model.get("members"), n)}


def _velocity_model(folder: Path, model: Any) -> dict[str, Any]:
    """config.json decode.velocity_model, checked: mean and scale (> 0), one finite number per velocity
    feature (12, or 18 or 25 for the extended sets), then either ``weights`` (linear, one per feature) or ``kind``
    "mlp" with ``members``: lists of [matrix, bias] layers whose shapes chain from the features to one output."""
    from musestudio.ml.decode import VELOCITY_FEATURE_SIZES

    bad = f"{folder}: config.json decode.velocity_model"
    if not isinstance(model, dict):
        raise ModelError(f"{bad} must be an object")
    kind = model.get("kind", "linear")
    sizes = VELOCITY_FEATURE_SIZES
    n = len(model.get("mean") or [])
    if n not in sizes or (kind == "linear" and n != sizes[0]):
        raise ModelError(f"{bad}.mean must be {sizes[0]} finite numbers"
                         + (f" (or {sizes[1]} or {sizes[2]} for an mlp)" if kind != "linear" else ""))
    out: dict[str, Any] = _standardiser(bad, model, n)
    if kind == "linear":
        if not _numbers(model.get("weights"), n):
            raise ModelError(f"{bad}.weights must be {n} finite numbers")
        out["weights"] = [float(v) for v in model["weights"]]
        return out
    if kind != "mlp":
        raise ModelError(f"{bad}.kind must be 'linear' or 'mlp', not {kind!r}")
    out.update(kind="mlp", members=_mlp_members(bad, model.get("members"), n))
    return out


AudioSource = str | os.PathLike[str] | np.ndarray | tuple[np.ndarray, int]


def _blocks(source: AudioSource, sample_rate: int, features: Any) -> tuple[Iterator[np.ndarray], float]:
    """(mono blocks at the model's rate, expected seconds) for a path, samples or (samples, rate)."""
    from musestudio.dsp.features import prepare_samples

    if isinstance(source, (str, os.PathLike)):
        from musestudio.io.audio import audio_info, iter_audio_blocks

        info = audio_info(source)
        return iter_audio_blocks(source, sample_rate, BLOCK_SECONDS), info.duration
    if isinstance(source, tuple):
        samples, rate = source
    else:
        samples, rate = source, sample_rate
    x = prepare_samples(np.asarray(samples), int(rate), features)
    step = int(BLOCK_SECONDS * sample_rate)
    return (x[i : i + step] for i in range(0, len(x), step)), len(x) / sample_rate


def key_energy_db(features: np.ndarray, removed_db: np.ndarray | None, config: Any) -> np.ndarray | None:
    """[frames, 88] float16: each piano key's energy in the recording, in dB (the loudest filterbank bin
    within a bin of the key's pitch), undoing the loudness normaliser's gain (``removed_db`` per frame).
    None for a front end whose bins do not sit on the keys (mel, or not a whole number of bins a semitone
    from A0)."""
    per_key = config.bins_per_octave // 12
    if config.scale != "log" or config.bins_per_octave % 12 or abs(config.fmin - 27.5) > 1e-6:
        return None
    centre = np.arange(88) * per_key
    bins = np.clip(np.stack([centre - 1, centre, centre + 1], axis=1), 0, features.shape[1] - 1)
    band = np.expm1(features[:, bins].max(axis=2).astype(np.float64)) / config.log_scale  # [frames, 88]
    if removed_db is not None:
        band *= np.power(10.0, np.asarray(removed_db, np.float64)[:, None] / 20.0)
    return (20.0 * np.log10(np.maximum(band, 10.0 ** (KEY_DB_FLOOR / 20.0)))).astype(np.float16)


def run_inference_work(
    audio: AudioSource,
    checkpoint: str | os.PathLike[str] | None = None,
    cancel: CancelToken | None = None,
    *,
    chunk_frames: int = CHUNK_FRAMES,
) -> Work[Activations]:
    """Activations for a file path, a mono array at the model's rate, or ``(samples, sample_rate)``."""
    import torch

    from musestudio.dsp.features import LoudnessNormalizer, frames_from_padded

    model, fc = load_transcriber(checkpoint)
    normalizer = LoudnessNormalizer(fc)  # one running loudness for the whole stream (used if fc.loudness says so)
    hop, n_fft, half = fc.hop_length, fc.n_fft, fc.n_fft // 2
    context = model.receptive_frames + 4
    blocks, expected_seconds = _blocks(audio, fc.sample_rate, fc)
    expected_frames = max(1.0, expected_seconds * fc.frame_rate)

    samples = np.zeros(half, np.float32)  # padded stream from padded-sample position `sample_base`
    sample_base = 0
    feats = np.zeros((0, fc.n_bins), np.float32)  # feature frames from frame `feat_base`
    feat_base = 0
    next_out = 0  # first frame whose outputs are not yet produced
    total_samples = 0
    finished = False
    outputs: dict[str, list[np.ndarray]] = {k: [] for k in (*HEADS, "pedal")}
    energies: list[np.ndarray] = []  # key_energy_db of every feature frame, in order
    yield Progress(0, expected_frames, "transcribing")

    def run_model(first: int, last: int) -> None:
        """Outputs for frames [first, last) from the feature buffer (which has the context)."""
        lo = max(first - context, feat_base)
        hi = min(last + context, feat_base + len(feats))
        x = torch.from_numpy(np.ascontiguousarray(feats[lo - feat_base : hi - feat_base]))[None]
        with torch.inference_mode():
            probs = model.predict(x)
        keep = slice(first - lo, last - lo)
        for k in HEADS:
            outputs[k].append(probs[k][0, keep].numpy().astype(np.float16))
        outputs["pedal"].append(probs["pedal"][0, keep].numpy().astype(np.float16))

    while True:
        if cancel is not None:
            cancel.check()
        block = next(blocks, None)
        if block is None:
            finished = True
            total_frames = 0 if total_samples == 0 else 1 + total_samples // hop
            # Right padding: the last frame's window must be complete, as in compute_features.
            need = (total_frames - 1) * hop + n_fft - sample_base if total_frames else 0
            if need > len(samples):
                samples = np.concatenate([samples, np.zeros(need - len(samples), np.float32)])
        else:
            total_samples += len(block)
            samples = np.concatenate([samples, np.asarray(block, np.float32)])
        # New feature frames: frame i covers padded samples [i*hop, i*hop + n_fft).
        first_new = feat_base + len(feats)
        avail = (sample_base + len(samples) - n_fft) // hop + 1 if sample_base + len(samples) >= n_fft else 0
        if finished:
            avail = min(avail, 0 if total_samples == 0 else 1 + total_samples // hop)
        if avail > first_new:
            seg = samples[first_new * hop - sample_base : (avail - 1) * hop + n_fft - sample_base]
            new = frames_from_padded(seg, fc, normalizer)
            energy = key_energy_db(new, normalizer.removed_db[-1] if fc.loudness == "running" else None, fc)
            if energy is not None:
                energies.append(energy)
            feats = np.concatenate([feats, new])
            drop = avail * hop - sample_base  # samples before the next frame's window are done with
            samples = samples[drop:]
            sample_base += drop
        have = feat_base + len(feats)
        while next_out < have and (finished or have - next_out >= chunk_frames + context):
            last = min(next_out + chunk_frames, have)
            run_model(next_out, last)
            next_out = last
            keep_from = max(next_out - context, feat_base)
            feats = feats[keep_from - feat_base :]
            feat_base = keep_from
            if cancel is not None:
                cancel.check()
            yield Progress(min(next_out, expected_frames), expected_frames, f"{next_out / fc.frame_rate:.0f} s")
        if finished:
            break

    def join(key: str, shape: tuple[int, ...]) -> np.ndarray:
        return np.concatenate(outputs[key]) if outputs[key] else np.zeros(shape, np.float16)

    pedal = join("pedal", (0,))
    level = normalizer.removed_level() if fc.loudness == "running" else None
    energy = np.concatenate(energies) if energies else None
    acts = Activations(
        *(join(k, (0, 88)) for k in HEADS), pedal=pedal, frame_rate=fc.frame_rate,
        level=level if level is not None and len(level) == len(pedal) else None,
        key_energy=energy if energy is not None and len(energy) == len(pedal) else None,
    )
    yield Progress(expected_frames, expected_frames, "done")
    return acts


def activations_from_features(model: Any, features: np.ndarray, frame_rate: float, chunk_frames: int = CHUNK_FRAMES) -> Activations:
    """Activations of precomputed features [frames, bins] (e.g. a training cache), chunked like streaming."""
    import torch

    context = model.receptive_frames + 4
    outputs: dict[str, list[np.ndarray]] = {k: [] for k in (*HEADS, "pedal")}
    n = len(features)
    for first in range(0, n, chunk_frames):
        last = min(first + chunk_frames, n)
        lo, hi = max(first - context, 0), min(last + context, n)
        x = torch.from_numpy(np.ascontiguousarray(features[lo:hi], dtype=np.float32))[None]
        with torch.inference_mode():
            probs = model.predict(x)
        for k, parts in outputs.items():
            parts.append(probs[k][0, first - lo : last - lo].numpy().astype(np.float16))
    joined = {k: np.concatenate(v) if v else np.zeros((0, 88) if k != "pedal" else (0,), np.float16) for k, v in outputs.items()}
    return Activations(**joined, frame_rate=frame_rate)


def run_inference(audio: AudioSource, checkpoint: str | os.PathLike[str] | None = None, **kw: Any) -> Activations:
    return run_work(run_inference_work(audio, checkpoint, **kw))


def transcribe_work(
    audio: AudioSource,
    settings: DecodeSettings | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    cancel: CancelToken | None = None,
) -> Work[tuple[NoteSequence, Activations]]:
    """Notes and the activations they came from (kept so thresholds can be changed instantly)."""
    acts = yield from run_inference_work(audio, checkpoint, cancel)
    seq = decode(acts, settings or decode_defaults(checkpoint))
    if isinstance(audio, (str, os.PathLike)):
        seq.title = Path(audio).stem
    return seq, acts


def transcribe(
    audio: AudioSource,
    settings: DecodeSettings | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> NoteSequence:
    seq, _ = run_work(transcribe_work(audio, settings, checkpoint, cancel), on_progress, cancel)
    return seq


def write_note_events(seq: NoteSequence, path: str | os.PathLike[str]) -> Path:
    """CSV of notes (start_s, end_s, pitch, velocity), as Basic Pitch's --save-note-events writes."""
    import csv
    import io

    from musestudio.core.atomic import write_bytes_atomic

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["start_s", "end_s", "pitch", "velocity"])
    for n in seq.notes:
        w.writerow([f"{n.start:.4f}", f"{n.end:.4f}", n.pitch, n.velocity])
    for p in seq.pedals:
        w.writerow([f"{p.time:.4f}", "", f"CC{p.controller}", p.value])
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))
    return Path(path)


TEMPO_MODES = ("none", "auto")


def apply_tempo(seq: NoteSequence, mode: str = "auto", bpm: float | None = None) -> tuple[NoteSequence, str]:
    """``seq`` on a tempo map a DAW can use, and a one-line note of where the map came from.

    ``bpm`` given: a constant tempo (4/4).  ``mode="auto"``: the beat tracker
    (:func:`musestudio.ml.beats.analyze`) on the transcribed notes, so bar lines fall on its
    downbeats; when the notes are unusable for it (too few, one chord) the file keeps a constant
    120 BPM and the note says so.  ``mode="none"``: unchanged (120 BPM).  Note times never change.
    """
    from musestudio.core.errors import MusestudioError
    from musestudio.core.timing import TempoMap, TimeSignature

    if bpm is not None:
        if not (np.isfinite(bpm) and 10.0 <= bpm <= 400.0):
            raise MusestudioError(f"--tempo must be between 10 and 400 BPM, got {bpm}")
        return seq.copy(tempo_map=TempoMap.constant(float(bpm)), time_signatures=[TimeSignature(0.0)]), f"{bpm:g} BPM"
    if mode not in TEMPO_MODES:
        raise MusestudioError(f"tempo map must be one of {', '.join(TEMPO_MODES)}, not {mode!r}")
    if mode == "none":
        return seq, "no tempo tracking (120 BPM)"
    from musestudio.ml import beats

    try:
        analysis = beats.analyze(seq)
    except MusestudioError as exc:
        return seq, f"no tempo map ({str(exc).splitlines()[0] if str(exc) else 'unusable notes'}); 120 BPM"
    num, den = beats.meter_signature(analysis.beats_per_bar, analysis.ternary)  # the main meter, not a pickup's
    return beats.with_tempo_map(seq, analysis), (
        f"tempo map from the beat tracker: {analysis.median_bpm():.0f} BPM, {num}/{den}")


def quantize(seq: NoteSequence, divisions: int = 4) -> NoteSequence:
    """Notes and pedal moved to the nearest 1/``divisions`` of a quarter note of ``seq``'s tempo map.

    Notation-ready: every start and end lies on the grid and a note lasts at least one step.
    Meant for a sequence on a tracked tempo map (:func:`apply_tempo`); on the default 120 BPM
    map it snaps to 125 ms.
    """
    import dataclasses

    tm = seq.tempo_map
    step = max(1, tm.ppq // max(1, divisions))
    if not seq.notes and not seq.pedals:
        return seq.copy()

    def snap(times: np.ndarray) -> np.ndarray:
        ticks = np.array([tm.seconds_to_tick_float(float(t)) for t in times], dtype=np.float64)
        return np.maximum(np.rint(ticks / step).astype(np.int64) * step, 0)

    starts = snap(np.array([n.start for n in seq.notes]))
    ends = np.maximum(snap(np.array([n.end for n in seq.notes])), starts + step)
    notes = [
        dataclasses.replace(n, start=tm.tick_to_seconds(int(a)), end=tm.tick_to_seconds(int(b)))
        for n, a, b in zip(seq.notes, starts, ends, strict=True)
    ]
    ptimes = snap(np.array([p.time for p in seq.pedals]))
    pedals = [dataclasses.replace(p, time=tm.tick_to_seconds(int(t))) for p, t in zip(seq.pedals, ptimes, strict=True)]
    # a key struck twice on one grid point keeps one note
    seen: set[tuple[int, float]] = set()
    unique = []
    for n in sorted(notes, key=lambda n: (n.start, n.pitch, -n.end)):
        if (n.pitch, n.start) not in seen:
            seen.add((n.pitch, n.start))
            unique.append(n)
    return seq.copy(notes=unique, pedals=sorted(pedals, key=lambda p: p.time))


def transcribe_to_file(
    audio: str | os.PathLike[str],
    out: str | os.PathLike[str],
    settings: DecodeSettings | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    *,
    note_events: str | os.PathLike[str] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
    tempo_map: str = "none",
    tempo: float | None = None,
    quantize_to: int | None = None,
    musicxml: str | os.PathLike[str] | None = None,
    on_tempo: Callable[[str], None] | None = None,
) -> NoteSequence:
    """Transcribe ``audio`` and write a MIDI file (and optionally a note-event CSV and MusicXML).

    ``tempo_map``/``tempo``: see :func:`apply_tempo` (the CLI's default is the beat tracker);
    ``quantize_to``: snap to that many steps per quarter note (:func:`quantize`).  The note-event
    CSV always holds the unquantized times; ``on_tempo`` receives :func:`apply_tempo`'s note.
    """
    from musestudio.io.midi import write_midi

    seq = transcribe(audio, settings, checkpoint, on_progress, cancel)
    seq, how = apply_tempo(seq, tempo_map, tempo)
    if on_tempo is not None:
        on_tempo(how)
    written = quantize(seq, quantize_to) if quantize_to else seq
    write_midi(written, out)
    if musicxml is not None and written.notes:
        from musestudio.io.musicxml import write_musicxml

        write_musicxml(written, musicxml)
    if note_events is not None:
        write_note_events(seq, note_events)
    return written
