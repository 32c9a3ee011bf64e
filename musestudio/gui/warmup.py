"""Load the heavy libraries in the background once the window is on screen.

The first ``import torch`` (or mir_eval, which pulls in scipy) of a process
holds the GIL while the dynamic linker loads hundreds of MB of shared
libraries: CPython keeps the GIL across ``dlopen``, even in a worker thread
or through ctypes.  Measured with tests/benchmarks/bench_ui_responsive.py:
the window froze ~0.6 s the first time a model or a metric ran.  Importing
them lazily keeps start-up fast (the window appears without torch), and this
warm-up moves the one-time freeze to the first idle seconds after start-up
instead of the user's first click on Transcribe, Generate or Metrics.
"""

from __future__ import annotations

import importlib
import logging
import threading

log = logging.getLogger(__name__)

#: What the app's workers import on first use, heaviest first.
HEAVY_MODULES = ("torch", "mir_eval.transcription", "scipy.signal", "soxr")


def start_warmup(modules: tuple[str, ...] = HEAVY_MODULES) -> threading.Thread:
    """Import ``modules`` in a daemon thread; failures are logged, never raised (a missing extra is fine)."""

    def run() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # an optional library missing: its feature reports that when used
                log.debug("warm-up: %s not imported (%s)", name, exc)
        from musestudio.gui import gc_guard

        guard = gc_guard.current()
        if guard is not None:  # freeze the libraries' objects out of the collector, still in idle time
            guard.request_freeze()

    thread = threading.Thread(target=run, name="musestudio-warmup", daemon=True)
    thread.start()
    return thread
