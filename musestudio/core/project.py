"""The project document: note layers, an audio reference and the view state.

Qt-free on purpose: the GUI's undo commands change a :class:`Project` through
the small set of methods here, and tests, the CLI and autosave can read and
write projects without a display.  The document is *evented* (psygnal, as in
napari): every change emits on ``project.events``, and the views subscribe,
so an undo command carries data only, never a refresh callback.  A project file (``.msproj``) is JSON,
written atomically; note times are stored as floats (not ticks), so a
transcription's millisecond timing survives a save/load round trip exactly.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psygnal import Signal

from musestudio.core.errors import InputFileError
from musestudio.core.notes import Note, NoteSequence, PedalEvent, TrackInfo
from musestudio.core.timing import KeySignature, TempoChange, TempoMap, TimeSignature

PROJECT_EXTENSION = ".msproj"
FORMAT_NAME = "musestudio-project"
FORMAT_VERSION = 1

# One colour per kind of layer, so a continuation never looks like its seed.
KIND_COLORS: dict[str, str] = {
    "seed": "#4f9dde",
    "score": "#4f9dde",
    "continuation": "#f0a030",
    "transcription": "#5cc46b",
    "reference": "#b07fe0",
    "edit": "#e0607a",
}
EXTRA_COLORS = ("#e8d44d", "#46c8c8", "#e07b39", "#9fb0c8", "#d36fc6", "#8ccf4d")
LAYER_KINDS = tuple(KIND_COLORS)


def rotate_hue(color: str, degrees: float) -> str:
    """``#rrggbb`` with its hue turned by ``degrees`` (lightness and saturation kept)."""
    import colorsys

    r, g, b = (int(color[i : i + 2], 16) / 255.0 for i in (1, 3, 5))
    h, lightness, sat = colorsys.rgb_to_hls(r, g, b)
    r, g, b = colorsys.hls_to_rgb((h + degrees / 360.0) % 1.0, lightness, sat)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def _new_id() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class Layer:
    """One source of notes shown in the piano roll (a seed, a continuation, ...)."""

    name: str
    kind: str
    sequence: NoteSequence
    color: str = ""
    visible: bool = True
    muted: bool = False
    solo: bool = False
    source: str | None = None  # the file it was read from, if any
    # A generated candidate: the seed layer's id and where the seed range ended (None otherwise).
    candidate_of: str | None = None
    seed_end: float | None = None
    id: str = field(default_factory=_new_id)

    def __post_init__(self) -> None:
        if not self.color:
            self.color = KIND_COLORS.get(self.kind, EXTRA_COLORS[0])


@dataclass
class ViewState:
    """What the user was looking at; restored when a project is reopened."""

    x_range: tuple[float, float] | None = None  # seconds
    y_range: tuple[float, float] | None = None  # MIDI pitch
    selection: tuple[float, float] | None = None  # the time range on the ruler (seed region)
    playhead: float = 0.0
    spectrogram_kind: str = "cqt"
    db_range: float = 60.0
    colormap: str = "magma"


class ProjectEvents:
    """Change notifications of one :class:`Project` (psygnal signals, the model napari's layers use).

    The document emits; views, panels and the autosave subscribe.  Undo
    commands only change data, so no refresh callback travels with them.
    All events are emitted synchronously on the thread that changed the
    document (the UI thread in the app).
    """

    layers_changed = Signal()  # a layer was added, removed or moved
    layer_props_changed = Signal(str)  # layer id: name, colour, visibility, mute, solo, kind
    notes_changed = Signal(str, object)  # layer id, the note selection to show afterwards (a set) or None
    timing_changed = Signal()  # the project's tempo map / time signatures
    audio_changed = Signal()  # the attached audio file
    modified_changed = Signal(bool)  # the document moved away from (True) or back to (False) its saved state
    saved = Signal(object)  # the Path it was saved to


_REVISIONS = itertools.count(1)


def _next_revision() -> int:
    return next(_REVISIONS)


@dataclass
class Project:
    """The document.  ``modified`` has one source of truth: the saved-state marker.

    Every change gives the document a new *revision*; saving records the
    revision that is on disk.  An undo command remembers the revisions before
    and after it and puts them back (:meth:`restore_revision`), so undoing to
    the saved state makes the project unmodified again, whatever the edit was.
    """

    layers: list[Layer] = field(default_factory=list)
    audio_path: str | None = None
    view: ViewState = field(default_factory=ViewState)
    path: Path | None = None  # where it was last saved; not stored in the file
    # The project's own tempo map and metre (None: taken from the first layer with notes).
    tempo_map: TempoMap | None = None
    time_signatures: list[TimeSignature] | None = None
    key_signatures: list[KeySignature] | None = None
    events: ProjectEvents = field(default_factory=ProjectEvents, init=False, repr=False, compare=False)
    _revision: int = field(default=0, init=False, repr=False, compare=False)
    _saved_revision: int = field(default=0, init=False, repr=False, compare=False)

    # --- the saved-state marker ---------------------------------------------------
    @property
    def revision(self) -> int:
        return self._revision

    @property
    def modified(self) -> bool:
        return self._revision != self._saved_revision

    @modified.setter
    def modified(self, value: bool) -> None:
        # True: unsaved work that no undo step can take back (a restored snapshot, say).
        if value:
            self._touch()
        else:
            self.mark_saved()

    def mark_saved(self, revision: int | None = None, path: Path | None = None) -> None:
        """Record that ``revision`` (default: the current one) is what is on disk (at ``path``).

        A save written in the background passes the revision it wrote: edits made
        meanwhile keep the project modified, as they should.
        """
        was = self.modified
        self._saved_revision = self._revision if revision is None else revision
        if path is not None:
            self.path = path
        if was != self.modified:
            self.events.modified_changed.emit(self.modified)
        if path is not None:
            self.events.saved.emit(path)

    def restore_revision(self, revision: int) -> None:
        """Put back the revision an undo step recorded (the document content is already restored)."""
        was = self.modified
        self._revision = revision
        if self.modified != was:
            self.events.modified_changed.emit(self.modified)

    def _touch(self) -> None:
        self.restore_revision(_next_revision())

    # --- layers -------------------------------------------------------------
    def layer(self, layer_id: str) -> Layer:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        raise KeyError(layer_id)

    def index_of(self, layer_id: str) -> int:
        return next(i for i, layer in enumerate(self.layers) if layer.id == layer_id)

    def new_layer(self, name: str, sequence: NoteSequence, kind: str = "score", **props: Any) -> Layer:
        """A layer with a unique name and a fitting colour, NOT yet in the project (undo commands add it)."""
        if "color" not in props:
            same_kind = sum(layer.kind == kind for layer in self.layers)
            if kind not in KIND_COLORS:
                props["color"] = EXTRA_COLORS[len(self.layers) % len(EXTRA_COLORS)]
            elif same_kind:  # continuation 2, 3, ...: the kind's colour, turned round the hue circle
                props["color"] = rotate_hue(KIND_COLORS[kind], 40.0 * same_kind)
        return Layer(name=self.unique_name(name), kind=kind, sequence=sequence, **props)

    def add_layer(
        self, name: str, sequence: NoteSequence, kind: str = "score", *, index: int | None = None, **props: Any
    ) -> Layer:
        layer = self.new_layer(name, sequence, kind, **props)
        self.insert_layer(layer, len(self.layers) if index is None else index)
        return layer

    def insert_layer(self, layer: Layer, index: int) -> None:
        had_timing = self.tempo_map is not None or any(la.sequence.notes for la in self.layers)
        self.layers.insert(max(0, min(index, len(self.layers))), layer)
        self._touch()
        self.events.layers_changed.emit()
        if not had_timing and layer.sequence.notes:
            self.events.timing_changed.emit()  # the first notes bring the ruler its tempo

    def remove_layer(self, layer_id: str) -> tuple[Layer, int]:
        """Remove and return the layer and its index (so undo can put it back)."""
        i = self.index_of(layer_id)
        layer = self.layers.pop(i)
        self._touch()
        self.events.layers_changed.emit()
        if self.tempo_map is None:
            self.events.timing_changed.emit()
        return layer, i

    def unique_name(self, name: str) -> str:
        names = {layer.name for layer in self.layers}
        if name not in names:
            return name
        k = 2
        while f"{name} {k}" in names:
            k += 1
        return f"{name} {k}"

    # show/mute/solo are listening and viewing switches, like the zoom: they are saved with the
    # project but do not count as unsaved edits (otherwise undoing back to the saved state could
    # not make the project clean again, since these switches are not undo steps).
    VIEW_PROPS = frozenset({"visible", "muted", "solo"})

    def set_layer_props(self, layer_id: str, **props: Any) -> dict[str, Any]:
        """Change name/color/visible/muted/solo/kind; returns the old values for undo."""
        layer = self.layer(layer_id)
        old = {}
        for key, value in props.items():
            if key not in {"name", "color", "visible", "muted", "solo", "kind", "candidate_of", "seed_end"}:
                raise AttributeError(f"layer has no editable property {key!r}")
            old[key] = getattr(layer, key)
            setattr(layer, key, value)
        if not set(props) <= self.VIEW_PROPS:
            self._touch()
        self.events.layer_props_changed.emit(layer_id)
        return old

    def set_notes(self, layer_id: str, notes: Iterable[Note], *, selection: set[Note] | None = None) -> list[Note]:
        """Replace a layer's notes (kept sorted); returns the old notes for undo.

        ``selection`` is what the views should select afterwards (it travels in the event).
        """
        layer = self.layer(layer_id)
        old = list(layer.sequence.notes)
        layer.sequence = layer.sequence.copy(notes=list(notes))
        self._touch()
        self.events.notes_changed.emit(layer_id, selection)
        if self.tempo_map is None and bool(old) != bool(layer.sequence.notes):
            self.events.timing_changed.emit()
        return old

    def set_audio(self, path: str | None) -> str | None:
        """Attach (or detach) the audio file; returns the old path for undo."""
        old = self.audio_path
        self.audio_path = path
        self._touch()
        self.events.audio_changed.emit()
        return old

    def candidates(self) -> list[Layer]:
        """Generated continuations still waiting to be accepted or discarded."""
        return [layer for layer in self.layers if layer.candidate_of is not None]

    def audible_layers(self) -> list[Layer]:
        """Layers that playback should sound: solo wins over mute, as on a mixing desk."""
        soloed = [layer for layer in self.layers if layer.solo]
        if soloed:
            return soloed
        return [layer for layer in self.layers if not layer.muted]

    @property
    def duration(self) -> float:
        return max((layer.sequence.duration for layer in self.layers), default=0.0)

    # --- timing ----------------------------------------------------------------
    def set_timing(
        self,
        tempo_map: TempoMap | None,
        time_signatures: list[TimeSignature] | None = None,
        key_signatures: list[KeySignature] | None = None,
    ) -> tuple[TempoMap | None, list[TimeSignature] | None, list[KeySignature] | None]:
        """Give the project its own tempo map and metre (None: follow the first layer); returns the old ones."""
        old = (self.tempo_map, self.time_signatures, self.key_signatures)
        self.tempo_map = tempo_map
        self.time_signatures = None if time_signatures is None else list(time_signatures)
        self.key_signatures = None if key_signatures is None else list(key_signatures)
        self._touch()
        self.events.timing_changed.emit()
        return old

    def timing(self) -> NoteSequence:
        """An empty sequence that carries the project's tempo map, time and key signatures.

        The ruler, the grid, snapping and the MIDI conductor track all read it,
        so the timing of one file never leaks into another project.
        """
        first = next((la.sequence for la in self.layers if la.sequence.notes), None)
        if first is None and self.layers:
            first = self.layers[0].sequence
        base = first if first is not None else NoteSequence()
        return NoteSequence(
            tempo_map=self.tempo_map if self.tempo_map is not None else base.tempo_map,
            time_signatures=list(self.time_signatures if self.time_signatures is not None else base.time_signatures),
            key_signatures=list(self.key_signatures if self.key_signatures is not None else base.key_signatures),
            title=base.title,
        )

    def timing_source(self) -> NoteSequence | None:
        """The sequence whose tempo map and metre the ruler shows (see :meth:`timing`); None when empty."""
        if not self.layers and self.tempo_map is None:
            return None
        return self.timing()

    def snapshot(self) -> Project:
        """A shallow copy that another thread may serialise while the UI goes on editing.

        Sequences are never changed in place (``set_notes`` swaps them), so sharing them is safe.
        """
        copy = Project(
            layers=[dataclasses.replace(layer) for layer in self.layers],
            audio_path=self.audio_path,
            view=dataclasses.replace(self.view),
            path=self.path,
            tempo_map=self.tempo_map,
            time_signatures=None if self.time_signatures is None else list(self.time_signatures),
            key_signatures=None if self.key_signatures is None else list(self.key_signatures),
        )
        copy._revision = self._revision
        copy._saved_revision = self._saved_revision
        return copy

    # --- files ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        base = self.path.parent if self.path else None
        out: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "audio_path": _relative(self.audio_path, base),
            "view": _view_to_dict(self.view),
            "layers": [
                {
                    "id": layer.id,
                    "name": layer.name,
                    "kind": layer.kind,
                    "color": layer.color,
                    "visible": layer.visible,
                    "muted": layer.muted,
                    "solo": layer.solo,
                    "source": layer.source,
                    "candidate_of": layer.candidate_of,
                    "seed_end": layer.seed_end,
                    "sequence": sequence_to_dict(layer.sequence),
                }
                for layer in self.layers
            ],
        }
        if self.tempo_map is not None:
            timing = NoteSequence(
                tempo_map=self.tempo_map,
                time_signatures=list(self.time_signatures or []),
                key_signatures=list(self.key_signatures or []),
            )
            out["timing"] = sequence_to_dict(timing)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Path | None = None) -> Project:
        if data.get("format") != FORMAT_NAME:
            raise ValueError("not a musestudio project")
        if int(data.get("version", 0)) > FORMAT_VERSION:
            raise ValueError(f"written by a newer musestudio (format {data.get('version')})")
        layers = [
            Layer(
                name=str(d["name"]),
                kind=str(d.get("kind", "score")),
                sequence=sequence_from_dict(d["sequence"]),
                color=str(d.get("color", "")),
                visible=bool(d.get("visible", True)),
                muted=bool(d.get("muted", False)),
                solo=bool(d.get("solo", False)),
                source=d.get("source"),
                candidate_of=None if d.get("candidate_of") is None else str(d["candidate_of"]),
                seed_end=None if d.get("seed_end") is None else float(d["seed_end"]),
                id=str(d.get("id") or _new_id()),
            )
            for d in data.get("layers", [])
        ]
        audio = data.get("audio_path")
        if audio and base is not None and not os.path.isabs(audio):
            audio = str((base / audio).resolve())
        project = cls(layers=layers, audio_path=audio, view=_view_from_dict(data.get("view", {})))
        if data.get("timing"):
            timing = sequence_from_dict(data["timing"])
            project.tempo_map = timing.tempo_map
            project.time_signatures = timing.time_signatures
            project.key_signatures = timing.key_signatures
        return project

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the project atomically (a crash never leaves half a file)."""
        from musestudio.core.atomic import write_bytes_atomic

        target = Path(path)
        if target.suffix.lower() != PROJECT_EXTENSION:
            target = target.with_suffix(PROJECT_EXTENSION)
        revision = self._revision
        text = json.dumps(self.to_dict_for(target), indent=1, allow_nan=False)
        write_bytes_atomic(target, text.encode("utf-8"))
        self.path = target
        self._saved_revision = revision
        if not self.modified:
            self.events.modified_changed.emit(False)
        self.events.saved.emit(target)
        return target

    def to_dict_for(self, target: Path) -> dict[str, Any]:
        """``to_dict`` with paths relative to where the file will be written."""
        old, self.path = self.path, target
        try:
            return self.to_dict()
        finally:
            self.path = old

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Project:
        target = Path(path)
        if not target.is_file():
            raise InputFileError(target, "file not found")
        try:
            data = json.loads(target.read_text(encoding="utf-8"))
            project = cls.from_dict(data, base=target.parent.resolve())
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OverflowError) as exc:
            # RecursionError: absurdly nested JSON; OverflowError: int(inf) in a note column.
            raise InputFileError(target, f"not a valid musestudio project ({str(exc)[:120] or type(exc).__name__})") from None
        project.path = target
        return project


def one_track(seq: NoteSequence, name: str) -> NoteSequence:
    """The layer as ONE track named after it (a DAW expects one track per layer, not one per hand)."""
    if len(seq.tracks) <= 1 and all(n.track == 0 for n in seq.notes) and all(p.track == 0 for p in seq.pedals):
        return seq.copy(tracks=[dataclasses.replace(seq.tracks[0], name=name) if seq.tracks else TrackInfo(name)])
    program = seq.tracks[0].program if seq.tracks else 0
    pedals = sorted({dataclasses.replace(p, track=0) for p in seq.pedals}, key=lambda p: (p.time, p.controller))
    return seq.copy(
        notes=[dataclasses.replace(n, track=0) for n in seq.notes],
        drum_notes=[dataclasses.replace(n, track=0) for n in seq.drum_notes],
        pedals=pedals,
        tracks=[TrackInfo(name, program)],
    )


# --- accepting a generated continuation ---------------------------------------------
ACCEPT_MODES = ("replace", "insert")


def accept_continuation(
    original: NoteSequence, continuation: NoteSequence, seed_end: float, *, mode: str = "replace", gap: float = 0.0
) -> NoteSequence:
    """The piece with a continuation written in after ``seed_end``.

    The result is exactly: the original's notes that start before ``seed_end``,
    then the continuation, then the original's notes after the continuation:

    * ``replace``: the original resumes where the continuation ends (plus ``gap``
      seconds); its notes in between are left out, so two pieces never sound at once;
    * ``insert``: nothing of the original is dropped; its notes from ``seed_end``
      on are moved later by the continuation's length plus ``gap``.

    Pedal events follow the same rule, so an old sustain never blurs the new music.
    """
    if mode not in ACCEPT_MODES:
        raise ValueError(f"accept mode must be one of {ACCEPT_MODES}, not {mode!r}")
    gap = max(0.0, float(gap))
    cont_end = max(seed_end, continuation.duration)
    before = [n for n in original.notes if n.start < seed_end]
    pedals_before = [p for p in original.pedals if p.time < seed_end]
    if mode == "replace":
        resume = cont_end + gap
        after = [n for n in original.notes if n.start >= resume]
        pedals_after = [p for p in original.pedals if p.time >= resume]
    else:
        shift = cont_end - seed_end + gap
        after = [n.shifted(dt=shift) for n in original.notes if n.start >= seed_end]
        pedals_after = [dataclasses.replace(p, time=p.time + shift) for p in original.pedals if p.time >= seed_end]
    return original.copy(
        notes=[*before, *continuation.notes, *after],
        pedals=[*pedals_before, *continuation.pedals, *pedals_after],
    )


# --- (de)serialising sequences ----------------------------------------------------
def sequence_to_dict(seq: NoteSequence) -> dict[str, Any]:
    """Column lists (compact JSON) with exact float times and the full tempo map."""

    def cols(notes: list[Note]) -> dict[str, list[Any]]:
        return {
            "pitch": [n.pitch for n in notes],
            "start": [n.start for n in notes],
            "end": [n.end for n in notes],
            "velocity": [n.velocity for n in notes],
            "track": [n.track for n in notes],
        }

    return {
        "title": seq.title,
        "notes": cols(seq.notes),
        "drum_notes": cols(seq.drum_notes),
        "pedals": [[p.time, p.value, p.controller, p.track] for p in seq.pedals],
        "tracks": [[t.name, t.program, t.is_drum] for t in seq.tracks],
        "tempo": {"ppq": seq.tempo_map.ppq, "changes": [[c.tick, c.us_per_quarter] for c in seq.tempo_map.changes]},
        "time_signatures": [[t.time, t.numerator, t.denominator] for t in seq.time_signatures],
        "key_signatures": [[k.time, k.key, k.mode] for k in seq.key_signatures],
    }


def sequence_from_dict(d: dict[str, Any]) -> NoteSequence:
    def notes(c: dict[str, list[Any]] | None) -> list[Note]:
        if not c:
            return []
        out = [
            Note(int(p), float(s), float(e), int(v), int(t))
            for p, s, e, v, t in zip(c["pitch"], c["start"], c["end"], c["velocity"], c["track"], strict=True)
        ]
        for i, n in enumerate(out):  # a hand-edited or damaged file must fail here, not in the views
            if not (math.isfinite(n.start) and math.isfinite(n.end)) or n.start < 0 or n.end < n.start:
                raise ValueError(f"note {i + 1} has impossible times ({n.start}, {n.end})")
            if not (0 <= n.pitch <= 127 and 0 <= n.velocity <= 127):
                raise ValueError(f"note {i + 1} has pitch {n.pitch} / velocity {n.velocity} outside 0..127")
        return out

    tempo = d.get("tempo") or {}
    return NoteSequence(
        notes=notes(d.get("notes")),
        drum_notes=notes(d.get("drum_notes")),
        pedals=[PedalEvent(float(t), int(v), int(c), int(tr)) for t, v, c, tr in d.get("pedals", [])],
        tracks=[TrackInfo(str(n), int(p), bool(dr)) for n, p, dr in d.get("tracks", [])] or [TrackInfo("Piano")],
        tempo_map=TempoMap(int(tempo.get("ppq", 480)), [TempoChange(int(a), int(b)) for a, b in tempo.get("changes", [])]),
        time_signatures=[TimeSignature(float(t), int(n), int(de)) for t, n, de in d.get("time_signatures", [])],
        key_signatures=[KeySignature(float(t), str(k), str(m)) for t, k, m in d.get("key_signatures", [])],
        title=str(d.get("title", "")),
    )


def _view_to_dict(v: ViewState) -> dict[str, Any]:
    return dataclasses.asdict(v)


def _view_from_dict(d: dict[str, Any]) -> ViewState:
    known = {f.name for f in dataclasses.fields(ViewState)}
    kw = {k: v for k, v in d.items() if k in known}
    for key in ("x_range", "y_range", "selection"):
        if kw.get(key) is not None:
            kw[key] = (float(kw[key][0]), float(kw[key][1]))
    return ViewState(**kw)


def _relative(path: str | None, base: Path | None) -> str | None:
    """Store the audio path relative to the project when it lies beside it (projects can move)."""
    if not path or base is None:
        return path
    try:
        return os.path.relpath(Path(path).resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        return path


# --- note edits on a selection (pure functions the GUI's undo commands use) ----------
def move_notes(notes: Iterable[Note], selected: set[Note], dt: float, semitones: int) -> tuple[list[Note], set[Note]]:
    """Shift the selected notes in time and pitch (clamped to 0..127 and t >= 0)."""
    out: list[Note] = []
    moved: set[Note] = set()
    for n in notes:
        if n in selected:
            shift = max(dt, -n.start)
            pitch = min(127, max(0, n.pitch + semitones))
            m = dataclasses.replace(n, start=n.start + shift, end=n.end + shift, pitch=pitch)
            moved.add(m)
            out.append(m)
        else:
            out.append(n)
    return out, moved


def resize_notes(notes: Iterable[Note], selected: set[Note], d_end: float, min_length: float = 0.01) -> tuple[list[Note], set[Note]]:
    """Lengthen (or shorten) the selected notes; a note never gets shorter than ``min_length``."""
    out: list[Note] = []
    changed: set[Note] = set()
    for n in notes:
        if n in selected:
            m = dataclasses.replace(n, end=max(n.start + min_length, n.end + d_end))
            changed.add(m)
            out.append(m)
        else:
            out.append(n)
    return out, changed


def set_velocity(notes: Iterable[Note], selected: set[Note], velocity: int) -> tuple[list[Note], set[Note]]:
    v = min(127, max(1, int(velocity)))
    out: list[Note] = []
    changed: set[Note] = set()
    for n in notes:
        if n in selected:
            m = dataclasses.replace(n, velocity=v)
            changed.add(m)
            out.append(m)
        else:
            out.append(n)
    return out, changed


def transpose_notes(notes: Iterable[Note], selected: set[Note] | None, semitones: int) -> tuple[list[Note], set[Note]]:
    """Transpose the selection (or everything when ``selected`` is None/empty); notes stay in 0..127."""
    notes = list(notes)
    chosen = selected if selected else set(notes)
    return move_notes(notes, chosen, 0.0, semitones)


def quantize_notes(
    seq: NoteSequence, selected: set[Note] | None, grid_beats: float
) -> tuple[list[Note], set[Note]]:
    """Quantize the selection (or all notes) to a beat grid of the layer's own tempo map."""
    chosen = [n for n in seq.notes if not selected or n in selected]
    snapped = seq.copy(notes=chosen).quantize(grid_beats).notes
    # quantize() sorts its output, so pair notes by sorting both sides identically.
    key = lambda n: (n.start, n.pitch, n.end)  # noqa: E731
    mapping = dict(zip(sorted(chosen, key=key), sorted(snapped, key=key), strict=True))
    # quantize is monotone in start times, but ties can reorder; fall back to per-note snapping then.
    if any(a.pitch != b.pitch for a, b in mapping.items()):
        mapping = {n: seq.copy(notes=[n]).quantize(grid_beats).notes[0] for n in chosen}
    chosen_set = set(chosen)
    out = [mapping[n] if n in chosen_set else n for n in seq.notes]
    return out, {mapping[n] for n in chosen}


def delete_notes(notes: Iterable[Note], selected: set[Note]) -> list[Note]:
    return [n for n in notes if n not in selected]
