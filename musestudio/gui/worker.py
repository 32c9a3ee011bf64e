"""Run a Work generator off the UI thread; only signals cross threads.

A ``Job`` drains the generator in a worker thread, forwards its
:class:`Progress` (throttled) to the UI and delivers the result or a one-line
error back on the UI thread.  Cancellation is cooperative through a
:class:`CancelToken`, checked at every yield.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from musestudio.core.errors import Cancelled, MusestudioError
from musestudio.core.progress import CancelToken, Progress, Work, run_work

log = logging.getLogger(__name__)


def one_line_error(exc: BaseException) -> str:
    """What the user sees: our own errors as they are, bugs as type + first line."""
    if isinstance(exc, MusestudioError):
        return str(exc)
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"internal error: {type(exc).__name__}: {text}" if text else f"internal error: {type(exc).__name__}"


class _Signals(QObject):
    progress = Signal(object)
    done = Signal(object)
    failed = Signal(str, str)  # one-line message, details
    cancelled = Signal()


class Job:
    """Drains one Work generator in a plain Python thread.

    Why not a QRunnable: a Python-owned QRunnable can be freed by the UI
    thread while the pool thread is still returning from ``run`` (we saw
    interpreter-exit crashes).  A Python thread plus a signals object owned
    by the UI thread has no such race; finished jobs are released only after
    their thread has ended (see ``_retire``).
    """

    def __init__(self, work: Work[Any], cancel: CancelToken, label: str = "") -> None:
        self.work = work
        self.cancel = cancel
        self.label = label
        self.signals = _Signals()
        self.finished = False
        self._last = 0.0
        self.thread = threading.Thread(target=self.run, name=f"musestudio-job-{label or 'work'}", daemon=True)

    def _emit(self, signal: Any, *args: Any) -> None:
        """Emit to the UI; when the app is quitting, the signals object may already be gone: nobody
        is left to tell, so the job ends quietly instead of printing a traceback at exit."""
        try:
            signal.emit(*args)
        except RuntimeError:  # "Signal source has been deleted"
            self.cancel.cancel()

    def _progress(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last >= 0.05 or p.fraction >= 1.0:  # at most ~20 UI updates per second
            self._last = now
            self._emit(self.signals.progress, p)

    def run(self) -> None:
        try:
            result = run_work(self.work, self._progress, self.cancel)
        except Cancelled:
            self.finished = True
            self._emit(self.signals.cancelled)
        except BaseException as exc:  # reported to the UI, never a crash
            self.finished = True
            log.debug("job %s failed", self.label, exc_info=True)
            self._emit(self.signals.failed, one_line_error(exc), traceback.format_exc())
        else:
            self.finished = True
            self._emit(self.signals.done, result)
        finally:
            self.work = None  # type: ignore[assignment]  # free the generator's frame here


_RETIRED: list[Job] = []


EXIT_GRACE_SECONDS = 2.0


def _cancel_all_at_exit() -> None:
    """Quitting: running jobs stop at their next step, and we wait (briefly) until they have.

    A daemon thread still emitting while Python and Qt tear down can crash the
    process (seen: SIGSEGV in about 1 exit of 30 with 20 jobs running;
    tests/gui/test_job_threads.py); after the grace period we exit anyway.
    """
    for job in list(_RETIRED):
        job.cancel.cancel()
    deadline = time.monotonic() + EXIT_GRACE_SECONDS
    for job in list(_RETIRED):
        job.thread.join(max(0.0, deadline - time.monotonic()))


atexit.register(_cancel_all_at_exit)


def _retire() -> None:
    """Drop finished jobs whose threads have ended (always on the UI thread)."""
    _RETIRED[:] = [j for j in _RETIRED if j.thread.is_alive() or not j.finished]


def start_job(
    work: Work[Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[str, str], None],
    on_progress: Callable[[Progress], None] | None = None,
    on_cancelled: Callable[[], None] | None = None,
    *,
    cancel: CancelToken | None = None,
    label: str = "",
    owner: QObject | None = None,
) -> Job:
    """Start ``work`` in a thread; the callbacks run on the UI thread.

    ``owner``: the widget that asked.  Once it is deleted (its window closed)
    the callbacks are skipped and the job is cancelled, so a late result never
    reaches a dead widget ("Internal C++ object already deleted").
    """
    _retire()
    job = Job(work, cancel or CancelToken(), label)

    def guard(callback: Callable[..., None] | None) -> Callable[..., None] | None:
        if callback is None or owner is None:
            return callback

        def call(*args: Any) -> None:
            if shiboken6.isValid(owner):
                callback(*args)
            else:
                job.cancel.cancel()

        return call

    job.signals.done.connect(guard(on_done))
    job.signals.failed.connect(guard(on_error))
    if on_progress is not None:
        job.signals.progress.connect(guard(on_progress))
    if on_cancelled is not None:
        job.signals.cancelled.connect(guard(on_cancelled))
    _RETIRED.append(job)  # keeps the signals object alive (and owned here) until the thread is gone
    job.thread.start()
    return job
