"""Activations -> notes: a pure numpy function, cheap enough to re-run on every slider move.

A note starts where the onset probability of a key peaks above
``onset_threshold`` (one note per peak, so a held peak over two frames is one
note).  It lasts while the frame probability stays above ``frame_threshold``,
and ends early where the offset probability exceeds ``offset_threshold`` or
the next onset of the same key begins.  Velocity is the velocity head's value
at the onset, which the model was trained to give as MIDI velocity / 127.

A key that is already sounding can take a stricter onset threshold
(``repeat_threshold``): in a reverberant room or under the pedal, a held
note's swelling partials look like a new attack, and these false repeats were
a third of the false notes on the held-out clips.

Sub-frame timing (``subframe``, on by default): frames are 32 ms apart, so an
onset read off its frame is up to 16 ms early or late.  The onset time is
refined by fitting a parabola through the onset probability at the peak
frame and its two neighbours (the vertex lies within half a frame of the
peak), and the end by interpolating where the frame probability crosses
``frame_threshold`` between the last sounding frame and the next.  This is
interpolation of the existing heads; regression targets for onset/offset
times (Kong et al. 2021) would need a retrained model.

Two learned read-outs, fitted on renders of training-split pieces, can follow:
a note filter (``DecodeSettings.note_filter``) that judges onset candidates
found at a lower threshold, and a note-end model
(``DecodeSettings.note_end_model``) that picks where each note ends among a
few candidate ends (the key release, the pedal's release, the heads crossing
thresholds), in place of the fixed rule "hold until the pedal lifts".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from musestudio.core.notes import PIANO_LOW, SUSTAIN_CC, Note, NoteSequence, PedalEvent, TrackInfo
from musestudio.ml.activations import Activations


@dataclass
class DecodeSettings:
    # Built-in fallbacks; a checkpoint's own tuned values (config.json "decode", chosen on validation
    # pieces, never on test) take precedence through musestudio.ml.transcribe.decode_defaults.
    onset_threshold: float = 0.6
    frame_threshold: float = 0.3
    offset_threshold: float = 0.9  # offsets only cut a note when the model is sure
    repeat_threshold: float | None = 0.7  # onset threshold for a key already sounding (None or lower: onset_threshold)
    min_note_ms: float = 30.0
    pitch_range: tuple[int, int] = (21, 108)
    use_pedal: bool = True  # emit CC64 events from the pedal head
    pedal_threshold: float = 0.5
    min_pedal_ms: float = 60.0
    subframe: bool = True  # parabolic onset / interpolated offset times (False: frame centres)
    # Pedal-aware offsets: a note whose key the frame head lets go while the decoded pedal is down sounds
    # on until the pedal lifts (or the key is struck again), as on the piano.  The frame head alone ends a
    # pedalled note where its sound has decayed into the room, which is neither the key release nor the
    # pedal release.  Validation renders (v5 weights): onset+offset F1 0.653 -> 0.710, onsets unchanged.
    sustain_offsets: bool = True
    # Partials: an onset of a key that a stronger onset an octave, a twelfth, two octaves or a major 17th
    # below (within one frame) can explain must reach this probability (None: no such test).  Half of the
    # false alarms on the validation clips were such partials of a played note.
    harmonic_threshold: float | None = None
    # Dynamics the loudness normaliser took away: each note's velocity gains this many MIDI steps per dB
    # that the playing level (``Activations.level``, read ``level_lag_ms`` after the onset, once the
    # normaliser's 0.2 s attack has caught up) stands above the file's median level.  The normaliser
    # makes a crescendo look flat to the network; v5 validation clips: velocity F1 0.489 -> 0.55.
    # 0 turns it off; it has no effect without a level (checkpoints that do not normalise).
    level_velocity: float = 0.0
    level_lag_ms: float = 250.0
    # A note-velocity model (``python -m training fit-velocity``, fitted on validation audio): a linear map
    # from each note's features (velocity_features: the head's velocity, the playing level after the onset,
    # the key's and its octave's energy in the recording at the onset, register) to its velocity.  The
    # head alone cannot hear a forte the normaliser flattened, and the level is one number for all keys;
    # the key's own attack energy tells a loud note in a soft chord from its neighbours.  Used instead of
    # level_velocity when the activations carry key energies; {"mean", "scale", "weights"}, or since the
    # fourteenth session {"kind": "mlp", "mean", "scale", "members"}: an MLP ensemble on 18 features
    # (extended_velocity_features; validation velocity F1 0.622 -> 0.667 cross-validated by piece, model card).
    velocity_model: dict | None = None
    # A learned note-candidate filter (``python -m training fit-note-filter``, fitted on training-split renders):
    # onsets are looked for at its own, lower ``onset_threshold`` (and its ``repeat_threshold`` and
    # ``harmonic_threshold`` where it carries them), and a candidate is kept only where a small classifier
    # over its features (note_filter_features) gives a probability of at least ``keep_threshold``.  More
    # candidates buy recall in reverberant rooms; the classifier takes back the partials and resonances that
    # a lower threshold lets in.  {"onset_threshold", "keep_threshold", "kind": "mlp", "mean", "scale",
    # "members"} (members as velocity_model's; a logistic filter is a member with one layer).  Used only
    # where the activations carry key energies and a level; otherwise decoding is as without it.
    note_filter: dict | None = None
    # A learned note-end read-out (``python -m training fit-note-ends``, fitted on training-split renders): each
    # note's end is chosen among NOTE_END_CANDIDATES (the key release, the pedal's release, the next onset of the
    # key, where the frame head falls and the offset head rises through a few thresholds, and these held on by the
    # pedal) by a small MLP ensemble scoring each candidate (note_end_candidates' features).  The frame head alone ends a
    # note where its sound decays into the room, and the pedal rule extends every note the pedal head holds: in
    # a reverberant room or a quiet recording neither is where the heard note ends.  It models the heard end, key
    # and pedal together, so it applies only with ``sustain_offsets`` (and where the activations carry key
    # energies and a level); {"kind": "mlp", "mean", "scale", "members"}, as velocity_model's MLP.
    note_end_model: dict | None = None


def subframe_onsets(onset: np.ndarray, frames: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Fractional frame positions of onset peaks: the vertex of the parabola through (a-1, a, a+1).

    Clipped to +-0.5 frame; a peak at either end of the array, or a flat top, keeps its frame.
    """
    frames = np.asarray(frames, dtype=np.int64)
    out = frames.astype(np.float64)
    if not len(frames):
        return out
    inner = (frames > 0) & (frames < onset.shape[0] - 1)
    f, k = frames[inner], np.asarray(keys)[inner]
    y0 = onset[f - 1, k].astype(np.float64)
    y1 = onset[f, k].astype(np.float64)
    y2 = onset[f + 1, k].astype(np.float64)
    curve = y0 - 2.0 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.where(curve < -1e-9, 0.5 * (y0 - y2) / curve, 0.0)
    out[inner] += np.clip(np.nan_to_num(delta), -0.5, 0.5)
    return out


def subframe_end(prob: np.ndarray, end: int, threshold: float) -> float:
    """Where a key's probability column ``prob`` falls through ``threshold`` between frames end-1 and end.

    A note sounding through frame end-1 ends at ``end`` (frame units) when read off frames; linear
    interpolation between the two probabilities places the crossing inside that gap, shifted by half
    a frame so that a crossing exactly at the midpoint gives the frame-based answer.
    """
    if end <= 0 or end >= len(prob):
        return float(end)
    p0, p1 = float(prob[end - 1]), float(prob[end])
    if not p0 >= threshold > p1:
        return float(end)
    return end - 0.5 + (p0 - threshold) / (p0 - p1)


#: Semitones above a fundamental where its strong low partials fall (2nd, 3rd, 4th and 5th harmonics).
PARTIAL_INTERVALS = (12, 19, 24, 28)


def partial_of_stronger_onset(onset: np.ndarray, frames: np.ndarray, keys: np.ndarray, threshold: float) -> np.ndarray:
    """For each onset peak (frames[i], keys[i]): True when it is below ``threshold`` and a peak with a
    higher probability lies a partial interval below it, within one frame.

    Vectorised over the weak peaks (12 gathers: four intervals by three frames) rather than a Python loop per
    peak: a note filter looks for candidates at a lower onset threshold, where thousands of peaks are weak
    (the peaks of a 10-minute file at 0.4: 0.045 s as a loop, 0.001 s here; the same answer, tested in
    tests/ml/test_note_filter.py)."""
    out = np.zeros(len(frames), dtype=bool)
    weak = np.flatnonzero(onset[frames, keys] < threshold)
    if not len(weak):
        return out
    peak = np.zeros(onset.shape, dtype=bool)
    peak[frames, keys] = True
    n_frames = onset.shape[0]
    f, k = frames[weak].astype(np.int64), keys[weak].astype(np.int64)
    here = onset[f, k]
    hit = np.zeros(len(weak), dtype=bool)
    for iv in PARTIAL_INTERVALS:
        below = k - iv
        valid = below >= 0
        col = np.maximum(below, 0)
        for df in (-1, 0, 1):
            row = f + df
            ok = valid & (row >= 0) & (row < n_frames)
            row = np.clip(row, 0, n_frames - 1)
            hit |= ok & peak[row, col] & (onset[row, col] > here)
    out[weak] = hit
    return out


def _peaks(onset: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(frame, key) of local maxima over time above threshold; plateaus give their first frame."""
    above = onset >= threshold
    prev = np.vstack([np.full((1, onset.shape[1]), -1.0, onset.dtype), onset[:-1]])
    nxt = np.vstack([onset[1:], np.full((1, onset.shape[1]), -1.0, onset.dtype)])
    peak = above & (onset > prev) & (onset >= nxt)
    frames, keys = np.nonzero(peak)
    return frames, keys


def onset_candidates(onset: np.ndarray, frame: np.ndarray, settings: DecodeSettings | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(frame, key) of the onsets decoding keeps: peaks above ``onset_threshold`` that pass the harmonic and
    repeat tests, in frame order."""
    return _onset_candidates(np.nan_to_num(np.asarray(onset, np.float32)), np.nan_to_num(np.asarray(frame, np.float32)),
                             settings or DecodeSettings())


def _onset_candidates(onset: np.ndarray, frame: np.ndarray, s: DecodeSettings) -> tuple[np.ndarray, np.ndarray]:
    # a sounding key never takes a *lower* threshold than a silent one
    repeat = s.onset_threshold if s.repeat_threshold is None else max(s.onset_threshold, s.repeat_threshold)
    frames, keys = _peaks(onset, s.onset_threshold)
    if s.harmonic_threshold is not None and s.harmonic_threshold > s.onset_threshold and len(frames):
        keep = ~partial_of_stronger_onset(onset, frames, keys, s.harmonic_threshold)
        frames, keys = frames[keep], keys[keep]
    if repeat > s.onset_threshold and len(frames):
        # "already sounding" is read two frames back, before this attack's own rise
        held = frame[np.maximum(frames - 2, 0), keys] >= s.frame_threshold
        held &= frames >= 2
        keep = onset[frames, keys] >= np.where(held, repeat, s.onset_threshold)
        frames, keys = frames[keep], keys[keep]
    return frames, keys


def decode_notes(
    onset: np.ndarray,
    frame: np.ndarray,
    offset: np.ndarray | None,
    velocity: np.ndarray | None,
    frame_rate: float,
    *,
    settings: DecodeSettings | None = None,
    key_offset: int = PIANO_LOW,
    peaks: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[Note]:
    """Notes from per-frame probabilities [frames, keys] (key 0 is MIDI ``key_offset``).

    ``peaks``: the (frame, key) onsets to start notes at, when chosen elsewhere (the note filter);
    default onset_candidates under ``settings``."""
    s = settings or DecodeSettings()
    n_frames = onset.shape[0]
    if n_frames == 0:
        return []
    onset = np.nan_to_num(np.asarray(onset, np.float32))
    frame = np.nan_to_num(np.asarray(frame, np.float32))
    frames, keys = _onset_candidates(onset, frame, s) if peaks is None else peaks
    return _notes_at(onset, frame, offset, velocity, frame_rate, s, key_offset, frames, keys)


def _notes_at(onset: np.ndarray, frame: np.ndarray, offset: np.ndarray | None, velocity: np.ndarray | None,
              frame_rate: float, s: DecodeSettings, key_offset: int, frames: np.ndarray, keys: np.ndarray) -> list[Note]:
    """decode_notes' notes from onsets (frames, keys), with onset and frame already cleaned (float32, no NaN)."""
    frames, keys = np.asarray(frames, np.int64), np.asarray(keys, np.int64)
    n_frames = onset.shape[0]
    if velocity is not None:
        # A broken model or cache may hold NaN/Inf: clip to the head's 0..1 range first.
        velocity = np.clip(np.nan_to_num(np.asarray(velocity, np.float32), nan=0.5, posinf=1.0, neginf=0.0), 0.0, 1.0)
    lo, hi = s.pitch_range
    min_frames = s.min_note_ms / 1000.0 * frame_rate
    sounding = frame >= s.frame_threshold
    sounding |= onset >= s.onset_threshold  # an onset frame always sounds
    sounding[frames, keys] = True  # and so does a filtered candidate's, below onset_threshold
    if offset is not None and s.offset_threshold < 1.0:
        ends_here = np.nan_to_num(np.asarray(offset, np.float32)) >= s.offset_threshold
    else:
        ends_here = np.zeros_like(sounding)
    notes: list[Note] = []
    starts = subframe_onsets(onset, frames, keys) if s.subframe else frames.astype(np.float64)
    order = np.lexsort((frames, keys))  # by key, then time
    frames, keys, starts = frames[order], keys[order], starts[order]
    for i, (a, k) in enumerate(zip(frames, keys, strict=True)):
        pitch = int(k) + key_offset
        if not lo <= pitch <= hi:
            continue
        next_onset = frames[i + 1] if i + 1 < len(frames) and keys[i + 1] == k else n_frames
        # The note runs from a over every frame still sounding, up to the next onset of this key.
        col = sounding[a + 1 : next_onset, k]
        stop = np.flatnonzero(~col)
        end = a + 1 + (int(stop[0]) if len(stop) else len(col))
        cut = np.flatnonzero(ends_here[a + 1 : end, k])
        if len(cut):
            end = a + 1 + int(cut[0])
        if end - a < min_frames:
            if next_onset - a < min_frames:
                continue  # too short even if stretched: a spurious double onset
            end = int(np.ceil(a + min_frames))
        vel = 64 if velocity is None else int(np.clip(round(float(velocity[a, k]) * 127.0), 1, 127))
        start_f, end_f = float(a), float(end)
        if s.subframe:
            start_f = float(starts[i])
            if end < next_onset and not len(cut):  # ended by the frame head falling, not by an onset or offset
                end_f = subframe_end(frame[:, k], end, s.frame_threshold)
            next_start = float(starts[i + 1]) if next_onset < n_frames else float("inf")
            end_f = min(max(end_f, start_f + min_frames), next_start)
            if end_f <= start_f:
                continue
        notes.append(Note(pitch, start_f / frame_rate, end_f / frame_rate, vel))
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes


def decode_pedal(pedal: np.ndarray, frame_rate: float, settings: DecodeSettings | None = None) -> list[PedalEvent]:
    """CC64 down/up events from per-frame sustain-pedal probabilities [frames]."""
    s = settings or DecodeSettings()
    down = np.nan_to_num(np.asarray(pedal, np.float32)) >= s.pedal_threshold
    if not down.any():
        return []
    edges = np.diff(np.concatenate([[0], down.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    min_frames = s.min_pedal_ms / 1000.0 * frame_rate
    events: list[PedalEvent] = []
    for a, b in zip(starts, ends, strict=True):
        if b - a < min_frames:
            continue
        events.append(PedalEvent(a / frame_rate, 127, SUSTAIN_CC))
        events.append(PedalEvent(b / frame_rate, 0, SUSTAIN_CC))
    return events


def with_level_velocity(notes: list[Note], level: np.ndarray, frame_rate: float, per_db: float,
                        lag_ms: float) -> list[Note]:
    """Velocities raised or lowered by ``per_db`` per dB of playing level above or below the median."""
    level = np.nan_to_num(np.asarray(level, np.float64))
    ref = float(np.median(level))
    lag = lag_ms / 1000.0
    out = []
    for n in notes:
        f = min(max(int(round((n.start + lag) * frame_rate)), 0), len(level) - 1)
        out.append(replace(n, velocity=int(np.clip(round(n.velocity + per_db * (level[f] - ref)), 1, 127))))
    return out


#: Features of velocity_features, in order (a fitted model's weights follow them).
VELOCITY_FEATURES = ("head", "level_0", "level_4", "level_8", "level_16", "key_db", "key_rise_db", "octave_db",
                     "register", "register_sq", "chord", "key_db_x_register")
VELOCITY_LAGS = (0, 4, 8, 16)  # frames after the onset at which the level is read
KEY_DB_FLOOR = -140.0  # dB: a silent key reads this, not -inf


class _EnergyAt:
    """``key_energy[rows, cols]`` as float64 with silence (NaN, -inf) read as KEY_DB_FLOOR, converted after the
    gather, so no float64 copy of the whole [frames, 88] array is made (about 80 MB for an hour; the same
    features to the bit, and no slower: 0.63 s against 0.65 s for 40,000 notes with the linear read-out).
    ``fill`` other than the floor reads a probability head the same way (NaN as 0)."""

    def __init__(self, key_energy: np.ndarray, n: int, fill: float = KEY_DB_FLOOR) -> None:
        self.e, self.n, self.fill = key_energy, n, fill

    def __getitem__(self, index: tuple[np.ndarray, ...] | np.ndarray) -> np.ndarray:
        got = np.asarray(self.e[: self.n][index], np.float64)
        return np.nan_to_num(got, nan=self.fill, neginf=self.fill)


def velocity_features(notes: list[Note], activations: Activations) -> np.ndarray:
    """[notes, len(VELOCITY_FEATURES)], each column minus its median over the file.

    Centred per file because the recording's gain and the piece's overall dynamic shift every note
    alike: they carry nothing about which note is louder than which, and a model fitted across files
    should not have to learn them.  Needs ``activations.level`` and ``activations.key_energy``."""
    a = activations
    if not notes or a.key_energy is None or a.level is None or not len(a.level):
        return np.zeros((len(notes), len(VELOCITY_FEATURES)))
    n = min(len(a.level), len(a.key_energy))
    return _base_velocity_features(notes, a, *_note_grid(notes, a.frame_rate, n), _EnergyAt(a.key_energy, n))


def _note_grid(notes: list[Note], frame_rate: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(start times, onset frames, key indices, [notes, 3] onset frame and the two after it) over ``n`` frames."""
    start = np.array([x.start for x in notes])
    f = np.clip(np.round(start * frame_rate).astype(np.int64), 0, n - 1)
    k = np.clip(np.array([x.pitch for x in notes]) - PIANO_LOW, 0, 87)
    return start, f, k, _ahead(f, n)


def _ahead(f: np.ndarray, n: int) -> np.ndarray:
    """[len(f), 3]: each onset frame and the two after it, within ``n`` frames (an attack's energy peaks there)."""
    return np.minimum(f[:, None] + np.arange(3), n - 1)


def _base_velocity_features(notes: list[Note], a: Activations, start: np.ndarray, f: np.ndarray, k: np.ndarray,
                            ahead: np.ndarray, energy: _EnergyAt) -> np.ndarray:
    n = energy.n
    level = np.nan_to_num(np.asarray(a.level[:n], np.float64))
    # Vectorised over notes (re-decoding runs on every slider move; an hour holds ~40,000 notes).
    key = energy[ahead, k[:, None]].max(axis=1)
    behind = np.maximum(f[:, None] - np.arange(4, 1, -1), 0)  # the 4th to 2nd frames before it
    before = energy[behind, k[:, None]].mean(axis=1)
    octave = energy[ahead, np.minimum(k + 12, 87)[:, None]].max(axis=1)
    lv = level[np.minimum(f[:, None] + np.asarray(VELOCITY_LAGS), n - 1)]
    reg = (k - 44) / 44.0
    order = np.sort(start)
    others = np.searchsorted(order, start + 0.03, "left") - np.searchsorted(order, start - 0.03, "right") - 1
    head = np.array([x.velocity for x in notes]) / 127.0
    raw = np.column_stack([head, lv, key, key - before, octave, reg, reg * reg, np.log1p(np.maximum(others, 0))])
    centred = raw - np.median(raw, axis=0)
    inter = centred[:, 5] * raw[:, 8]  # the centred key energy (free of the recording's gain) x register
    return np.column_stack([centred, inter - np.median(inter)])


#: Features the MLP read-out adds (extended_velocity_features), after VELOCITY_FEATURES.
EXTRA_VELOCITY_FEATURES = ("fifth_above_octave_db", "two_octaves_db", "third_above_two_octaves_db",
                           "key_below_loudest_db", "onset_peak", "velocity_head_peak")


def extended_velocity_features(notes: list[Note], activations: Activations) -> np.ndarray:
    """velocity_features plus EXTRA_VELOCITY_FEATURES, each centred on its median over the file:
    the energy at the keys of the 3rd, 4th and 5th partials (a hard strike is brighter), the key's energy
    below the loudest key's at its onset (a chord's quiet note), and the onset and velocity heads' peaks
    over the onset frame and the two after it."""
    a = activations
    if not notes or a.key_energy is None or a.level is None or not len(a.level):
        return np.zeros((len(notes), len(VELOCITY_FEATURES) + len(EXTRA_VELOCITY_FEATURES)))
    n = min(len(a.level), len(a.key_energy), len(a.onset), len(a.velocity))
    energy = _EnergyAt(a.key_energy, n)
    start, f, k, ahead = _note_grid(notes, a.frame_rate, n)  # the onset frames and keys, found once for both sets
    base = _base_velocity_features(notes, a, start, f, k, ahead, energy)
    partials = [energy[ahead, np.minimum(k + h, 87)[:, None]].max(axis=1) for h in (19, 24, 28)]
    key = energy[ahead, k[:, None]].max(axis=1)
    loudest = energy[ahead].max(axis=2).max(axis=1)
    onset_peak = np.asarray(a.onset[:n], np.float64)[ahead, k[:, None]].max(axis=1)
    head_peak = np.asarray(a.velocity[:n], np.float64)[ahead, k[:, None]].max(axis=1)
    raw = np.column_stack([*partials, key - loudest, onset_peak, head_peak])
    return np.column_stack([base, raw - np.median(raw, axis=0)])


#: Features a read-out fitted on 25 inputs adds after the 18 (eighteenth session, more_velocity_features).
MORE_VELOCITY_FEATURES = ("decay4_db", "decay8_db", "rise_1_db", "sixth_partial_db", "eighth_partial_db",
                          "local_loudness_db", "velocity_head_before")
#: The velocity read-outs' input counts: base (12), extended (18), more (25).
VELOCITY_FEATURE_SIZES = (len(VELOCITY_FEATURES), len(VELOCITY_FEATURES) + len(EXTRA_VELOCITY_FEATURES),
                          len(VELOCITY_FEATURES) + len(EXTRA_VELOCITY_FEATURES) + len(MORE_VELOCITY_FEATURES))


def more_velocity_features(notes: list[Note], activations: Activations) -> np.ndarray:
    """extended_velocity_features plus MORE_VELOCITY_FEATURES, each centred on its median over the file: the key's
    energy 4 and 8 frames after its attack against the attack (how it decays), its rise over the one frame before,
    the energy at the 6th and 8th partials against the key's (how bright the strike is; -60 above the keyboard), the
    attack against the mean attack of the notes within a second either side (the local dynamic), and the velocity
    head a frame before the onset."""
    a = activations
    extended = extended_velocity_features(notes, activations)
    if not notes or a.key_energy is None or a.level is None or not len(a.level):
        return np.zeros((len(notes), extended.shape[1] + len(MORE_VELOCITY_FEATURES)))
    n = min(len(a.level), len(a.key_energy), len(a.onset), len(a.velocity))
    energy = _EnergyAt(a.key_energy, n)
    start, f, k, ahead = _note_grid(notes, a.frame_rate, n)
    key = energy[ahead, k[:, None]].max(axis=1)
    decay = np.clip(energy[np.minimum(f[:, None] + np.array((4, 8)), n - 1), k[:, None]] - key[:, None], -60.0, 60.0)
    rise = np.clip(key - energy[np.maximum(f - 1, 0), k], -60.0, 60.0)
    upper = k[:, None] + np.array((31, 36))  # semitones to the 6th and 8th partials
    bright = energy[ahead[:, None, :], np.minimum(upper, 87)[:, :, None]].max(axis=2)
    bright = np.where(upper < 88, np.clip(bright - key[:, None], -60.0, 60.0), -60.0)
    # the mean attack of the notes starting within a second either side, by cumulative sums over the sorted starts
    order = np.argsort(start, kind="stable")
    sums = np.concatenate([[0.0], np.cumsum(key[order])])
    lo, hi = np.searchsorted(start[order], start - 1.0, "left"), np.searchsorted(start[order], start + 1.0, "right")
    local = key - (sums[hi] - sums[lo]) / np.maximum(hi - lo, 1)
    before = _EnergyAt(a.velocity, n, 0.0)[np.maximum(f - 1, 0), k]
    raw = np.column_stack([decay, rise, bright, local, before])
    return np.column_stack([extended, raw - np.median(raw, axis=0)])


def velocity_model_output(model: dict, x: np.ndarray) -> np.ndarray:
    """A fitted read-out's velocity offsets for features ``x`` (standardised by the model's mean and scale).

    ``kind`` "linear" (the default, ``weights``), or "mlp": ``members``, an ensemble whose outputs are
    averaged, each a list of [weight matrix, bias] layers with ReLU between them.  Written out in numpy
    rather than loading a torch module: about 3,200 weights for five members of 32 units, run once per file
    on every re-decode."""
    mean, scale = np.asarray(model["mean"], np.float64), np.asarray(model["scale"], np.float64)
    if not (x.shape[1] == len(mean) == len(scale)):
        raise ValueError(f"velocity model expects {len(mean)} features, got {x.shape[1]}")
    z = (x - mean) / scale
    if model.get("kind", "linear") == "linear":
        w = np.asarray(model["weights"], np.float64)
        if len(w) != len(mean):
            raise ValueError(f"velocity model has {len(w)} weights for {len(mean)} features")
        return z @ w
    outs = []
    for layers in model["members"]:
        h = z
        for i, (w, b) in enumerate(layers):
            h = h @ np.asarray(w, np.float64) + np.asarray(b, np.float64)
            if i < len(layers) - 1:
                h = np.maximum(h, 0.0)
        outs.append(h[:, 0])
    return np.mean(outs, axis=0)


def velocity_model_features(notes: list[Note], activations: Activations, model: dict) -> np.ndarray:
    """The feature set a fitted model was fitted on: 12 (velocity_features), 18 (extended) or 25 (more)."""
    n = len(model["mean"])
    sizes = VELOCITY_FEATURE_SIZES
    if n == sizes[0]:
        return velocity_features(notes, activations)
    if n == sizes[1]:
        return extended_velocity_features(notes, activations)
    if n == sizes[2]:
        return more_velocity_features(notes, activations)
    raise ValueError(f"velocity model has weights for {n} features; the decoder computes "
                     f"{', '.join(map(str, sizes[:-1]))} or {sizes[-1]}")


def with_velocity_model(notes: list[Note], activations: Activations, model: dict) -> list[Note]:
    """Velocities from a fitted note-velocity model, around the head's mean velocity over the file."""
    if not notes:
        return notes
    offsets = velocity_model_output(model, velocity_model_features(notes, activations, model))
    base = float(np.mean([n.velocity for n in notes]))
    vel = np.clip(np.round(base + offsets), 1, 127)
    return [replace(n, velocity=int(v)) for n, v in zip(notes, vel, strict=True)]


#: Semitones below a candidate where a fundamental whose partial it could be lies (2nd to 6th harmonics).
FILTER_INTERVALS = (12, 19, 24, 28, 31)
FILTER_LOOKAHEAD = 32  # frames (1 s): how far a candidate's duration and mean frame probability are read
#: Features of note_filter_features, in order (a fitted filter's mean and scale follow them).
NOTE_FILTER_FEATURES = (
    "onset_peak", "onset_before", "onset_after", "frame_at_onset", "frame_held_before", "log_duration",
    "frame_mean", "offset_peak", "key_db", "key_rise_db", "key_below_loudest_db", "level",
    *(f"lower{iv}_onset" for iv in FILTER_INTERVALS), *(f"lower{iv}_db" for iv in FILTER_INTERVALS),
    "log_since_same_key", "same_key_prev_onset", "log_simultaneous", "register", "register_sq")
NEIGHBOUR_KEYS = (-2, -1, 1, 2)  # semitones: a neighbouring key's onset (the network hedging between two keys)
UPPER_INTERVALS = (12, 19, 24)  # semitones above: a played note's own 2nd, 3rd and 4th partials
DECAY_LAGS = (4, 8, 16)  # frames after the onset where the key's energy is read against its attack
#: More local evidence for the filter (eighteenth session; fitted filters with 43 inputs read these after the 27):
#: a struck key's energy decays from its attack and its own partials sound above it, where a resonance or a
#: reverberant swell does not; a neighbouring key's onset, an earlier peak of this key and the frame head at the
#: neighbouring keys tell a hedge between two keys or a smeared double attack from a new note.
EXTRA_FILTER_FEATURES = (
    *(f"onset_key{d:+d}" for d in NEIGHBOUR_KEYS), *(f"upper{iv}_onset" for iv in UPPER_INTERVALS),
    *(f"upper{iv}_db" for iv in UPPER_INTERVALS), *(f"decay{lag}_db" for lag in DECAY_LAGS), "onset_earlier",
    "frame_key-1", "frame_key+1")


#: The input counts a fitted filter may have: the 27 NOTE_FILTER_FEATURES, or those and the EXTRA_FILTER_FEATURES.
NOTE_FILTER_SIZES = (len(NOTE_FILTER_FEATURES), len(NOTE_FILTER_FEATURES) + len(EXTRA_FILTER_FEATURES))


def note_filter_feature_count(model: dict) -> int:
    """How many features a fitted filter reads (one of NOTE_FILTER_SIZES)."""
    n = len(model["mean"])
    if n not in NOTE_FILTER_SIZES:
        raise ValueError(f"note filter has weights for {n} features; the decoder computes {NOTE_FILTER_SIZES[0]} "
                         f"or {NOTE_FILTER_SIZES[1]}")
    return n


def note_filter_features(activations: Activations, frames: np.ndarray, keys: np.ndarray,
                         frame_threshold: float, extended: bool = False) -> np.ndarray:
    """[candidates, len(NOTE_FILTER_FEATURES)] for onset candidates (frames[i], keys[i]); with ``extended``,
    EXTRA_FILTER_FEATURES follow (extra_filter_features).

    What tells a played note from a false alarm: the onset head's peak and its shape; whether the key was
    already sounding (a swelling partial under the pedal); how long and how surely the frame head holds it;
    the key's attack energy and rise in the recording, against the loudest key's; whether a key a partial
    interval below started within two frames, and how much louder it is there (a partial of that note); how
    long since this key last started (a repeat in the reverb); how many keys start together; the register
    and the playing level.  Energies and the level are centred on their median over the file (the
    recording's gain says nothing about which candidate is real).  Needs ``key_energy`` and ``level``."""
    a = activations
    frames, keys = np.asarray(frames, np.int64), np.asarray(keys, np.int64)
    m = len(frames)
    if not m or a.key_energy is None or a.level is None or not len(a.level):
        return np.zeros((m, len(NOTE_FILTER_FEATURES) + (len(EXTRA_FILTER_FEATURES) if extended else 0)))
    n = min(len(a.level), len(a.key_energy), len(a.onset), len(a.frame))
    f, k = np.minimum(frames, n - 1), keys
    # Gathered in a few blocks, then converted: no float64 copy of a whole [frames, 88] head (the filter runs on
    # every re-decode, and its cost is held to a fraction of decoding's).
    energy = _EnergyAt(a.key_energy, n)
    ahead = _ahead(f, n)
    # the onset head at this key over frames f-2..f+2, and at the keys a partial interval below it
    keys6 = k[:, None] - np.array((0, *FILTER_INTERVALS))  # [m, 6]
    exists = keys6[:, 1:] >= 0
    near = f[:, None] + np.arange(-2, 3)
    inside = (near >= 0) & (near < n)
    onset = _EnergyAt(a.onset, n, 0.0)[np.clip(near, 0, n - 1)[:, None, :], np.maximum(keys6, 0)[:, :, None]]
    onset[:, 0, :] *= inside  # this key's neighbours beyond the ends read 0
    lower_onset = np.where(exists, onset[:, 1:, :].max(axis=2), 0.0)
    # the key energies over the onset frame and the two after it, here and a partial interval below
    here_below = energy[ahead[:, None, :], np.maximum(keys6, 0)[:, :, None]].max(axis=2)  # [m, 6]
    key = here_below[:, 0]
    lower_db = np.where(exists, np.clip(here_below[:, 1:] - key[:, None], -60.0, 60.0), -60.0)
    # the frame head at this key from two frames before the onset to the end of the lookahead
    rows = f[:, None] + np.arange(-2, FILTER_LOOKAHEAD + 1)
    frame = _EnergyAt(a.frame, n, 0.0)[np.clip(rows, 0, n - 1), k[:, None]]
    held = np.where(f >= 2, frame[:, 0], 0.0)
    # Candidates by key, then time: the previous and next candidate of the same key.
    order = np.lexsort((f, k))
    same_prev = np.zeros(m, bool)
    same_prev[order[1:]] = k[order[1:]] == k[order[:-1]]
    prev_f = np.zeros(m, np.int64)
    prev_f[order[1:]] = f[order[:-1]]
    next_f = np.full(m, n, np.int64)
    next_f[order[:-1]] = np.where(k[order[:-1]] == k[order[1:]], f[order[1:]], n)
    since = np.where(same_prev, f - prev_f, 10 * FILTER_LOOKAHEAD)
    prev_onset = np.where(same_prev, _EnergyAt(a.onset, n, 0.0)[prev_f, k], 0.0)
    # Duration: frames after the onset while the frame head holds, up to the next candidate, at most the lookahead.
    window = np.where(rows[:, 3:] < np.minimum(next_f, n)[:, None], frame[:, 3:], -1.0)
    below = window < frame_threshold
    run = np.where(below.any(axis=1), below.argmax(axis=1), FILTER_LOOKAHEAD)
    held_mass = np.cumsum(np.maximum(window, 0.0), axis=1)
    frame_mean = (frame[:, 2] + np.where(run > 0, held_mass[np.arange(m), np.maximum(run - 1, 0)], 0.0)) / (run + 1)
    offset_peak = np.zeros(m) if a.offset is None else _EnergyAt(a.offset, n, 0.0)[ahead, k[:, None]].max(axis=1)
    rise = key - energy[np.maximum(f[:, None] - np.arange(4, 1, -1), 0), k[:, None]].mean(axis=1)
    # the loudest key per frame, found once over the frames the candidates read
    span = slice(int(f.min()), int(ahead.max()) + 1)
    loudest_frame = np.fmax.reduce(np.asarray(a.key_energy[span]), axis=1).astype(np.float64)
    loudest_frame = np.nan_to_num(loudest_frame, nan=KEY_DB_FLOOR, neginf=KEY_DB_FLOOR)
    loudest = loudest_frame[ahead - span.start].max(axis=1)
    level = _EnergyAt(a.level, n, 0.0)[f]
    sorted_f = np.sort(f)
    together = np.searchsorted(sorted_f, f + 1, "right") - np.searchsorted(sorted_f, f - 1, "left") - 1
    reg = (k - 44) / 44.0
    x = np.column_stack([
        onset[:, 0, 2], onset[:, 0, 1], onset[:, 0, 3], frame[:, 2:5].max(axis=1), held, np.log1p(run), frame_mean,
        offset_peak, key - np.median(key), rise, key - loudest, level - np.median(level), lower_onset, lower_db,
        np.log1p(since), prev_onset, np.log1p(together), reg, reg * reg])
    return np.hstack([x, extra_filter_features(a, f, k, n, key)]) if extended else x


def extra_filter_features(a: Activations, f: np.ndarray, k: np.ndarray, n: int, key: np.ndarray) -> np.ndarray:
    """[candidates, len(EXTRA_FILTER_FEATURES)] at onset frames ``f`` (within ``n``) of keys ``k``, whose attack
    energies (the loudest over the onset frame and the two after it) are ``key``: the onset head at the
    neighbouring keys and at the keys of this note's partials (frames f-1..f+1; 0 off the keyboard), those
    partials' attack energies against this key's, this key's energy 4, 8 and 16 frames on against its attack (dB,
    clipped to +-60), the onset head's highest peak at this key 3-8 frames before, and the frame head at the two
    neighbouring keys two frames on.  Each head is gathered once for all its columns (it runs on every candidate of
    every re-decode)."""
    onset, frame, energy = _EnergyAt(a.onset, n, 0.0), _EnergyAt(a.frame, n, 0.0), _EnergyAt(a.key_energy, n)
    n_keys = a.onset.shape[1]
    # Frames lead each gather and the max runs over them: numpy reduces a short last axis far more slowly.
    near = np.clip(f[None, :] + np.arange(-1, 2)[:, None], 0, n - 1)  # [3, m]
    others = k[:, None] + np.array((*NEIGHBOUR_KEYS, *UPPER_INTERVALS))  # [m, 7]
    on_keyboard = (others >= 0) & (others < n_keys)
    others = np.clip(others, 0, n_keys - 1)
    beside = np.where(on_keyboard, onset[near[:, :, None], others[None, :, :]].max(axis=0), 0.0)
    upper = others[:, len(NEIGHBOUR_KEYS):]
    attack = energy[_ahead(f, n).T[:, :, None], upper[None, :, :]].max(axis=0)  # [m, 3]
    partials = np.where(on_keyboard[:, len(NEIGHBOUR_KEYS):], np.clip(attack - key[:, None], -60.0, 60.0), -60.0)
    decay = np.clip(energy[np.minimum(f[:, None] + np.array(DECAY_LAGS), n - 1), k[:, None]] - key[:, None], -60.0, 60.0)
    earlier = onset[np.clip(f[None, :] - np.arange(3, 9)[:, None], 0, n - 1), k[None, :]].max(axis=0)
    sides = frame[np.minimum(f + 2, n - 1)[:, None], np.clip(k[:, None] + np.array((-1, 1)), 0, n_keys - 1)]
    return np.column_stack([beside, partials, decay, earlier, sides])


def note_filter_logits(model: dict, x: np.ndarray) -> np.ndarray:
    """velocity_model_output for a filter of one-hidden-layer members, in float32 with the standardisation folded
    into the first layer and the members' hidden layers side by side: two matrix products instead of two per
    member in float64.  Written for speed: the filter scores every candidate on every re-decode, and at a low
    candidate threshold there are twice as many candidates as notes.  Other shapes fall back to
    velocity_model_output; tests/ml/test_note_filter.py checks the two agree."""
    members = model.get("members") or []
    if model.get("kind") != "mlp" or any(len(layers) != 2 for layers in members):
        return velocity_model_output(model, x)
    mean, scale = np.asarray(model["mean"], np.float64), np.asarray(model["scale"], np.float64)
    if x.shape[1] != len(mean):
        raise ValueError(f"note filter expects {len(mean)} features, got {x.shape[1]}")
    first = np.concatenate([np.asarray(layers[0][0], np.float64) for layers in members], axis=1) / scale[:, None]
    bias = np.concatenate([np.asarray(layers[0][1], np.float64) for layers in members]) - mean @ first
    # the mean of the members' outputs is the side-by-side hidden units times their stacked output columns / members
    second = np.concatenate([np.asarray(layers[1][0], np.float64) for layers in members], axis=0) / len(members)
    out_bias = float(np.mean([np.asarray(layers[1][1], np.float64)[0] for layers in members]))
    h = x.astype(np.float32) @ first.astype(np.float32) + bias.astype(np.float32)
    np.maximum(h, 0.0, out=h)
    return (h @ second.astype(np.float32))[:, 0].astype(np.float64) + out_bias


def candidate_settings(settings: DecodeSettings, note_filter: dict) -> DecodeSettings:
    """The settings candidates are looked for under: the filter's thresholds over the decoder's."""
    keys = ("onset_threshold", "repeat_threshold", "harmonic_threshold")
    return replace(settings, **{key: note_filter[key] for key in keys if key in note_filter})


def filtered_onsets(activations: Activations, settings: DecodeSettings, onset: np.ndarray | None = None,
                    frame: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The (frame, key) onsets the note filter keeps, or None where it does not apply (no filter, or
    activations without key energies or level).  ``onset`` and ``frame``: the heads already cleaned of NaN as
    float32, when the caller has them."""
    a, model = activations, settings.note_filter
    if model is None or a.key_energy is None or a.level is None or not len(a.level) or a.n_frames == 0:
        return None
    clean = [np.nan_to_num(np.asarray(x, np.float32)) if y is None else y for x, y in ((a.onset, onset), (a.frame, frame))]
    frames, keys = _onset_candidates(*clean, candidate_settings(settings, model))
    if not len(frames):
        return frames, keys
    extended = note_filter_feature_count(model) > len(NOTE_FILTER_FEATURES)
    x = note_filter_features(a, frames, keys, settings.frame_threshold, extended)
    keep_at = float(model["keep_threshold"])  # the probability threshold as a logit: no sigmoid per candidate
    keep = note_filter_logits(model, x) >= np.log(keep_at / (1.0 - keep_at))
    guard = model.get("repeat_guard")
    if guard is not None:
        # An optional hand rule on top of the fitted filter (off in the shipped model: its card has the validation
        # numbers), because the fit clips (pianos in rooms) never showed the filter what clean, dry tones do: the
        # onset head fires at a key that is still ringing when another key starts.  A real re-strike adds energy,
        # so a candidate whose key was already sounding and whose energy did not rise is dropped
        # (tests/ml/test_note_filter.py; on the suite's ringing arpeggio it lifts onset precision 0.767 -> 1.0).
        held = x[:, NOTE_FILTER_FEATURES.index("frame_held_before")] >= float(guard["held"])
        keep &= ~(held & (x[:, NOTE_FILTER_FEATURES.index("key_rise_db")] < float(guard["rise_db"])))
    return frames[keep], keys[keep]


def decode(activations: Activations, settings: DecodeSettings | None = None) -> NoteSequence:
    """A NoteSequence from model activations (notes already carry the pedal's sustain)."""
    s = settings or DecodeSettings()
    a = activations
    peaks = None
    if s.note_filter is not None and a.n_frames:  # the heads are cleaned once, for the filter and the notes
        onset, frame = (np.nan_to_num(np.asarray(x, np.float32)) for x in (a.onset, a.frame))
        peaks = filtered_onsets(a, s, onset, frame)
    if peaks is not None:
        notes = _notes_at(onset, frame, a.offset, a.velocity, a.frame_rate, s, PIANO_LOW, *peaks)
    else:
        notes = decode_notes(a.onset, a.frame, a.offset, a.velocity, a.frame_rate, settings=s)
    pedals = decode_pedal(a.pedal, a.frame_rate, s) if s.use_pedal and a.pedal is not None else []
    # The end model needs the decoded pedal and pedal-aware offsets; where it does not apply, notes end as before
    # (held by the pedal, or at the key release).
    ends_chosen = s.sustain_offsets and s.use_pedal and s.note_end_model is not None and _has_energies(a)
    if ends_chosen:  # before the velocity read-out: the end model was fitted on the head's velocities
        notes = with_note_end_model(notes, a, pedals, s.note_end_model)
    if s.velocity_model is not None and _has_energies(a):
        notes = with_velocity_model(notes, a, s.velocity_model)
    elif s.level_velocity > 0 and a.level is not None and len(a.level):
        notes = with_level_velocity(notes, a.level, a.frame_rate, s.level_velocity, s.level_lag_ms)
    seq = NoteSequence(notes=notes, pedals=pedals, tracks=[TrackInfo("Transcription", 0)])
    if s.sustain_offsets and pedals and not ends_chosen:
        seq = seq.with_sustain_applied()  # a re-struck key still cuts the note before it
    return seq


def _has_energies(a: Activations) -> bool:
    """Whether the activations carry what the read-outs need: key energies and a level."""
    return a.key_energy is not None and a.level is not None and len(a.level) > 0


END_FRAME_THRESHOLDS = (0.1, 0.2, 0.5, 0.7)  # the frame head falling through these ends a candidate
END_OFFSET_THRESHOLDS = (0.2, 0.5)  # and so does the offset head rising through these
_HEAD_ENDS = (*(f"frame_below_{t}" for t in END_FRAME_THRESHOLDS), *(f"offset_above_{t}" for t in END_OFFSET_THRESHOLDS))
#: The candidate ends the note-end model chooses among, in order.
NOTE_END_CANDIDATES = ("released", "pedalled", "next_onset", *_HEAD_ENDS, *(f"{e}_pedalled" for e in _HEAD_ENDS))
#: Per-note features of note_end_features (each candidate's row starts with them).
NOTE_END_NOTE_FEATURES = (
    "log_released", "log_pedalled", "log_to_next_onset", *(f"log_{e}" for e in _HEAD_ENDS), "offset_at_release",
    "pedal_at_release", "pedal_mean", "pedal_down_at_release", "key_drop_at_release_db", "key_drop_at_pedalled_db",
    "key_db", "register", "velocity_head", "level", "pedal_share", "frame_at_release", "frame_at_onset",
    "log_to_next_any_onset", "room_tail", "log_to_next_neighbour_onset")
#: Per-candidate features, after the note's, then a one-hot of the candidate's kind.
NOTE_END_CANDIDATE_FEATURES = ("log_duration", "log_over_pedalled", "frame", "offset", "pedal", "key_drop_db",
                               "to_nearest_onset", "frame_fall", "to_next_neighbour_onset")
NOTE_END_FEATURES = (*NOTE_END_NOTE_FEATURES, *NOTE_END_CANDIDATE_FEATURES, *(f"is_{c}" for c in NOTE_END_CANDIDATES))
_MIN_END = 0.03  # s: no candidate ends a note sooner than this after its onset


def note_end_candidates(notes: list[Note], activations: Activations, pedals: list[PedalEvent]
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(candidate end times [notes, len(NOTE_END_CANDIDATES)], features [notes, candidates, len(NOTE_END_FEATURES)]).

    ``notes`` end where the frame head lets the key go (decode without sustain); ``pedals`` are decode_pedal's
    events.  Every candidate lies between the onset (plus 30 ms) and the key's next onset.  A candidate's row is
    its note's features, its own, and the one-hot of its kind.  Needs ``key_energy`` and ``level``."""
    ends, note_x, cand_x = _note_end_parts(notes, activations, pedals)
    m, c = ends.shape
    x = np.concatenate([np.broadcast_to(note_x[:, None, :], (m, c, note_x.shape[1])), cand_x,
                        np.broadcast_to(np.eye(c), (m, c, c))], axis=2)
    return ends, x


def _note_end_parts(notes: list[Note], activations: Activations, pedals: list[PedalEvent]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """note_end_candidates' (ends, per-note features [m, F], per-candidate features [m, c, G]), not yet joined.

    Vectorised over notes, with one pass per key that has notes over its frame and offset columns (the read-out
    runs on every re-decode)."""
    a = activations
    m, c = len(notes), len(NOTE_END_CANDIDATES)
    if not m:
        return (np.zeros((0, c)), np.zeros((0, len(NOTE_END_NOTE_FEATURES))),
                np.zeros((0, c, len(NOTE_END_CANDIDATE_FEATURES))))
    n = min(a.n_frames, len(a.level), len(a.key_energy))
    fr = a.frame_rate
    start = np.array([x.start for x in notes])
    released = np.array([x.end for x in notes])
    k = np.clip(np.array([x.pitch for x in notes]) - PIANO_LOW, 0, 87)
    f = np.clip(np.round(start * fr).astype(np.int64), 0, n - 1)
    # the key's next onset (or the end of the file): no candidate runs past it
    order = np.lexsort((start, k))
    nxt = np.full(m, n / fr)
    same = k[order[1:]] == k[order[:-1]]
    nxt[order[:-1]] = np.where(same, start[order[1:]], n / fr)
    nxt = np.maximum(nxt, start + _MIN_END)
    nxt_f = np.clip(np.ceil(nxt * fr).astype(np.int64), 0, n)
    # where each head column crosses each threshold first after the onset frame, per key that has notes
    # (the heads stay in their stored precision, float16 from the model: only what is read is converted)
    frame = a.frame[:n]
    offset = np.zeros((n, 88), np.float16) if a.offset is None else a.offset[:n]
    cross = _first_crossings(frame, offset, k, f + 1, np.maximum(nxt_f, f + 1)) / fr
    pedal = np.zeros(n) if a.pedal is None else np.nan_to_num(np.asarray(a.pedal[:n], np.float64))
    p_start = np.array([e.time for e in pedals if e.value >= 64])
    p_end = np.array([e.time for e in pedals if e.value < 64])

    def pedalled(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """t held on to the pedal's release where the decoded pedal is down at t (never past the next onset)."""
        if not len(p_start) or len(p_start) != len(p_end):
            return t, np.zeros(t.shape, bool)
        j = np.searchsorted(p_start, t, side="right") - 1
        down = (j >= 0) & (t < p_end[np.maximum(j, 0)])
        return np.where(down, np.minimum(p_end[np.maximum(j, 0)], nxt if t.ndim == 1 else nxt[:, None]), t), down

    held, down = pedalled(released)
    held = np.maximum(held, released)
    held_cross, _ = pedalled(cross)
    ends = np.column_stack([released, held, nxt, cross, np.maximum(held_cross, cross)])
    ends = np.clip(ends, (start + _MIN_END)[:, None], nxt[:, None])
    # per-note features
    energy = _EnergyAt(a.key_energy, n)
    ahead = _ahead(f, n)
    key = energy[ahead, k[:, None]].max(axis=1)
    b = np.clip(np.round(released * fr).astype(np.int64), 0, n - 1)
    bh = np.clip(np.round(held * fr).astype(np.int64), 0, n - 1)
    cum = np.concatenate([[0.0], np.cumsum(pedal)])
    pedal_mean = (cum[np.maximum(b, f) + 1] - cum[f]) / (np.maximum(b, f) - f + 1)
    level = np.nan_to_num(np.asarray(a.level[:n], np.float64))
    frame_at = _EnergyAt(frame, n, 0.0)
    offset_at = _EnergyAt(offset, n, 0.0)

    onsets = np.sort(start)  # every note's onset, any key
    after = onsets[np.minimum(np.searchsorted(onsets, start + _MIN_END), m - 1)]  # the next onset of any key
    after = np.where(after > start, after, n / fr)

    # the next onset of a neighbouring key (within 4 semitones, not this one): the next note of a legato line
    span = n / fr + 1.0
    by_key = np.sort(k * span + start)
    neighbour = np.full(m, n / fr)
    for d in (-4, -3, -2, -1, 1, 2, 3, 4):
        i = np.minimum(np.searchsorted(by_key, (k + d) * span + start + _MIN_END), m - 1)
        hit = (by_key[i] >= (k + d) * span + start + _MIN_END) & (by_key[i] < (k + d + 1) * span)
        neighbour = np.where(hit, np.minimum(neighbour, by_key[i] - (k + d) * span), neighbour)

    def log_dur(t: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(t - (start if t.ndim == 1 else start[:, None]), 1e-3))

    note_x = np.column_stack([
        log_dur(released), log_dur(held), log_dur(nxt), log_dur(cross), offset_at[b, k], pedal[b], pedal_mean,
        down.astype(float), key - energy[b, k], key - energy[bh, k], key - np.median(key), (k - 44) / 44.0,
        np.array([x.velocity for x in notes]) / 127.0, level[f] - np.median(level), np.full(m, np.mean(pedal >= 0.5)),
        frame_at[b, k], frame_at[f, k], log_dur(np.maximum(after, start + _MIN_END)),
        np.full(m, np.median(log_dur(cross[:, 0]) - log_dur(released))), log_dur(neighbour)])
    e = np.clip(np.round(ends * fr).astype(np.int64), 0, n - 1)
    kk = np.broadcast_to(k[:, None], e.shape)
    # Players let a key go as they play the next one: the signed time from each candidate to the nearest onset.
    j = np.clip(np.searchsorted(onsets, ends), 1, len(onsets) - 1) if len(onsets) > 1 else np.zeros(ends.shape, int)
    lo, hi = onsets[np.maximum(j - 1, 0)] - ends, onsets[j] - ends
    nearest = np.clip(np.where(np.abs(lo) < np.abs(hi), lo, hi), -1.0, 1.0)
    fall = frame_at[np.maximum(e - 1, 0), kk] - frame_at[np.minimum(e + 1, n - 1), kk]
    cand_x = np.stack([log_dur(ends), log_dur(ends) - log_dur(held)[:, None], frame_at[e, kk], offset_at[e, kk],
                       pedal[e], key[:, None] - energy[e, kk], nearest, fall,
                       np.clip(neighbour[:, None] - ends, -1.0, 1.0)], axis=2)
    return ends, note_x, cand_x


def _at_or_above(head: np.ndarray, t: float) -> np.ndarray:
    """``head >= t`` for a probability head, NaN reading as 0 (so never at or above t > 0).

    A float16 head (what inference stores) is compared by its bit patterns: for non-negative float16 values the
    unsigned order of the bits is the order of the values, so ``v >= t`` is ``bits(v) >= bits(t16)`` with t16 the
    smallest float16 not below t, and NaN and negative values (bits above +inf's) are excluded.  The same answer
    as converting to float32 first (tested), without converting: the conversion was a third of the note-end
    read-out's cost on a 10-minute file."""
    if head.dtype == np.float16:
        t16 = np.float16(t)
        if float(t16) < t:
            t16 = np.nextafter(t16, np.float16(np.inf))
        bits = head.view(np.uint16)
        return (bits >= t16.view(np.uint16)) & (bits <= np.float16(np.inf).view(np.uint16))
    return np.asarray(head) >= t


def _first_crossings(frame: np.ndarray, offset: np.ndarray, keys: np.ndarray, after: np.ndarray,
                     stop: np.ndarray) -> np.ndarray:
    """[notes, 6]: for each note (key ``keys[i]``), the first frame in [after, stop) where the frame head is below each
    END_FRAME_THRESHOLDS, then where the offset head is at or above each END_OFFSET_THRESHOLDS; ``stop`` where it
    never is.  One pass per key that has notes, over its columns copied out contiguous (a column of a [frames, 88]
    array is strided) in their stored precision (see _at_or_above)."""
    n = frame.shape[0]
    out = np.empty((len(keys), len(END_FRAME_THRESHOLDS) + len(END_OFFSET_THRESHOLDS)))
    present, which = np.unique(keys, return_inverse=True)
    tests = [(0, t, True) for t in END_FRAME_THRESHOLDS] + [(1, t, False) for t in END_OFFSET_THRESHOLDS]
    columns = [np.ascontiguousarray(head.T[present]) for head in (frame, offset)]
    for i in range(len(present)):
        at = np.flatnonzero(which == i)
        for j, (h, t, below) in enumerate(tests):
            hit = _at_or_above(columns[h][i], t)
            hits = np.append(np.flatnonzero(~hit if below else hit), n)  # n: never crosses
            out[at, j] = hits[np.searchsorted(hits, after[at])]
    return np.minimum(out, stop[:, None])


def note_end_scores(model: dict, note_x: np.ndarray, cand_x: np.ndarray) -> np.ndarray:
    """[notes, candidates]: the model's score of each candidate end, as velocity_model_output on the joined rows
    (note_end_candidates) would give it, computed without joining them.  The first layer's product is split: the
    note's features once per note, the candidate's own per candidate, and the one-hot's rows as a [candidates, H]
    table, in float32.  Why: on joined float64 rows the read-out cost +100 % of decode() on a 10-minute file
    (runs/s17/time_probe.py), where the ship rules allow +15 %."""
    _, c, g = cand_x.shape
    f = note_x.shape[1]
    mean, scale = np.asarray(model["mean"], np.float64), np.asarray(model["scale"], np.float64)
    if len(mean) != f + g + c:
        raise ValueError(f"note-end model expects {len(mean)} features, the decoder computes {f + g + c}")
    zn = ((note_x - mean[:f]) / scale[:f]).astype(np.float32)
    zc = ((cand_x - mean[f : f + g]) / scale[f : f + g]).astype(np.float32)
    zh = ((np.eye(c) - mean[f + g :]) / scale[f + g :]).astype(np.float32)
    total = np.zeros((cand_x.shape[0], c), np.float32)
    for layers in model["members"]:
        (w, b), rest = layers[0], layers[1:]
        w = np.asarray(w, np.float32)
        h = zc @ w[f : f + g]  # [notes, candidates, H]; the other parts are added in place (no temporaries this size)
        h += (zn @ w[:f])[:, None, :]
        h += (zh @ w[f + g :] + np.asarray(b, np.float32))[None]
        for w2, b2 in rest:
            np.maximum(h, 0.0, out=h)
            h = h @ np.asarray(w2, np.float32) + np.asarray(b2, np.float32)
        total += h[..., 0]
    return total / len(model["members"])


def with_note_end_model(notes: list[Note], activations: Activations, pedals: list[PedalEvent],
                        model: dict) -> list[Note]:
    """``notes`` (key-release ends) ending at the candidate the note-end model scores highest."""
    if not notes:
        return notes
    ends, note_x, cand_x = _note_end_parts(notes, activations, pedals)
    chosen = ends[np.arange(len(notes)), note_end_scores(model, note_x, cand_x).argmax(axis=1)]
    return [Note(nt.pitch, nt.start, float(t), nt.velocity, nt.track) for nt, t in zip(notes, chosen.tolist(), strict=True)]
