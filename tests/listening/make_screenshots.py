"""Screenshots of the listening test for the README, taken from real windows (run under xvfb-run).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tests/listening/make_screenshots.py TEST_DIR

TEST_DIR is a built test (``musestudio listening-test new``).  The participant
window is shown mid-test; the results panel is filled with answers from
*simulated* listeners (musestudio.listening.simulate), since no class has taken
the test: the screenshot shows the panel, not a finding.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "resources" / "screenshots"


def simulate_answers(folder: Path, participants: int = 24) -> None:
    from musestudio.listening.manifest import DIMENSIONS, load_manifest
    from musestudio.listening.simulate import Population
    from musestudio.listening.store import Answer, ResultsStore

    m = load_manifest(folder)
    pop = Population()
    rng = np.random.default_rng(7)
    with ResultsStore.for_test(folder) as store:
        for _ in range(participants):
            s = store.start_session(m)
            bias = rng.normal(0, pop.participant_sd)
            for pos, cid in enumerate(s.plan):
                cat = m.clip(cid).category
                raw = pop.means[cat] + bias + rng.normal(0, pop.noise_sd, len(DIMENSIONS))
                ratings = {d: int(np.clip(round(v), 1, 5)) for d, v in zip(DIMENSIONS, raw)}
                store.record_answer(s.session_id, pos, Answer(cid, ratings, bool(rng.random() < pop.human_rates[cat])))


def grab(widget, name: str, app) -> None:
    for _ in range(20):
        app.processEvents()
    path = OUT / name
    widget.grab().save(str(path), "PNG")
    print("wrote", path)


def main(test_dir: str) -> int:
    from musestudio.gui.app import create_app
    from musestudio.gui.theme import apply_theme

    app = create_app()
    apply_theme("dark")
    with tempfile.TemporaryDirectory() as tmp:
        running = Path(tmp) / "running"
        shutil.copytree(test_dir, running)
        from musestudio.gui.listening.runner import ParticipantWindow

        pw = ParticipantWindow(running)
        pw.resize(780, 700)
        pw.show()
        pw.start_new()
        pw._ask_export_path = lambda: str(Path(tmp) / "piece.wav")
        for _pos in range(2):  # two answers given; the third piece on screen
            pw.export_audio()
            pw.sliders["coherence"].setValue(4)
            pw.ai_radio.click()
            pw.submit()
        pw.sliders["coherence"].setValue(4)
        pw.sliders["human_likeness"].setValue(2)
        pw.sliders["expressiveness"].setValue(3)
        pw.human_radio.click()
        pw.comment.setPlainText("Nice opening, the left hand gets lost after the first phrase.")
        grab(pw, "listening_participant.png", app)
        pw.close()
        results = Path(tmp) / "results"
        shutil.copytree(test_dir, results)
        simulate_answers(results)
        from musestudio.gui.listening import open_listening_window

        w = open_listening_window(None)
        w.resize(1150, 760)
        w.open_test(results)
        w.statusBar().showMessage("Results of 24 simulated listeners (musestudio.listening.simulate), for illustration")
        grab(w, "listening_results.png", app)
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
