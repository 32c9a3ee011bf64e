"""Python's cyclic garbage collector runs on the GUI thread only.

Why this exists: CPython runs a cyclic collection in whichever thread happens to cross
the allocation threshold.  When that is a worker (a job parsing a MusicXML file with
music21 allocates hundreds of thousands of objects) and the garbage holds a Qt object
(a closed window or menu still in a reference cycle through a connected lambda),
Shiboken destroys the C++ object on the worker.  Seen in this project: the worker's
``~QMenu`` waited for the GIL while the GUI thread, holding the GIL, waited for the Qt
mutex that ``~QObject`` held on the worker -- a deadlock that froze the whole test
suite (tests/gui/test_playback_and_files.py::test_recent_files_menu on a cold disk)
and would freeze the app the same way.  Qt objects must die on the thread that owns
them, so automatic collection is switched off and this timer collects on the GUI
thread instead, generation by generation, with CPython's own thresholds.
tests/gui/test_gc_guard.py reproduces the worker-side collection and checks it no
longer happens.
"""

from __future__ import annotations

import gc
import logging
import time

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

#: How often the GUI thread looks at the allocation counters (a look costs ~1 us).
INTERVAL_MS = 100
#: CPython skips most full collections (it waits until a quarter of the long-lived objects are new);
#: the counters it uses for that are not public, so full collections are spaced in time instead.
FULL_COLLECTION_GAP_S = 5.0


class MainThreadGC(QObject):
    """Disable automatic collection; collect from a GUI-thread timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.collections = [0, 0, 0]
        self._last_full = time.monotonic()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect the oldest generation whose counter passed its threshold (as CPython would)."""
        counts = gc.get_count()
        gen = -1
        for g in range(3):
            if self.threshold[g] and counts[g] > self.threshold[g]:
                gen = g
        if gen == 2 and time.monotonic() - self._last_full < FULL_COLLECTION_GAP_S:
            gen = 1
        if gen == 2:
            self._last_full = time.monotonic()
        if gen >= 0:
            gc.collect(gen)
            self.collections[gen] += 1

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()


_installed: dict[str, MainThreadGC] = {}  # "guard" -> the one for the current QApplication


def install(app: QObject) -> MainThreadGC:
    """Install once per QApplication (called by create_app)."""
    guard = _installed.get("guard")
    try:
        current = guard is not None and guard.parent() is app
    except RuntimeError:  # the guard died with an earlier QApplication
        current = False
    if guard is None or not current:
        guard = _installed["guard"] = MainThreadGC(app)
        log.debug("cyclic GC moved to the GUI thread (thresholds %s)", guard.threshold)
    return guard


def current() -> MainThreadGC | None:
    """The installed guard, if create_app has run."""
    return _installed.get("guard")
