"""No lost work: atomic saves survive a failure halfway, autosave brings edits back after a crash."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from musestudio.core.atomic import atomic_path, write_bytes_atomic
from musestudio.core.errors import InputFileError, OutputFileError
from musestudio.core.notes import Note, NoteSequence


def scale(n: int = 8, pitch: int = 60) -> NoteSequence:
    return NoteSequence(notes=[Note(pitch + i, i * 0.5, i * 0.5 + 0.4, 80) for i in range(n)])


class Boom(RuntimeError):
    pass


# --- atomic writes ---------------------------------------------------------------------------


def test_save_killed_halfway_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "song.mid"
    write_bytes_atomic(target, b"old contents")
    with pytest.raises(Boom), atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(b"new contents, half writ")
        raise Boom("power cut")
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["song.mid"], "the half-written temporary file must be removed"


def test_midi_export_failing_during_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from musestudio.io import midi

    target = tmp_path / "take.mid"
    midi.write_midi(scale(4), target)
    before = target.read_bytes()
    real_write_bytes = Path.write_bytes

    def half_then_fail(self: Path, data: bytes) -> int:
        real_write_bytes(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    with pytest.raises(OSError):
        midi.write_midi(scale(16, 48), target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert midi.read_midi(target).notes  # still a valid MIDI file
    assert not [p for p in tmp_path.iterdir() if p.name != "take.mid"]


def test_project_save_failing_halfway_keeps_old_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project_mod = pytest.importorskip("musestudio.core.project")
    project = project_mod.Project()
    project.add_layer("Seed", scale(4), "score")
    path = project.save(tmp_path / "work.msproj")
    before = path.read_bytes()

    project.add_layer("Continuation", scale(8, 72), "continuation")
    real_write_bytes = Path.write_bytes

    def half_then_fail(self: Path, data: bytes) -> int:
        real_write_bytes(self, data[: len(data) // 2])
        raise Boom("killed halfway through the save")

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    with pytest.raises(Boom):
        project.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    reopened = project_mod.Project.load(path)
    assert [layer.name for layer in reopened.layers] == ["Seed"]


def test_overwrite_refused_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "keep.mid"
    target.write_bytes(b"precious")
    with pytest.raises(OutputFileError, match="already exists"):
        write_bytes_atomic(target, b"other", overwrite=False)
    assert target.read_bytes() == b"precious"


def test_long_target_name_gets_a_short_temporary_name(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 250 + ".mid")  # legal name, but name + temp decorations would not be
    write_bytes_atomic(target, b"data")
    assert target.read_bytes() == b"data"


def test_cli_export_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    from musestudio.cli import main
    from musestudio.io.midi import write_midi

    src = write_midi(scale(4), tmp_path / "in.mid")
    out = tmp_path / "out.mid"
    out.write_bytes(b"not yours to overwrite")
    assert main(["export", str(src), "-o", str(out)]) == 1
    assert out.read_bytes() == b"not yours to overwrite"


# --- autosave and recovery ----------------------------------------------------------------------


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("MUSESTUDIO_STATE_DIR", str(folder))
    return folder


def test_autosave_recovery_restores_edits(state_dir: Path, tmp_path: Path) -> None:
    project_mod = pytest.importorskip("musestudio.core.project")
    from musestudio.core import autosave

    project = project_mod.Project()
    seed = project.add_layer("Seed", scale(8), "score")
    project.audio_path = str(tmp_path / "take.wav")
    saved = project.save(tmp_path / "song.msproj")

    # Edits after the last save: a layer renamed, notes moved, a new layer.
    project.set_layer_props(seed.id, name="Seed (edited)", muted=True)
    moved = [n.shifted(dt=0.25, semitones=2) for n in seed.sequence.notes]
    project.set_notes(seed.id, moved)
    project.add_layer("Continuation", scale(5, 72), "continuation")
    dying = autosave.RecoverySession()
    snapshot = dying.write(project)
    assert snapshot.parent == state_dir
    assert autosave.find_recovery() is None  # a running instance's snapshot is never offered
    dying.abandon()  # the app dies here: its lock goes, its snapshot stays
    del project

    found = autosave.find_recovery()
    assert found == snapshot
    restored = autosave.load_recovery(found)
    names = [layer.name for layer in restored.layers]
    assert names == ["Seed (edited)", "Continuation"]
    assert restored.layers[0].muted is True
    assert [(n.pitch, n.start) for n in restored.layers[0].sequence.notes] == [(n.pitch, n.start) for n in moved]
    assert restored.audio_path == str(tmp_path / "take.wav")
    assert restored.path == saved  # Save goes back to the user's file
    assert restored.modified is True  # and the edits still count as unsaved
    assert autosave.recovery_details(found)["source_path"] == str(saved)

    mine = autosave.default_session()
    mine.discard(found)
    assert autosave.find_recovery() is None
    mine.discard(found)  # clearing twice is harmless
    autosave.clear_recovery()
    autosave.clear_recovery()


def test_damaged_recovery_is_ignored_not_fatal(state_dir: Path) -> None:
    from musestudio.core import autosave

    path = state_dir / "s1-dead.msproj"  # a snapshot of an instance that is gone
    state_dir.mkdir(parents=True, exist_ok=True)
    nested = b"[" * 100_000 + b"]" * 100_000
    for junk in (b"", b"{not json", b"\xff\xfe\x00", json.dumps({"kind": "something else"}).encode(), nested):
        path.write_bytes(junk)
        assert autosave.find_recovery() is None
        with pytest.raises(InputFileError):
            autosave.load_recovery(path)


def test_recovery_write_failing_keeps_previous_snapshot(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project_mod = pytest.importorskip("musestudio.core.project")
    from musestudio.core import autosave

    session = autosave.RecoverySession()
    project = project_mod.Project()
    project.add_layer("First", scale(4), "score")
    session.write(project)
    project.add_layer("Second", scale(4, 70), "score")
    real_write_bytes = Path.write_bytes

    def fail(self: Path, data: bytes) -> int:
        real_write_bytes(self, data[:10])
        raise Boom("crash during autosave")

    with monkeypatch.context() as patch, pytest.raises(Boom):
        patch.setattr(Path, "write_bytes", fail)
        session.write(project)
    session.abandon()
    restored = autosave.load_recovery(autosave.find_recovery())
    assert [layer.name for layer in restored.layers] == ["First"]


def test_two_instances_keep_separate_snapshots(state_dir: Path) -> None:
    """Neither instance overwrites, offers or deletes the other's snapshot while it runs."""
    from musestudio.core import autosave
    from musestudio.core.project import Project

    a, b = autosave.RecoverySession(), autosave.RecoverySession()
    pa, pb = Project(), Project()
    pa.add_layer("A", scale(4), "score")
    pb.add_layer("B", scale(4, 70), "score")
    assert a.write(pa) != b.write(pb)
    assert a.orphans() == [] and b.orphans() == []
    with pytest.raises(PermissionError):
        a.discard(b.path)  # "No" in one instance must not delete the other's work
    assert b.path.is_file()
    b.abandon()  # B crashes
    (orphan,) = a.orphans()
    assert orphan == b.path
    c = autosave.RecoverySession()  # a third instance races A for the orphan: only one gets it
    claimed = a.claim(orphan)
    assert claimed is not None and c.claim(orphan) is None
    assert [la.name for la in autosave.load_recovery(claimed).layers] == ["B"]
    assert c.orphans() == []  # a claimed snapshot belongs to A, which is running
    a.abandon()  # A dies while asking "Restore?": the claimed snapshot is offered again
    assert {p.name for p in c.orphans()} == {claimed.name, a.path.name}
    a2 = autosave.RecoverySession()
    for p in a2.orphans():
        a2.discard(p)
    assert a2.orphans() == [] and c.path.parent == state_dir
    c.close()
    a2.close()
    assert not c.path.exists()
    dead = autosave.RecoverySession()  # killed with nothing unsaved: only its lock file is left
    dead.abandon()
    assert (state_dir / f"{dead.id}.lock").exists()
    autosave.RecoverySession().orphans()
    assert not (state_dir / f"{dead.id}.lock").exists()


def test_state_dir_defaults_to_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from musestudio.core import autosave

    monkeypatch.delenv("MUSESTUDIO_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert autosave.state_dir() == tmp_path / "xdg" / "musestudio"


# Direct (non-atomic) file writes that are allowed, and why: everything else must go through musestudio.io.atomic.
DIRECT_WRITES_ALLOWED = {
    "musestudio/core/atomic.py": "the atomic writer itself",
    "musestudio/io/midi.py": "writes the temporary file that atomic_path renames",
    "musestudio/io/audio.py": "writes the temporary file that atomic_path renames",
    "musestudio/io/synth.py": "a scratch MIDI file in a private temporary folder",
    "musestudio/ml/checkpoint.py": "training-time export into a fresh folder, not a user document",
    "musestudio/gui/app.py": "the --screenshot PNG for documentation, not user work",
    "musestudio/metrics/plots.py": "report plots regenerated on every run",
    "musestudio/listening/audio.py": "encodes OGG into an in-memory BytesIO, not a file",
}


def test_user_files_are_only_written_atomically() -> None:
    """Static guard: a new writer that bypasses musestudio.io.atomic is caught here."""
    import re

    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"\.write_text\(|\.write_bytes\(|open\([^)]*['\"][wax]b?\+?['\"]|\.save\(str\(|savefig\(|sf\.write\(")
    offenders = []
    for path in sorted((root / "musestudio").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) and rel not in DIRECT_WRITES_ALLOWED and "tmp" not in code:
                offenders.append(f"{rel}:{lineno}: {line.strip()}")
    assert not offenders, "write user files with musestudio.io.atomic:\n" + "\n".join(offenders)


# --- kill -9 and recover: real app processes ------------------------------------------------------
#
# Each case runs the real main window in a child process (recovery_driver.py), kills it with SIGKILL
# at a chosen moment, relaunches, restores, closes, and relaunches again.  "0 lost edits" is counted
# against the edits the user made before the app's last snapshot: the snapshot is written 0.5 s after
# the last edit (AUTOSAVE_DELAY_MS), so `settle` waits that long, as a user pausing would.

DRIVER = Path(__file__).with_name("recovery_driver.py")
needs_posix_kill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="kill -9 needs a POSIX system")


class App:
    """One app process, driven over stdin; answers arrive as JSON lines."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env, bufsize=1,
        )
        assert self.read(120)["ready"]

    def read(self, timeout: float = 60.0) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"the app did not answer within {timeout} s"
        line = self.proc.stdout.readline()
        assert line, f"the app died: {self.proc.stderr.read()[-2000:]}"
        data = json.loads(line)
        assert "error" not in data, data["error"]
        return data

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def __call__(self, command: str, timeout: float = 60.0) -> dict:
        self.send(command)
        return self.read(timeout)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        assert self.proc.returncode == -signal.SIGKILL

    def close(self, answer: str) -> dict:
        out = self(f"close {answer}")
        if out["closed"]:
            assert self.proc.wait(60) == 0, self.proc.stderr.read()[-2000:]
        return out


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "MUSESTUDIO_STATE_DIR": str(tmp_path / "state"),
        "MUSESTUDIO_SETTINGS": str(tmp_path / "settings.ini"),
        "OMP_NUM_THREADS": "1",
    }


def _demo() -> str:
    return str(Path(__file__).resolve().parents[2] / "resources" / "demo" / "maple_leaf_rag.mid")


def _restore_close_and_check(env: dict[str, str], expected: list, tmp_path: Path) -> None:
    """Relaunch, restore, close (it must ask to save), and find the edits in the saved file on the next launch."""
    app = App(env)
    out = app("recover yes")
    assert out["restored"] and out["notes"] == expected and out["modified"]  # 0 lost edits
    saved = tmp_path / "rescued.msproj"
    closing = app.close(f"save:{saved}")
    assert closing["asked"] and closing["closed"]  # recovered edits MUST ask to be saved
    again = App(env)
    assert again("recover yes")["restored"] is False  # a clean close left nothing to offer
    assert again(f"open {saved}")["ok"]
    out = again("state")
    assert out["notes"] == expected and not out["modified"]
    assert again.close("cancel")["asked"] is False  # an untouched file does not ask
    assert again.proc.returncode == 0


@pytest.mark.slow
@needs_posix_kill
def test_kill_during_editing_loses_nothing(app_env: dict[str, str], tmp_path: Path) -> None:
    app = App(app_env)
    assert app(f"open {_demo()}")["ok"]
    untouched = app("state")
    assert not untouched["modified"]
    for step in (1, 2, -5):
        expected = app(f"edit {step}")["notes"]
    assert app("settle")["snapshot"]
    app.kill()
    assert expected != untouched["notes"]
    _restore_close_and_check(app_env, expected, tmp_path)


@pytest.mark.slow
@needs_posix_kill
def test_kill_during_save_and_during_autosave(app_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "song.msproj"
    app = App(app_env)
    app(f"open {_demo()}")
    first = app("edit 2")["notes"]
    assert app(f"save {target}")["ok"]
    on_disk = target.read_bytes()
    expected = app("edit 3")["notes"]
    app("settle")
    app.send(f"save_hang {target}")  # killed halfway through writing the project file
    assert "writing" in app.read()
    app.kill()
    assert target.read_bytes() == on_disk  # the old file is intact
    # relaunch: the snapshot has the edit made after the save
    second = App(app_env)
    out = second("recover yes")
    assert out["restored"] and out["notes"] == expected and out["path"] == str(target)
    later = second("edit 1")["notes"]
    second.send("autosave_hang")  # killed halfway through the next snapshot
    assert "writing" in second.read()
    second.kill()
    # the snapshot from before the interrupted write is intact: only the last, unsnapshotted edit is gone
    third = App(app_env)
    out = third("recover yes")
    assert out["restored"] and out["notes"] == expected and out["notes"] != later
    assert first != expected
    assert third.close("discard")["asked"]


@pytest.mark.slow
@needs_posix_kill
def test_kill_with_the_restore_question_open(app_env: dict[str, str], tmp_path: Path) -> None:
    app = App(app_env)
    app(f"open {_demo()}")
    expected = app("edit 4")["notes"]
    app("settle")
    app.kill()
    asking = App(app_env)
    assert asking(f"open {_demo()}")["ok"]  # the demo opens first, as at start-up
    asking.send("recover hold")
    assert "asking" in asking.read()
    asking.kill()  # killed while "Restore?" is open
    _restore_close_and_check(app_env, expected, tmp_path)


@pytest.mark.slow
@needs_posix_kill
def test_two_running_instances_keep_their_own_snapshots(app_env: dict[str, str], tmp_path: Path) -> None:
    a, b = App(app_env), App(app_env)
    for app in (a, b):
        app(f"open {_demo()}")
    wanted_a = a("edit 1")["notes"]
    wanted_b = b("edit 7")["notes"]
    a("settle")
    b("settle")
    assert a("recover no")["asked"] == 0  # B is alive: nothing to offer, nothing deleted
    snapshots = sorted(p.name for p in (tmp_path / "state").glob("*.msproj"))
    assert len(snapshots) == 2
    b.kill()
    out = a("state")
    assert out["notes"] == wanted_a
    c = App(app_env)
    out = c("recover yes")  # only B's work is offered; A's snapshot is left alone
    assert out["restored"] and out["notes"] == wanted_b
    assert a("state")["notes"] == wanted_a and a("settle")["snapshot"]
    assert a.close("discard")["asked"] and c.close("discard")["asked"]
    assert list((tmp_path / "state").glob("*.msproj")) == []
