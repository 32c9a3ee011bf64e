"""`musestudio report` end to end, with a stub generation module (the real models are tested elsewhere)."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
from dataclasses import dataclass

import pytest

from musestudio.cli import main
from musestudio.core.errors import ModelError
from musestudio.core.notes import Note, NoteSequence
from musestudio.core.progress import run_work
from musestudio.io.midi import write_midi
from musestudio.metrics.report import PAPER, Example, ReportSettings, build_report_work, cut_seed, summarize


@dataclass
class StubSettings:
    model: str = "transformer"
    seconds: float | None = 20.0
    temperature: float = 1.0
    random_seed: int | None = None


def stub_generate(seed: NoteSequence, settings: StubSettings, on_progress=None, cancel=None) -> list[NoteSequence]:
    """'lstm' repeats the seed's last 2 s; 'transformer' transposes it; 'gan' raises ModelError; 'markov' crashes."""
    if settings.model == "gan":
        raise ModelError("no GAN checkpoint shipped")
    if settings.model == "markov":
        raise RuntimeError("boom")
    end = seed.duration
    tail = seed.slice(end - 2.0, end)
    shift = 1 if settings.model == "transformer" else 0
    notes = [dataclasses.replace(n, start=n.start + 2.0 * k + 2.0, end=n.end + 2.0 * k + 2.0, pitch=n.pitch + shift)
             for k in range(int(settings.seconds // 2)) for n in tail.notes]
    return [NoteSequence(notes)]


def stub_score(seq: NoteSequence, model: str, checkpoint=None) -> dict:
    if model == "gan":
        raise ModelError("no likelihood")
    return {"tokens": 3 * len(seq.notes), "nll_per_token": 1.0, "perplexity": math.e}


@pytest.fixture
def stub_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("musestudio.ml.generate")
    module.GenerationSettings = StubSettings  # type: ignore[attr-defined]
    module.generate = stub_generate  # type: ignore[attr-defined]
    module.score_sequence = stub_score  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "musestudio.ml.generate", module)


def performance(seconds: float, root: int) -> NoteSequence:
    """A waltz-ish piece: a chord per beat cycling I-IV-V-I, with a melody on off-beats."""
    notes = []
    chords = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)]
    t, i = 0.0, 0
    while t < seconds:
        for off in chords[(i // 3) % 4]:
            notes.append(Note(48 + root + off, t, t + 0.45, 60 + (i % 7)))
        notes.append(Note(72 + root + chords[(i // 3) % 4][i % 3], t + 0.25, t + 0.5, 70))
        t += 0.5 + 0.01 * (i % 3)
        i += 1
    return NoteSequence(notes)


def test_cut_seed_keeps_absolute_times() -> None:
    seq = performance(40, 0).shift_time(1.0)
    seed, human = cut_seed(seq, 10, 20)
    assert seed.start_time == pytest.approx(1.0)
    assert all(n.start < 11.0 for n in seed.notes)
    assert min(n.start for n in human.notes) >= 11.0 and max(n.start for n in human.notes) < 31.0


def test_report_command_writes_tables_plots_and_missing_models(tmp_path, stub_generation, capsys) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for k in range(3):
        write_midi(performance(35, k * 2), seeds / f"piece{k}.mid")
    out = tmp_path / "report"
    rc = main(["report", "--seeds", str(seeds), "--out", str(out), "--n", "2", "--quiet",
               "--models", "lstm,transformer,gan,markov"])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "gan: missing (no GAN checkpoint shipped)" in text
    assert "markov: missing (failed: RuntimeError: boom)" in text
    md = (out / "report.md").read_text()
    for title in ("Table 2", "Table 3", "Table 5", "| LSTM |", "| Transformer |", "| Human |"):
        assert title in md
    assert str(PAPER["table5"]["Human"]["rhythmic_entropy"]) in md
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    for name in ("pitch_class_histograms", "duration_histograms", "ioi_histograms", "velocity_distributions"):
        assert (out / f"{name}.png").stat().st_size > 1000
    data = json.loads((out / "report.json").read_text())
    assert data["pieces"] == ["piece0", "piece1"]
    rows = data["rows"]
    assert set(rows) == {"lstm", "transformer", "seed_repeat", "human"}
    # The LSTM stub repeats the seed's own material: its pitch classes match the seed exactly-ish;
    # the transformer stub is a semitone off, so it must score lower.
    assert rows["lstm"]["pitch_class_similarity"] > rows["transformer"]["pitch_class_similarity"]
    # Perplexity from the stub: exp(1) for likelihood models, none for the human row.
    assert rows["lstm"]["perplexity"] == pytest.approx(math.e)
    assert rows["human"]["perplexity"] is None
    assert rows["human"]["plausibility"] == pytest.approx(math.e)
    assert len(list((out / "midi").glob("*.mid"))) == 2 * 5  # seed, human, two models, baseline
    lo, hi = data["ci95"]["human"]["velocity_mean"]
    assert lo <= rows["human"]["velocity_mean"] <= hi


def test_a_model_that_outputs_the_human_continuation_scores_like_the_human_row() -> None:
    seed, human = cut_seed(performance(35, 0), 10, 20)
    rows, _ = summarize([Example("x", seed, human, {"lstm": human})], ["lstm"], ReportSettings(with_perplexity=False))
    assert rows["lstm"]["harmonic_consistency"] == pytest.approx(rows["human"]["harmonic_consistency"], nan_ok=True)
    for name, value in rows["human"].items():
        assert rows["lstm"][name] == pytest.approx(value, nan_ok=True)


def test_no_usable_seed_gives_an_empty_report() -> None:
    data = run_work(build_report_work([], ReportSettings(models=("lstm",), with_perplexity=False)))
    assert data.examples == []
    assert all(math.isnan(v) for v in data.rows["human"].values())


def test_report_rejects_a_folder_without_midi(tmp_path, capsys) -> None:
    assert main(["report", "--seeds", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    assert "no MIDI files" in capsys.readouterr().err


def test_seed_repeat_baseline_fills_the_continuation() -> None:
    from musestudio.metrics.report import repeat_seed

    seed, _ = cut_seed(performance(35, 0).shift_time(2.0), 10, 20)
    rep = repeat_seed(seed, 10, 20)
    assert min(n.start for n in rep.notes) >= 12.0 and max(n.start for n in rep.notes) < 32.0
    # Two copies of the seed: twice its notes (give or take the notes cut at the ends).
    assert abs(len(rep.notes) - 2 * len(seed.notes)) <= 6


def test_listening_test_folder_that_is_not_one_ends_with_one_line(tmp_path, stub_generation, capsys) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    write_midi(performance(35, 0), seeds / "piece.mid")
    not_a_test = tmp_path / "empty"
    not_a_test.mkdir()
    rc = main(["report", "--seeds", str(seeds), "--out", str(tmp_path / "r"), "--n", "1", "--quiet",
               "--models", "lstm", "--no-perplexity", "--listening-test", str(not_a_test)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "r" / "report.md").exists()  # nothing half-written
