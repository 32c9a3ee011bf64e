"""Shared by the decoder read-out fits' tests (fit-velocity, fit-note-filter): folders of clip MIDIs with the
meta.json that names their pieces, and a tiny transcriber checkpoint whose inference is stubbed from each
clip's reference MIDI, so the fits see activations the test controls."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from musestudio.core.notes import NoteSequence
from musestudio.io.midi import write_midi
from musestudio.ml.activations import Activations


def write_clip_folder(folder: Path, clips: list[NoteSequence], split: str | None = None) -> str:
    """clip_<i>.mid (and an empty clip_<i>.wav: a pair needs the file; the stub never reads it) for piece<i>,
    so every folder written this way holds the same pieces; meta.json carries ``split`` when given."""
    folder.mkdir()
    files = []
    for i, seq in enumerate(clips):
        write_midi(seq, folder / f"clip_{i}.mid")
        (folder / f"clip_{i}.wav").write_bytes(b"")
        files.append({"file": f"clip_{i}", "piece": f"piece{i}"})
    (folder / "meta.json").write_text(json.dumps({"files": files} if split is None else {"split": split, "files": files}))
    return str(folder)


def tiny_transcriber(folder: Path, decode: dict, loudness: str | None = None) -> Path:
    """A tiny (untrained) transcriber checkpoint in ``folder`` with ``decode`` as its config.json decode block:
    what the decoder read-outs' config checks and stubbed fits need."""
    import torch

    from musestudio.dsp.features import FeatureConfig
    from musestudio.ml.checkpoint import save_checkpoint
    from musestudio.ml.models.transcriber import TranscriberConfig, TranscriberModel

    config = TranscriberConfig(conv1=4, conv2=4, hidden=16, temporal_layers=2)
    torch.manual_seed(0)
    features = FeatureConfig() if loudness is None else FeatureConfig(loudness=loudness)
    save_checkpoint(folder, "transcriber", dataclasses.asdict(config), TranscriberModel(config).state_dict(),
                    extra={"features": features.to_dict(), "decode": decode})
    return folder


def stub_checkpoint(folder: Path, decode: dict, monkeypatch: pytest.MonkeyPatch,
                    activations_of: Callable[[NoteSequence], Activations]) -> Path:
    """A tiny transcriber checkpoint with ``decode`` as its decode block; run_inference on a clip returns
    ``activations_of`` its reference MIDI (the WAV's neighbour)."""
    from musestudio.io.midi import read_midi
    from musestudio.ml import transcribe as transcribe_mod

    tiny_transcriber(folder, decode, loudness="running")
    monkeypatch.setattr(transcribe_mod, "run_inference",
                        lambda wav, _ck: activations_of(read_midi(Path(wav).with_suffix(".mid"))))
    return folder
