"""Standard MIDI files <-> :class:`NoteSequence`.

Reading uses our own lean parser (:mod:`musestudio.io.smf`; see there why);
writing builds a symusic Score, whose C++ writer is fast and whose output the
tests check event by event against mido.  Every file is written at 960 PPQ
with a conductor track first (tempo map, time signatures, keys), as DAWs expect.  Ticks are converted to seconds with
our own :class:`TempoMap`, so writing back is lossless.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from musestudio.core.atomic import atomic_path
from musestudio.core.errors import InputFileError, OutputFileError
from musestudio.core.notes import PEDAL_CCS, Note, NoteSequence, PedalEvent, TrackInfo
from musestudio.core.timing import KeySignature, TempoChange, TempoMap, TimeSignature
from musestudio.io.paths import check_readable

# Tonic names indexed by number of sharps (-7..7) + 7, for major and minor keys.
_MAJOR_BY_SHARPS = ["Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#"]
_MINOR_BY_SHARPS = ["Ab", "Eb", "Bb", "F", "C", "G", "D", "A", "E", "B", "F#", "C#", "G#", "D#", "A#"]

MAX_NOTES = 2_000_000  # refuse files that would not fit comfortably in memory


def key_from_sharps(sharps: int, minor: bool) -> tuple[str, str]:
    sharps = max(-7, min(7, int(sharps)))
    table = _MINOR_BY_SHARPS if minor else _MAJOR_BY_SHARPS
    return table[sharps + 7], "minor" if minor else "major"


def sharps_from_key(key: str, mode: str) -> int:
    table = _MINOR_BY_SHARPS if mode == "minor" else _MAJOR_BY_SHARPS
    if key in table:
        return table.index(key) - 7
    enharmonic = {"A#": "Bb", "D#": "Eb", "G#": "Ab", "Db": "C#", "Gb": "F#", "Cb": "B", "C#": "Db", "F#": "Gb"}
    alt = enharmonic.get(key)
    if alt in table:
        return table.index(alt) - 7
    return 0


def read_midi(path: str | os.PathLike[str]) -> NoteSequence:
    path = Path(path)
    check_readable(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"MThd":
        raise InputFileError(path, "not a MIDI file (no 'MThd' header)")
    return midi_bytes_to_sequence(path.read_bytes(), source=path)


def midi_bytes_to_sequence(data: bytes, source: object = "<bytes>") -> NoteSequence:
    from musestudio.io.smf import SMFError, TooManyNotes, parse_smf

    try:
        raw = parse_smf(data, max_notes=MAX_NOTES)
    except TooManyNotes:
        raise InputFileError(source, f"has over {MAX_NOTES:,} notes; musestudio opens at most {MAX_NOTES:,}") from None
    except SMFError as exc:
        raise InputFileError(source, str(exc)) from None
    total = sum(len(t.notes) for t in raw.tracks)
    if total > MAX_NOTES:
        raise InputFileError(source, f"has {total:,} notes; musestudio opens at most {MAX_NOTES:,}")
    if raw.truncated and total == 0:
        raise InputFileError(source, "corrupt or truncated MIDI file (no notes could be read)")

    tempo_map = TempoMap(
        ppq=raw.ppq,
        # Tempo 0 is meaningless: such an event is ignored and the previous tempo holds.
        changes=[TempoChange(t, us) for t, us in sorted(raw.tempos) if us > 0],
    )
    notes: list[Note] = []
    drums: list[Note] = []
    pedals: list[PedalEvent] = []
    tracks: list[TrackInfo] = []
    # Tracks with no notes and no controllers (a conductor track, an empty one) are not layers.
    kept = [tr for tr in raw.tracks if tr.notes or tr.controls] or raw.tracks[:1]
    for ti, tr in enumerate(kept):
        tracks.append(TrackInfo(name=tr.name, program=tr.program, is_drum=tr.is_drum))
        if tr.notes:
            arr = np.asarray(tr.notes, dtype=np.int64)
            on = tempo_map.ticks_to_seconds_array(arr[:, 0])
            off = tempo_map.ticks_to_seconds_array(arr[:, 1])
            target = drums if tr.is_drum else notes
            target.extend(
                Note(int(p), float(s), float(e), int(v), ti)
                for s, e, p, v in zip(on.tolist(), off.tolist(), arr[:, 2].tolist(), arr[:, 3].tolist())
            )
        pedal_cc = [c for c in tr.controls if c[1] in PEDAL_CCS]
        if pedal_cc:
            times = tempo_map.ticks_to_seconds_array(np.fromiter((c[0] for c in pedal_cc), np.int64, len(pedal_cc)))
            pedals.extend(
                PedalEvent(t, value, number, ti) for t, (_, number, value) in zip(times.tolist(), pedal_cc)
            )
    time_sigs = [
        TimeSignature(tempo_map.tick_to_seconds(t), num, den) for t, num, den in sorted(raw.time_signatures) if num > 0
    ]
    key_sigs = []
    for t, sharps, minor in sorted(raw.key_signatures):
        name, mode = key_from_sharps(sharps, bool(minor))
        key_sigs.append(KeySignature(tempo_map.tick_to_seconds(t), name, mode))
    title = "" if isinstance(source, str) and source == "<bytes>" else Path(str(source)).stem
    return NoteSequence(
        notes=notes,
        pedals=pedals,
        drum_notes=drums,
        tracks=tracks or [TrackInfo("Piano")],
        tempo_map=tempo_map,
        time_signatures=time_sigs,
        key_signatures=key_sigs,
        title=title,
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


#: Ticks per quarter note of every file we write: at 960 and any tempo up to 240 BPM a tick is
#: at most 0.26 ms, so note times round-trip well within 2 ms (tested).
WRITE_PPQ = 960
CONDUCTOR_NAME = "Conductor"


MAX_TICK = 2**31 - 1  # symusic stores ticks as 32-bit integers


def at_ppq(tm: TempoMap, ppq: int = WRITE_PPQ, *, until: float = 0.0) -> TempoMap:
    """The same tempo map expressed at ``ppq`` ticks per quarter (same seconds at every beat); the file's
    own PPQ where ``ppq`` would put the time ``until`` (seconds) past the largest tick MIDI can hold."""
    if tm.ppq == ppq:
        return tm
    scaled = TempoMap(ppq=ppq, changes=[TempoChange(round(c.tick * ppq / tm.ppq), c.us_per_quarter) for c in tm.changes])
    return scaled if scaled.seconds_to_tick_float(until) <= MAX_TICK else tm


def _conductor(score: object, seq: NoteSequence, tm: TempoMap) -> None:
    """Tempo, meter and key events of ``seq`` into ``score`` (symusic writes them into the first track,
    which is why a named, otherwise empty conductor track goes first)."""
    import symusic

    for c in tm.changes:
        score.tempos.append(symusic.Tempo(c.tick, qpm=c.qpm))  # type: ignore[attr-defined]
    for ts in seq.time_signatures or [TimeSignature(0.0)]:
        score.time_signatures.append(  # type: ignore[attr-defined]
            symusic.TimeSignature(tm.seconds_to_tick(ts.time), ts.numerator, ts.denominator))
    for ks in seq.key_signatures:
        score.key_signatures.append(  # type: ignore[attr-defined]
            symusic.KeySignature(tm.seconds_to_tick(ks.time), sharps_from_key(ks.key, ks.mode), int(ks.mode == "minor"))
        )
    score.tracks.append(symusic.Track(name=CONDUCTOR_NAME))  # type: ignore[attr-defined]


def _note_tracks(seq: NoteSequence, tm: TempoMap, *, single_name: str | None = None) -> list:
    """symusic tracks holding ``seq``'s notes and controllers (one per TrackInfo that has events)."""
    import symusic

    infos = list(seq.tracks) or [TrackInfo("Piano")]
    used = {n.track for n in seq.notes} | {n.track for n in seq.drum_notes} | {p.track for p in seq.pedals}
    while len(infos) <= max(used, default=0):
        infos.append(TrackInfo(f"Track {len(infos) + 1}"))
    sym_tracks = [
        symusic.Track(name=single_name if single_name is not None and len(infos) == 1 else i.name,
                      program=i.program, is_drum=i.is_drum)
        for i in infos
    ]

    def add_notes(ns: list[Note]) -> None:
        if not ns:
            return
        on = tm.seconds_to_ticks_array(np.array([n.start for n in ns]))
        off = tm.seconds_to_ticks_array(np.array([n.end for n in ns]))
        if len(off) and int(off.max()) > MAX_TICK:
            raise ValueError(f"a note ends {max(n.end for n in ns) / 3600:.0f} h in, past the latest time a MIDI file can hold")
        for n, a, b in zip(ns, on, off):
            vel = max(1, min(127, int(n.velocity)))
            sym_tracks[n.track].notes.append(symusic.Note(int(a), max(int(b - a), 0), int(n.pitch), vel))

    add_notes(seq.notes)
    add_notes(seq.drum_notes)
    for p in seq.pedals:
        sym_tracks[p.track].controls.append(
            symusic.ControlChange(tm.seconds_to_tick(p.time), int(p.controller), max(0, min(127, int(p.value))))
        )
    out = []
    for t in sym_tracks:
        t.sort()
        if len(t.notes) or len(t.controls):
            out.append(t)
    return out


def sequence_to_score(seq: NoteSequence) -> object:
    """A tick-based symusic Score at 960 PPQ: a conductor track (tempo map, meters, keys), then the notes."""
    import symusic

    tm = at_ppq(seq.tempo_map, until=seq.duration)
    score = symusic.Score(tm.ppq)
    _conductor(score, seq, tm)
    for t in _note_tracks(seq, tm):
        score.tracks.append(t)
    return score


def sequence_to_midi_bytes(seq: NoteSequence) -> bytes:
    return bytes(sequence_to_score(seq).dumps_midi())  # type: ignore[attr-defined]


def _write_bytes(data_fn, path: Path, overwrite: bool) -> Path:  # type: ignore[no-untyped-def]
    try:
        data = data_fn()
    except (ValueError, OverflowError) as exc:
        raise OutputFileError(f"{path}: cannot encode as MIDI ({_one_line(exc)})") from None
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return path


def write_midi(seq: NoteSequence, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """``seq`` as a type-1 MIDI file: conductor track 0 with its tempo map and meters, notes after it."""
    return _write_bytes(lambda: sequence_to_midi_bytes(seq), Path(path), overwrite)


def write_midi_tracks(
    tracks: list[tuple[str, NoteSequence]],
    path: str | os.PathLike[str],
    *,
    timing: NoteSequence | None = None,
    overwrite: bool = True,
) -> Path:
    """Several layers as one MIDI file, one named track per layer (each with its own pedal events),
    after a conductor track taken from ``timing`` (default: the first layer)."""
    path = Path(path)
    if not tracks:
        raise OutputFileError(f"{path}: nothing to export (no layers)")

    def build() -> bytes:
        import symusic

        source = timing if timing is not None else tracks[0][1]
        tm = at_ppq(source.tempo_map, until=max(seq.duration for _, seq in tracks))
        score = symusic.Score(tm.ppq)
        _conductor(score, source, tm)
        for name, seq in tracks:  # symusic gives each track its own channel
            for t in _note_tracks(seq, tm, single_name=name):
                score.tracks.append(t)
        return bytes(score.dumps_midi())

    return _write_bytes(build, path, overwrite)
