"""Longest UI-thread freeze during long work on a 10-minute performance (issue 17: must stay < 50 ms).

The watchdog of tests/gui/test_ui_responsive.py (a 5 ms QTimer on the UI
thread) runs while each piece of work starts the way a user starts it, on a
~10-minute ASAP performance with its audio rendered by FluidSynth:

* the start-up warm-up: first ``import torch`` & co. in a worker, then the GC guard's one-time
  collect-and-freeze on the UI thread (the one-time cost of any model);
* transcribe the 10-minute audio with the shipped transcriber;
* drag the onset threshold through five values with the performance as
  the teacher-mode reference (re-decode + tempo + mir_eval matching);
* Play (audio decoded and resampled, layers rendered);
* autosave of the project;
* metrics of the performance (Metrics panel);
* generate a continuation (markov).

Each line prints the worst gap by wall clock and the UI thread's own CPU
time in its worst stretch.  Run::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tests/benchmarks/bench_ui_responsive.py [--stacks]

``--stacks`` samples every thread's stack and prints what filled the worst gap.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "gui"))

import bench_gui  # noqa: E402
from test_ui_responsive import Watchdog, activations_for, panel_of  # noqa: E402


def line(name: str, dog: Watchdog, extra: str = "") -> None:
    print(
        f"[bench_ui] {name:<44} worst gap {dog.worst * 1000:6.0f} ms wall, UI thread busy {dog.worst_cpu * 1000:5.0f} ms"
        + (f"  ({extra})" if extra else ""),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", action="store_true", help="print the stacks that filled each worst gap")
    args = parser.parse_args(argv)
    if args.stacks:
        os.environ["MUSESTUDIO_WATCHDOG_STACKS"] = "1"
    import sounddevice

    from musestudio.gui import playback

    # No sound card here: a fake one that accepts the buffer, so Play goes all the way.
    playback._query_output_devices = lambda: (["bench"], "")  # type: ignore[assignment]
    sounddevice.play = lambda *a, **k: None
    sounddevice.stop = lambda: None
    midi = bench_gui.ten_minute_performance()
    if midi is None:
        print("[bench_ui] ../shared/data/asap is not available")
        return 1
    from musestudio.io.audio import write_wav
    from musestudio.io.midi import read_midi
    from musestudio.io.synth import render

    seq = read_midi(midi)
    bench_gui.CACHE.mkdir(parents=True, exist_ok=True)
    wav = bench_gui.CACHE / (midi.stem + ".wav")
    if not wav.is_file():
        write_wav(wav, render(seq, 22050), 22050)
    print(f"[bench_ui] {midi.name}: {seq.duration / 60:.1f} min, {len(seq)} notes; load {os.getloadavg()[0]:.1f}", flush=True)
    app, w = bench_gui.make_window()
    dog = Watchdog()
    w.show_error = lambda message: print(f"[bench_ui] error: {message}")

    box: dict[str, object] = {}

    def import_torch() -> None:
        # What the app does 1.5 s after its window opens (MainWindow._warm_up): the heavy imports in a
        # worker, then the GC guard's one-time collect-and-freeze on the UI thread.
        from musestudio.gui.warmup import start_warmup

        box["thread"] = start_warmup()

    from musestudio.gui import gc_guard

    guard = gc_guard.current()
    dog.run(import_torch, lambda: "thread" in box and not box["thread"].is_alive()  # type: ignore[attr-defined]
            and (guard is None or guard.frozen))
    line("start-up warm-up: import torch & co. (worker), collect + freeze (UI)", dog)

    assert w.open_path(wav)
    w.wait_for_jobs(120)
    layer = w.add_layer(midi.stem, seq, "score")
    panel = panel_of(w, "TranscribePanel")
    t = time.perf_counter()
    dog.run(panel.start, lambda: not panel.busy, timeout=900)
    line("transcribe 10 min (shipped model)", dog, f"{time.perf_counter() - t:.1f} s")

    if panel.activations is None:  # no model: synthetic activations of the performance itself
        panel.activations = activations_for(seq)
        panel.redecode()
        dog.run(lambda: None, lambda: not panel.busy, timeout=300)
    panel.reference_box.setCurrentIndex(panel.reference_box.findText(layer.name))
    dog.run(lambda: None, lambda: not panel.busy and panel.match is not None, timeout=300)

    def drag() -> None:
        for value in (0.45, 0.5, 0.55, 0.6, 0.65):
            panel.onset.setValue(value)
            app.processEvents()

    t = time.perf_counter()
    dog.run(drag, lambda: not panel.busy, timeout=300)
    line("5 threshold changes + teacher-mode matching", dog, f"{time.perf_counter() - t:.1f} s; {panel.scores.text()[:60]}")

    w.player._devices = None
    t = time.perf_counter()
    dog.run(w.toggle_play, lambda: w.player.playing, timeout=300)
    w.stop()
    line("Play (decode + resample + render 10 min)", dog, f"{time.perf_counter() - t:.1f} s")

    futures: list[object] = []
    t = time.perf_counter()
    dog.run(lambda: futures.append(w.documents.autosaver.write_soon()), lambda: bool(futures) and futures[0].done())  # type: ignore[attr-defined]
    wrote = futures[0].result() if futures and futures[0] is not None else None  # type: ignore[attr-defined]
    line("autosave", dog, f"{time.perf_counter() - t:.2f} s, wrote {wrote}")

    metrics = panel_of(w, "MetricsPanel")
    metrics.parentWidget().parentWidget().parentWidget().raise_()
    app.processEvents()
    w.roll.set_active(layer.id)
    t = time.perf_counter()
    notes = list(seq.notes)[1:]
    dog.run(lambda: w.set_layer_notes(layer.id, notes, "edit"), lambda: not metrics.busy, timeout=300)
    line("metrics of the 10-min performance", dog, f"{time.perf_counter() - t:.1f} s, {metrics.computations} runs")

    gen = panel_of(w, "GeneratePanel")
    names = [gen.model_combo.itemData(i) for i in range(gen.model_combo.count())]
    gen.model_combo.setCurrentIndex(next(i for i, d in enumerate(names) if d and d[0] == "markov"))
    before = len(w.project.layers)
    errors: list[str] = []
    w.show_error = errors.append
    dog.run(gen.generate_button.click, lambda: len(w.project.layers) > before or bool(errors), timeout=300)
    line("generate (markov)", dog, errors[0][:80] if errors else "")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
