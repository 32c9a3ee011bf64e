"""Run a CLI command on a hostile file, in process or as a real subprocess, and judge the outcome."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# verdict -> count for the end-of-run summary (conftest prints it); FILES_TRIED holds distinct inputs.
TALLY: Counter[str] = Counter()
FILES_TRIED: set[str] = set()


@dataclass
class Outcome:
    returncode: int | None  # None: it did not finish in time
    stdout: str
    stderr: str

    @property
    def verdict(self) -> str:
        """'result', 'clean_error', 'crash' or 'hang'.

        A clean error is exit status 1 with exactly one line of ours on stderr
        (Qt's own plugin chatter in GUI runs is not ours and is ignored).
        """
        if self.returncode is None:
            return "hang"
        if "Traceback" in self.stderr or "internal error" in self.stderr:
            return "crash"
        if self.returncode == 0:
            return "result"
        ours = [ln for ln in self.stderr.splitlines() if ln.startswith("musestudio")]
        if self.returncode == 1 and len(ours) == 1:
            return "clean_error"
        return "crash"


def preload() -> None:
    """Import the heavy readers once, so that every forked run starts with them loaded."""
    import music21.converter  # noqa: F401
    import soundfile  # noqa: F401
    import symusic  # noqa: F401

    import musestudio.cli
    import musestudio.io.formats
    import musestudio.io.musicxml  # noqa: F401

    # torch and the model code, when they exist (children run torch single-threaded: see _child).
    for name in ("torch", "musestudio.ml.generate", "musestudio.ml.transcribe", "musestudio.metrics"):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def run_in_process(args: list[str], timeout: float = 60.0) -> Outcome:
    """``musestudio ARGS`` through ``cli.main`` in a forked child: no start-up cost, and a hang can be killed.

    The child inherits everything this test process has imported, so each run
    costs only the command itself; output goes to files that the parent reads
    back.  A child still running at the deadline is killed and reported as a hang.
    """
    import multiprocessing
    import tempfile

    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="musestudio-run-") as tmp:
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        proc = ctx.Process(target=_child, args=(args, str(out_path), str(err_path)), daemon=True)
        proc.start()
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join(10)
            return Outcome(None, _read(out_path), _read(err_path))
        return Outcome(proc.exitcode, _read(out_path), _read(err_path))


def _read(path: Path) -> str:
    return path.read_bytes().decode(errors="replace") if path.exists() else ""


def _child(args: list[str], out_path: str, err_path: str) -> None:
    # Runs in the forked process: point fds 1/2 (and Python's streams) at files, then exit with main's code.
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
    sys.stdout = open(1, "w", encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    code = 99
    try:
        # A forked child must not enter torch's OpenMP pool: when the parent
        # already used it (earlier tests ran models), GNU OpenMP hangs in the
        # child.  One thread makes torch run its loops inline.
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
        from musestudio.cli import main

        code = main(args)
    except SystemExit as exc:  # argparse errors
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # main() must never let one through
        import traceback

        sys.stderr.write("Traceback (escaped main):\n" + traceback.format_exc())
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code))


def run_subprocess(args: list[str | bytes | os.PathLike[str]], timeout: float = 120.0) -> Outcome:
    """The real entry point, as a shell would start it (file names may be non-UTF-8 bytes)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    env.pop("MUSESTUDIO_DEBUG", None)
    cmd = [sys.executable, "-m", "musestudio", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=REPO, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        return Outcome(None, (exc.stdout or b"").decode(errors="replace"), (exc.stderr or b"").decode(errors="replace"))
    return Outcome(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


def record(file_id: str, outcome: Outcome, expect: str, *, strict: bool = True) -> str:
    """Tally the outcome for the end-of-run summary; returns its verdict."""
    verdict = outcome.verdict
    FILES_TRIED.add(file_id)
    TALLY[verdict] += 1
    wrong = (expect == "ok" and verdict == "clean_error") or (expect == "error" and verdict == "result")
    if strict and wrong:
        TALLY["wrong_verdict"] += 1
    return verdict


def explain(outcome: Outcome) -> str:
    return f"rc={outcome.returncode}\n--- stdout ---\n{outcome.stdout[-2000:]}\n--- stderr ---\n{outcome.stderr[-4000:]}"
