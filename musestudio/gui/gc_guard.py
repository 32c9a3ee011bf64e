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
import sys
import threading
import time

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

#: How often the GUI thread looks at the allocation counters (a look costs ~1 us).
INTERVAL_MS = 100
#: CPython skips most full collections: it waits until the objects that reached the oldest generation
#: since the last full one are a quarter of those that survived it.  Its counters for that are not
#: public, so the guard counts the oldest generation itself (~10 ms for a million objects), at most this
#: often.  Without this rule a full collection of the app's heap (torch, music21, scipy) ran every few
#: seconds during teacher-mode matching (bench_ui_responsive.py).
FULL_COLLECTION_CHECK_S = 5.0
FULL_COLLECTION_GROWTH = 0.25
#: When the start-up warm-up has imported the heavy libraries (gui/warmup.py), in idle time, or else at
#: the first full collection after torch is loaded, the guard calls ``gc.freeze()``: the libraries' ~280k
#: long-lived objects leave the collector's view, so a later full collection takes well under 1 ms
#: instead of ~170 ms and counting the oldest generation costs nothing (measured on this machine).
#: The price: a cycle among objects alive at that moment is never reclaimed (refcounting still
#: frees everything else).  That is what CPython's documentation recommends gc.freeze for.
FREEZE_AFTER_MODULE = "torch"


class MainThreadGC(QObject):
    """Disable automatic collection; collect from a GUI-thread timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.collections = [0, 0, 0]
        self._last_check = time.monotonic()
        self._long_lived = len(gc.get_objects(generation=2))
        self.frozen = False
        self._freeze_wanted = threading.Event()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def request_freeze(self) -> None:
        """Ask for the one-time collect-and-freeze at the next tick (any thread; the warm-up calls it)."""
        self._freeze_wanted.set()

    def freeze(self) -> None:
        """Take today's objects out of later collections (after collecting the young generations).

        No full collection first: it costs ~190 ms on the UI thread and, right after the heavy
        imports, finds nothing (measured: 0 objects after torch, music21, scipy, mir_eval, soxr)."""
        gc.collect(1)
        self.collections[2] += 1
        self._freeze_survivors()

    def _freeze_survivors(self) -> None:
        gc.freeze()
        self.frozen = True
        self._long_lived = len(gc.get_objects(generation=2))

    def check(self) -> None:
        """Collect the oldest generation whose counter passed its threshold (as CPython would)."""
        if self._freeze_wanted.is_set() and not self.frozen:
            self.freeze()
            return
        counts = gc.get_count()
        gen = -1
        for g in range(3):
            if self.threshold[g] and counts[g] > self.threshold[g]:
                gen = g
        if gen == 2 and not self._full_collection_due():
            gen = 1
        if gen >= 0:
            gc.collect(gen)
            self.collections[gen] += 1
            if gen == 2:
                if not self.frozen and FREEZE_AFTER_MODULE in sys.modules:
                    self._freeze_survivors()
                else:
                    self._long_lived = len(gc.get_objects(generation=2))

    def _full_collection_due(self) -> bool:
        now = time.monotonic()
        if now - self._last_check < FULL_COLLECTION_CHECK_S:
            return False
        self._last_check = now
        pending = len(gc.get_objects(generation=2)) - self._long_lived
        return pending > FULL_COLLECTION_GROWTH * max(self._long_lived, 1)

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
