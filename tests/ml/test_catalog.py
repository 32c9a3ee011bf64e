"""Model catalog and the shipped checkpoints: they load offline and generate."""

from __future__ import annotations

import pytest

from musestudio.core.errors import ModelError
from musestudio.ml.catalog import default_checkpoint, list_models, models_dir
from tests.ml.symbolic_fixtures import tiny_checkpoint

SHIPPED_TOKEN_MODELS = ["markov", "lstm", "transformer"]


def test_catalog_lists_a_models_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MUSESTUDIO_MODELS", str(tmp_path))
    tiny_checkpoint(tmp_path / "lstm", "lstm")
    (tmp_path / "junk").mkdir()
    assert models_dir() == tmp_path
    entries = [e for e in list_models(include_user=False)]
    assert [(e.name, e.kind, e.shipped) for e in entries] == [("tiny-lstm", "lstm", True)]
    assert default_checkpoint("lstm") == tmp_path / "lstm"
    with pytest.raises(ModelError):
        default_checkpoint("transformer")
    with pytest.raises(ModelError):
        default_checkpoint("nonsense")


@pytest.mark.parametrize("kind", SHIPPED_TOKEN_MODELS)
def test_shipped_checkpoint_loads_and_continues_a_seed(kind, demo_midi) -> None:
    from musestudio.io.midi import read_midi
    from musestudio.ml.generate import GenerationSettings, generate, load_symbolic_model

    loaded = load_symbolic_model(None, kind)  # verifies sha256 against config.json and models/manifest.json
    assert loaded.kind == kind
    seed = read_midi(demo_midi).slice(0, 4)
    out = generate(seed, GenerationSettings(model=kind, seconds=3.0, random_seed=0))[0]
    assert out.notes
    assert min(n.start for n in out.notes) >= seed.duration - 1e-9


def test_tampered_shipped_weights_are_refused(tmp_path, monkeypatch) -> None:
    from musestudio.ml.checkpoint import write_manifest
    from musestudio.ml.generate import load_symbolic_model

    monkeypatch.setenv("MUSESTUDIO_MODELS", str(tmp_path))
    tiny_checkpoint(tmp_path / "markov", "markov")
    write_manifest(tmp_path)
    weights = tmp_path / "markov" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_symbolic_model(None, "markov")
