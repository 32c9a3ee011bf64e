"""MusicXML in and out, through music21.

Reading converts the parsed score to MIDI in memory and reuses the MIDI
reader, so ties, tempo marks and repeats are resolved the way music21 does it.

Writing turns a sequence into a readable piano score on its tempo map: music21
quantizes onsets and durations to sixteenths and triplets, the notes are split
into a grand staff at middle C with up to four voices per staff, and music21
makes measures and ties.  A performance should first get a tracked tempo map
(``musestudio.ml.beats.ensure_tempo_map``), so that its bars are the played bars.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from musestudio.core.errors import InputFileError, OutputFileError
from musestudio.core.notes import Note, NoteSequence
from musestudio.core.timing import is_pickup

MUSICXML_EXTENSIONS = (".musicxml", ".xml", ".mxl")
SPLIT_PITCH = 60  # middle C goes to the treble staff
# A big orchestral score is a few MB of XML; far more is a zip bomb, not music.
MAX_MXL_UNCOMPRESSED = 64 * 1024 * 1024
MAX_MUSICXML_BYTES = 64 * 1024 * 1024


def read_musicxml(path: str | os.PathLike[str]) -> NoteSequence:
    from music21 import converter
    from music21.midi import translate

    from musestudio.io.midi import midi_bytes_to_sequence
    from musestudio.io.paths import check_readable

    path = Path(path)
    check_readable(path)
    if path.suffix.lower() == ".mxl":
        if not zipfile.is_zipfile(path):
            raise InputFileError(path, "not a compressed MusicXML file (.mxl must be a zip archive)")
        try:
            with zipfile.ZipFile(path) as zf:
                members = zf.infolist()
                _check_mxl_members(path, members)
                bad = zf.testzip()
            if bad is not None:
                raise InputFileError(path, f"damaged .mxl archive (bad member {bad})")
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, ValueError) as exc:
            raise InputFileError(path, f"damaged .mxl archive ({_first_line(exc)})") from None
    else:
        if path.stat().st_size > MAX_MUSICXML_BYTES:
            raise InputFileError(path, f"MusicXML file is over {MAX_MUSICXML_BYTES // (1024 * 1024)} MB; refusing to parse it")
        with open(path, "rb") as fh:
            head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
        if not head.startswith(b"<"):
            raise InputFileError(path, "not a MusicXML file (it is not XML)")
    try:
        score = converter.parse(str(path), format="musicxml", forceSource=True)
        if any(True for _ in score.recurse().getElementsByClass("Voice")):
            # music21's MIDI translation loses ties of chords inside voices (a tied chord sounds
            # twice: tests/io/test_musicxml.py round-trips our own multi-voice export); one part
            # per voice keeps every tie within one line.
            score = score.voicesToParts()
        try:
            data = translate.music21ObjectToMidiFile(score).writestr()
        except Exception:
            # Badly formed repeats (common in excerpts) stop music21's repeat
            # expansion; play the written measures once instead.
            strip_repeats(score)
            data = translate.music21ObjectToMidiFile(score).writestr()
    except InputFileError:
        raise
    except Exception as exc:  # music21 raises many exception types for bad XML
        msg = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputFileError(path, f"cannot read MusicXML ({msg})") from None
    seq = midi_bytes_to_sequence(bytes(data), source=path)
    seq.title = path.stem
    return _with_pickup(seq, score)


def _with_pickup(seq: NoteSequence, score) -> NoteSequence:  # type: ignore[no-untyped-def]
    """music21's MIDI starts the first bar at the first note even under an anacrusis (a measure that
    music21 pads on the left); the time signatures get the pickup bar our tracked maps write, so that
    the bar lines of the imported file fall where the score has them."""
    from music21 import stream

    from musestudio.core.timing import TimeSignature, pickup_signature

    parts = list(score.parts) or [score]
    first = parts[0].getElementsByClass(stream.Measure).first()
    pad = float(first.paddingLeft) if first is not None else 0.0
    sigs = sorted(seq.time_signatures, key=lambda s: s.time)
    if pad <= 0.0 or not sigs or sigs[0].time > 1e-6:
        return seq
    main = sigs[0]
    ppq = seq.tempo_map.ppq
    pickup_ticks = round((float(first.barDuration.quarterLength) - pad) * 4) * ppq // 4  # whole sixteenths
    if pickup_ticks <= 0:
        return seq
    num, den = pickup_signature(pickup_ticks, ppq, main.compound)
    at = seq.tempo_map.tick_to_seconds(pickup_ticks)
    later = [s for s in sigs[1:] if s.time > at + 1e-6]
    return seq.copy(time_signatures=[TimeSignature(0.0, num, den), TimeSignature(at, main.numerator, main.denominator),
                                     *later])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def _check_mxl_members(path: Path, members: list[zipfile.ZipInfo]) -> None:
    """Refuse archives with no score, or that would inflate beyond memory (zip bombs)."""
    scores = [m for m in members if m.filename.lower().endswith((".xml", ".musicxml")) and not m.filename.startswith("META-INF/")]
    if not scores:
        raise InputFileError(path, "no MusicXML score inside the .mxl archive")
    total = sum(m.file_size for m in members)
    if total > MAX_MXL_UNCOMPRESSED:
        raise InputFileError(
            path, f"archive would unpack to {total / 1e6:.0f} MB; at most {MAX_MXL_UNCOMPRESSED / 1e6:.0f} MB is accepted"
        )


def strip_repeats(score) -> None:  # type: ignore[no-untyped-def]
    """Replace repeat barlines and volta brackets by plain barlines, in place."""
    from music21 import bar, spanner

    for rep in list(score.recurse().getElementsByClass(bar.Repeat)):
        site = rep.activeSite
        if site is None:
            continue
        if getattr(site, "leftBarline", None) is rep:
            site.leftBarline = None
        elif getattr(site, "rightBarline", None) is rep:
            site.rightBarline = bar.Barline("regular")
        else:
            site.remove(rep)
    for sp in list(score.recurse().getElementsByClass(spanner.RepeatBracket)):
        site = sp.activeSite
        if site is not None:
            site.remove(sp)


# --- notation ---------------------------------------------------------------

#: Grids music21's quantizer may snap to, per quarter note: sixteenths and eighth-note triplets.
QUANTIZE_DIVISORS = (4, 3)
MAX_VOICES = 4  # per staff


def beat_position_function(seq: NoteSequence):  # type: ignore[no-untyped-def]
    """seconds -> quarter notes on the file's own tempo map, or on an estimated constant beat.

    The caller (``musestudio.ml.beats.ensure_tempo_map``) gives a performance a
    tracked tempo map first; a file that reaches this writer without one (its
    notes off its own grid and only the default tempo) falls back to one
    constant beat from the onsets' autocorrelation.
    """
    from musestudio.core.timing import estimate_beat_seconds, onsets_on_grid

    tm = seq.tempo_map
    tracked = len(tm.changes) > 1 or bool(seq.time_signatures)
    if tracked or onsets_on_grid(tm, [n.start for n in seq.notes]):
        return lambda t: tm.seconds_to_tick_float(t) / tm.ppq
    beat = estimate_beat_seconds(seq)
    t0 = seq.start_time
    return lambda t: (t - t0) / beat


def _quantized(notes: list[Note], to_ql) -> list[tuple[float, float, list[Note]]]:  # type: ignore[no-untyped-def]
    """(offset, duration, notes) chords on music21's sixteenth/triplet grid."""
    from music21 import note, stream

    flat = stream.Stream()
    for n in notes:
        on = max(to_ql(n.start), 0.0)
        el = note.Note(n.pitch, quarterLength=max(to_ql(n.end) - on, 0.05))
        el.editorial.source = n  # kept through quantize, so the original velocity survives
        flat.insert(on, el)
    flat.quantize(QUANTIZE_DIVISORS, processOffsets=True, processDurations=True, inPlace=True)
    groups: dict[tuple[float, float], list[Note]] = {}
    smallest = 1.0 / max(QUANTIZE_DIVISORS)
    for el in flat.notes:
        dur = float(el.quarterLength) if el.quarterLength > 0 else smallest
        groups.setdefault((float(el.offset), dur), []).append(el.editorial.source)
    return sorted((on, dur, ns) for (on, dur), ns in groups.items())


def _voices(chords: list[tuple[float, float, list[Note]]]) -> list[list[tuple[float, float, list[Note]]]]:
    """Chords into voices: each goes to the first voice free at its onset, so a held bass under a moving
    melody keeps its length.  Past ``MAX_VOICES`` the earliest-ending voice is cut short (or joined)."""
    voices: list[list[tuple[float, float, list[Note]]]] = []
    for on, dur, ns in chords:
        free = [v for v in voices if v[-1][0] + v[-1][1] <= on + 1e-9]
        if free:
            free[0].append((on, dur, ns))
        elif len(voices) < MAX_VOICES:
            voices.append([(on, dur, ns)])
        else:
            v = min(voices, key=lambda v: v[-1][0] + v[-1][1])
            last_on, last_dur, last_ns = v[-1]
            if on - last_on > 1e-9:
                v[-1] = (last_on, on - last_on, last_ns)
                v.append((on, dur, ns))
            else:
                v[-1] = (last_on, max(last_dur, dur), last_ns + ns)
    return voices


def _element(dur: float, ns: list[Note]):  # type: ignore[no-untyped-def]
    from music21 import chord, note

    pitches = sorted({n.pitch for n in ns})
    el = note.Note(pitches[0], quarterLength=dur) if len(pitches) == 1 else chord.Chord(pitches, quarterLength=dur)
    el.volume.velocity = int(round(np.mean([n.velocity for n in ns])))
    return el


def _meter_stream(seq: NoteSequence, to_ql):  # type: ignore[no-untyped-def]
    from music21 import meter, stream

    ms = stream.Stream()
    sigs = seq.time_signatures or [seq.time_signature]
    for ts in sigs:
        ms.insert(round(max(to_ql(ts.time), 0.0) * 12) / 12, meter.TimeSignature(f"{ts.numerator}/{ts.denominator}"))
    return ms


def _pickup_length(seq: NoteSequence, to_ql) -> float:  # type: ignore[no-untyped-def]
    """Quarter notes of the pickup bar, or 0.

    A tracked tempo map writes a lead-in as a short first bar (say 1/4 before a 3/4 piece) so that a
    DAW's bar lines fall right; notation writes that bar as an anacrusis in the piece's own meter.
    """
    sigs = sorted(seq.time_signatures, key=lambda s: s.time)
    if len(sigs) < 2 or sigs[0].time > 1e-6:
        return 0.0
    length = to_ql(sigs[1].time) - to_ql(sigs[0].time)
    return length if is_pickup(sigs[0], length, sigs[1]) else 0.0


def _as_anacrusis(measures: list, pickup: float) -> None:  # type: ignore[type-arg]
    """The first measure becomes a pickup (number 0, implicit) in the second measure's meter."""
    from music21 import stream

    if pickup <= 0.0 or len(measures) < 2 or measures[1].timeSignature is None:
        return
    first, second = measures[0], measures[1]
    ts = second.timeSignature
    second.remove(ts)
    if first.timeSignature is not None:
        first.remove(first.timeSignature)
    first.insert(0, ts)
    first.paddingLeft = max(float(ts.barDuration.quarterLength) - pickup, 0.0)
    first.showNumber = stream.enums.ShowNumber.NEVER  # written as implicit="yes"
    for k, m in enumerate(measures):
        m.number = k


def _staff(chords, meter_stream, total: float, clef_obj, part_id: str,  # type: ignore[no-untyped-def]
           pickup: float = 0.0):
    """A PartStaff whose measures hold one music21 Voice per voice (ties across bar lines by music21)."""
    from music21 import stream

    part = stream.PartStaff(id=part_id)
    per_voice = []
    for voice in _voices(chords) or [[]]:
        flat = stream.Stream()
        for on, dur, ns in voice:
            flat.insert(on, _element(dur, ns))
        flat.makeRests(fillGaps=True, refStreamOrTimeRange=[0.0, total], inPlace=True, timeRangeFromBarDuration=False)
        measures = flat.makeMeasures(meterStream=meter_stream, refStreamOrTimeRange=[0.0, total])
        measures.makeTies(inPlace=True)
        per_voice.append(list(measures.getElementsByClass(stream.Measure)))
    for k, first in enumerate(per_voice[0]):
        m = stream.Measure(number=first.number)
        if first.timeSignature is not None:
            m.timeSignature = first.timeSignature
        if k == 0:
            m.insert(0, clef_obj)
        for v, measures in enumerate(per_voice):
            if k >= len(measures):
                continue
            src = measures[k]
            if len(per_voice) == 1:
                for el in src.notesAndRests:
                    m.insert(el.offset, el)
            else:
                voice = stream.Voice(id=str(v + 1))
                for el in src.notesAndRests:
                    voice.insert(el.offset, el)
                m.insert(0, voice)
        part.append(m)
    _as_anacrusis(list(part.getElementsByClass(stream.Measure)), pickup)
    return part


def sequence_to_music21(seq: NoteSequence, title: str | None = None):  # type: ignore[no-untyped-def]
    """A two-staff piano score: notes on their beats, quantized to sixteenths and triplets by music21,
    split at middle C, up to four voices per staff, ties across bar lines."""
    from music21 import clef, key, layout, metadata, stream, tempo

    seq = seq.without_duplicates()
    to_ql = beat_position_function(seq)
    meter_stream = _meter_stream(seq, to_ql)
    chords_up = _quantized([n for n in seq.notes if n.pitch >= SPLIT_PITCH], to_ql)
    chords_down = _quantized([n for n in seq.notes if n.pitch < SPLIT_PITCH], to_ql)
    end = max([on + d for on, d, _ in chords_up + chords_down] or [1.0])
    score = stream.Score()
    score.metadata = metadata.Metadata(title=title or seq.title or "musestudio export")
    pickup = _pickup_length(seq, to_ql)
    upper = _staff(chords_up, meter_stream, end, clef.TrebleClef(), "upper", pickup)
    lower = _staff(chords_down, meter_stream, end, clef.BassClef(), "lower", pickup)
    upper.partName = lower.partName = "Piano"
    ks = seq.key_signature
    first_upper = upper.getElementsByClass(stream.Measure).first()
    if ks is not None:
        for part in (upper, lower):
            m = part.getElementsByClass(stream.Measure).first()
            if m is not None:
                m.insert(0, key.Key(ks.key.replace("b", "-"), ks.mode))
    if first_upper is not None:
        qpm = seq.tempo_map.qpm_at(seq.start_time)
        first_upper.insert(0, tempo.MetronomeMark(number=round(qpm)))
    score.insert(0, upper)
    score.insert(0, lower)
    score.insert(0, layout.StaffGroup([upper, lower], symbol="brace", barTogether=True))
    return score


def write_musicxml(seq: NoteSequence, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    from musestudio.core.atomic import atomic_path

    path = Path(path)
    if not seq.notes:
        raise OutputFileError(f"{path}: nothing to export (no notes)")
    score = sequence_to_music21(seq, title=seq.title or path.stem)
    fmt = "mxl" if path.suffix.lower() == ".mxl" else "musicxml"
    try:
        with atomic_path(path, overwrite=overwrite) as tmp:
            written = Path(score.write(fmt, fp=str(tmp), makeNotation=True))
            if written != tmp:  # music21 may append its own suffix
                os.replace(written, tmp)
    except OutputFileError:
        raise
    except Exception as exc:
        raise OutputFileError(f"{path}: MusicXML export failed ({str(exc)[:160]})") from None
    return path


def count_score_notes(path: str | os.PathLike[str]) -> int:
    """Sounding note onsets in a MusicXML file (tie continuations not counted)."""
    from music21 import converter

    score = converter.parse(str(path), forceSource=True)
    count = 0
    for el in score.recurse().notes:
        pitches = el.notes if el.isChord else [el]
        for p in pitches:
            tie = p.tie if p.tie is not None else getattr(el, "tie", None)
            if tie is None or tie.type == "start":
                count += 1
    return count


__all__ = [
    "MUSICXML_EXTENSIONS",
    "count_score_notes",
    "read_musicxml",
    "sequence_to_music21",
    "write_musicxml",
]
