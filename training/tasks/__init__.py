"""Task registry: ``--model NAME`` -> "module:Class" (imported lazily)."""

from __future__ import annotations

import importlib

from training.tasks.base import Task

TASKS: dict[str, str] = {
    "markov": "training.tasks.symbolic:MarkovTask",
    "lstm": "training.tasks.symbolic:LSTMTask",
    "transformer": "training.tasks.symbolic:TransformerTask",
    "gan": "training.tasks.gan:GANTask",
    "transcriber": "training.tasks.transcriber:TranscriberTask",
    "beats": "training.tasks.beats:BeatTrackerTask",
}


def get_task(name: str) -> Task:
    spec = TASKS.get(name)
    if spec is None:
        raise SystemExit(f"unknown model '{name}' (known: {', '.join(sorted(TASKS))})")
    module_name, class_name = spec.split(":")
    return getattr(importlib.import_module(module_name), class_name)()


__all__ = ["TASKS", "Task", "get_task"]
