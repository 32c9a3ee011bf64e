"""Self-describing, code-free checkpoints.

A checkpoint is a folder::

    model.safetensors   the weights (safetensors never runs code when loaded)
    config.json         {"format_version", "architecture", "config", "tokenizer"/"features",
                         "training", "metrics", "sha256": {"model.safetensors": ...}}
    MODEL_CARD.md       data, split, size, training time, held-out numbers

The app rebuilds the model from ``architecture`` + ``config`` through
:mod:`musestudio.ml.registry` and never unpickles anything.  Before loading,
the weights' sha256 is checked against ``config.json`` and, for shipped
models, against ``models/manifest.json``; tensor names and shapes are checked
against a freshly built model so that a mismatched file is refused with a
clear message instead of a stack trace.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musestudio.core.errors import ModelError

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "MODEL_CARD.md"
MANIFEST_FILE = "manifest.json"
MAX_CONFIG_BYTES = 1_000_000


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class CheckpointInfo:
    path: Path
    architecture: str
    config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.path.name)


def read_info(folder: str | os.PathLike[str]) -> CheckpointInfo:
    """Parse and sanity-check ``config.json`` (no weights are read)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"{folder}: checkpoint folder not found")
    cfg_path = folder / CONFIG_FILE
    if not cfg_path.is_file():
        if any(folder.glob("*.pt")) or any(folder.glob("*.pth")) or any(folder.glob("*.ckpt")):
            raise ModelError(
                f"{folder}: pickle-based checkpoints (.pt/.pth/.ckpt) are refused because loading them can run code; "
                "export it with `python -m training export` to safetensors + config.json"
            )
        raise ModelError(f"{folder}: not a musestudio checkpoint (no {CONFIG_FILE})")
    if cfg_path.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelError(f"{cfg_path}: config is implausibly large")
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{cfg_path}: invalid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{cfg_path}: config must be a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(f"{folder}: checkpoint format version {version!r} is not supported (expected {FORMAT_VERSION})")
    arch = meta.get("architecture")
    config = meta.get("config")
    if not isinstance(arch, str) or not isinstance(config, dict):
        raise ModelError(f"{cfg_path}: 'architecture' (string) and 'config' (object) are required")
    return CheckpointInfo(folder, arch, config, meta)


def verify_weights(info: CheckpointInfo, manifest: dict[str, str] | None = None) -> Path:
    """Check the weights file against config.json's sha256 (and a manifest entry when given)."""
    weights = info.path / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelError(f"{info.path}: missing {WEIGHTS_FILE}")
    digest = sha256_file(weights)
    expected = (info.meta.get("sha256") or {}).get(WEIGHTS_FILE)
    if expected is None:
        raise ModelError(f"{info.path}: config.json records no sha256 for {WEIGHTS_FILE}")
    if digest != expected:
        raise ModelError(f"{weights}: sha256 does not match config.json; the file was modified or damaged")
    if manifest is not None:
        key = f"{info.path.name}/{WEIGHTS_FILE}"
        if key in manifest and manifest[key] != digest:
            raise ModelError(f"{weights}: sha256 does not match models/{MANIFEST_FILE}; refusing a tampered model")
        # The config decides what is built and how it is run, so it is checked too.
        cfg_key = f"{info.path.name}/{CONFIG_FILE}"
        cfg_path = info.path / CONFIG_FILE
        if cfg_key in manifest and cfg_path.is_file() and manifest[cfg_key] != sha256_file(cfg_path):
            raise ModelError(f"{cfg_path}: sha256 does not match models/{MANIFEST_FILE}; refusing a tampered model")
    return weights


def load_state_dict(info: CheckpointInfo, manifest: dict[str, str] | None = None) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = verify_weights(info, manifest)
    try:
        return load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{weights}: unreadable safetensors file ({exc})") from None


def save_checkpoint(
    folder: str | os.PathLike[str],
    architecture: str,
    config: dict[str, Any],
    state_dict: dict[str, Any],
    *,
    extra: dict[str, Any] | None = None,
    card: str | None = None,
) -> Path:
    """Write weights + config.json (+ model card) into ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    weights = folder / WEIGHTS_FILE
    tmp = folder / (WEIGHTS_FILE + ".part")
    save_file(tensors, str(tmp), metadata={"architecture": architecture, "format_version": str(FORMAT_VERSION)})
    os.replace(tmp, weights)
    meta: dict[str, Any] = {"format_version": FORMAT_VERSION, "architecture": architecture, "config": config}
    meta.update(extra or {})
    meta["sha256"] = {WEIGHTS_FILE: sha256_file(weights)}
    (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    if card is not None:
        (folder / CARD_FILE).write_text(card, encoding="utf-8")
    return folder


def read_manifest(models_dir: str | os.PathLike[str]) -> dict[str, str]:
    path = Path(models_dir) / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: invalid manifest ({exc})") from None
    files = data.get("files", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in files.items()}


def write_manifest(models_dir: str | os.PathLike[str]) -> Path:
    """Record the sha256 of every file under ``models/`` (run after exporting a model)."""
    models_dir = Path(models_dir)
    files = {
        str(p.relative_to(models_dir)): sha256_file(p)
        for p in sorted(models_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST_FILE
    }
    path = models_dir / MANIFEST_FILE
    path.write_text(json.dumps({"format_version": FORMAT_VERSION, "files": files}, indent=2) + "\n", encoding="utf-8")
    return path


def load_model(folder: str | os.PathLike[str], manifest: dict[str, str] | None = None) -> tuple[Any, CheckpointInfo]:
    """Build the model named by config.json, validate shapes, load weights, eval mode."""
    from musestudio.ml.registry import build_model

    info = read_info(folder)
    try:
        model = build_model(info.architecture, info.config)
    except ModelError:
        raise
    except Exception as exc:  # a config of the right shape but absurd values (a string where a size goes)
        raise ModelError(f"{info.path}: cannot build a {info.architecture} from this config ({exc})") from None
    state = load_state_dict(info, manifest)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(
            f"{info.path}: weights do not fit a {info.architecture} with this config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for k, v in expected.items():
        if tuple(v.shape) != tuple(state[k].shape):
            raise ModelError(
                f"{info.path}: tensor {k} has shape {tuple(state[k].shape)}, config implies {tuple(v.shape)}"
            )
    model.load_state_dict(state)
    model.eval()
    return model, info


def load_checked(folder: str | os.PathLike[str], architecture: str, what: str) -> tuple[Any, CheckpointInfo]:
    """:func:`load_model` against the manifest beside the folder (``models/manifest.json``), refusing a
    checkpoint of another architecture with one line (``what``: e.g. "a beat tracker")."""
    path = Path(folder)
    manifest = read_manifest(path.parent) if path.parent.is_dir() else {}
    model, info = load_model(path, manifest or None)
    if info.architecture != architecture:
        raise ModelError(f"{path}: is a {info.architecture} checkpoint, not {what}")
    return model, info
