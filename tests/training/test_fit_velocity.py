"""fit-velocity: the note-velocity model is fitted on validation clips and learns what the audio says.

The network is stubbed: run_inference returns activations built from each clip's reference (every note found,
the head giving every note the same velocity, as when the normaliser flattened the dynamics), and key
energies that rise 0.5 dB per velocity step, with noise.  The fit must find the key energy, score better than
the head alone when cross-validated by piece, and write a model decode_defaults reads back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from musestudio.core.notes import Note, NoteSequence
from musestudio.ml.activations import Activations
from musestudio.ml.decode import VELOCITY_FEATURES
from tests.training.stub_transcriber import stub_checkpoint as tiny_checkpoint
from tests.training.stub_transcriber import write_clip_folder

FPS = 31.25


def clip(rng: np.random.Generator) -> NoteSequence:
    notes = []
    for i in range(60):
        t = 0.5 + 0.25 * i
        notes.append(Note(int(rng.integers(40, 90)), t, t + 0.2, int(rng.integers(20, 120))))
    return NoteSequence(notes=notes)


def stub_activations(ref: NoteSequence, rng: np.random.Generator) -> Activations:
    n = int(ref.duration * FPS) + 20
    onset, frame, offset, velocity = (np.zeros((n, 88), np.float32) for _ in range(4))
    energy = np.full((n, 88), -110.0, np.float32)
    for note in ref.notes:
        f, k = int(round(note.start * FPS)), note.pitch - 21
        onset[f, k], frame[f : f + 6, k], velocity[f, k] = 0.95, 0.9, 0.5
        energy[f : f + 6, k] = -80.0 + 0.5 * note.velocity + rng.normal(0.0, 2.0)
    level = np.full(n, -30.0, np.float32)
    return Activations(onset, frame, offset, velocity, np.zeros(n, np.float32), FPS, level=level, key_energy=energy)


@pytest.fixture()
def clips(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(3)
    # the same 3 pieces in both folders
    return [write_clip_folder(tmp_path / f"clips{f}", [clip(rng) for _ in range(3)]) for f in range(2)]


@pytest.fixture()
def stub_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict], Path]:
    """A tiny transcriber checkpoint with the given decode block, whose inference is stubbed by
    stub_activations on each clip's reference MIDI."""

    def make(decode: dict) -> Path:
        rng = np.random.default_rng(5)
        return tiny_checkpoint(tmp_path / "transcriber", decode, monkeypatch, lambda seq: stub_activations(seq, rng))

    return make


def test_fit_velocity_learns_the_key_energy_and_writes_a_readable_model(
        clips: list[str], stub_checkpoint: Callable[[dict], Path]) -> None:
    from musestudio.ml import transcribe as transcribe_mod
    from training.audio.evaluate import fit_velocity_model, write_decode_defaults

    ckpt = stub_checkpoint({"level_velocity": 2.0})
    model, report = fit_velocity_model(str(ckpt), clips)
    assert report["clips"] == 6 and report["scored_clips"] == 3 and report["pieces"] == 3
    assert report["matched_notes"] == 360
    # the head says nothing (one velocity for all) and the level is flat; the key energy says it all
    assert report["level_velocity_f1"] < 0.4 and report["model_cv_velocity_f1"] > 0.9
    w = dict(zip(VELOCITY_FEATURES, model["weights"], strict=True))
    assert max(w, key=lambda f: abs(w[f])) == "key_db" and w["key_db"] > 0
    write_decode_defaults(ckpt, {"velocity_model": model, **report}, "stub clips", merge=True)
    d = transcribe_mod.decode_defaults(ckpt)
    assert d.velocity_model == model and d.level_velocity == 2.0  # merged beside the tuned settings


@pytest.mark.parametrize("more", [False, True])
def test_fit_velocity_mlp_learns_the_key_energy_and_round_trips_through_the_config(
        clips: list[str], stub_checkpoint: Callable[[dict], Path], more: bool) -> None:
    from musestudio.core.errors import ModelError
    from musestudio.ml import transcribe as transcribe_mod
    from musestudio.ml.decode import EXTRA_VELOCITY_FEATURES, velocity_model_output
    from training.audio.evaluate import fit_velocity_model, write_decode_defaults

    ckpt = stub_checkpoint({})
    model, report = fit_velocity_model(str(ckpt), clips, kind="mlp", hidden=(8,), members=2, more_features=more)
    assert report["kind"] == "mlp" and report["matched_notes"] == 360
    assert report["level_velocity_f1"] < 0.4 and report["model_cv_velocity_f1"] > 0.9
    n = len(VELOCITY_FEATURES) + len(EXTRA_VELOCITY_FEATURES) + (7 if more else 0)
    if more:  # the extra inputs need the mlp
        with pytest.raises(ValueError, match="--kind mlp"):
            fit_velocity_model(str(ckpt), clips, kind="linear", more_features=True)
    assert len(model["mean"]) == n and len(model["members"]) == 2
    # the numpy forward is the MLP: louder key energy (feature 5, centred key dB) gives a louder note
    x = np.zeros((2, n))
    x[1, 5] = 10.0
    lo, hi = velocity_model_output(model, x)
    assert hi > lo + 5
    write_decode_defaults(ckpt, {"velocity_model": model, **report}, "stub clips", merge=True)
    assert transcribe_mod.decode_defaults(ckpt).velocity_model == model
    # a member whose layers do not chain to one output is refused with a clear error
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["decode"]["velocity_model"]["members"][0][-1][1] = [0.0, 0.0]
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="chain"):
        transcribe_mod.decode_defaults(ckpt)
