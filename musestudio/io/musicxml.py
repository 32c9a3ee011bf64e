"""MusicXML in and out, through music21.

Reading converts the parsed score to MIDI in memory and reuses the MIDI
reader, so ties, tempo marks and repeats are resolved the way music21 does it.

Writing turns *performance* timing (rubato, unquantized onsets) into a
readable piano score: estimate a beat, quantize to sixteenths, split the notes
into a grand staff at middle C and let music21 make measures and ties.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from musestudio.core.errors import InputFileError, OutputFileError
from musestudio.core.notes import Note, NoteSequence
from musestudio.core.timing import TempoMap

MUSICXML_EXTENSIONS = (".musicxml", ".xml", ".mxl")
GRID_DIVISIONS = 4  # sixteenth notes when the beat is a quarter note
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
    return seq


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


# --- beat estimation --------------------------------------------------------


def estimate_beat_seconds(seq: NoteSequence, *, low_bpm: float = 50.0, high_bpm: float = 180.0) -> float:
    """Beat length of a performance, from the autocorrelation of its onset train.

    A log-normal prior centred on 100 BPM breaks ties between metrical
    levels (half and double tempo score alike in an autocorrelation).
    """
    onsets = np.array([n.start for n in seq.notes])
    if len(onsets) < 8:
        return 60.0 / seq.tempo_map.initial_qpm
    fs = 100.0
    frames = int(np.ceil(onsets.max() * fs)) + 2
    env = np.zeros(frames)
    np.add.at(env, np.round(onsets * fs).astype(int), 1.0)
    # Smooth slightly so that near-simultaneous chord notes reinforce each other.
    kernel = np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2)
    env = np.convolve(env, kernel, mode="same")
    env -= env.mean()
    n = 1 << int(np.ceil(np.log2(2 * len(env))))
    spec = np.fft.rfft(env, n)
    ac = np.fft.irfft(spec * np.conj(spec), n)[: len(env)]
    lags = np.arange(len(ac)) / fs
    valid = (lags >= 60.0 / high_bpm) & (lags <= 60.0 / low_bpm)
    if not valid.any() or ac[valid].max() <= 0:
        return 60.0 / seq.tempo_map.initial_qpm
    bpm = 60.0 / np.maximum(lags, 1e-9)
    prior = np.exp(-0.5 * (np.log2(bpm / 100.0) / 0.6) ** 2)
    score = np.where(valid, ac * prior, -np.inf)
    return float(lags[int(np.argmax(score))])


def _grid_fit(seq: NoteSequence, divisions: int = GRID_DIVISIONS) -> float:
    """Share of onsets within 15 ms of the file's own sixteenth grid."""
    if not seq.notes:
        return 1.0
    tm = seq.tempo_map
    beats = np.array([tm.seconds_to_beats(n.start) for n in seq.notes[:2000]])
    err_beats = np.abs(beats * divisions - np.round(beats * divisions)) / divisions
    err_s = err_beats * 60.0 / tm.initial_qpm
    return float(np.mean(err_s < 0.015))


def quantized_beats(seq: NoteSequence) -> tuple[list[tuple[Note, float, float]], float]:
    """Each note with its (onset, duration) in quarter notes on a sixteenth grid, and the QPM used.

    A file whose tempo map already fits its notes (a score MIDI) keeps it;
    a performance gets a constant beat estimated from its onsets.
    """
    if _grid_fit(seq) > 0.8:
        tm = seq.tempo_map

        def to_beats(t: float) -> float:
            return tm.seconds_to_beats(t)

        qpm = tm.initial_qpm
    else:
        beat = estimate_beat_seconds(seq)
        t0 = seq.start_time

        def to_beats(t: float) -> float:
            return (t - t0) / beat

        qpm = 60.0 / beat
    q = 1.0 / GRID_DIVISIONS
    out = []
    for n in seq.notes:
        on = round(to_beats(n.start) / q) * q
        off = round(to_beats(n.end) / q) * q
        out.append((n, max(on, 0.0), max(off - on, q)))
    return out, qpm


def sequence_to_music21(seq: NoteSequence, title: str | None = None):  # type: ignore[no-untyped-def]
    """A two-staff piano score with quantized rhythm."""
    from music21 import chord, clef, key, layout, metadata, meter, note, stream, tempo

    seq = seq.without_duplicates()
    placed, qpm = quantized_beats(seq)
    ts = seq.time_signature
    score = stream.Score()
    score.metadata = metadata.Metadata(title=title or seq.title or "musestudio export")
    upper, lower = stream.PartStaff(), stream.PartStaff()
    upper.partName, lower.partName = "Piano", "Piano"
    ks = seq.key_signature
    for part, cl in ((upper, clef.TrebleClef()), (lower, clef.BassClef())):
        part.insert(0, cl)
        part.insert(0, meter.TimeSignature(f"{ts.numerator}/{ts.denominator}"))
        if ks is not None:
            part.insert(0, key.Key(ks.key.replace("b", "-"), ks.mode))
    upper.insert(0, tempo.MetronomeMark(number=round(qpm)))

    for part, notes in (
        (upper, [p for p in placed if p[0].pitch >= SPLIT_PITCH]),
        (lower, [p for p in placed if p[0].pitch < SPLIT_PITCH]),
    ):
        groups: dict[float, list[tuple[Note, float]]] = {}
        for n, on, dur in notes:
            groups.setdefault(on, []).append((n, dur))
        onsets = sorted(groups)
        for i, on in enumerate(onsets):
            members = groups[on]
            dur = max(d for _, d in members)
            if i + 1 < len(onsets):
                # One voice per staff: a chord lasts until the next onset at most.
                dur = min(dur, onsets[i + 1] - on)
            pitches = sorted({n.pitch for n, _ in members})
            vel = int(round(np.mean([n.velocity for n, _ in members])))
            if len(pitches) == 1:
                el = note.Note(pitches[0], quarterLength=dur)
            else:
                el = chord.Chord(pitches, quarterLength=dur)
            el.volume.velocity = vel
            part.insert(on, el)
        part.makeRests(fillGaps=True, inPlace=True, timeRangeFromBarDuration=False)
    score.insert(0, upper)
    score.insert(0, lower)
    score.insert(0, layout.StaffGroup([upper, lower], symbol="brace", barTogether=True))
    return score


def write_musicxml(seq: NoteSequence, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    from musestudio.io.atomic import atomic_path

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
    "TempoMap",
    "count_score_notes",
    "estimate_beat_seconds",
    "read_musicxml",
    "sequence_to_music21",
    "write_musicxml",
]
