"""Pick a reader or writer from the file extension."""

from __future__ import annotations

import os
from pathlib import Path

from musestudio.core.errors import InputFileError, OutputFileError
from musestudio.core.notes import NoteSequence
from musestudio.io.audio import AUDIO_EXTENSIONS
from musestudio.io.musicxml import MUSICXML_EXTENSIONS

MIDI_EXTENSIONS = (".mid", ".midi", ".smf", ".kar")
SCORE_EXTENSIONS = MIDI_EXTENSIONS + MUSICXML_EXTENSIONS
EXPORT_EXTENSIONS = (".mid", ".midi", ".musicxml", ".xml", ".mxl", ".wav")


def kind_of(path: str | os.PathLike[str]) -> str:
    """'midi', 'musicxml', 'audio' or 'project' (raises for anything else)."""
    ext = Path(path).suffix.lower()
    if ext in MIDI_EXTENSIONS:
        return "midi"
    if ext in MUSICXML_EXTENSIONS:
        return "musicxml"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    if ext == ".msproj":
        return "project"
    known = ", ".join(SCORE_EXTENSIONS + AUDIO_EXTENSIONS + (".msproj",))
    raise InputFileError(path, f"unsupported file type '{ext or '(none)'}' (expected one of {known})")


def load_score(path: str | os.PathLike[str]) -> NoteSequence:
    """Read a MIDI or MusicXML file as a NoteSequence."""
    kind = kind_of(path)
    if kind == "midi":
        from musestudio.io.midi import read_midi

        return read_midi(path)
    if kind == "musicxml":
        from musestudio.io.musicxml import read_musicxml

        return read_musicxml(path)
    raise InputFileError(path, f"is {kind}, not a score (MIDI or MusicXML)")


def save_score(
    seq: NoteSequence,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = True,
    sample_rate: int = 44100,
    soundfont: str | None = None,
) -> Path:
    """Write ``seq`` as MIDI, MusicXML or WAV, chosen by the extension."""
    ext = Path(path).suffix.lower()
    if ext in MIDI_EXTENSIONS:
        from musestudio.io.midi import write_midi

        return write_midi(seq, path, overwrite=overwrite)
    if ext in MUSICXML_EXTENSIONS:
        from musestudio.io.musicxml import write_musicxml

        return write_musicxml(seq, path, overwrite=overwrite)
    if ext == ".wav":
        from musestudio.io.audio import write_wav
        from musestudio.io.synth import render

        return write_wav(path, render(seq, sample_rate, soundfont), sample_rate, overwrite=overwrite)
    raise OutputFileError(f"{path}: cannot export to '{ext or '(none)'}' (use .mid, .musicxml, .mxl or .wav)")
