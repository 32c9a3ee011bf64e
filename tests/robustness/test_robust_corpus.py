"""Every CLI command on every hostile file: a one-line error or a sensible result, never a traceback or a hang.

Commands run in process (through ``musestudio.cli.main``, in a worker thread
with a deadline, so a hang is reported as a hang), except a few that must be
started as real subprocesses: odd file names reach the program as raw bytes
only that way.  The end-of-run summary prints the counts (see conftest.py).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from harness import Outcome, explain, record, run_in_process, run_subprocess
from make_corpus import CORPUS, NON_UTF8_NAME, Entry, entry_by_id

IDS = [e.id for e in CORPUS]
SCORE_KINDS = ("midi", "musicxml", "text")


def command_available(name: str) -> bool:
    return importlib.util.find_spec(f"musestudio.commands.{name}") is not None


def check(entry: Entry, outcome: Outcome, *, strict_expectation: bool) -> None:
    verdict = record(entry.id, outcome, entry.expect, strict=strict_expectation)
    assert verdict not in ("crash", "hang"), f"{entry.id}: {verdict}\n{explain(outcome)}"
    if strict_expectation:
        if entry.expect == "ok":
            assert verdict == "result", f"{entry.id} should open\n{explain(outcome)}"
        elif entry.expect == "error":
            assert verdict == "clean_error", f"{entry.id} should be refused\n{explain(outcome)}"


@pytest.mark.parametrize("entry_id", IDS)
def test_info(corpus: dict[str, Path], entry_id: str) -> None:
    entry = entry_by_id(entry_id)
    outcome = run_in_process(["info", str(corpus[entry_id])], timeout=60)
    check(entry, outcome, strict_expectation=entry.kind != "project")
    if entry.kind == "project":
        assert outcome.verdict == "clean_error"  # info describes scores and audio, not projects
    if outcome.verdict == "result":
        assert "type" in outcome.stdout


@pytest.mark.parametrize("entry_id", IDS)
def test_export_to_midi(corpus: dict[str, Path], entry_id: str, tmp_path: Path) -> None:
    entry = entry_by_id(entry_id)
    out = tmp_path / "out.mid"
    outcome = run_in_process(["export", str(corpus[entry_id]), "-o", str(out)], timeout=60)
    check(entry, outcome, strict_expectation=entry.kind in SCORE_KINDS)
    if entry.kind in ("audio", "project"):
        assert outcome.verdict == "clean_error"  # audio and projects are not scores
    if outcome.verdict == "result":
        assert out.stat().st_size > 0
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name], "temporary file left behind"


WAV_EXPORTS = ["valid.mid", "far_future_note.mid", "tempo_slowest.mid", "zero_tick_notes.mid", "ppq_zero.mid"]


@pytest.mark.parametrize("entry_id", WAV_EXPORTS)
def test_export_to_wav(corpus: dict[str, Path], entry_id: str, tmp_path: Path) -> None:
    """Rendering writes every sample, so broken timing must be refused rather than rendered for hours."""
    entry = entry_by_id(entry_id)
    out = tmp_path / "out.wav"
    outcome = run_in_process(["export", str(corpus[entry_id]), "-o", str(out)], timeout=90)
    check(entry, outcome, strict_expectation=True)
    if entry_id == "far_future_note.mid":
        assert outcome.verdict == "clean_error"


@pytest.mark.skipif(not command_available("metrics"), reason="metrics command not present")
@pytest.mark.parametrize("entry_id", [e.id for e in CORPUS if e.kind in SCORE_KINDS])
def test_metrics(corpus: dict[str, Path], entry_id: str) -> None:
    entry = entry_by_id(entry_id)
    timeout = 20 if entry_id == "far_future_note.mid" else 60
    outcome = run_in_process(["metrics", "--json", str(corpus[entry_id])], timeout=timeout)
    check(entry, outcome, strict_expectation=False)


@pytest.mark.skipif(not command_available("transcribe"), reason="transcribe command not present yet")
@pytest.mark.parametrize("entry_id", [e.id for e in CORPUS if e.kind in ("audio", "text")] + ["valid.mid"])
def test_transcribe(corpus: dict[str, Path], entry_id: str, tmp_path: Path) -> None:
    entry = entry_by_id(entry_id)
    out = tmp_path / "out.mid"
    outcome = run_in_process(["transcribe", str(corpus[entry_id]), "-o", str(out)], timeout=120)
    check(entry, outcome, strict_expectation=False)
    if outcome.verdict != "result":
        assert not out.exists()


GENERATE_INPUTS = [
    "valid.mid",
    "empty.mid",
    "header_only.mid",
    "note_offs_never_come.mid",
    "zero_tick_notes.mid",
    "far_future_note.mid",
    "tempo_1us.mid",
    "tempo_slowest.mid",
    "notes_100k.mid",
    "text_renamed.mid",
    "valid.musicxml",
    "not_xml.musicxml",
    "valid.wav",
]


@pytest.mark.skipif(not command_available("generate"), reason="generate command not present yet")
@pytest.mark.parametrize("entry_id", GENERATE_INPUTS)
def test_generate(corpus: dict[str, Path], entry_id: str, tmp_path: Path) -> None:
    entry = entry_by_id(entry_id)
    out = tmp_path / "out.mid"
    args = ["generate", str(corpus[entry_id]), "-o", str(out), "--model", "markov", "--seconds", "2"]
    outcome = run_in_process(args, timeout=120)
    check(entry, outcome, strict_expectation=False)


# --- real subprocesses: what a shell or a file manager passes ---------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["info", "{corpus}/" + os.fsdecode(NON_UTF8_NAME)], id="info-non-utf8-name"),
        pytest.param(["export", "{corpus}/" + os.fsdecode(NON_UTF8_NAME), "-o", "{tmp}/caf\udce9.mid"], id="export-non-utf8"),
        pytest.param(["export", "{corpus}/valid.mid", "-o", "{tmp}/" + "x" * 251 + ".mid"], id="export-long-name"),
        pytest.param(["export", "{corpus}/valid.mid", "-o", "{tmp}/" + "x" * 300 + ".mid"], id="export-too-long-name"),
        pytest.param(["export", "{corpus}/valid.mid", "-o", "{tmp}/no/such/folder/out.mid"], id="export-missing-folder"),
        pytest.param(["info", "{corpus}/does-not-exist.mid"], id="info-missing-file"),
        pytest.param(["info", "{corpus}"], id="info-on-folder"),
        pytest.param(["info", "{corpus}/text_renamed.wav"], id="info-text-as-wav"),
        pytest.param(["{corpus}/not_xml.musicxml", "--screenshot", "{tmp}/shot.png"], id="open-broken-file-headless"),
    ],
)
def test_entry_point_subprocess(corpus: dict[str, Path], tmp_path: Path, args: list[str]) -> None:
    folder = str(next(iter(corpus.values())).parent)
    real = [os.fsencode(a.replace("{corpus}", folder).replace("{tmp}", str(tmp_path))) for a in args]
    outcome = run_subprocess(real, timeout=120)  # type: ignore[arg-type]
    verdict = record(" ".join(args), outcome, "either")
    assert verdict in ("result", "clean_error"), explain(outcome)


# --- batch commands over a whole hostile folder -----------------------------------------------


@pytest.mark.skipif(not command_available("evaluate"), reason="evaluate command not present")
@pytest.mark.parametrize("entry_id", ["valid.mid", "empty.mid", "notes_100k.mid", "far_future_note.mid", "not_xml.musicxml"])
def test_evaluate(corpus: dict[str, Path], entry_id: str) -> None:
    entry = entry_by_id(entry_id)
    outcome = run_in_process(["evaluate", "--model", "markov", "--json", str(corpus[entry_id])], timeout=60)
    check(entry, outcome, strict_expectation=False)


def _seed_folder(corpus: dict[str, Path], tmp_path: Path, ids: list[str]) -> Path:
    import shutil

    folder = tmp_path / "seeds"
    folder.mkdir()
    for eid in ids:
        shutil.copyfile(corpus[eid], folder / corpus[eid].name)
    return folder


@pytest.mark.skipif(not command_available("report"), reason="report command not present")
def test_report_over_every_hostile_midi_file(corpus: dict[str, Path], tmp_path: Path) -> None:
    seeds = _seed_folder(corpus, tmp_path, [e.id for e in CORPUS if e.name != NON_UTF8_NAME and str(e.name).endswith(".mid")])
    args = ["report", "--seeds", str(seeds), "--out", str(tmp_path / "out"), "--models", "markov", "--n", "3",
            "--seed-seconds", "1", "--seconds", "2", "--no-perplexity", "--quiet"]  # fmt: skip
    outcome = run_in_process(args, timeout=120)
    verdict = record("report:hostile-midi-folder", outcome, "either", strict=False)
    assert verdict in ("result", "clean_error"), explain(outcome)


@pytest.mark.skipif(not command_available("report"), reason="report command not present")
def test_report_with_a_non_utf8_file_name(corpus: dict[str, Path], tmp_path: Path) -> None:
    from make_corpus import scale_events, simple_midi, tempo_event

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    # Ten seconds of music, so that there is a seed and a continuation to cut.
    (seeds / os.fsdecode(NON_UTF8_NAME)).write_bytes(simple_midi(tempo_event(500_000) + scale_events(40)))
    args = ["report", "--seeds", str(seeds), "--out", str(tmp_path / "out"), "--models", "markov", "--n", "1",
            "--seed-seconds", "1", "--seconds", "2", "--no-perplexity", "--quiet"]  # fmt: skip
    outcome = run_in_process(args, timeout=120)
    verdict = record("report:non-utf8-name", outcome, "either", strict=False)
    assert verdict in ("result", "clean_error"), explain(outcome)


@pytest.mark.skipif(not command_available("models"), reason="models command not present")
def test_models_command_with_a_hostile_models_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken, tampered and pickle-based checkpoints in the models folder are listed or skipped, never fatal."""
    import pickle

    models = tmp_path / "models"
    (models / "no_config").mkdir(parents=True)
    (models / "bad_json").mkdir()
    (models / "bad_json" / "config.json").write_text("{oops")
    (models / "pickled").mkdir()
    marker = tmp_path / "PAYLOAD_RAN"
    (models / "pickled" / "model.pt").write_bytes(pickle.dumps(Path.touch) + pickle.dumps(str(marker)))
    (models / "wrong_arch").mkdir()
    (models / "wrong_arch" / "config.json").write_text('{"format_version": 1, "architecture": "rm -rf", "config": {}}')
    (models / "manifest.json").write_text("[not a manifest]")
    (models / "a_file_not_a_folder").write_text("x")
    monkeypatch.setenv("MUSESTUDIO_MODELS", str(models))
    outcome = run_in_process(["models", "--json"], timeout=60)
    verdict = record("models:hostile-folder", outcome, "either", strict=False)
    assert verdict in ("result", "clean_error"), explain(outcome)
    assert not marker.exists()
