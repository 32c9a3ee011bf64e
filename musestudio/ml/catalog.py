"""Where models live: the shipped ``models/`` folder and the user's own checkpoints.

Shipped models sit next to the package (repository or bundle ``models/``);
``MUSESTUDIO_MODELS`` overrides that folder.  User checkpoints (exported with
``python -m training export``) go in the platform's user data folder
(``platformdirs``), under ``models/``, and are listed too.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from musestudio.core.errors import ModelError

KINDS = ("markov", "lstm", "transformer", "gan", "transcriber")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # architecture: markov, lstm, transformer, gan, transcriber
    path: Path
    description: str
    shipped: bool = True


def models_dir() -> Path:
    env = os.environ.get("MUSESTUDIO_MODELS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "models"


def user_models_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("musestudio", appauthor=False)) / "models"


def _entry(folder: Path, shipped: bool) -> ModelEntry | None:
    cfg = folder / "config.json"
    if not cfg.is_file():
        return None
    try:
        meta = json.loads(cfg.read_text(encoding="utf-8"))
        kind = str(meta["architecture"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    training = meta.get("training", {}) if isinstance(meta.get("training"), dict) else {}
    metrics = meta.get("metrics", {}) if isinstance(meta.get("metrics"), dict) else {}
    bits = [f"{kind}"]
    if training.get("parameters"):
        bits.append(f"{training['parameters']} parameters")
    if "test_perplexity" in metrics:
        bits.append(f"test perplexity {metrics['test_perplexity']:.2f}")
    return ModelEntry(str(meta.get("name") or folder.name), kind, folder, ", ".join(bits), shipped)


def list_models(include_user: bool = True) -> list[ModelEntry]:
    """Every loadable checkpoint folder: shipped first, then the user's."""
    out: list[ModelEntry] = []
    roots = [(models_dir(), True)]
    if include_user:
        roots.append((user_models_dir(), False))
    for root, shipped in roots:
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            entry = _entry(folder, shipped)
            if entry is not None:
                out.append(entry)
    return out


def default_checkpoint(kind: str) -> Path:
    """The shipped checkpoint folder of a model kind."""
    if kind not in KINDS:
        raise ModelError(f"unknown model '{kind}' (choose from {', '.join(KINDS)})")
    path = models_dir() / kind
    if not (path / "config.json").is_file():
        raise ModelError(f"no shipped {kind} model in {models_dir()} (train and export one with `python -m training`)")
    return path
