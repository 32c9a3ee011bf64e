"""Results in SQLite: one transaction per answer, so a crash loses at most the clip being answered.

Every answer is committed on its own (WAL journal, ``synchronous=FULL``): once
:meth:`ResultsStore.record_answer` returns, the answer survives a kill -9 of
the app and a power cut.  A session stores its planned clip order, so it can
be resumed at the first unanswered clip.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from musestudio.listening.manifest import (
    DIMENSIONS,
    MOS_MAX,
    MOS_MIN,
    RESULTS_NAME,
    ListeningManifest,
    ListeningTestError,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    participant TEXT NOT NULL,
    slot INTEGER NOT NULL,
    plan TEXT NOT NULL,              -- JSON list of clip ids in playing order
    source TEXT NOT NULL,            -- 'app' or 'html'
    started_at TEXT NOT NULL,
    finished_at TEXT,
    imported_file_sha256 TEXT UNIQUE -- remote results: the file's digest (refuses duplicates)
);
CREATE TABLE IF NOT EXISTS answers (
    session_id TEXT NOT NULL REFERENCES sessions(session_id),
    position INTEGER NOT NULL,
    clip_id TEXT NOT NULL,
    coherence INTEGER NOT NULL,
    human_likeness INTEGER NOT NULL,
    originality INTEGER NOT NULL,
    expressiveness INTEGER NOT NULL,
    judged_human INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    listened_seconds REAL NOT NULL DEFAULT 0,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (session_id, position)
);
"""
MAX_COMMENT = 4000


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_participant_id() -> str:
    """Anonymous and easy to read aloud: letters and digits without look-alikes (no 0/O, 1/I)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "P-" + "".join(secrets.choice(alphabet) for _ in range(5))


@dataclass(frozen=True)
class Answer:
    """One participant's answer to one clip."""

    clip_id: str
    ratings: dict[str, int]  # dimension -> 1..5
    judged_human: bool
    comment: str = ""
    listened_seconds: float = 0.0

    def validate(self) -> None:
        if set(self.ratings) != set(DIMENSIONS):
            raise ListeningTestError(f"an answer needs the ratings {', '.join(DIMENSIONS)}")
        for dim, value in self.ratings.items():
            if not isinstance(value, int) or isinstance(value, bool) or not MOS_MIN <= value <= MOS_MAX:
                raise ListeningTestError(f"rating '{dim}' must be a whole number from {MOS_MIN} to {MOS_MAX}")
        if not isinstance(self.judged_human, bool):
            raise ListeningTestError("the human/AI choice must be true or false")
        if not isinstance(self.comment, str) or len(self.comment) > MAX_COMMENT:
            raise ListeningTestError(f"a comment must be text of at most {MAX_COMMENT} characters")


@dataclass
class Session:
    session_id: str
    participant: str
    slot: int
    plan: list[str]
    source: str
    started_at: str
    finished_at: str | None
    answered: int

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def next_position(self) -> int:
        return self.answered


@dataclass(frozen=True)
class AnswerRow:
    """An answer with its session, for analysis and export."""

    session_id: str
    participant: str
    slot: int
    source: str
    position: int
    clip_id: str
    ratings: dict[str, int]
    judged_human: bool
    comment: str
    listened_seconds: float
    answered_at: str


class ResultsStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ListeningTestError(f"{self.path}: results database cannot be opened ({exc})") from None

    @classmethod
    def for_test(cls, folder: str | os.PathLike[str]) -> ResultsStore:
        return cls(Path(folder) / RESULTS_NAME)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sessions -------------------------------------------------------------------------------
    def used_slots(self) -> set[int]:
        return {int(r[0]) for r in self._db.execute("SELECT slot FROM sessions")}

    def next_slot(self) -> int:
        used = self.used_slots()
        slot = 0
        while slot in used:
            slot += 1
        return slot

    def start_session(
        self, manifest: ListeningManifest, *, participant: str | None = None, slot: int | None = None, source: str = "app"
    ) -> Session:
        from musestudio.listening.design import schedule

        self._db.execute("BEGIN IMMEDIATE")  # slot choice and insert in one step: two windows never share a slot
        try:
            slot = self.next_slot() if slot is None else slot
            plan = schedule(manifest, slot)
            sid = secrets.token_hex(8)
            who = participant or new_participant_id()
            started = now_iso()
            self._db.execute(
                "INSERT INTO sessions (session_id, participant, slot, plan, source, started_at) VALUES (?,?,?,?,?,?)",
                (sid, who, slot, json.dumps(plan), source, started),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return Session(sid, who, slot, plan, source, started, None, 0)

    def sessions(self) -> list[Session]:
        rows = self._db.execute(
            "SELECT s.session_id, participant, slot, plan, source, started_at, finished_at, "
            "(SELECT COUNT(*) FROM answers a WHERE a.session_id = s.session_id) "
            "FROM sessions s ORDER BY started_at, session_id"
        ).fetchall()
        return [Session(r[0], r[1], int(r[2]), json.loads(r[3]), r[4], r[5], r[6], int(r[7])) for r in rows]

    def session(self, session_id: str) -> Session:
        for s in self.sessions():
            if s.session_id == session_id:
                return s
        raise ListeningTestError(f"no session {session_id}")

    def unfinished_sessions(self) -> list[Session]:
        return [s for s in self.sessions() if not s.finished]

    # --- answers --------------------------------------------------------------------------------
    def record_answer(self, session_id: str, position: int, answer: Answer) -> bool:
        """Store one answer in its own transaction; returns True when it finished the session."""
        answer.validate()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute(
                "SELECT plan, finished_at FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise ListeningTestError(f"no session {session_id}")
            plan = json.loads(row[0])
            if not 0 <= position < len(plan) or plan[position] != answer.clip_id:
                raise ListeningTestError(f"clip {answer.clip_id} is not at position {position + 1} of this session")
            self._insert(session_id, position, answer, now_iso())
            count = self._db.execute("SELECT COUNT(*) FROM answers WHERE session_id = ?", (session_id,)).fetchone()[0]
            done = int(count) >= len(plan)
            if done and row[1] is None:
                self._db.execute("UPDATE sessions SET finished_at = ? WHERE session_id = ?", (now_iso(), session_id))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return done

    def _insert(self, session_id: str, position: int, answer: Answer, when: str) -> None:
        r = answer.ratings
        try:
            self._db.execute(
                "INSERT INTO answers VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (session_id, position, answer.clip_id, r["coherence"], r["human_likeness"], r["originality"],
                 r["expressiveness"], int(answer.judged_human), answer.comment, float(answer.listened_seconds), when),
            )
        except sqlite3.IntegrityError:
            raise ListeningTestError(f"position {position + 1} of this session is already answered") from None

    def import_session(
        self,
        *,
        session_id: str,
        participant: str,
        slot: int,
        plan: list[str],
        answers: list[tuple[int, Answer, str]],
        started_at: str,
        finished_at: str | None,
        file_sha256: str,
    ) -> None:
        """A remote participant's whole session in one transaction (all or nothing)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT INTO sessions VALUES (?,?,?,?,?,?,?,?)",
                (session_id, participant, slot, json.dumps(plan), "html", started_at, finished_at, file_sha256),
            )
            for position, answer, when in answers:
                answer.validate()
                self._insert(session_id, position, answer, when)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def find_import(self, session_id: str, file_sha256: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT session_id, participant, started_at, source FROM sessions "
            "WHERE session_id = ? OR imported_file_sha256 = ?",
            (session_id, file_sha256),
        ).fetchone()
        return None if row is None else {"session_id": row[0], "participant": row[1], "started_at": row[2], "source": row[3]}

    def answers(self) -> list[AnswerRow]:
        rows = self._db.execute(
            "SELECT a.session_id, s.participant, s.slot, s.source, a.position, a.clip_id, a.coherence, "
            "a.human_likeness, a.originality, a.expressiveness, a.judged_human, a.comment, a.listened_seconds, "
            "a.answered_at FROM answers a JOIN sessions s ON s.session_id = a.session_id "
            "ORDER BY s.started_at, a.session_id, a.position"
        ).fetchall()
        return [
            AnswerRow(
                session_id=r[0], participant=r[1], slot=int(r[2]), source=r[3], position=int(r[4]), clip_id=r[5],
                ratings=dict(zip(DIMENSIONS, (int(r[6]), int(r[7]), int(r[8]), int(r[9])))),
                judged_human=bool(r[10]), comment=r[11], listened_seconds=float(r[12]), answered_at=r[13],
            )
            for r in rows
        ]
