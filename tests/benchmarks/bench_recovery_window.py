"""How soon after an edit does a kill -9 stop losing it?  (issue 17: no lost work)

For each delay, a real app process (tests/robustness/recovery_driver.py) opens the demo, makes
one edit, waits DELAY seconds, and is killed with SIGKILL; a new process restores the snapshot
and we check whether that edit survived.  Prints one line per delay: survived / runs.

    .venv/bin/python tests/benchmarks/bench_recovery_window.py [--runs 3] [--delays 0.1,0.3,0.6,1.0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "robustness"))


def main() -> int:
    from test_robust_no_lost_work import App, _demo  # the kill -9 harness of the tests

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delays", default="0.1,0.3,0.6,1.0")
    args = parser.parse_args()
    for delay in (float(d) for d in args.delays.split(",")):
        survived = 0
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MUSESTUDIO_STATE_DIR": f"{tmp}/state",
                       "MUSESTUDIO_SETTINGS": f"{tmp}/settings.ini", "OMP_NUM_THREADS": "1"}
                app = App(env)
                app(f"open {_demo()}")
                edited = app("edit 3")["notes"]
                time.sleep(delay)
                app.kill()
                again = App(env)
                out = again("recover yes")
                survived += bool(out["restored"] and out["notes"] == edited)
                again.close("discard")
        print(f"kill {delay:.1f} s after the edit: the edit survived in {survived}/{args.runs} runs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
