"""Perplexity pooling (with a stub scorer) and the `musestudio metrics` command."""

from __future__ import annotations

import json
import math
import sys
import types

import pytest

from musestudio.cli import main
from musestudio.core.errors import ModelError
from musestudio.core.notes import Note, NoteSequence
from musestudio.io.midi import write_midi
from musestudio.metrics import METRIC_NAMES
from musestudio.metrics.perplexity import perplexity, plausibility


@pytest.fixture
def stub_scorer(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Replace the generation module's scorer: nll/token = 0.1 * notes, tokens = 4 * notes."""
    calls: list[tuple[str, int]] = []

    def score_sequence(seq: NoteSequence, model: str, checkpoint: object = None) -> dict:
        calls.append((model, len(seq.notes)))
        if model == "gan":
            raise ModelError("the GAN has no likelihood")
        nll = 0.1 * len(seq.notes)
        return {"tokens": 4 * len(seq.notes), "nll_per_token": nll, "perplexity": math.exp(nll)}

    module = types.ModuleType("musestudio.ml.generate")
    module.score_sequence = score_sequence  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "musestudio.ml.generate", module)
    return calls


def piece(n: int) -> NoteSequence:
    return NoteSequence([Note(60 + i % 12, i * 0.25, i * 0.25 + 0.2) for i in range(n)])


def test_corpus_perplexity_is_pooled_per_token(stub_scorer: list) -> None:
    assert perplexity(piece(5), "lstm") == pytest.approx(math.exp(0.5))
    # 5 notes: 20 tokens at 0.5; 10 notes: 40 tokens at 1.0 -> exp((10 + 40) / 60).
    assert perplexity([piece(5), piece(10)], "lstm") == pytest.approx(math.exp(50 / 60))
    assert plausibility(piece(5)) == pytest.approx(math.exp(0.5))
    assert stub_scorer[-1][0] == "transformer"
    with pytest.raises(ModelError):
        perplexity(piece(3), "gan")


def test_metrics_command_json(tmp_path, capsys, stub_scorer: list) -> None:
    a = write_midi(piece(32), tmp_path / "a.mid")
    b = write_midi(piece(32).transpose(1), tmp_path / "b.mid")
    assert main(["metrics", str(a), str(b), "--reference", str(a), "--model", "lstm", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == [str(a), str(b)]
    assert list(out[str(a)])[: len(METRIC_NAMES)] == list(METRIC_NAMES)
    assert out[str(a)]["pitch_class_similarity"] == pytest.approx(100.0)
    assert out[str(a)]["perplexity"] == pytest.approx(math.exp(3.2))


def test_metrics_command_table_and_transcription(tmp_path, capsys) -> None:
    a = write_midi(piece(16), tmp_path / "a.mid")
    assert main(["metrics", str(a), "--transcription-reference", str(a)]) == 0
    text = capsys.readouterr().out
    assert "rhythmic_entropy" in text and "onset_f1" in text and "frame_f1" in text


def test_metrics_command_missing_file_is_one_line(tmp_path, capsys) -> None:
    assert main(["metrics", str(tmp_path / "nope.mid")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.mid" in err
