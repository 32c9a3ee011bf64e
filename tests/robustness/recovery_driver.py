"""A real musestudio main window in its own process, driven line by line over stdin (for kill -9 tests).

Each stdin line is one command; each answer is one JSON line on stdout.  The
window is the real one (controllers, autosave thread, recovery), offscreen;
only the dialogs are scripted: ``ask`` (Restore?) and ``ask_save_changes``
answer what the command said, and record that they were asked.

Commands::

    open PATH | import PATH        -> {"ok": bool}
    edit N                         -> transpose every note of the first layer by N (one undo step)
    undo                           -> one undo step
    settle                         -> wait until the debounced autosave has written (or cleared) the snapshot
    state                          -> {"notes": [[pitch, start], ...], "modified": bool, "layers": [...]}
    recover yes|no|hold            -> offer_recovery(); "hold" blocks inside the question forever
    save PATH | save_hang PATH     -> save; save_hang stops halfway through writing (then we get killed)
    autosave_hang                  -> the next snapshot write stops halfway (then we get killed)
    close save[:PATH]|discard|cancel -> closeEvent; {"asked": bool, "closed": bool}
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any


def _hang_forever() -> None:
    while True:
        time.sleep(3600)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from musestudio.gui import playback
    from musestudio.gui.app import create_app

    app = create_app()
    playback._query_output_devices = lambda: ([], "no audio output device")  # no sound card in CI
    from PySide6.QtCore import QTimer

    from musestudio.gui.main_window import MainWindow

    window = MainWindow(interactive=False)
    window.resize(900, 600)
    window.show()
    asked: list[str] = []
    answers = {"restore": False, "save": "discard"}

    def ask(question: str, *_a: Any) -> bool:
        asked.append(question)
        if answers["restore"] == "hold":
            reply({"asking": question})
            _hang_forever()
        return bool(answers["restore"])

    def ask_save(name: str) -> str:
        asked.append(f"save {name}")
        return str(answers["save"])

    window.ask = ask  # type: ignore[method-assign]
    window.ask_save_changes = ask_save  # type: ignore[method-assign]
    window.choose_save_path = lambda: answers.get("save_path")  # type: ignore[method-assign]
    lines: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        for line in sys.stdin:
            lines.put(line.strip())
        lines.put("quit")

    def reply(data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()

    def settle() -> None:
        autosaver = window.documents.autosaver
        end = time.monotonic() + 30
        while autosaver._debounce.isActive() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)
        autosaver.flush()

    def state() -> dict[str, Any]:
        p = window.project
        notes = [[n.pitch, round(n.start, 6)] for n in p.layers[0].sequence.notes] if p.layers else []
        return {"notes": notes, "modified": p.modified, "layers": [la.name for la in p.layers],
                "path": str(p.path) if p.path else None}

    def hang_write(path: Any, data: bytes, **_k: Any) -> None:
        from musestudio.core.atomic import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data[: len(data) // 2])
                fh.flush()
            reply({"writing": str(path)})
            _hang_forever()

    def run(cmd: str) -> None:
        verb, _, arg = cmd.partition(" ")
        if verb == "open":
            reply({"ok": window.open_path(arg)})
        elif verb == "import":
            reply({"ok": window.import_path(arg)})
        elif verb == "edit":
            window.roll.select_all()
            window.transpose_selected(int(arg))
            reply(state())
        elif verb == "undo":
            window.undo_stack.undo()
            reply(state())
        elif verb == "settle":
            settle()
            reply({"snapshot": window.documents.session.path.is_file()})
        elif verb == "state":
            reply(state())
        elif verb == "recover":
            answers["restore"] = {"yes": True, "no": False, "hold": "hold"}[arg]
            restored = window.offer_recovery()
            reply({"restored": restored, "asked": len(asked), **state()})
        elif verb in ("save", "save_hang"):
            if verb == "save_hang":
                from musestudio.core import atomic

                atomic.write_bytes_atomic = hang_write  # type: ignore[assignment]
            reply({"ok": window.documents.save_to(Path(arg)), **state()})
        elif verb == "autosave_hang":
            from musestudio.core import atomic

            atomic.write_bytes_atomic = hang_write  # type: ignore[assignment]
            window.documents.autosaver.write_soon()
        elif verb == "close":
            answer, _, save_path = arg.partition(":")
            answers["save"] = answer
            answers["save_path"] = save_path or None
            before = len(asked)
            closed = window.close()
            reply({"asked": len(asked) > before, "closed": bool(closed)})
            if closed:
                app.quit()
        elif verb == "quit":
            app.quit()
        else:
            reply({"error": f"unknown command {cmd!r}"})

    def poll() -> None:
        try:
            cmd = lines.get_nowait()
        except queue.Empty:
            return
        try:
            run(cmd)
        except Exception as exc:  # the test reads it
            reply({"error": f"{type(exc).__name__}: {exc}"})

    threading.Thread(target=reader, daemon=True).start()
    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(10)
    reply({"ready": True, "pid": os.getpid()})
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
