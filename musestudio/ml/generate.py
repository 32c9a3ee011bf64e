"""Seeded continuation: the one entry point the CLI and the GUI share.

``generate_work(seed, settings)`` is a generator that yields
:class:`~musestudio.core.progress.Progress` and returns one continuation per
variation.  A continuation holds only the new notes, at absolute times from
the first beat after the seed's end (or the playhead), and carries the tempo
map it was written on (the seed's, or the beat tracker's for a performance);
the seed itself is never changed.

Token models (markov, lstm, transformer) read the seed on its grid
(:mod:`musestudio.ml.seed`), are primed with its REMI tokens
(:mod:`musestudio.ml.remi`) and sample bar by bar until the requested length;
the GAN is delegated to :mod:`musestudio.ml.gan_generate`.  Grammar, meter,
tempo, grid, key, register, density and sanity limits are enforced while
sampling (:mod:`musestudio.ml.sampling`).

Round-1 checkpoints (event tokens in seconds) still load for scoring
(``musestudio evaluate``); continuing a seed with one is refused with a one-line message.
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
from musestudio.core.notes import PIANO_HIGH, PIANO_LOW, NoteSequence
from musestudio.core.progress import CancelToken, Progress, Work, run_work

MODELS = ("markov", "lstm", "transformer", "gan")
MAX_NOTE_SECONDS = 8.0
MAX_SILENCE_SECONDS = 4.0
MAX_POLYPHONY = 16
MAX_SECONDS = 600.0
SEED_CONTEXT_TOKENS = 1024  # the seed tail the recurrent/count models are primed with (Transformer: its window)
TOKENS_PER_QUARTER_CAP = 48  # token cap: no seed can make sampling run away (4 notes of 4 tokens per sixteenth)
MAX_TOKENS = 200_000  # and never more than this, whatever the length
# Soft key lock: nats taken off a note outside the seed's key, per output mode.  Chosen on 24 validation
# seeds (12 pieces; tests/benchmarks/bench_continuation.py --split validation --key-strength S) so that the share
# of note-time in the seed's key comes closest to the human continuations'.  Transformer at step 200: strength
# 0 / 0.5 / 1 / 2 gave a gap to the human of -0.23 / -0.11 / -0.02 / +0.08 on score seeds (grid) and
# -0.09 / 0.00 / +0.11 / +0.20 on performance seeds (humanized); at step 350 with density steering 4:
# grid 1.0 -> +0.007, humanized 0.5 -> +0.097, 0.2 -> +0.020.  A hard lock would overshoot both.
# Re-chosen for the shipped Transformer on 67 validation performance seeds (24 pieces, --per-piece 3; one seed
# per piece proved too noisy for a 0.03 target): humanized 0.1 / 0.2 / 0.3 -> -0.064 / -0.030 / +0.005; and on 70
# validation score seeds (grid): 0.5 / 0.6 / 0.7 / 1.0 -> -0.017 / -0.009 / +0.014 / +0.047.  Re-checked after
# the beat tracker got its meter classifier (performance seeds are read on its bars): humanized 0.2 / 0.3 / 0.4
# -> -0.026 / +0.009 / +0.008, a tie between 0.3 and 0.4; 0.3 kept.
KEY_STRENGTH = {"grid": 0.6, "humanized": 0.3}
DECODE_THREADS = 1
# How hard note density is steered to the seed's (nats per e-fold off the target rate, sampling.Constraints),
# per mode, chosen on the same validation seeds: notes/s vs the human's, step-350 Transformer: score seeds
# 0.77 at 4, 0.82 at 8; performance seeds 0.86 at 4.
DENSITY_STRENGTH = {"grid": 8.0, "humanized": 4.0}


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
    key: str | None = "auto"  # "auto" = the seed's key (Krumhansl-Kessler), None/"off" = no lock, or e.g. "D minor"
    key_strength: float | None = None  # nats per out-of-key note (None = KEY_STRENGTH of the mode; inf = hard lock)
    pitch_range: tuple[int, int] = (PIANO_LOW, PIANO_HIGH)
    density: float | None = None  # notes per second; None = follow the seed (when follow_density)
    follow_density: bool = True
    density_strength: float | None = None  # how hard density is steered (None = DENSITY_STRENGTH)
    keep_register: bool = True  # soft guard: stay near the seed's register (see sampling.Constraints)
    humanize: bool | None = None  # None: grid for a quantized seed, humanized for a performance
    start: float | None = None  # continue from here (playhead / selection end), seconds; None = the seed's end
    timing: str = "auto"  # seed grid: "auto", "tempo-map" or "beats" (see musestudio.ml.seed)

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
        if self.key_strength is not None and self.key_strength < 0:
            raise MusestudioError("key strength must be 0 or more (inf = a hard lock)")
        if self.timing not in ("auto", "tempo-map", "beats"):
            raise MusestudioError("timing must be auto, tempo-map or beats")
        if self.key not in (None, "auto", "off", "none", ""):
            from musestudio.core.keys import parse_key

            parse_key(self.key)


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
    from musestudio.ml.remi import RemiTokenizer
    from musestudio.ml.tokenizer import PerformanceTokenizer

    path = Path(folder)
    info = read_info(path)
    tok_cfg = info.meta.get("tokenizer")
    if not isinstance(tok_cfg, dict):
        raise ModelError(f"{path}: checkpoint has no tokenizer config (is it a token model?)")
    kinds = {"remi": RemiTokenizer, "performance": PerformanceTokenizer}
    if tok_cfg.get("type") not in kinds:
        raise ModelError(f"{path}: unknown tokenizer type {tok_cfg.get('type')!r} (this build reads remi and performance)")
    try:
        tokenizer = kinds[tok_cfg["type"]].from_dict(tok_cfg)
    except (TypeError, ValueError) as exc:
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
    tk = loaded.tokenizer
    if is_remi(loaded):
        from musestudio.ml.seed import sequence_grid

        if not seq.notes:
            raise MusestudioError("the piece has no notes to score")
        timed, grid, quantized, _source = sequence_grid(seq)
        tokens = tk.encode(timed, grid, humanized=not quantized)
    else:
        tokens = tk.encode(seq)
    nll, n = score_tokens(loaded, tokens)
    if n == 0:
        raise MusestudioError("the piece is too short to score (fewer than two tokens)")
    notes = max(int(tk.count_notes(tokens)) if is_remi(loaded) else int(tk.is_note_on(tokens).sum()), 1)
    return {"tokens": n + 1, "nll_per_token": nll / n, "perplexity": math.exp(nll / n),
            "bits_per_note": nll / math.log(2) / notes, "notes": notes}


def is_remi(loaded: LoadedModel) -> bool:
    return loaded.tokenizer.to_dict().get("type") == "remi"


# --- generation ----------------------------------------------------------------


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


def seed_key(seed: NoteSequence, settings: GenerationSettings) -> Any:
    """The key the continuation leans to: the seed's (Krumhansl-Kessler) by default, a named one, or None."""
    from musestudio.core.keys import estimate_key, parse_key

    if settings.key in (None, "", "off", "none"):
        return None
    if settings.key == "auto":
        with np.errstate(invalid="ignore", divide="ignore"):  # a one-note seed has a flat histogram
            return estimate_key(seed.notes)
    return parse_key(settings.key)


def _variation_seed(settings: GenerationSettings, index: int) -> int:
    base = settings.random_seed if settings.random_seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    return (base + 7919 * index) % 2**31


def _context_tokens(tk: Any, reading: Any, humanized: bool, limit: int) -> tuple[np.ndarray, int]:
    """[mode] + the seed's tokens from a bar line up to the continuation's start (at most ``limit`` tokens)."""
    from musestudio.ml.remi import BAR, GRID, HUMAN

    grid = reading.grid
    start_bar = grid.bar_index(reading.start_q)
    notes = [n for n in reading.seq.notes if float(grid.to_quarters(n.start)) < reading.start_q - 1e-6]
    seq = reading.seq.copy(notes=notes, pedals=[p for p in reading.seq.pedals if p.time < reading.start_time])
    first = tk.first_bar(seq, grid) if notes else start_bar
    # encode at most a few bars more than fit, then keep the newest whole bars
    first = max(first, start_bar - max(4, limit // 8))
    toks = tk.encode(seq, grid, humanized=humanized, first_bar=min(first, start_bar), last_bar=start_bar,
                     with_mode=False)
    bars = np.flatnonzero(toks == BAR)
    cut = 0
    if len(toks) > limit - 1:
        fits = bars[bars >= len(toks) - (limit - 1)]
        cut = int(fits[0]) if len(fits) else int(bars[-1])
    first_bar = min(first, start_bar) + int((bars < cut).sum())
    mode = HUMAN if humanized else GRID
    return np.r_[mode, toks[cut:]].astype(np.int64), first_bar


def _continue_tokens(
    loaded: LoadedModel,
    seed: NoteSequence,
    settings: GenerationSettings,
    *,
    random_seed: int,
    cancel: CancelToken | None,
    label: str,
    reading: Any = None,
) -> Work[NoteSequence]:
    from musestudio.ml.sampling import Constraints, RemiState, Sampler
    from musestudio.ml.seed import read_seed

    if not is_remi(loaded):
        raise ModelError(f"{loaded.path}: a round-1 checkpoint (event tokens in seconds) cannot continue seeds on "
                         "their beat grid; use a round-2 (REMI) checkpoint, or score with it")
    tk = loaded.tokenizer
    if reading is None:
        reading = read_seed(seed, start=settings.start, seconds=settings.seconds, bars=settings.bars,
                            timing=settings.timing)
    grid = reading.grid
    humanized = (not reading.quantized) if settings.humanize is None else bool(settings.humanize)
    limit = int(getattr(getattr(loaded.model, "config", None), "max_len", SEED_CONTEXT_TOKENS) or SEED_CONTEXT_TOKENS)
    limit = min(limit, SEED_CONTEXT_TOKENS)
    context, first_bar = _context_tokens(tk, reading, humanized, limit)

    def bar_start_of(i: int) -> float:  # state bar index counts from the context's first bar
        grid.extend_to_bar(first_bar + i + 1)
        return grid.bar_quarters[first_bar + i]

    def bar_header(i: int) -> tuple[int, int, float]:
        b = first_bar + i
        grid.extend_to_bar(b + 1)
        q0, q1 = grid.bar_quarters[b], grid.bar_quarters[b + 1]
        num, den = grid.bar_ts[b]
        return tk.ts(num, den), tk.tempo(grid.qpm_between(q0, q1)), q0

    state = RemiState.from_tokens(context, tk, grid.bar_quarters[first_bar], bar_start_of)
    # the seed's notes still sounding count for polyphony and silence; recent onsets for density
    arr = reading.seq.as_arrays()
    on_q = grid.to_quarters(arr["start"])
    off_q = grid.to_quarters(arr["end"])
    state.sounding = [(int(p), float(a), float(b)) for p, a, b in zip(arr["pitch"], on_q, off_q, strict=True)
                      if b > reading.start_q and a < reading.start_q]
    state.onsets = sorted(float(q) for q in on_q if q > reading.start_q - 16)
    state.last_sound_end = float(off_q.max()) if len(off_q) else float("-inf")
    key = seed_key(reading.seq, settings)
    qpm = grid.qpm_between(max(reading.start_q - 4, grid.bar_quarters[0]), reading.start_q)
    density = None
    if settings.density is not None:
        density = settings.density * 60.0 / qpm  # notes per second -> per quarter
    elif settings.follow_density:
        density = _seed_density(on_q, reading.start_q)
    constraints = Constraints(
        start_q=reading.start_q, end_q=reading.end_q, grid=not humanized,
        pitch_range=(int(settings.pitch_range[0]), int(settings.pitch_range[1])),
        key_pitch_classes=key.pitch_classes() if key is not None else None,
        key_strength=(KEY_STRENGTH["humanized" if humanized else "grid"] if settings.key_strength is None
                      else settings.key_strength),
        register=seed_register(reading.seq) if settings.keep_register else None,
        max_polyphony=MAX_POLYPHONY, max_note_quarters=MAX_NOTE_SECONDS * qpm / 60.0,
        max_gap_quarters=max(MAX_SILENCE_SECONDS * qpm / 60.0, _longest_gap_q(on_q, off_q)), density=density,
        density_strength=(DENSITY_STRENGTH["humanized" if humanized else "grid"] if settings.density_strength is None
                          else settings.density_strength),
    )
    sampler = Sampler(tk, constraints, bar_header, temperature=settings.temperature, top_k=settings.top_k,
                      top_p=settings.top_p, rng=np.random.default_rng(random_seed))
    total_q = max(reading.end_q - reading.start_q, 1e-6)
    max_tokens = min(int(TOKENS_PER_QUARTER_CAP * total_q) + 64, MAX_TOKENS)  # the token cap
    is_markov = loaded.kind == "markov"
    threads = None
    if not is_markov:
        import torch

        # batch-1 decoding is bound by per-op overhead: one thread is fastest, and it does not
        # oversubscribe a machine that is busy with other work (restored afterwards)
        threads = torch.get_num_threads()
        torch.set_num_threads(DECODE_THREADS)
        torch.manual_seed(random_seed)
        with torch.inference_mode():
            logits, mstate = loaded.model.prime(torch.from_numpy(context)[None])
        scores = logits[0].float().numpy()
    else:
        scores, mstate = loaded.model.prime(context)
    try:
        out = yield from _sample_loop(loaded, sampler, state, scores, mstate, max_tokens, bar_start_of, reading,
                                      cancel, label)
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
    return _decode_continuation(tk, context, np.asarray(out, dtype=np.int64), grid, first_bar, reading,
                                hold_to_end=settings.bars is not None)


def _sample_loop(loaded: LoadedModel, sampler: Any, state: Any, scores: np.ndarray, mstate: Any, max_tokens: int,
                 bar_start_of: Callable[[int], float], reading: Any, cancel: CancelToken | None,
                 label: str) -> Work[list[int]]:
    tk = loaded.tokenizer
    is_markov = loaded.kind == "markov"
    if not is_markov:
        import torch

        token_in = torch.zeros(1, dtype=torch.long)  # reused: one fill per token, no new tensor
    total_q = max(reading.end_q - reading.start_q, 1e-6)
    out: list[int] = []
    yield Progress(0, 100, label)
    while len(out) < max_tokens:
        tok = sampler.choose(scores, state)
        if tok is None:
            break
        state.update(tok, tk, bar_start_of)
        out.append(tok)
        if len(out) % 32 == 0:
            if cancel is not None:
                cancel.check()
            done = min(max(state.time - reading.start_q, 0.0) / total_q, 1.0)
            yield Progress(int(done * 100), 100, label)
        if is_markov:
            scores, mstate = loaded.model.step(tok, mstate)
        else:
            with torch.inference_mode():
                token_in.fill_(tok)
                logits, mstate = loaded.model.step(token_in, mstate)
            scores = logits[0].float().numpy()
    yield Progress(100, 100, label)
    return out


def _seed_density(on_q: np.ndarray, start_q: float) -> float | None:
    """The seed's onsets per quarter note over its last 16 quarters (None for fewer than 4 notes)."""
    recent = on_q[(on_q > start_q - 16) & (on_q < start_q)]
    if len(recent) < 4:
        return None
    span = max(start_q - float(recent.min()), 2.0)
    return float(len(recent) / span)


def _longest_gap_q(on_q: np.ndarray, off_q: np.ndarray) -> float:
    order = np.argsort(on_q)
    gap, reach = 0.0, None
    for a, b in zip(on_q[order].tolist(), off_q[order].tolist(), strict=True):
        if reach is not None and a > reach:
            gap = max(gap, a - reach)
        reach = b if reach is None else max(reach, b)
    return gap


def _decode_continuation(tk: Any, context: np.ndarray, out: np.ndarray, grid: Any, first_bar: int,
                         reading: Any, *, hold_to_end: bool = False) -> NoteSequence:
    """The generated notes (onsets in [start, end)), in seconds on the seed's grid, cut at the end.

    ``hold_to_end`` (a length in bars): the last onset's notes are held to the final bar line when
    they would stop short of it, so the continuation ends on the bar line as asked.
    """
    from musestudio.core.notes import SUSTAIN_CC, PedalEvent
    from musestudio.ml.remi import _one_copy_per_key

    ev = tk.decode_events(np.r_[context, out], grid.bar_quarters[first_bar])
    new = ev["on_q"] >= reading.start_q - 1e-6
    on_q = ev["on_q"][new]
    off_q = np.minimum(ev["off_q"][new], reading.end_q)
    keep = on_q < reading.end_q - 1e-6
    if hold_to_end and keep.any():
        off_q[keep] = grid.held_to_bar_line(on_q[keep], off_q[keep], reading.end_q)
    on_s, off_s = grid.to_seconds(on_q[keep]), grid.to_seconds(off_q[keep])
    notes = _one_copy_per_key(ev["pitch"][new][keep], on_s, off_s, ev["velocity"][new][keep])
    max_len = MAX_NOTE_SECONDS
    notes = [dataclasses.replace(n, end=min(n.end, n.start + max_len)) for n in notes]
    ped_new = (ev["pedal_q"] >= reading.start_q - 1e-6) & (ev["pedal_q"] < reading.end_q)
    pedals = [PedalEvent(float(t), 127 if d else 0, SUSTAIN_CC)
              for t, d in zip(grid.to_seconds(ev["pedal_q"][ped_new]), ev["pedal_down"][ped_new], strict=True)]
    if pedals and pedals[-1].is_down:  # never leave the pedal down after the continuation
        pedals.append(PedalEvent(reading.end_seconds, 0, SUSTAIN_CC))
    seq = reading.seq
    return seq.copy(notes=notes, pedals=pedals, drum_notes=[], title=f"{seed_title(seq)} continuation".strip())


def seed_title(seq: NoteSequence) -> str:
    return seq.title or ""


def generate_work(
    seed: NoteSequence, settings: GenerationSettings, cancel: CancelToken | None = None
) -> Work[list[NoteSequence]]:
    """One continuation per variation (new notes only, from the first beat after the seed's end)."""
    from musestudio.ml.seed import read_seed

    settings.validate()
    results: list[NoteSequence] = []
    loaded = None
    reading = read_seed(seed, start=settings.start, seconds=settings.seconds, bars=settings.bars, timing=settings.timing)
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

            result = yield from continue_with_gan_work(seed, settings, rs, cancel, reading=reading)
        else:
            result = yield from _continue_tokens(loaded, seed, settings, random_seed=rs, cancel=cancel, label=label,
                                                 reading=reading)
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
