"""Qt-free, torch-free domain model: notes, tempo, documents, progress."""

from musestudio.core.errors import MusestudioError, InputFileError, ModelError, Cancelled
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
