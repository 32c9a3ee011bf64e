"""fit-note-ends: the note-end read-out is fitted on clips of training-split pieces, reported cross-validated by
piece, and written where the decoder reads it; the CLI refuses anything else.

The network is stubbed: run_inference returns activations built from each clip's reference.  Every note's frame
head holds at 0.9 until its key is released, then rings on at 0.4 for half a second (a room's tail): the decoder's
frame threshold (0.3) ends every note half a second late, past mir_eval's offset tolerance, while the frame head
falling through 0.5 is the release.  The read-out must learn to end notes there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musestudio.core.notes import Note, NoteSequence
from musestudio.ml.activations import Activations
from tests.training.stub_transcriber import stub_checkpoint, write_clip_folder

FPS = 31.25
TAIL = 15  # frames


def clip(rng: np.random.Generator) -> NoteSequence:
    notes = []
    for i in range(40):
        t = 0.5 + 0.9 * i
        notes.append(Note(int(rng.integers(40, 70)), t, t + float(rng.uniform(0.25, 0.6)), 80))
    return NoteSequence(notes=notes)


def ringing(ref: NoteSequence) -> Activations:
    n = int(ref.duration * FPS) + 40
    onset, frame, offset, velocity = (np.zeros((n, 88), np.float32) for _ in range(4))
    energy = np.full((n, 88), -110.0, np.float32)
    for note in ref.notes:
        f, e, k = int(round(note.start * FPS)), int(round(note.end * FPS)), note.pitch - 21
        onset[f, k], velocity[f, k] = 0.95, 0.6
        frame[f:e, k], frame[e : e + TAIL, k] = 0.9, 0.4
        energy[f:e, k], energy[e : e + TAIL, k] = -40.0, -60.0
    return Activations(onset, frame, offset, velocity, np.zeros(n, np.float32), FPS,
                       level=np.full(n, -30.0, np.float32), key_energy=energy)


@pytest.fixture()
def checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return stub_checkpoint(tmp_path / "transcriber", {"onset_threshold": 0.6, "frame_threshold": 0.3}, monkeypatch,
                           ringing)


def test_fit_note_ends_learns_where_notes_end_and_writes_a_readable_model(
        tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from musestudio.ml import transcribe as transcribe_mod
    from musestudio.ml.decode import decode
    from training.__main__ import main

    rng = np.random.default_rng(3)
    folders = [write_clip_folder(tmp_path / f"train{i}", [clip(rng) for _ in range(3)], "train") for i in range(2)]
    report_file = tmp_path / "report.json"
    rc = main(["fit-note-ends", str(checkpoint), *folders, "--hidden", "8", "--members", "1", "--folds", "3",
               "--report", str(report_file), "--write"])
    assert rc == 0, capsys.readouterr().err
    report = json.loads(report_file.read_text())
    assert report["clips"] == 6 and report["pieces"] == 3
    assert report["shipped"]["onset_f1"] > 0.99  # onsets are not the read-out's business
    assert report["shipped"]["onset_offset_f1"] < 0.2  # every note rings half a second too long
    assert report["fitted"]["onset_offset_f1"] > 0.9
    assert report["fitted"]["onset_f1"] == pytest.approx(report["shipped"]["onset_f1"])
    settings = transcribe_mod.decode_defaults(checkpoint)
    assert settings.note_end_model is not None and settings.frame_threshold == 0.3
    meta = json.loads((checkpoint / "config.json").read_text())
    assert "note_end_model_fitted_on" in meta["decode"]
    # the written model ends a new clip's notes at their release
    ref = clip(np.random.default_rng(99))
    got = decode(ringing(ref), settings).notes
    assert len(got) == len(ref.notes)
    assert np.mean([abs(g.end - r.end) < 0.05 for g, r in zip(got, ref.notes, strict=True)]) > 0.9


def test_fit_note_ends_refuses_bad_input(tmp_path: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.__main__ import main

    rng = np.random.default_rng(4)
    train = write_clip_folder(tmp_path / "train", [clip(rng) for _ in range(3)], "train")
    validation = write_clip_folder(tmp_path / "validation", [clip(rng) for _ in range(3)], "validation")
    before = (checkpoint / "config.json").read_text()
    cases = [
        ([train, validation], "training-split"),
        ([train, str(tmp_path / "missing")], "not a folder"),
        ([train, "--members", "0"], "--members"),
        ([train, "--folds", "4"], "cross-validation needs 4"),  # 3 pieces
    ]
    for args, message in cases:
        assert main(["fit-note-ends", str(checkpoint), *args, "--write"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert (checkpoint / "config.json").read_text() == before  # nothing written
