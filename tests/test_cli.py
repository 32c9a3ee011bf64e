"""The foundation CLI: info, export, bad input, and an instant --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from musestudio.cli import main

PY = sys.executable


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [PY, "-m", "musestudio", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_help_imports_no_heavy_modules():
    code = (
        "import sys, contextlib, io\n"
        "from musestudio.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "heavy = [m for m in ('torch', 'PySide6', 'pyqtgraph', 'music21', 'scipy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""


def test_info_json(demo_midi, capsys):
    assert main(["info", str(demo_midi), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)[str(demo_midi)]
    assert info["notes"] == 419 and info["time_signature"] == "2/4" and info["key_signature"] == "Ab major"


@pytest.mark.parametrize("ext", [".mid", ".musicxml", ".wav"])
def test_export_formats(demo_midi, tmp_path, ext):
    out = tmp_path / f"demo{ext}"
    assert main(["export", str(demo_midi), "-o", str(out)]) == 0
    assert out.stat().st_size > 1000


def test_export_refuses_to_overwrite(demo_midi, tmp_path, capsys):
    out = tmp_path / "x.mid"
    out.write_bytes(b"keep me")
    assert main(["export", str(demo_midi), "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    assert main(["export", str(demo_midi), "-o", str(out), "--force"]) == 0
    assert out.read_bytes()[:4] == b"MThd"


def _bad_files(tmp: Path, demo_midi: Path) -> dict[str, Path]:
    files = {
        "missing": tmp / "nope.mid",
        "wrong_ext": tmp / "notes.txt",
        "zero_mid": tmp / "zero.mid",
        "truncated_mid": tmp / "cut.mid",
        "not_xml": tmp / "bad.musicxml",
        "bad_audio": tmp / "bad.wav",
    }
    files["wrong_ext"].write_text("hello")
    files["zero_mid"].write_bytes(b"")
    files["truncated_mid"].write_bytes(demo_midi.read_bytes()[:30])
    files["not_xml"].write_text("just text, not xml")
    files["bad_audio"].write_bytes(b"RIFF....WAVEfmt garbage")
    return files


@pytest.mark.parametrize("case", ["missing", "wrong_ext", "zero_mid", "truncated_mid", "not_xml", "bad_audio"])
def test_bad_input_is_one_clean_line(case, tmp_path, demo_midi):
    path = _bad_files(tmp_path, demo_midi)[case]
    proc = run_cli("info", str(path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("musestudio: error:") and path.name in lines[0]


def test_export_unknown_target_extension(demo_midi, tmp_path):
    proc = run_cli("export", str(demo_midi), "-o", str(tmp_path / "x.pdf"))
    assert proc.returncode == 1 and "cannot export" in proc.stderr and "Traceback" not in proc.stderr
