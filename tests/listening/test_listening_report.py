"""Report, CSV, the paper-style table for `musestudio report`, and the CLI from build to report."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from musestudio.cli import main
from musestudio.listening.manifest import load_manifest
from musestudio.listening.report import add_listening_tables, export_csv, paper_table, write_report
from musestudio.listening.stats import analyze_test
from musestudio.listening.store import Answer, ResultsStore


def fill(folder, participants=4, seed=0):
    """Participants who like human clips best; returns the number of answers."""
    m = load_manifest(folder)
    rng = np.random.default_rng(seed)
    n = 0
    with ResultsStore.for_test(folder) as store:
        for _ in range(participants):
            s = store.start_session(m)
            for pos, cid in enumerate(s.plan):
                clip = m.clip(cid)
                base = 4 if clip.is_human else 2
                r = {d: int(np.clip(base + rng.integers(-1, 2), 1, 5)) for d in
                     ("coherence", "human_likeness", "originality", "expressiveness")}
                store.record_answer(s.session_id, pos, Answer(cid, r, bool(clip.is_human or rng.random() < 0.3)))
                n += 1
    return n


def test_report_files_and_csv(test_dir, tmp_path):
    n = fill(test_dir)
    path = write_report(test_dir)
    out = path.parent
    for name in ("report.md", "report.html", "answers.csv", "mos.png", "judged_human.png"):
        assert (out / name).stat().st_size > 100, name
    md = path.read_text()
    assert "Table 4 style" in md and "| Human |" in md and "4.8" in md  # the paper's human MOS beside ours
    with open(export_csv(test_dir, tmp_path / "a.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n
    assert {r["category"] for r in rows} == {"human", "lstm", "gan"}
    assert all(r["correct"] == str(int(r["judged_human"] == r["is_human"])) for r in rows)


def test_paper_table_and_metrics_report_hook(test_dir):
    from musestudio.metrics.report_data import ReportData, ReportSettings

    fill(test_dir)
    _, analysis = analyze_test(test_dir)
    header, rows = paper_table(analysis)
    assert header[0] == "Model" and "Paper overall MOS" in header
    by_model = {r[0]: r for r in rows}
    assert by_model["LSTM"][header.index("Paper overall MOS")] == "3.2"
    assert by_model["Human"][header.index("Paper Turing rate")] == "not reported"
    data = ReportData(ReportSettings(), [], {"lstm": {"harmonic_consistency": 71.234}, "human": {}}, {}, {})
    add_listening_tables(data, test_dir)
    assert len(data.extra_tables) == 2
    beside = data.extra_tables[1]
    assert beside.header[-1] == "harmonic_consistency"
    assert [r[-1] for r in beside.rows] == ["–", "71.23", "–"]  # human, lstm, gan


def test_cli_new_export_report(tmp_path, tiny_seeds, capsys):
    folder = tmp_path / "t"
    code = main(["listening-test", "new", str(folder), "--add", f"human={tiny_seeds[0]}", "--add",
                 f"human={tiny_seeds[1]}", "--add", f"gan={tiny_seeds[2]}", "--add", f"gan={tiny_seeds[3]}",
                 "--seed-seconds", "0.5", "--seconds", "0.8", "--quiet", "--title", "CLI test"])
    assert code == 0
    assert "4 clips (human 2, gan 2)" in capsys.readouterr().out
    assert main(["listening-test", "export-html", str(folder), "-o", str(tmp_path / "p.html"), "--slots", "3"]) == 0
    assert main(["listening-test", "export-html", str(folder), "-o", str(tmp_path / "p.html")]) == 1
    assert "already exists" in capsys.readouterr().err
    fill(folder, participants=2)
    capsys.readouterr()
    assert main(["listening-test", "status", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "4 clips (Human 2, GAN 2)" in out and "participants: 2 finished, 0 unfinished (8 answers)" in out
    assert main(["listening-test", "report", str(folder), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.html").is_file()
    assert main(["listening-test", "new", str(folder), "--add", f"human={tiny_seeds[0]}"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["listening-test", "report", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a listening-test folder" in err


@pytest.mark.parametrize("argv", [["listening-test", "new", "x"], ["listening-test", "import", "x", "missing.json"]])
def test_cli_errors_are_one_line(tmp_path, argv, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("musestudio: error:")


def test_cli_run_refuses_a_folder_that_is_not_a_test(tmp_path, capsys):
    assert main(["listening-test", "run", str(tmp_path)]) == 1
    assert "not a listening-test folder" in capsys.readouterr().err
