"""Architecture name -> (config dataclass, model class), for rebuilding checkpoints.

Each entry is a lazy import path so that listing architectures costs nothing.
A model module provides ``<Name>Config`` (a dataclass) and the model class; the
model is built as ``ModelClass(ConfigClass(**config))``.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from musestudio.core.errors import ModelError

# architecture -> "module:ConfigClass:ModelClass"
ARCHITECTURES: dict[str, str] = {
    "lstm": "musestudio.ml.models.lstm:LSTMConfig:LSTMModel",
    "transformer": "musestudio.ml.models.transformer:TransformerConfig:TransformerModel",
    "gan": "musestudio.ml.models.gan:GANConfig:GANModel",
    "transcriber": "musestudio.ml.models.transcriber:TranscriberConfig:TranscriberModel",
    "beat_tracker": "musestudio.ml.models.beat_tracker:BeatTrackerConfig:BeatTrackerModel",
}


def resolve(architecture: str) -> tuple[type, type]:
    spec = ARCHITECTURES.get(architecture)
    if spec is None:
        raise ModelError(f"unknown architecture '{architecture}' (known: {', '.join(sorted(ARCHITECTURES))})")
    module_name, config_name, model_name = spec.split(":")
    module = importlib.import_module(module_name)
    return getattr(module, config_name), getattr(module, model_name)


def build_config(architecture: str, config: dict[str, Any]) -> Any:
    config_cls, _ = resolve(architecture)
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise ModelError(f"{architecture} config has unknown fields: {', '.join(unknown)}")
    try:
        return config_cls(**config)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"invalid {architecture} config: {exc}") from None


def build_model(architecture: str, config: dict[str, Any]) -> Any:
    _, model_cls = resolve(architecture)
    return model_cls(build_config(architecture, config))
