"""A GUI smoke test in a real X server: open, generate, accept, transcribe, export, close (see xvfb_smoke.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("xvfb_smoke.py")


@pytest.mark.slow
def test_smoke_in_a_real_x_server(tmp_path: Path) -> None:
    if shutil.which("xvfb-run") is None or shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (packaging/bootstrap.sh installs it)")
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(MUSESTUDIO_SETTINGS=str(tmp_path / "settings.ini"), MUSESTUDIO_STATE_DIR=str(tmp_path / "state"),
               OMP_NUM_THREADS="1")
    run = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, str(SCRIPT), str(tmp_path)],
        check=False, env=env, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["platform"] == "xcb"
    assert report["accepted"]["notes"] == report["accepted"]["expected"]
    assert report["transcribed_notes"] > 0
    layers = report["layers"]
    assert report["exported_tracks"] == ["Conductor", *layers] or report["exported_tracks"] == layers  # one per layer
    assert report["close_asked_to_save"] and report["closed"] and report["errors"] == []
    for name in ("1_open", "2_generated", "3_accepted", "4_transcribed"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
