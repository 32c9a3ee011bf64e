"""Seeded continuation: the one entry point the CLI and the GUI share.

``generate_work(seed, settings)`` is a generator that yields
:class:`~musestudio.core.progress.Progress` (tokens generated) and returns one
continuation per variation.  A continuation holds only the new notes, at
absolute times starting where the seed ends; the seed itself is never changed.

Token models (markov, lstm, transformer) are primed with the seed's tokens and
sample until the requested length; the GAN is delegated to
:mod:`musestudio.ml.gan_generate`.  Output sanity (stuck notes, silences,
polyphony, pitch range) is enforced by the sampler's masks (see
:mod:`musestudio.ml.sampling`) and checked once more on the decoded notes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musestudio.core.errors import ModelError, MusestudioError
from musestudio.core.notes import PIANO_HIGH, PIANO_LOW, Note, NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work, run_work

MODELS = ("markov", "lstm", "transformer", "gan")
MAX_NOTE_SECONDS = 8.0
MAX_SILENCE_SECONDS = 4.0
MAX_POLYPHONY = 16
MAX_SECONDS = 600.0
SEED_CONTEXT_TOKENS = 1024  # the seed tail the models are primed with


@dataclass
class GenerationSettings:
    model: str = "transformer"
    checkpoint: str | None = None  # folder; None = the shipped model of that kind
    seconds: float | None = 20.0
    bars: float | None = None  # overrides seconds when given
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    variations: int = 1
    random_seed: int | None = None
    key: str | None = None  # e.g. "D minor": note-ons outside the scale are masked
    pitch_range: tuple[int, int] = (PIANO_LOW, PIANO_HIGH)
    density: float | None = None  # notes per second hint
    keep_register: bool = True  # soft guard: stay near the seed's register (see sampling.Constraints)

    def validate(self) -> None:
        if self.model not in MODELS:
            raise MusestudioError(f"unknown model '{self.model}' (choose from {', '.join(MODELS)})")
        if self.temperature <= 0:
            raise MusestudioError("temperature must be positive")
        if not 0 < self.top_p <= 1:
            raise MusestudioError("top-p must be in (0, 1]")
        if self.top_k < 0:
            raise MusestudioError("top-k must be 0 (off) or positive")
        if self.variations < 1 or self.variations > 64:
            raise MusestudioError("variations must be between 1 and 64")
        lo, hi = self.pitch_range
        if not PIANO_LOW <= lo <= hi <= PIANO_HIGH:
            raise MusestudioError(f"pitch range must lie within {PIANO_LOW}-{PIANO_HIGH} (low <= high)")
        if self.bars is None and (self.seconds is None or self.seconds <= 0):
            raise MusestudioError("give a positive length in seconds or bars")
        if self.bars is not None and self.bars <= 0:
            raise MusestudioError("bars must be positive")
        if self.density is not None and self.density <= 0:
            raise MusestudioError("density must be positive (notes per second)")


# --- loading -------------------------------------------------------------------


@dataclass
class LoadedModel:
    kind: str
    model: Any  # nn.Module with prime/step, or MarkovModel
    tokenizer: Any
    path: Path


def _manifest_for(folder: Path) -> dict[str, str] | None:
    from musestudio.ml.catalog import models_dir
    from musestudio.ml.checkpoint import read_manifest

    try:
        if folder.resolve().parent == models_dir().resolve():
            return read_manifest(models_dir())
    except OSError:
        return None
    return None


@functools.lru_cache(maxsize=8)
def _load_cached(folder: str, mtime: float) -> LoadedModel:
    from musestudio.ml.checkpoint import load_model, load_state_dict, read_info
    from musestudio.ml.tokenizer import PerformanceTokenizer

    path = Path(folder)
    info = read_info(path)
    tok_cfg = info.meta.get("tokenizer")
    if not isinstance(tok_cfg, dict):
        raise ModelError(f"{path}: checkpoint has no tokenizer config (is it a token model?)")
    try:
        tokenizer = PerformanceTokenizer.from_dict(tok_cfg)
    except TypeError as exc:
        raise ModelError(f"{path}: unreadable tokenizer config ({exc})") from None
    manifest = _manifest_for(path)
    if info.architecture == "markov":
        from musestudio.ml.models.markov import MarkovConfig, MarkovModel

        try:
            cfg = MarkovConfig(**info.config)
        except TypeError as exc:
            raise ModelError(f"{path}: invalid markov config ({exc})") from None
        state = load_state_dict(info, manifest)
        try:
            model = MarkovModel(cfg, {k: v.numpy() for k, v in state.items()})
        except KeyError as exc:
            raise ModelError(f"{path}: markov counts missing {exc}") from None
    else:
        model, info = load_model(path, manifest)
    if getattr(getattr(model, "config", None), "vocab_size", tokenizer.vocab_size) != tokenizer.vocab_size:
        raise ModelError(f"{path}: model vocabulary does not match its tokenizer")
    return LoadedModel(info.architecture, model, tokenizer, path)


def load_symbolic_model(checkpoint: str | os.PathLike[str] | None, kind: str | None = None) -> LoadedModel:
    """Load a token model from a folder (or the shipped one of ``kind``); cached per folder."""
    from musestudio.ml.catalog import default_checkpoint

    folder = Path(checkpoint) if checkpoint else default_checkpoint(kind or "transformer")
    cfg = folder / "config.json"
    mtime = cfg.stat().st_mtime if cfg.is_file() else 0.0
    loaded = _load_cached(str(folder.resolve()) if folder.exists() else str(folder), mtime)
    if kind is not None and loaded.kind != kind:
        raise ModelError(f"{folder}: is a {loaded.kind} checkpoint, not {kind}")
    return loaded


# --- likelihood ----------------------------------------------------------------


def score_tokens(loaded: LoadedModel, tokens: np.ndarray, window: int = 512) -> tuple[float, int]:
    """(total NLL in nats, number of predicted tokens), in windows of ``window`` + 1 tokens.

    Every model restarts its context at each window, so numbers are comparable
    across models on the same tokens.
    """
    tokens = np.asarray(tokens, dtype=np.int64)
    starts = range(0, max(len(tokens) - 1, 0), window)
    return score_windows(loaded, [tokens[a : a + window + 1] for a in starts])


def score_windows(loaded: LoadedModel, windows: list[np.ndarray]) -> tuple[float, int]:
    """(total NLL, predicted tokens) of independent token windows (each scored from its own start)."""
    windows = [np.asarray(w, dtype=np.int64) for w in windows if len(w) >= 2]
    if not windows:
        return 0.0, 0
    if loaded.kind == "markov":
        total, count = 0.0, 0
        for w in windows:
            p = loaded.model.token_probabilities(w)
            total -= float(np.log(np.maximum(p, 1e-300)).sum())
            count += len(p)
        return total, count
    import torch
    import torch.nn.functional as F  # noqa: N812 (the PyTorch convention)

    total, count = 0.0, 0
    batch = 16  # windows scored together: same numbers, far fewer calls
    with torch.inference_mode():
        for i in range(0, len(windows), batch):
            chunks = windows[i : i + batch]
            width = max(len(c) for c in chunks)
            x = torch.zeros(len(chunks), width, dtype=torch.long)  # PAD = 0 is ignored by the loss
            for j, c in enumerate(chunks):
                x[j, : len(c)] = torch.from_numpy(c)
            logits, _ = loaded.model(x)  # [B, T, V]
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), ignore_index=0,
                                  reduction="sum")
            total += float(nll)
            count += int((x[:, 1:] != 0).sum())
    return total, count


def score_sequence(seq: NoteSequence, model: str, checkpoint: str | os.PathLike[str] | None = None) -> dict:
    """Per-token NLL and perplexity of a piece under a token model (no likelihood for the GAN)."""
    if model == "gan":
        raise ModelError("the GAN has no likelihood: it cannot score a sequence (use markov, lstm or transformer)")
    loaded = load_symbolic_model(checkpoint, None if checkpoint else model)
    tokens = loaded.tokenizer.encode(seq)
    nll, n = score_tokens(loaded, tokens)
    if n == 0:
        raise MusestudioError("the piece is too short to score (fewer than two tokens)")
    return {"tokens": n + 1, "nll_per_token": nll / n, "perplexity": math.exp(nll / n)}


# --- generation ----------------------------------------------------------------


def _seconds_for(seed: NoteSequence, settings: GenerationSettings) -> float:
    if settings.bars is None:
        return min(float(settings.seconds or 20.0), MAX_SECONDS)
    ts = seed.time_signature
    beats = settings.bars * ts.numerator * 4.0 / ts.denominator
    qpm = seed.tempo_map.qpm_at(max(seed.duration - 1e-6, 0.0))
    return min(beats * 60.0 / qpm, MAX_SECONDS)


def _longest_gap(seq: NoteSequence) -> float:
    notes = sorted(seq.notes, key=lambda n: n.start)
    gap, reach = 0.0, None
    for n in notes:
        if reach is not None and n.start > reach:
            gap = max(gap, n.start - reach)
        reach = n.end if reach is None else max(reach, n.end)
    return gap


REGISTER_MARGIN = 5  # semitones beyond the seed's 5th-95th percentile pitches that cost nothing
REGISTER_MIN_WIDTH = 24  # a seed on a few keys still leaves two octaves free


def seed_register(seed: NoteSequence) -> tuple[float, float] | None:
    """The soft pitch band a continuation is steered to stay in, from the seed's pitches."""
    pitches = np.array([n.pitch for n in seed.notes], dtype=np.float64)
    if len(pitches) == 0:
        return None
    low, high = np.percentile(pitches, 5) - REGISTER_MARGIN, np.percentile(pitches, 95) + REGISTER_MARGIN
    if high - low < REGISTER_MIN_WIDTH:
        mid = (low + high) / 2
        low, high = mid - REGISTER_MIN_WIDTH / 2, mid + REGISTER_MIN_WIDTH / 2
    return float(low), float(high)


def _constraints(seed: NoteSequence, settings: GenerationSettings) -> Any:
    from musestudio.core.keys import parse_key
    from musestudio.ml.sampling import Constraints

    pcs = parse_key(settings.key).pitch_classes() if settings.key else None
    return Constraints(
        pitch_range=(int(settings.pitch_range[0]), int(settings.pitch_range[1])),
        allowed_pitch_classes=pcs,
        max_polyphony=MAX_POLYPHONY,
        max_note_seconds=MAX_NOTE_SECONDS,
        max_silence=max(MAX_SILENCE_SECONDS, _longest_gap(seed)),
        density=settings.density,
        register=seed_register(seed) if settings.keep_register else None,
    )


def _variation_seed(settings: GenerationSettings, index: int) -> int:
    base = settings.random_seed if settings.random_seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    return (base + 7919 * index) % 2**31


def enforce_sanity(notes: list[Note], constraints: Any) -> list[Note]:
    """Last line of defence on decoded notes: range, key, length, polyphony."""
    lo, hi = constraints.pitch_range
    out: list[Note] = []
    active: list[float] = []  # end times of kept notes
    for n in sorted(notes, key=lambda n: (n.start, n.pitch)):
        if not lo <= n.pitch <= hi:
            continue
        if constraints.allowed_pitch_classes is not None and n.pitch % 12 not in constraints.allowed_pitch_classes:
            continue
        end = min(n.end, n.start + constraints.max_note_seconds)
        active = [e for e in active if e > n.start]
        if len(active) >= constraints.max_polyphony:
            continue
        active.append(end)
        out.append(dataclasses.replace(n, end=end))
    return out


def _continue_tokens(
    loaded: LoadedModel,
    seed: NoteSequence,
    settings: GenerationSettings,
    *,
    random_seed: int,
    cancel: CancelToken | None,
    label: str,
) -> Work[NoteSequence]:
    from musestudio.ml.sampling import Sampler, SamplerState

    tk = loaded.tokenizer
    origin = seed.start_time if seed.notes else 0.0
    seed_end = seed.duration
    seed_tokens = tk.encode(seed, origin=origin)
    # the seed's remaining time up to its end (e.g. a release tail) as shifts, so generation starts at seed_end
    tail_steps = round((seed_end - origin) / tk.config.time_step) - int(tk.shift_steps(seed_tokens).sum())
    pad = []
    while tail_steps > 0:
        s = min(tail_steps, tk.config.max_shift_steps)
        pad.append(tk.time_shift(s))
        tail_steps -= s
    context = np.concatenate([seed_tokens, np.asarray(pad, dtype=np.int64)])[-SEED_CONTEXT_TOKENS:]
    if len(context) == 0:
        context = np.asarray([tk.time_shift(1)], dtype=np.int64)
    state = SamplerState.from_tokens(context, tk)
    # notes still sounding at the seed's end belong to the seed; the continuation starts clean
    state.sounding.clear()
    constraints = _constraints(seed, settings)
    sampler = Sampler(tk, constraints, temperature=settings.temperature, top_k=settings.top_k,
                      top_p=settings.top_p, rng=np.random.default_rng(random_seed))
    target_steps = round(_seconds_for(seed, settings) / tk.config.time_step)
    start_time = state.time
    is_markov = loaded.kind == "markov"
    if not is_markov:
        import torch

        torch.manual_seed(random_seed)
        with torch.inference_mode():
            logits, mstate = loaded.model.prime(torch.from_numpy(context)[None])
            token_in = torch.zeros(1, dtype=torch.long)  # reused: one fill per token, no new tensor
        scores = logits[0].float().numpy()
    else:
        scores, mstate = loaded.model.prime(context)
    out: list[int] = []
    max_tokens = target_steps * 4 + 64  # a hard stop whatever the model does
    yield Progress(0, target_steps, label)
    while state.time - start_time < target_steps and len(out) < max_tokens:
        tok = sampler.choose(scores, state)
        if tk.is_time_shift(np.array(tok)) and state.time - start_time + int(tk.shift_steps(np.array(tok))) > target_steps:
            tok = tk.time_shift(max(1, target_steps - (state.time - start_time)))
        state.update(tok, tk)
        out.append(tok)
        if len(out) % 32 == 0:
            if cancel is not None:
                cancel.check()
            yield Progress(min(state.time - start_time, target_steps), target_steps, label)
        if state.time - start_time >= target_steps:
            break
        if is_markov:
            scores, mstate = loaded.model.step(tok, mstate)
        else:
            with torch.inference_mode():
                token_in.fill_(tok)
                logits, mstate = loaded.model.step(token_in, mstate)
            scores = logits[0].float().numpy()
    decoded = tk.decode(np.asarray(out, dtype=np.int64), origin=seed_end, max_note_seconds=MAX_NOTE_SECONDS)
    notes = enforce_sanity([n for n in decoded.notes if n.end > n.start], constraints)
    horizon = seed_end + target_steps * tk.config.time_step
    notes = [dataclasses.replace(n, end=min(n.end, horizon)) for n in notes if n.start < horizon]
    pedals = [p for p in decoded.pedals if p.time <= horizon]
    if pedals and pedals[-1].is_down:  # do not leave the pedal down after the continuation
        pedals.append(dataclasses.replace(pedals[-1], time=horizon, value=0))
    return seed.copy(notes=notes, pedals=pedals, drum_notes=[], title=f"{seed.title} continuation".strip())


def generate_work(
    seed: NoteSequence, settings: GenerationSettings, cancel: CancelToken | None = None
) -> Work[list[NoteSequence]]:
    """One continuation per variation (new notes only, starting at the seed's end)."""
    settings.validate()
    results: list[NoteSequence] = []
    loaded = None
    if settings.model != "gan":
        loaded = load_symbolic_model(settings.checkpoint, None if settings.checkpoint else settings.model)
        if settings.checkpoint and loaded.kind != settings.model:
            raise ModelError(f"{settings.checkpoint}: is a {loaded.kind} checkpoint, not {settings.model}")
    for i in range(settings.variations):
        if cancel is not None:
            cancel.check()
        rs = _variation_seed(settings, i)
        label = f"variation {i + 1}/{settings.variations}"
        if loaded is None:
            from musestudio.ml.gan_generate import continue_with_gan_work

            result = yield from continue_with_gan_work(seed, settings, rs, cancel)
        else:
            result = yield from _continue_tokens(loaded, seed, settings, random_seed=rs, cancel=cancel, label=label)
        results.append(result)
    return results


def generate(
    seed: NoteSequence,
    settings: GenerationSettings,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> list[NoteSequence]:
    """Drain :func:`generate_work` (the CLI's and tests' entry point)."""
    return run_work(generate_work(seed, settings, cancel), on_progress, cancel)
