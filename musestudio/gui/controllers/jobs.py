"""JobManager: long work in worker threads, each job with its own progress bar and Cancel.

No nested event loops: a job's result arrives through a callback on the UI
thread.  ``wait`` (which pumps events) exists only for tests and the
``--screenshot`` mode; nothing the user can trigger calls it.

Why our own thread and not superqt's ``thread_worker``: superqt runs
generators on QThreadPool QRunnables whose signal objects can be deleted
while the pool thread still emits; quitting while jobs run then prints
"Signal source has been deleted" tracebacks from inside superqt, where we
cannot guard the emit (superqt 0.9, PySide6 6.11: ``tests/gui/test_job_threads.py``
shows it, and fails on purpose once superqt exits cleanly).  Our plain Python
threads guard their emits, and are cancelled and joined at exit
(``gui/worker.py``); the contract is the same: a Work generator, progress
signals, cooperative cancel at every yield.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QEventLoop, QObject, Signal
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from musestudio.core.progress import CancelToken, Progress, Work
from musestudio.gui.worker import Job, one_line_error, start_job

log = logging.getLogger(__name__)


class JobRow(QWidget):
    """One running job in the status bar: its label, its progress and its own Cancel button."""

    def __init__(self, label: str, cancel: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(label or "work", self)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(True)
        self.bar.setFormat("%p%")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip(f"Stop '{label or 'work'}' at its next step (other jobs keep running)")
        self.cancel_button.clicked.connect(cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        row.addWidget(self.cancel_button)


@dataclass(eq=False)
class JobHandle:
    """What ``JobManager.start`` returns: cancel this one job, or ask whether it is still running."""

    label: str
    token: CancelToken
    job: Job | None = None
    row: JobRow | None = None
    running: bool = True
    outcome: str = ""  # "done", "failed" or "cancelled"
    message: str = ""
    signals: Any = field(default=None, repr=False)

    def cancel(self) -> None:
        self.token.cancel()


class JobManager(QObject):
    """Starts Work generators off the UI thread and tracks each one separately."""

    status = Signal(str)  # a line for the status bar (progress messages, "cancelled")
    error = Signal(str, str)  # one-line message, details: for jobs without their own error handler
    busy_changed = Signal(bool)

    def __init__(self, host: QWidget | None = None) -> None:
        super().__init__(host)
        self.host = host
        self.handles: list[JobHandle] = []
        self.container = QWidget(host)
        self._rows = QHBoxLayout(self.container)
        self._rows.setContentsMargins(0, 0, 0, 0)
        self.container.hide()
        self._closed = False

    def _gone(self) -> bool:
        """The window closed (or was deleted): a late result has nobody to go to and is dropped."""
        return self._closed or not shiboken6.isValid(self) or not shiboken6.isValid(self.container)

    def shutdown(self) -> None:
        """The window closes: cancel everything; results that still arrive are dropped, not delivered
        to panels that are gone."""
        self._closed = True
        self.cancel_all()

    @property
    def busy(self) -> bool:
        return bool(self.handles)

    def start(
        self,
        work: Work[Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None] | None = None,
        *,
        cancel: CancelToken | None = None,
        label: str = "",
        on_cancelled: Callable[[], None] | None = None,
    ) -> JobHandle:
        handle = JobHandle(label=label, token=cancel or CancelToken())
        handle.row = JobRow(label, handle.cancel, self.container)
        self._rows.addWidget(handle.row)
        self.container.show()

        def finish(outcome: str, message: str = "") -> bool:
            """Book-keeping; False when the window is gone and the callback must not run."""
            handle.running, handle.outcome, handle.message = False, outcome, message
            if handle in self.handles:
                self.handles.remove(handle)
            if self._gone():
                return False
            if handle.row is not None:
                self._rows.removeWidget(handle.row)
                handle.row.deleteLater()
                handle.row = None
            if not self.handles:
                self.container.hide()
                self.busy_changed.emit(False)
            return True

        def done(result: Any) -> None:
            if not finish("done"):
                return
            try:
                on_done(result)
            except Exception as exc:  # a bug in a callback must not take the app down
                log.exception("callback of %s failed", label)
                self.error.emit(one_line_error(exc), "")

        def failed(message: str, details: str) -> None:
            if not finish("failed", message):
                return
            log.debug("%s failed:\n%s", label, details)
            if on_error is not None:
                on_error(message)
            else:
                self.error.emit(message, details if message.startswith("internal error") else "")

        def cancelled() -> None:
            if not finish("cancelled"):
                return
            self.status.emit(f"{label or 'work'}: cancelled")
            if on_cancelled is not None:
                on_cancelled()

        def progress(p: Progress) -> None:
            if self._gone():
                return
            if handle.row is not None:
                handle.row.bar.setValue(int(p.fraction * 1000))
            if p.message:
                self.status.emit(f"{label}: {p.message}" if label else p.message)

        was_busy = self.busy
        self.handles.append(handle)
        handle.job = start_job(work, done, failed, progress, cancelled, cancel=handle.token, label=label)
        handle.signals = handle.job.signals
        if not was_busy:
            self.busy_changed.emit(True)
        return handle

    def cancel_all(self) -> None:
        for handle in list(self.handles):
            handle.cancel()

    def wait(self, timeout: float = 60.0, handle: JobHandle | None = None) -> bool:
        """Pump events until the job (or every job) ends.  Tests and --screenshot only."""
        end = time.monotonic() + timeout

        def running() -> bool:
            return handle.running if handle is not None else bool(self.handles)

        while running() and time.monotonic() < end:
            QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)
        QApplication.processEvents()
        return not running()
