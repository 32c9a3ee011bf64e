"""Checkpoints cannot run code, and a damaged or mismatched one is refused with a clear ModelError.

Tiny checkpoints are built here for a two-layer model that is registered as
architecture "tiny" only for the duration of each test.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest

from musestudio.core.errors import ModelError
from musestudio.ml import checkpoint, registry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def tiny_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.ARCHITECTURES, "tiny", "tiny_arch:TinyConfig:TinyModel")


def make_checkpoint(folder: Path, hidden: int = 8) -> Path:
    from tiny_arch import TinyConfig, TinyModel

    model = TinyModel(TinyConfig(hidden=hidden))
    return checkpoint.save_checkpoint(folder, "tiny", {"inputs": 4, "hidden": hidden}, model.state_dict())


def flip_byte_near_end(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # inside the last tensor's data, after the header
    path.write_bytes(bytes(data))


def edit_config(folder: Path, **changes: object) -> None:
    cfg_path = folder / checkpoint.CONFIG_FILE
    meta = json.loads(cfg_path.read_text())
    for key, value in changes.items():
        if key == "config":
            meta["config"].update(value)  # type: ignore[arg-type]
        else:
            meta[key] = value
    cfg_path.write_text(json.dumps(meta))


class Payload:
    """Unpickling this would create ``marker``: the proof that a loader ran code from a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def test_valid_checkpoint_loads(tmp_path: Path) -> None:
    # The refusals below would prove nothing if a good checkpoint did not load.
    import torch

    folder = make_checkpoint(tmp_path / "tiny")
    model, info = checkpoint.load_model(folder)
    assert info.architecture == "tiny"
    assert model(torch.zeros(2, 4)).shape == (2, 4)
    assert not model.training


def test_tampered_weights_refused_by_config_sha(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "tiny")
    flip_byte_near_end(folder / checkpoint.WEIGHTS_FILE)
    with pytest.raises(ModelError, match=r"sha256 does not match config\.json"):
        checkpoint.load_model(folder)


def test_tampered_weights_refused_by_manifest_even_with_matching_config(tmp_path: Path) -> None:
    models = tmp_path / "models"
    folder = make_checkpoint(models / "tiny")
    checkpoint.write_manifest(models)
    weights = folder / checkpoint.WEIGHTS_FILE
    flip_byte_near_end(weights)
    # A careful attacker also updates config.json; the manifest still knows the shipped file.
    edit_config(folder, sha256={checkpoint.WEIGHTS_FILE: checkpoint.sha256_file(weights)})
    with pytest.raises(ModelError, match=r"does not match models/manifest\.json"):
        checkpoint.load_model(folder, checkpoint.read_manifest(models))


def test_tampered_config_refused_by_manifest(tmp_path: Path) -> None:
    models = tmp_path / "models"
    folder = make_checkpoint(models / "tiny")
    checkpoint.write_manifest(models)
    edit_config(folder, training={"note": "edited after shipping"})
    with pytest.raises(ModelError, match=r"config\.json: sha256 does not match models/manifest\.json"):
        checkpoint.load_model(folder, checkpoint.read_manifest(models))


def test_pickle_checkpoint_refused_without_running_it(tmp_path: Path) -> None:
    import torch

    marker = tmp_path / "PAYLOAD_RAN"
    folder = tmp_path / "shared_on_a_forum"
    folder.mkdir()
    torch.save({"state_dict": {}, "trap": Payload(marker)}, folder / "model.pt")
    with (folder / "model.ckpt").open("wb") as fh:
        pickle.dump(Payload(marker), fh)
    with pytest.raises(ModelError, match="pickle-based checkpoints"):
        checkpoint.load_model(folder)
    assert not marker.exists(), "the pickle payload was executed"


def test_pickle_disguised_as_safetensors_refused_without_running_it(tmp_path: Path) -> None:
    """A pickle renamed model.safetensors, with a config.json whose sha256 matches it."""
    marker = tmp_path / "PAYLOAD_RAN"
    folder = make_checkpoint(tmp_path / "tiny")
    weights = folder / checkpoint.WEIGHTS_FILE
    weights.write_bytes(pickle.dumps({"encode.weight": Payload(marker)}))
    edit_config(folder, sha256={checkpoint.WEIGHTS_FILE: checkpoint.sha256_file(weights)})
    with pytest.raises(ModelError, match="unreadable safetensors"):
        checkpoint.load_model(folder)
    assert not marker.exists(), "the pickle payload was executed"


def test_unknown_architecture_refused(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "tiny")
    edit_config(folder, architecture="os.system")
    with pytest.raises(ModelError, match=r"unknown architecture 'os\.system'"):
        checkpoint.load_model(folder)


def test_wrong_tensor_shapes_refused(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "tiny", hidden=8)
    edit_config(folder, config={"hidden": 16})  # the config now implies 16-wide layers
    with pytest.raises(ModelError, match="has shape"):
        checkpoint.load_model(folder)


def test_missing_tensors_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file
    from tiny_arch import TinyConfig, TinyModel

    folder = make_checkpoint(tmp_path / "tiny")
    state = {k: v for k, v in TinyModel(TinyConfig()).state_dict().items() if k.startswith("encode")}
    weights = folder / checkpoint.WEIGHTS_FILE
    save_file(state, str(weights))
    edit_config(folder, sha256={checkpoint.WEIGHTS_FILE: checkpoint.sha256_file(weights)})
    with pytest.raises(ModelError, match="do not fit"):
        checkpoint.load_model(folder)


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2, 3]", "must be a JSON object"),
        ('{"format_version": 99, "architecture": "tiny", "config": {}}', "format version 99"),
        ('{"format_version": 1, "architecture": "tiny"}', "'config' \\(object\\) are required"),
        ('{"format_version": 1, "architecture": "tiny", "config": {"inputs": 4, "evil": 1}}', "unknown fields: evil"),
        ('{"format_version": 1, "architecture": "tiny", "config": {"inputs": "four"}}', "cannot build a tiny"),
    ],
)
def test_bad_config_refused(tmp_path: Path, config_text: str, message: str) -> None:
    folder = make_checkpoint(tmp_path / "tiny")
    (folder / checkpoint.CONFIG_FILE).write_text(config_text)
    with pytest.raises(ModelError, match=message):
        checkpoint.load_model(folder)


def test_missing_weights_or_config_refused(tmp_path: Path) -> None:
    folder = make_checkpoint(tmp_path / "tiny")
    (folder / checkpoint.WEIGHTS_FILE).unlink()
    with pytest.raises(ModelError, match=r"missing model\.safetensors"):
        checkpoint.load_model(folder)
    with pytest.raises(ModelError, match="not a musestudio checkpoint"):
        checkpoint.load_model(tmp_path)
    with pytest.raises(ModelError, match="not found"):
        checkpoint.load_model(tmp_path / "nowhere")


def test_no_unsafe_deserialization_in_the_app() -> None:
    """Static guard: the app never unpickles; torch.load, if ever used, must be weights_only=True."""
    offenders = []
    for path in sorted((REPO / "musestudio").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for lineno, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"\b(pickle|cPickle|dill|joblib)\.loads?\(|\bnp\.load\(.*allow_pickle=True", code):
                offenders.append(f"{path.relative_to(REPO)}:{lineno}: {line.strip()}")
            if re.search(r"\btorch\.load\(", code) and "weights_only=True" not in code:
                offenders.append(f"{path.relative_to(REPO)}:{lineno}: {line.strip()}")
    assert not offenders, "unsafe deserialization:\n" + "\n".join(offenders)


def test_shipped_models_match_the_manifest() -> None:
    from musestudio.ml.catalog import models_dir

    models = models_dir()
    manifest = checkpoint.read_manifest(models)
    folders = sorted(p.parent for p in models.glob("*/config.json"))
    if not folders:
        pytest.skip("no shipped models yet")
    assert manifest, "models/ has checkpoints but no manifest.json"
    for folder in folders:
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            key = f"{folder.name}/{file.name}"
            assert key in manifest, f"{key} is shipped but not in models/manifest.json"
            assert manifest[key] == checkpoint.sha256_file(file), f"{key} does not match models/manifest.json"


def test_shipped_model_tampered_is_refused_by_the_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the app's own loading path: a copy of models/ with one flipped byte is refused."""
    import shutil

    generate = pytest.importorskip("musestudio.ml.generate")
    from musestudio.ml.catalog import models_dir

    source = models_dir()
    manifest = checkpoint.read_manifest(source)
    candidates = [
        f
        for f in ("markov", "lstm", "transformer", "gan")
        if (source / f / "config.json").is_file() and f"{f}/{checkpoint.WEIGHTS_FILE}" in manifest
    ]
    if not candidates:
        pytest.skip("no shipped token model listed in models/manifest.json yet")
    copy = tmp_path / "models"
    shutil.copytree(source, copy)
    monkeypatch.setenv("MUSESTUDIO_MODELS", str(copy))
    name = candidates[0]
    weights = copy / name / checkpoint.WEIGHTS_FILE
    flip_byte_near_end(weights)
    # Config updated to match, so only the manifest can catch it.
    edit_config(copy / name, sha256={checkpoint.WEIGHTS_FILE: checkpoint.sha256_file(weights)})
    from musestudio.core.notes import Note, NoteSequence

    seed = NoteSequence(notes=[Note(60 + i % 5, i * 0.25, i * 0.25 + 0.2, 80) for i in range(16)])
    settings = generate.GenerationSettings(model=name, seconds=1.0, random_seed=0)
    with pytest.raises(ModelError, match="manifest"):
        generate.generate(seed, settings)
