"""The whole app as a user drives it, in a real X server (run by test_xvfb_smoke.py under xvfb-run).

open -> generate (Markov, two variations) -> accept -> render an excerpt to WAV -> attach it ->
transcribe -> export every layer (one MIDI track each) -> close (asked to save: the work is unsaved).
Screenshots of the real window go to OUTDIR; a JSON summary goes to stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(out: Path) -> int:
    os.environ["QT_QPA_PLATFORM"] = "xcb"  # a real X server (Xvfb), not the offscreen plugin
    from musestudio.gui import playback
    from musestudio.gui.app import create_app

    app = create_app()
    playback._query_output_devices = lambda: ([], "no audio output device")
    from musestudio.gui.main_window import MainWindow

    report: dict[str, object] = {"platform": app.platformName()}
    window = MainWindow(interactive=False)
    window.resize(1500, 950)
    window.show()
    errors: list[str] = []
    shown = window.show_error
    window.show_error = lambda m: (errors.append(m), shown(m))  # type: ignore[method-assign]

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def shot(name: str) -> None:
        settle()
        window.grab().save(str(out / f"{name}.png"), "PNG")

    demo = Path(__file__).resolve().parents[2] / "resources" / "demo" / "maple_leaf_rag.mid"
    assert window.open_path(demo), errors
    piece = window.project.layers[0]
    report["opened_notes"] = len(piece.sequence)
    shot("1_open")

    gen = next(p for p in window.panels if type(p).__name__ == "GeneratePanel")
    gen.seconds.setValue(4)
    gen.variations.setValue(2)
    window.roll.set_time_range((0.0, 8.0))
    window.roll.vb.setRange(xRange=(0, 16), padding=0)
    refused: dict[str, str] = {}
    for kind in ("markov", "gan", "lstm", "transformer"):  # the fastest shipped model that can continue this seed
        index = next((i for i in range(gen.model_combo.count()) if (gen.model_combo.itemData(i) or ("",))[0] == kind), None)
        if index is None:
            continue
        gen.model_combo.setCurrentIndex(index)
        gen.generate()
        assert window.wait_for_jobs(300), "generation did not finish"
        if window.project.candidates():
            report["model"] = kind
            break
        refused[kind] = errors.pop() if errors else "no result"
    report["models_refused"] = refused
    candidates = window.project.candidates()
    report["candidates"] = [len(c.sequence) for c in candidates]
    assert len(candidates) == 2 and gen.candidate_list.count() == 2, errors
    shot("2_generated")

    gen.candidate_list.setCurrentRow(0)
    chosen = candidates[0]
    cont_end = max(8.0, chosen.sequence.duration)
    expected = (
        sum(n.start < 8.0 for n in piece.sequence.notes)
        + len(chosen.sequence)
        + sum(n.start >= cont_end for n in piece.sequence.notes)
    )
    gen.accept_selected()
    accepted = window.project.layers[-1]
    report["accepted"] = {"name": accepted.name, "notes": len(accepted.sequence), "expected": expected}
    assert len(accepted.sequence) == expected and not window.project.candidates()
    shot("3_accepted")

    from musestudio.core.notes import NoteSequence

    excerpt = window.add_layer("excerpt", NoteSequence(notes=[n for n in piece.sequence.notes if n.end <= 6.0]), "edit")
    wav = out / "excerpt.wav"
    assert window.export_layers(wav, [excerpt.id]), errors
    assert window.open_path(wav, mode="add"), errors  # File > Attach Audio
    window.wait_for_jobs(120)
    trans = next(p for p in window.panels if type(p).__name__ == "TranscribePanel")
    trans.start()
    assert window.wait_for_jobs(300), "transcription did not finish"
    settle(1.0)
    window.wait_for_jobs(60)
    transcribed = [la for la in window.project.layers if la.kind == "transcription"]
    report["transcribed_notes"] = len(transcribed[0].sequence) if transcribed else 0
    report["excerpt_notes"] = len(excerpt.sequence)
    assert transcribed and len(transcribed[0].sequence) > 0, errors
    window.act_show_spec.setChecked(True)
    window.roll.vb.setRange(xRange=(0, 7), padding=0)
    shot("4_transcribed")

    midi = out / "all_layers.mid"
    assert window.export_layers(midi, [la.id for la in window.project.layers]), errors
    import mido

    names = [next((m.name for m in t if m.type == "track_name"), "") for t in mido.MidiFile(str(midi)).tracks]
    report["exported_tracks"] = names
    report["layers"] = [la.name for la in window.project.layers]

    asked: list[str] = []
    window.ask_save_changes = lambda name: asked.append(name) or "discard"  # type: ignore[method-assign]
    closed = window.close()
    report["close_asked_to_save"] = bool(asked)
    report["closed"] = bool(closed)
    report["errors"] = errors
    print(json.dumps(report))
    return 0 if closed and asked and not errors else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
