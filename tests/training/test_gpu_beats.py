"""The GPU entry of the beat tracker (training/gpu/beats.py): what it carries and how it calls the trainer."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.gpu.beats import CACHE_FILES, build, train_argv


def test_build_copies_the_caches_and_refuses_what_cannot_travel(tmp_path: Path) -> None:
    src = tmp_path / "cache"
    src.mkdir()
    with pytest.raises(SystemExit, match=CACHE_FILES[0]):
        build(str(src), str(tmp_path / "out"))
    for i, f in enumerate(CACHE_FILES):
        (src / f).write_bytes(b"x" * (100 + i))
    with pytest.raises(SystemExit, match="MiB"):
        build(str(src), str(tmp_path / "out"), budget=150)
    out = build(str(src), str(tmp_path / "out"))
    assert sorted(p.name for p in out.iterdir()) == sorted(CACHE_FILES)


def test_the_run_keeps_the_shipped_recipe_and_the_check_stays_on_the_cpu() -> None:
    gpu = train_argv("c", "r", "models/beat_tracker", 7.4, check=False)
    for flag in ("--split-half-beats", "--split-slow-compound", "--synthetic-share"):
        assert flag in gpu
    assert gpu[gpu.index("--max-minutes") + 1] == "7.40" and "--device" not in gpu  # cuda when available
    check = train_argv("c", "r", "models/beat_tracker", 7.4, check=True)
    assert check[check.index("--device") + 1] == "cpu" and check[check.index("--stop-after") + 1] == "1"
