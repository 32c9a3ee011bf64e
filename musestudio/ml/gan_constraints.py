"""Decoding constraints for the GAN: sanity limits, key snapping, context prior, onset picking.

The GAN's counterpart of :mod:`musestudio.ml.sampling` (issue #17: constraints
beside sampling).  The token models apply their limits while sampling tokens;
the GAN produces a whole bar of onset/frame probabilities at once, so its limits
act on rolls and on the decoded notes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from musestudio.core.errors import ModelError
from musestudio.core.keys import parse_key
from musestudio.core.notes import PIANO_HIGH, PIANO_LOW, Note
from musestudio.ml.gan_grid import N_KEYS

MAX_POLYPHONY = 16
MAX_NOTE_SECONDS = 8.0
MAX_SILENCE_SECONDS = 4.0


# --- sanity ------------------------------------------------------------------------


def enforce_sanity(
    notes: list[Note], start: float, fill_pitch: int = 60, fill_velocity: int = 64, end: float | None = None
) -> list[Note]:
    """Pitches 21..108, notes <= 8 s, <= 16 sounding at once, no silence > 4 s in ``[start, end]``.

    A silence longer than 4 s is broken by a short note; the model rarely
    needs it, but a slow tempo with an empty bar can otherwise exceed it.
    """
    notes = sorted(
        (
            dataclasses.replace(n, end=min(n.end, n.start + MAX_NOTE_SECONDS - 0.01))
            for n in notes
            if PIANO_LOW <= n.pitch <= PIANO_HIGH and n.end > n.start
        ),
        key=lambda n: (n.start, n.pitch),
    )
    kept: list[Note] = []
    sounding: list[Note] = []
    for n in notes:
        sounding = [m for m in sounding if m.end > n.start + 1e-9]
        if len(sounding) >= MAX_POLYPHONY:
            continue
        sounding.append(n)
        kept.append(n)
    filled: list[Note] = []
    covered = start
    limit = MAX_SILENCE_SECONDS - 0.5
    stop = Note(fill_pitch, end, end, fill_velocity) if end is not None else None
    for n in [*kept, *([stop] if stop is not None else [])]:
        while n.start - covered > limit:
            t = covered + limit
            filled.append(Note(fill_pitch, t, t + 0.25, fill_velocity))
            covered = t + 0.25
        if n is not stop:
            filled.append(n)
        covered = max(covered, n.end)
    return filled


def pitch_masks(settings: Any) -> tuple[np.ndarray, np.ndarray]:
    """([88] keys inside the pitch range, [88] of those also in the locked key's scale)."""
    low, high = getattr(settings, "pitch_range", None) or (PIANO_LOW, PIANO_HIGH)
    low, high = max(int(low), PIANO_LOW), min(int(high), PIANO_HIGH)
    if high < low:
        raise ModelError(f"empty pitch range {low}-{high}")
    in_range = np.zeros(N_KEYS, dtype=bool)
    in_range[low - PIANO_LOW : high - PIANO_LOW + 1] = True
    allowed = in_range.copy()
    key = getattr(settings, "key", None)
    if key and key not in ("auto", "off", "none"):  # "auto": the context prior already leans to the seed's key
        scale = parse_key(key).pitch_classes()
        allowed &= np.array([p % 12 in scale for p in range(PIANO_LOW, PIANO_HIGH + 1)])
    if not allowed.any():
        raise ModelError("the key lock leaves no pitch inside the pitch range")
    return in_range, allowed


def snap_to_keys(bar: np.ndarray, allowed: np.ndarray, preference: np.ndarray) -> np.ndarray:
    """Move notes on disallowed keys to the nearest allowed key ([C, T, 88] roll, max-merged).

    This is the key lock: the model's rhythm and register are kept and an
    out-of-scale note becomes its in-scale neighbour (of two equally near, the
    one the model rated higher), as a scale-quantiser in a DAW does.  Masking
    the probabilities instead silenced the model when the key was far from the
    seed's.
    """
    if allowed.all():
        return bar
    keys = np.nonzero(allowed)[0]
    out = bar * allowed[None, None, :]
    for k in np.nonzero(~allowed)[0]:
        if not bar[:, :, k].any():
            continue
        d = np.abs(keys - k)
        near = keys[d == d.min()]
        target = near[np.argmax(preference[near])] if len(near) > 1 else near[0]
        out[:, :, target] = np.maximum(out[:, :, target], bar[:, :, k])
    return out


def context_prior(context: np.ndarray, floor: float = 0.2, reach: float = 6.0) -> np.ndarray:
    """[steps, 88] recent onsets -> [88] weights favouring the context's pitch classes and register.

    The small desktop GAN, alone, wanders in key and register from bar to bar.
    Weighting its onset probabilities by what was just played (pitch classes
    with a floor, so chromatic notes stay possible; a soft fall-off beyond the
    played register) keeps a continuation near its seed, the way MidiNet
    conditions on a chord.  It is a decoding choice, not part of the model.
    """
    per_key = context.sum(0).astype(np.float64)
    if per_key.sum() <= 0:
        return np.ones(N_KEYS)
    pcs = np.zeros(12)
    np.add.at(pcs, (np.arange(N_KEYS) + PIANO_LOW) % 12, per_key)
    pc_weight = floor + (1 - floor) * pcs / pcs.max()
    keys = np.repeat(np.arange(N_KEYS), per_key.astype(np.int64))
    lo, hi = np.percentile(keys, 5), np.percentile(keys, 95)
    idx = np.arange(N_KEYS)
    distance = np.maximum(np.maximum(lo - idx, idx - hi), 0.0)
    return pc_weight[(idx + PIANO_LOW) % 12] * np.exp(-distance / reach)


def pick_onsets(prob: np.ndarray, threshold: float, target: float | None) -> np.ndarray:
    """[T, 88] onset probabilities -> bool onsets: above threshold, or the ``target`` most likely."""
    if target is None:
        return prob > threshold
    n = round(target)
    out = np.zeros_like(prob, dtype=bool)
    if n <= 0:
        return out
    flat = np.argsort(prob, axis=None)[::-1][:n]
    flat = flat[prob.flat[flat] > 0.005]  # never strike keys the model all but rules out
    out.flat[flat] = True
    return out
