"""Progress reporting and cancellation for long work.

Long work is a generator that yields :class:`Progress` and returns its result
(``return value`` inside the generator).  The caller decides where it runs: the
CLI drains it in the foreground with a text bar, the GUI in a worker thread.
Cancellation is cooperative: the work checks a :class:`CancelToken` at each
yield.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

from musestudio.core.errors import Cancelled

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Progress:
    done: float
    total: float
    message: str = ""

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, self.done / self.total))


Work = Generator[Progress, None, T]


class CancelToken:
    """Thread-safe flag shared between the UI and a worker."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def run_work(
    work: Work[T],
    on_progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> T:
    """Drive a work generator to completion and return its result."""
    try:
        while True:
            p = next(work)
            if cancel is not None and cancel.cancelled:
                work.close()
                raise Cancelled()
            if on_progress is not None:
                on_progress(p)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
