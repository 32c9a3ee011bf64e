"""Reading and writing files: MIDI, MusicXML, audio, projects.

``load_any``/``save_any`` pick the format from the file extension.
"""

from musestudio.io.formats import AUDIO_EXTENSIONS, MIDI_EXTENSIONS, MUSICXML_EXTENSIONS, load_score, save_score

__all__ = ["AUDIO_EXTENSIONS", "MIDI_EXTENSIONS", "MUSICXML_EXTENSIONS", "load_score", "save_score"]
