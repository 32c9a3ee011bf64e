"""SQLite results: a transaction per answer, resumable sessions, and kill -9 safety with a real process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from musestudio.listening.manifest import ListeningTestError, load_manifest
from musestudio.listening.store import Answer, ResultsStore

RATINGS = {"coherence": 4, "human_likeness": 3, "originality": 2, "expressiveness": 5}


def test_answers_resume_and_finish(test_dir):
    m = load_manifest(test_dir)
    with ResultsStore.for_test(test_dir) as store:
        s = store.start_session(m)
        assert s.slot == 0 and len(s.plan) == m.clips_per_participant
        assert s.participant.startswith("P-")
        for pos in range(3):
            assert not store.record_answer(s.session_id, pos, Answer(s.plan[pos], RATINGS, pos % 2 == 0, "ok"))
        other = store.start_session(m)
        assert other.slot == 1 and other.plan != s.plan
    with ResultsStore.for_test(test_dir) as store:  # a new process/window: resume where it stopped
        (resumed,) = [x for x in store.unfinished_sessions() if x.session_id == s.session_id]
        assert resumed.next_position == 3 and resumed.plan == s.plan
        for pos in range(3, len(s.plan)):
            done = store.record_answer(s.session_id, pos, Answer(s.plan[pos], RATINGS, True))
        assert done
        assert store.session(s.session_id).finished
        assert [x.session_id for x in store.unfinished_sessions()] == [other.session_id]
        rows = store.answers()
        assert len(rows) == len(s.plan) and rows[0].comment == "ok" and rows[0].ratings == RATINGS


def test_bad_answers_are_refused_with_one_line(test_dir):
    m = load_manifest(test_dir)
    with ResultsStore.for_test(test_dir) as store:
        s = store.start_session(m)
        with pytest.raises(ListeningTestError, match="not at position"):
            store.record_answer(s.session_id, 0, Answer(s.plan[1], RATINGS, True))
        with pytest.raises(ListeningTestError, match="from 1 to 5"):
            store.record_answer(s.session_id, 0, Answer(s.plan[0], {**RATINGS, "coherence": 6}, True))
        store.record_answer(s.session_id, 0, Answer(s.plan[0], RATINGS, True))
        with pytest.raises(ListeningTestError, match="already answered"):
            store.record_answer(s.session_id, 0, Answer(s.plan[0], RATINGS, False))
        assert len(store.answers()) == 1


CHILD = r"""
import sys, time
from musestudio.listening.manifest import load_manifest
from musestudio.listening.store import Answer, ResultsStore
folder, pause = sys.argv[1], float(sys.argv[2])
m = load_manifest(folder)
store = ResultsStore.for_test(folder)
s = store.start_session(m)
print("session", s.session_id, flush=True)
ratings = {"coherence": 4, "human_likeness": 3, "originality": 2, "expressiveness": 5}
for pos, clip in enumerate(s.plan):
    time.sleep(pause)  # the participant listening and answering
    store.record_answer(s.session_id, pos, Answer(clip, ratings, True, "x" * 200))
    print("answered", pos, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("pause", [0.15, 0.0])
def test_kill_9_mid_session_loses_at_most_the_current_clip(test_dir, pause):
    """A real process answers clips; it is killed with SIGKILL; every answer it reported committed survives."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(test_dir), str(pause)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        session = proc.stdout.readline().split()[1]
        committed = -1
        deadline = time.monotonic() + 30
        while committed < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("answered"):
                committed = int(line.split()[1])
        if pause == 0.0:
            time.sleep(0.003)  # kill while it is writing, not between answers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        for line in proc.stdout:  # lines it printed before dying count as committed too
            if line.startswith("answered"):
                committed = int(line.split()[1])
    finally:
        if proc.poll() is None:
            proc.kill()
    assert committed >= 2
    db = sqlite3.connect(test_dir / "results.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with ResultsStore.for_test(test_dir) as store:
        s = store.session(session)
        # every answer reported as done is there; at most the one being written when killed is missing
        assert s.answered >= committed + 1
        assert s.answered <= committed + 2
        positions = [r.position for r in store.answers() if r.session_id == session]
        assert positions == list(range(s.answered))  # no gap, no half-written row
        if not s.finished:  # the participant resumes at the first unanswered clip
            store.record_answer(session, s.next_position, Answer(s.plan[s.next_position], RATINGS, False))
