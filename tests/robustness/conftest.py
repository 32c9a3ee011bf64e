"""Shared fixtures for the robustness tests, and the corpus tally printed at the end of the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from harness import FILES_TRIED, TALLY  # noqa: E402  (needs the path above)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from harness import preload
    from make_corpus import build_corpus

    preload()
    return build_corpus(tmp_path_factory.mktemp("hostile"))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not TALLY:
        return
    terminalreporter.write_sep("-", "hostile-input corpus")
    terminalreporter.write_line(
        f"files tried: {len(FILES_TRIED)}, runs: {sum(TALLY.values())}, clean errors: {TALLY['clean_error']}, "
        f"sensible results: {TALLY['result']}, crashes: {TALLY['crash']}, hangs: {TALLY['hang']}, "
        f"wrong verdicts: {TALLY['wrong_verdict']}"
    )
