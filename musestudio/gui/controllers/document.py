"""DocumentController: the project's life cycle — new, open, import, save, close, export, autosave, recovery.

"Modified" has one source of truth, ``Project.modified`` (the saved-state
marker; undo commands put the revision back).  Files are read and written in
JobManager jobs: results arrive in callbacks, never in a nested event loop.
The synchronous ``*_and_wait`` helpers exist for scripts, tests and the
``--screenshot`` mode only.

The file model, as in a DAW or MuseScore:

* **Open** replaces the project (asking to save unsaved work first);
* **Import as Layer** adds a file's notes to the current project;
* a WAV opened into a project that has notes is attached only when the user
  says so (otherwise it opens as a new project);
* the ruler follows the *project's* tempo map: a new project takes the tempo
  of the file it was opened from, an imported layer never changes it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from musestudio.core import autosave
from musestudio.core.errors import InputFileError, MusestudioError
from musestudio.core.notes import NoteSequence
from musestudio.core.progress import Progress, Work
from musestudio.core.project import Layer, Project, one_track
from musestudio.gui.controllers.jobs import JobHandle, JobManager
from musestudio.gui.settings import AppSettings, save_settings
from musestudio.gui.undo import AddLayerCommand, SetAudioCommand
from musestudio.gui.worker import one_line_error

log = logging.getLogger(__name__)

# A snapshot this long after an edit (coalescing the events of one command or a quick burst); a write
# still running is not queued behind: one more follows when it ends.  A crash loses at most the edits of
# the last AUTOSAVE_DELAY_MS plus one write (tests/robustness/test_robust_no_lost_work.py::test_kill_*).
AUTOSAVE_DELAY_MS = 500


class DocumentUI(Protocol):
    """What the controller needs from the window (dialogs live in the window; tests fake them)."""

    interactive: bool

    def ask(self, question: str, title: str = ...) -> bool: ...
    def ask_save_changes(self, name: str) -> str: ...  # "save", "discard" or "cancel"
    def ask_open_mode(self, name: str, audio: bool) -> str: ...  # "new", "add" (attach) or "cancel"
    def choose_save_path(self) -> str | None: ...
    def capture_view(self, project: Project) -> None: ...
    def show_error(self, message: str) -> None: ...
    def show_status(self, message: str) -> None: ...


def _load_score_work(path: Path) -> Work[NoteSequence]:
    from musestudio.io.formats import load_score

    yield Progress(0, 1, f"reading {path.name}")
    seq = load_score(path)
    yield Progress(1, 1, f"{len(seq)} notes")
    return seq


def _load_project_work(path: Path) -> Work[Project]:
    yield Progress(0, 1, f"reading {path.name}")
    project = Project.load(path)
    yield Progress(1, 1, "")
    return project


def _audio_info_work(path: Path) -> Work[Any]:
    from musestudio.io.audio import audio_info

    yield Progress(0, 1, f"reading {path.name}")
    info = audio_info(path)  # fails fast (one line) on a broken file
    if info.frames == 0:
        raise InputFileError(path, "audio file has no samples")
    yield Progress(1, 1, "")
    return info


def project_from_score(seq: NoteSequence, path: Path) -> Project:
    """A new project holding one file: its layer, and the file's tempo map as the project's."""
    project = Project()
    project.add_layer(seq.title or path.stem, seq, "score", source=str(path))
    project.tempo_map = seq.tempo_map
    project.time_signatures = list(seq.time_signatures)
    project.key_signatures = list(seq.key_signatures)
    project.mark_saved()  # freshly read from disk: nothing to save yet
    return project


class Autosaver(QObject):
    """Writes this instance's crash snapshot shortly after edits, off the UI thread.

    The UI thread only takes ``Project.snapshot()`` (a shallow copy: layers
    share their immutable sequences); JSON encoding and the atomic write run
    on one background thread, in order, so a "clear" after a save can never
    be overtaken by an older write.
    """

    failed = Signal(str)
    _finished = Signal()  # from the writer thread: a snapshot write ended

    def __init__(self, session: autosave.RecoverySession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.project: Project | None = None
        self.capture: Callable[[Project], None] | None = None
        self.suspended = 0
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="musestudio-autosave")
        self._executor.submit(lambda: None)  # start its thread now: submit() would otherwise start it on the UI thread
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(AUTOSAVE_DELAY_MS)
        self._debounce.timeout.connect(self.write_soon)
        self._periodic = QTimer(self)
        self._periodic.timeout.connect(self.write_soon)
        self._last: concurrent.futures.Future[Any] | None = None
        self._written: tuple[int, int] | None = None  # (project, revision) of the last snapshot queued
        self._pending = False  # a change arrived while a write was running
        self._finished.connect(self._write_pending)
        self._disconnect: list[Callable[[], None]] = []

    def start(self, period_seconds: int) -> None:
        if period_seconds > 0:
            self._periodic.start(period_seconds * 1000)

    def watch(self, project: Project) -> None:
        for undo in self._disconnect:
            undo()
        self._disconnect = []
        self.project = project
        ev = project.events
        for sig in (ev.layers_changed, ev.layer_props_changed, ev.notes_changed, ev.timing_changed, ev.audio_changed,
                    ev.modified_changed):
            sig.connect(self.schedule)
            self._disconnect.append(lambda s=sig: s.disconnect(self.schedule))

    def schedule(self, *_: Any) -> None:
        if not self.suspended:
            self._debounce.start()

    def write_soon(self) -> concurrent.futures.Future[Any] | None:
        """Queue a snapshot (or, when nothing is unsaved, the removal of the old one)."""
        if self.suspended or self.project is None:
            return None
        project = self.project
        if not project.modified:
            self._written = None
            self._last = self._executor.submit(self.session.clear)
            return self._last
        if self._written == (id(project), project.revision) and self._last is not None:
            return self._last  # the snapshot on disk is already this state (the periodic timer)
        if self._last is not None and not self._last.done():
            self._pending = True  # never queue snapshots behind a running one; write the latest when it ends
            return self._last
        if self.capture is not None:
            self.capture(project)
        snap = project.snapshot()
        self._written = (id(project), project.revision)

        def write() -> Path:
            return self.session.write(snap)

        self._last = self._executor.submit(write)
        self._last.add_done_callback(self._report)
        return self._last

    def _write_pending(self) -> None:
        if self._pending:
            self._pending = False
            self.write_soon()

    def _report(self, future: concurrent.futures.Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the window is already gone
            self._finished.emit()
        exc = future.exception()
        if exc is not None:  # autosave must never interrupt work; say it once in the status bar
            self._written = None  # try again on the next tick
            log.warning("autosave failed: %s", exc)
            self.failed.emit(f"Autosave failed: {one_line_error(exc)}")

    def clear(self) -> None:
        self._debounce.stop()
        self._written = None
        self._last = self._executor.submit(self.session.clear)

    def flush(self, timeout: float = 30.0) -> Any:
        """Wait until the latest state is on disk (tests, and before deleting a restored snapshot)."""
        result = None
        while self._last is not None:
            result = self._last.result(timeout)
            if not self._pending:
                break
            self._pending = False
            self.write_soon()
        return result

    def close(self) -> None:
        self._debounce.stop()
        self._periodic.stop()
        self._executor.submit(self.session.close).result(30)
        self._executor.shutdown(wait=True)


class DocumentController(QObject):
    project_replaced = Signal(object)  # the new Project
    recent_changed = Signal()
    exported = Signal(object)  # the Path written

    def __init__(
        self, ui: DocumentUI, jobs: JobManager, undo_stack: QUndoStack, settings: AppSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ui = ui
        self.jobs = jobs
        self.undo_stack = undo_stack
        self.settings = settings
        self.project = Project()
        self._audio_cache: dict[int, tuple[np.ndarray, int]] = {}
        self.session = autosave.RecoverySession()
        self.autosaver = Autosaver(self.session, self)
        self.autosaver.capture = ui.capture_view
        self.autosaver.failed.connect(ui.show_status)
        self.autosaver.watch(self.project)
        self.autosaver.start(settings.autosave_seconds)
        self._opening: JobHandle | None = None

    # --- the document ------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        self.project = project
        self.undo_stack.clear()
        self._audio_cache.clear()
        project.events.audio_changed.connect(self._forget_audio)
        self.autosaver.watch(project)
        self.project_replaced.emit(project)
        self.autosaver.schedule()

    def _forget_audio(self) -> None:
        self._audio_cache.clear()

    @property
    def name(self) -> str:
        return self.project.path.name if self.project.path else "untitled"

    def is_empty(self) -> bool:
        return not self.project.layers and not self.project.audio_path

    def confirm_discard(self) -> bool:
        """Before the project goes away: True when nothing unsaved would be lost (saving first if asked)."""
        if not self.project.modified or (self.is_empty() and self.project.path is None):
            return True  # an untitled empty project holds nothing to lose
        answer = self.ui.ask_save_changes(self.name)
        if answer == "save":
            return self.save(background=False)  # the project goes away next: the file must be written now
        return answer == "discard"

    def new(self) -> bool:
        """File > New: an empty project with one empty layer to draw into (120 qpm, 4/4)."""
        if not self.confirm_discard():
            return False
        project = Project()
        project.add_layer("edit", NoteSequence(), "edit")
        project.mark_saved()
        self.set_project(project)
        self.ui.show_status("New project")
        return True

    def close_project(self) -> bool:
        """File > Close: the window stays open with no project."""
        if not self.confirm_discard():
            return False
        self.set_project(Project())
        self.ui.show_status("Project closed")
        return True

    # --- opening -------------------------------------------------------------------------
    def _check(self, path: str | os.PathLike[str]) -> tuple[Path, str]:
        from musestudio.io.formats import kind_of

        p = Path(path)
        kind = kind_of(p)
        if not p.exists():
            raise InputFileError(p, "file not found")
        if p.is_dir():
            raise InputFileError(p, "is a folder, not a file")
        return p, kind

    def open(
        self, path: str | os.PathLike[str], *, mode: str | None = None,
        on_finished: Callable[[bool], None] | None = None, ask_for_scores: bool = False,
    ) -> JobHandle | None:
        """Open a file in a job.  ``mode``: "new" (replace the project), "add" (a layer, or attach
        the audio), or None: "new", except a WAV into a project with notes, where the user is asked
        (and, with ``ask_for_scores`` — a file dropped on the window — a score too)."""
        finished = on_finished or (lambda _ok: None)
        try:
            if self._opening is not None and self._opening.running:
                raise MusestudioError(f"still opening: wait for '{self._opening.label}' or cancel it")
            p, kind = self._check(path)
            if mode is None:
                mode = "new"
                if self.project.layers and (kind == "audio" or (ask_for_scores and kind in ("midi", "musicxml"))):
                    mode = self.ui.ask_open_mode(p.name, kind == "audio") if self.ui.interactive else "new"
            if mode == "cancel":
                finished(False)
                return None
            if (kind == "project" or mode == "new") and not self.confirm_discard():
                finished(False)
                return None
            label = f"Opening {p.name}"
        except Exception as exc:
            self.ui.show_error(one_line_error(exc))
            finished(False)
            return None

        def fail(message: str) -> None:
            self.ui.show_error(message)
            finished(False)

        def opened() -> None:
            self.settings.add_recent(p)
            self.recent_changed.emit()
            if self.ui.interactive:  # a crash later must not lose the recent-files list
                save_settings(self.settings)
            self.ui.show_status(f"Opened {p.name}")
            finished(True)

        if kind == "project":
            def got_project(project: Project) -> None:
                self.set_project(project)
                opened()

            handle = self.jobs.start(_load_project_work(p), got_project, fail, label=label)
        elif kind == "audio":
            def got_audio(_info: Any) -> None:
                resolved = str(p.resolve())
                if mode == "add":
                    self.undo_stack.push(SetAudioCommand(self.project, resolved))
                else:
                    project = Project(audio_path=resolved)
                    self.set_project(project)
                opened()

            handle = self.jobs.start(_audio_info_work(p), got_audio, fail, label=label)
        else:
            def got_score(seq: NoteSequence) -> None:
                if mode == "add":
                    self.add_layer(seq.title or p.stem, seq, "reference" if self.project.layers else "score",
                                   source=str(p))
                else:
                    self.set_project(project_from_score(seq, p))
                opened()

            handle = self.jobs.start(_load_score_work(p), got_score, fail, label=label)
        handle_cancelled = handle.signals.cancelled
        handle_cancelled.connect(lambda: finished(False))
        self._opening = handle
        return handle

    def open_and_wait(self, path: str | os.PathLike[str], *, mode: str | None = None, timeout: float = 600.0) -> bool:
        """Synchronous open for scripts, tests and --screenshot (pumps events while it waits)."""
        box: list[bool] = []
        handle = self.open(path, mode=mode, on_finished=box.append)
        if handle is not None:
            self.jobs.wait(timeout, handle)
        return bool(box and box[0])

    def add_layer(self, name: str, seq: NoteSequence, kind: str = "continuation", **props: Any) -> Layer:
        layer = self.project.new_layer(name, seq, kind, **props)
        self.undo_stack.push(AddLayerCommand(self.project, layer, len(self.project.layers)))
        return layer

    def audio_samples(self, sample_rate: int | None = None) -> tuple[np.ndarray, int] | None:
        if not self.project.audio_path:
            return None
        key = int(sample_rate or 0)
        if key not in self._audio_cache:
            from musestudio.io.audio import load_audio

            self._audio_cache[key] = load_audio(self.project.audio_path, sample_rate)
        return self._audio_cache[key]

    # --- saving ----------------------------------------------------------------------------
    def save(self, *, background: bool = True) -> bool:
        """File > Save.  In the background (a job) unless the caller needs the result now (closing)."""
        if self.project.path is None:
            return self.save_as(background=background)
        return self.save_in_background(self.project.path) if background else self.save_to(self.project.path)

    def save_as(self, *, background: bool = True) -> bool:
        path = self.ui.choose_save_path()
        if not path:
            return False
        return self.save_in_background(Path(path)) if background else self.save_to(Path(path))

    def _saved(self, saved: Path, revision: int) -> None:
        if revision == self.project.revision:
            self.undo_stack.setClean()
        if self.project.modified:  # edited while a background save was writing
            self.autosaver.schedule()
        else:
            self.autosaver.clear()
        self.settings.add_recent(saved)
        self.recent_changed.emit()
        self.ui.show_status(f"Saved {saved}")

    def save_to(self, path: Path) -> bool:
        """Write the project now, on this thread, atomically (closing, scripts, tests)."""
        try:
            self.ui.capture_view(self.project)
            revision = self.project.revision
            saved = self.project.save(path)
        except Exception as exc:
            self.ui.show_error(one_line_error(exc))
            return False
        self._saved(saved, revision)
        return True

    def save_in_background(self, path: Path, on_finished: Callable[[bool], None] | None = None) -> bool:
        """Write a snapshot of the project in a job (0.5 s for 100k notes would freeze the window).

        The project counts as saved at the revision that was written; edits made
        while it was being written keep it modified.  Returns whether the job started.
        """
        finished = on_finished or (lambda _ok: None)
        self.ui.capture_view(self.project)
        project, revision, snap = self.project, self.project.revision, self.project.snapshot()

        def work() -> Work[Path]:
            yield Progress(0, 1, f"saving {Path(path).name}")
            out = snap.save(path)
            yield Progress(1, 1, "")
            return out

        def done(saved: Path) -> None:
            if self.project is project:
                project.mark_saved(revision, saved)
                self._saved(saved, revision)
            finished(True)

        def fail(message: str) -> None:
            self.ui.show_error(message)
            finished(False)

        self.jobs.start(work(), done, fail, label=f"Saving {Path(path).name}")
        return True

    # --- exporting -----------------------------------------------------------------------------
    def export_work(self, target: Path, layer_ids: list[str]) -> Work[Path]:
        """Each layer as its own named MIDI track (MIDI); merged for MusicXML and WAV."""
        layers = [self.project.layer(i) for i in layer_ids]
        if not layers:
            raise MusestudioError("no layer selected for export")
        timing = self.project.timing()
        tracks = [(layer.name, one_track(layer.sequence, layer.name)) for layer in layers]
        soundfont = self.settings.soundfont_path or None

        def work() -> Work[Path]:
            yield Progress(0, 1, f"writing {target.name}")
            if target.suffix.lower() in (".mid", ".midi") and len(tracks) > 1:
                from musestudio.io.midi import write_midi_tracks

                out = write_midi_tracks(tracks, target, timing=timing, overwrite=True)
            else:
                from musestudio.io.formats import save_score

                seq = tracks[0][1].copy(tempo_map=timing.tempo_map, time_signatures=timing.time_signatures,
                                        key_signatures=timing.key_signatures or tracks[0][1].key_signatures)
                for _name, other in tracks[1:]:
                    seq = seq.merged(other)
                out = save_score(seq, target, overwrite=True, soundfont=soundfont)
            yield Progress(1, 1, "")
            return Path(out)

        return work()

    def export(
        self, path: str | os.PathLike[str], layer_ids: list[str], *, confirmed: bool = False,
        on_finished: Callable[[bool], None] | None = None,
    ) -> JobHandle | None:
        """Write the layers to MIDI/MusicXML/WAV by extension, in a job; never overwrites without asking."""
        finished = on_finished or (lambda _ok: None)
        try:
            target = Path(path)
            if target.exists() and not confirmed and not self.ui.ask(f"{target.name} already exists. Replace it?"):
                self.ui.show_status("Export cancelled: the file exists")
                finished(False)
                return None
            work = self.export_work(target, layer_ids)
        except Exception as exc:
            self.ui.show_error(one_line_error(exc))
            finished(False)
            return None

        def done(out: Path) -> None:
            self.ui.show_status(f"Exported {len(layer_ids)} layer(s) to {out}")
            self.exported.emit(out)
            finished(True)

        def fail(message: str) -> None:
            self.ui.show_error(message)
            finished(False)

        handle = self.jobs.start(work, done, fail, label=f"Exporting {target.name}")
        handle.signals.cancelled.connect(lambda: finished(False))
        return handle

    def export_and_wait(self, path: str | os.PathLike[str], layer_ids: list[str], *, confirmed: bool = False) -> bool:
        box: list[bool] = []
        handle = self.export(path, layer_ids, confirmed=confirmed, on_finished=box.append)
        if handle is not None:
            self.jobs.wait(600.0, handle)
        return bool(box and box[0])

    # --- crash recovery ----------------------------------------------------------------------
    def offer_recovery(self) -> bool:
        """At start: offer the newest snapshot a crashed instance left (never one of a running instance)."""
        self.autosaver.suspended += 1  # nothing of this session may be written while the question is open
        try:
            for orphan in self.session.orphans():
                claimed = self.session.claim(orphan)
                if claimed is None:  # another instance took it first
                    continue
                try:
                    details = autosave.recovery_details(claimed)
                except InputFileError:
                    self.session.discard(claimed)
                    continue
                source = details.get("source_path")
                what = f" in {Path(source).name}" if source else ""
                when = ""
                if details.get("saved_at"):
                    import time

                    when = time.strftime(" (saved automatically %a %H:%M)", time.localtime(float(details["saved_at"])))
                if not self.ui.ask(
                    f"musestudio did not close cleanly last time. Restore the unsaved work{what}{when}?", "Recover work"
                ):
                    self.session.discard(claimed)
                    continue
                project = autosave.load_recovery(claimed)  # modified: the user is asked to save it
                self.set_project(project)
                self.autosaver.suspended -= 1
                try:
                    self.autosaver.write_soon()
                    self.autosaver.flush()  # the edits are in this session's own snapshot ...
                finally:
                    self.autosaver.suspended += 1
                self.session.discard(claimed)  # ... before the crashed one goes
                self.ui.show_status("Restored the work from the last session")
                return True
            return False
        except Exception as exc:
            self.ui.show_error(f"Could not restore the last session: {one_line_error(exc)}")
            return False
        finally:
            self.autosaver.suspended -= 1

    def shutdown(self) -> None:
        """A clean exit: this instance's snapshot and lock go."""
        self.autosaver.close()
