"""The warm-up imports heavy modules off the UI thread and never raises."""

from __future__ import annotations

import sys
import threading

from musestudio.gui.warmup import start_warmup


def test_warmup_imports_in_a_worker_and_survives_a_missing_module(monkeypatch) -> None:
    seen: list[bool] = []
    import importlib

    real = importlib.import_module

    def spy(name: str):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread() is threading.main_thread())
        return real(name)

    monkeypatch.setattr(importlib, "import_module", spy)
    thread = start_warmup(("no_such_module_musestudio", "colorsys"))
    thread.join(30)
    assert seen == [False, False]
    assert "colorsys" in sys.modules
