"""Qt-free, torch-free domain model: notes, tempo, documents, progress."""

from musestudio.core.errors import Cancelled, InputFileError, ModelError, MusestudioError
from musestudio.core.notes import Note, NoteSequence, PedalEvent, TrackInfo
from musestudio.core.timing import KeySignature, TempoChange, TempoMap, TimeSignature

__all__ = [
    "Cancelled",
    "InputFileError",
    "KeySignature",
    "ModelError",
    "MusestudioError",
    "Note",
    "NoteSequence",
    "PedalEvent",
    "TempoChange",
    "TempoMap",
    "TimeSignature",
    "TrackInfo",
]
