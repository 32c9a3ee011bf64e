"""Cyclic garbage collection happens on the GUI thread only (musestudio/gui/gc_guard.py).

A worker that allocates enough to cross CPython's threshold used to run the collection itself, and a
Qt object in that garbage was then destroyed off the GUI thread: the suite deadlocked in
test_recent_files_menu when the disk was cold.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtWidgets import QMenu


def _allocate_cycles(n: int = 200_000) -> None:
    for _ in range(n):
        a: list = []
        a.append(a)


def test_worker_allocations_never_collect_on_the_worker(qtbot):
    from musestudio.gui import gc_guard
    from musestudio.gui.app import create_app

    create_app()  # installs the guard
    guard = gc_guard.current()
    assert guard is not None and not gc.isenabled()
    threads: list[str] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            threads.append(threading.current_thread().name)

    # Garbage holding a Qt object, as a closed window whose lambdas point back at it.
    menu = QMenu()
    menu.holder = [menu]  # type: ignore[attr-defined]
    del menu
    gc.callbacks.append(record)
    try:
        worker = threading.Thread(target=_allocate_cycles, name="worker")
        worker.start()
        while worker.is_alive():
            qtbot.wait(20)
        before = sum(guard.collections)
        qtbot.waitUntil(lambda: sum(guard.collections) > before or gc.get_count()[0] <= guard.threshold[0],
                        timeout=5000)
    finally:
        gc.callbacks.remove(record)
    assert "worker" not in threads
    assert threads and set(threads) == {threading.main_thread().name}


def test_thresholds_pick_the_generation(qtbot):
    from musestudio.gui.app import create_app
    from musestudio.gui.gc_guard import install

    guard = install(create_app())
    guard.timer.stop()
    try:
        gc.collect()
        before = list(guard.collections)
        _allocate_cycles(guard.threshold[0] * 3)
        guard.check()
        assert guard.collections[0] == before[0] + 1
        assert gc.get_count()[0] < guard.threshold[0]
    finally:
        guard.timer.start()


def test_a_freeze_request_is_served_on_the_gui_thread_and_later_full_collections_are_cheap(qtbot):
    from musestudio.gui import gc_guard
    from musestudio.gui.app import create_app

    create_app()
    guard = gc_guard.current()
    assert guard is not None
    was_frozen = guard.frozen
    try:
        requester = threading.Thread(target=guard.request_freeze)  # as the warm-up thread does
        requester.start()
        requester.join()
        qtbot.waitUntil(lambda: guard.frozen, timeout=5000)
        assert gc.get_freeze_count() > 1000
        assert len(gc.get_objects(generation=2)) < gc.get_freeze_count()
    finally:
        gc.unfreeze()
        guard.frozen = was_frozen
