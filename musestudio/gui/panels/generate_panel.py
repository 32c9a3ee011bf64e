"""The Generate dock: continue the selected seed with a shipped or user model.

The seed is the current layer's notes inside the ruler selection (the whole
layer when nothing is selected), or, with "Continue from: playhead", the
layer's notes before the playhead.  The continuation starts on the next beat
of the seed's own grid (its tempo map, or the beat tracker's for a
performance) and keeps its tempo and meter; "Timing" chooses grid
(quantized) or humanized output (default: grid for a quantized seed).  The
key lock defaults to the seed's key and density follows the seed.

Generation runs as a Work generator in the window's worker (progress bar +
Cancel); each variation arrives as a *candidate* layer (recorded in the
document, so undo brings it back) to audition, then **Accept** (one undo
step: the seed layer with this continuation in place, the other candidates
removed) or **Discard**.  **Regenerate** repeats the last run with a new
random seed.  Model code and torch are imported only when a run starts.
"""

from __future__ import annotations

import random
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from musestudio.gui.panels.base import Panel, PanelContext

KEY_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
OTHER_FOLDER = "Other checkpoint folder…"
CANDIDATE_KIND = "continuation"


class GeneratePanel(Panel):
    TITLE = "Generate"
    AREA = "right"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.candidates: list[str] = []  # layer ids
        self.seed_layer_name = ""
        self._last_settings: Any = None
        self._cancel: Any = None
        self._seed_layer_id: str | None = None
        self._seed_end: float | None = None

        self.model_combo = QComboBox(self)
        self.model_combo.setToolTip("shipped models and your own checkpoint folders")
        self.seconds = self._dspin(1, 600, 20, 1, " s")
        self.bars = self._dspin(0, 256, 0, 1, " bars", "length in bars of the seed's meter (0 = use seconds)")
        self.temperature = self._dspin(0.05, 3.0, 1.0, 0.05, "", "higher = more surprising")
        self.top_k = QSpinBox(self)
        self.top_k.setRange(0, 400)
        self.top_k.setToolTip("keep only the K likeliest tokens (0 = off)")
        self.top_p = self._dspin(0.05, 1.0, 1.0, 0.05, "", "nucleus sampling mass (1 = off)")
        self.variations = QSpinBox(self)
        self.variations.setRange(1, 16)
        self.variations.setValue(2)
        self.fixed_seed = QCheckBox("fixed", self)
        self.random_seed = QSpinBox(self)
        self.random_seed.setRange(0, 2**31 - 1)
        self.key_combo = QComboBox(self)
        self.key_combo.addItem("seed's key", "auto")
        self.key_combo.addItem("off", None)
        for mode in ("major", "minor"):
            for name in KEY_NAMES:
                self.key_combo.addItem(f"{name} {mode}", f"{name} {mode}")
        self.pitch_low = QSpinBox(self)
        self.pitch_low.setRange(21, 108)
        self.pitch_low.setValue(21)
        self.pitch_high = QSpinBox(self)
        self.pitch_high.setRange(21, 108)
        self.pitch_high.setValue(108)
        self.key_combo.setToolTip("the key the continuation leans to (default: the seed's, Krumhansl-Kessler)")
        self.strict_key = QCheckBox("strict", self)
        self.strict_key.setToolTip("never leave the key (by default an out-of-key note is only made less likely)")
        self.density = self._dspin(0, 40, 0, 0.5, " notes/s", "notes per second (0 = follow the seed's density)")
        self.density.setSpecialValueText("follow the seed")
        self.bars.setSpecialValueText("use seconds")
        self.timing_combo = QComboBox(self)
        self.timing_combo.addItem("auto (grid for a quantized seed)", None)
        self.timing_combo.addItem("grid (quantized)", False)
        self.timing_combo.addItem("humanized", True)
        self.timing_combo.setToolTip("grid: onsets on sixteenths/triplets of the seed's tempo map; humanized: with "
                                     "microtiming and dynamics like a performance")
        self.from_combo = QComboBox(self)
        self.from_combo.addItem("end of the selection", "selection")
        self.from_combo.addItem("playhead", "playhead")
        self.from_combo.setToolTip("where the continuation starts (on the next beat of the seed's grid)")
        self.keep_register = QCheckBox("stay near the seed's register", self)
        self.keep_register.setChecked(True)
        self.keep_register.setToolTip("steer note choices toward the seed's pitch band (the models drift upward without it)")

        form = QFormLayout()
        form.addRow("Model", self.model_combo)
        form.addRow("Length", self.seconds)
        form.addRow("or", self.bars)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-k", self.top_k)
        form.addRow("Top-p", self.top_p)
        form.addRow("Variations", self.variations)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.fixed_seed)
        seed_row.addWidget(self.random_seed)
        form.addRow("Random seed", seed_row)
        form.addRow("Continue from", self.from_combo)
        form.addRow("Timing", self.timing_combo)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_combo)
        key_row.addWidget(self.strict_key)
        form.addRow("Key", key_row)
        range_row = QHBoxLayout()
        range_row.addWidget(self.pitch_low)
        range_row.addWidget(QLabel("–", self))
        range_row.addWidget(self.pitch_high)
        form.addRow("Pitch range", range_row)
        form.addRow("Density", self.density)
        form.addRow("Register", self.keep_register)

        self.seed_label = QLabel("", self)
        self.seed_label.setWordWrap(True)
        self.generate_button = QPushButton("Generate", self)
        self.regenerate_button = QPushButton("Regenerate", self)
        self.regenerate_button.setToolTip("same settings, new random seed")
        self.regenerate_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.regenerate_button)
        self.candidate_list = QListWidget(self)
        self.accept_button = QPushButton("Accept", self)
        self.accept_button.setToolTip("new layer = seed layer with this continuation in place; other candidates are removed")
        self.then_combo = QComboBox(self)
        self.then_combo.addItem("then resume the original", "replace")
        self.then_combo.addItem("then move the original later", "insert")
        self.then_combo.setToolTip("after the continuation: the original goes on where the continuation ends "
                                   "(notes under it are dropped), or all of it moves later (nothing dropped)")
        self.gap = self._dspin(0, 60, 0, 0.25, " s", "silence between the continuation and the rest of the original")
        self.discard_button = QPushButton("Discard", self)
        self.discard_all_button = QPushButton("Discard all", self)
        cand_buttons = QHBoxLayout()
        for b in (self.accept_button, self.discard_button, self.discard_all_button):
            cand_buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.seed_label)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Candidates", self))
        layout.addWidget(self.candidate_list)
        accept_row = QHBoxLayout()
        accept_row.addWidget(self.then_combo, 1)
        accept_row.addWidget(QLabel("gap", self))
        accept_row.addWidget(self.gap)
        layout.addLayout(accept_row)
        layout.addLayout(cand_buttons)
        layout.addStretch(1)

        self.refresh_models()
        self.update_seed_label()
        self.model_combo.activated.connect(self._model_chosen)
        self.generate_button.clicked.connect(self.generate)
        self.regenerate_button.clicked.connect(self.regenerate)
        self.accept_button.clicked.connect(self.accept_selected)
        self.discard_button.clicked.connect(self.discard_selected)
        self.discard_all_button.clicked.connect(self.discard_all)
        context.events.selection_changed.connect(self.update_seed_label)
        context.events.time_range_changed.connect(self.update_seed_label)
        context.events.layers_changed.connect(self._sync_candidates)
        self.from_combo.currentIndexChanged.connect(self.update_seed_label)
        context.events.project_changed.connect(self._project_changed)

    def _dspin(self, lo: float, hi: float, value: float, step: float, suffix: str = "", tip: str = "") -> QDoubleSpinBox:
        w = QDoubleSpinBox(self)
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setValue(value)
        w.setSuffix(suffix)
        if tip:
            w.setToolTip(tip)
        return w

    # --- models ---------------------------------------------------------------
    def refresh_models(self) -> None:
        from musestudio.ml.catalog import list_models

        self.model_combo.clear()
        for e in list_models():
            if e.kind in ("markov", "lstm", "transformer", "gan"):
                label = e.name if e.shipped else f"{e.name} (user)"
                self.model_combo.addItem(f"{label} — {e.kind}", (e.kind, None if e.shipped else str(e.path)))
        if self.model_combo.count() == 0:  # nothing shipped: still offer the kinds (a clear error on run)
            for kind in ("transformer", "lstm", "markov", "gan"):
                self.model_combo.addItem(kind, (kind, None))
        self.model_combo.addItem(OTHER_FOLDER, None)
        default = getattr(self.context.settings, "default_model", "transformer")
        for i in range(self.model_combo.count()):
            data = self.model_combo.itemData(i)
            if data and data[0] == default and data[1] is None:
                self.model_combo.setCurrentIndex(i)
                break

    def _model_chosen(self, index: int) -> None:
        if self.model_combo.itemData(index) is not None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Checkpoint folder")
        if folder:
            self.add_checkpoint_folder(folder)
        else:
            self.model_combo.setCurrentIndex(0)

    def add_checkpoint_folder(self, folder: str) -> bool:
        """Offer a user checkpoint folder (exported by ``python -m training export``)."""
        from musestudio.core.errors import MusestudioError
        from musestudio.ml.checkpoint import read_info

        try:
            info = read_info(folder)
        except MusestudioError as exc:
            self.context.show_error(str(exc))
            self.model_combo.setCurrentIndex(0)
            return False
        self.model_combo.insertItem(self.model_combo.count() - 1, f"{info.name} — {info.architecture}",
                                    (info.architecture, folder))
        self.model_combo.setCurrentIndex(self.model_combo.count() - 2)
        return True

    # --- settings and seed ----------------------------------------------------------
    def settings(self, random_seed: int | None = None) -> Any:
        from musestudio.ml.generate import GenerationSettings

        kind, checkpoint = self.model_combo.currentData() or ("transformer", None)
        seed = random_seed
        if seed is None:
            seed = self.random_seed.value() if self.fixed_seed.isChecked() else random.randrange(2**31)
        return GenerationSettings(
            model=kind, checkpoint=checkpoint, seconds=self.seconds.value(),
            bars=self.bars.value() or None, temperature=self.temperature.value(), top_k=self.top_k.value(),
            top_p=self.top_p.value(), variations=self.variations.value(), random_seed=seed,
            key=self.key_combo.currentData(), pitch_range=(self.pitch_low.value(), self.pitch_high.value()),
            density=self.density.value() or None, keep_register=self.keep_register.isChecked(),
            key_strength=float("inf") if self.strict_key.isChecked() else None,
            humanize=self.timing_combo.currentData(),
        )

    def _playhead(self) -> float | None:
        """The window's playhead in seconds (None when the window has none)."""
        window = getattr(self.context, "_window", None)
        get = getattr(self.context, "playhead", None) or getattr(window, "playhead", None)
        try:
            return float(get()) if callable(get) else None
        except (TypeError, ValueError):
            return None

    def seed_and_start(self) -> tuple[Any, float | None]:
        """(seed notes, time to continue from or None = the seed's end) for the chosen "Continue from"."""
        layer = self.context.current_layer()
        if layer is None:
            return None, None
        rng = self.context.selected_time_range()
        if self.from_combo.currentData() == "playhead":
            t = self._playhead()
            if t is not None and t > 0:
                lo = rng[0] if rng is not None and rng[0] < t else 0.0
                return layer.sequence.slice(lo, t), t
        seed = self.context.seed_sequence()
        return seed, (rng[1] if rng is not None else None)

    def update_seed_label(self) -> None:
        layer = self.context.current_layer()
        rng = self.context.selected_time_range()
        playhead = self._playhead() if self.from_combo.currentData() == "playhead" else None
        if layer is None:
            self.seed_label.setText("Seed: open a MIDI file or select a layer.")
        elif playhead is not None and playhead > 0:
            self.seed_label.setText(f"Seed: '{layer.name}' up to the playhead at {playhead:.2f} s.")
        elif rng is None:
            self.seed_label.setText(f"Seed: all of '{layer.name}' (drag on the ruler to pick a range).")
        else:
            self.seed_label.setText(f"Seed: '{layer.name}' from {rng[0]:.2f} s to {rng[1]:.2f} s.")

    # --- running ----------------------------------------------------------------
    def generate(self) -> None:
        try:
            settings = self.settings()
            settings.validate()
        except Exception as exc:  # MusestudioError: a user mistake in the controls
            self.context.show_error(str(exc))
            return
        self._start(settings)

    def regenerate(self) -> None:
        if self._last_settings is None:
            return
        import dataclasses

        self._start(dataclasses.replace(self._last_settings, random_seed=random.randrange(2**31)))

    def _start(self, settings: Any) -> None:
        from musestudio.core.progress import CancelToken
        from musestudio.ml.generate import generate_work

        seed, start = self.seed_and_start()
        if seed is None or not seed.notes:
            self.context.show_error("Choose a seed first: a layer with notes (and optionally a range on the ruler).")
            return
        if start is not None:
            import dataclasses

            settings = dataclasses.replace(settings, start=start)
        layer = self.context.current_layer()
        self.seed_layer_name = layer.name if layer is not None else "seed"
        self._seed_layer_id = layer.id if layer is not None else None
        self._seed_end = start if start is not None else seed.duration
        self._last_settings = settings
        self._cancel = CancelToken()
        self.generate_button.setEnabled(False)
        self.regenerate_button.setEnabled(False)
        self.context.run_work(generate_work(seed, settings, self._cancel), self._done, self._failed,
                              cancel=self._cancel, label=f"Generating ({settings.model})")

    def _done(self, results: list[Any]) -> None:
        self._enable()
        s = self._last_settings
        add = getattr(self.context, "add_candidate", None)
        for i, seq in enumerate(results, start=1):
            name = f"{s.model} #{s.random_seed} v{i}"
            try:
                layer = add(name, seq, seed_layer_id=self._seed_layer_id, seed_end=self._seed_end)
            except (TypeError, AttributeError):  # a window without candidate support: a plain layer
                layer = self.context.add_layer(name, seq, CANDIDATE_KIND)
            if layer.id not in self.candidates:
                self.candidates.append(layer.id)
                self.candidate_list.addItem(f"{layer.name} ({len(seq.notes)} notes)")
        self.context.show_status(f"{len(results)} continuation(s) added as candidate layers")

    def _failed(self, message: str) -> None:
        self._enable()
        self.context.show_error(message)

    def _enable(self) -> None:
        self.generate_button.setEnabled(True)
        self.regenerate_button.setEnabled(self._last_settings is not None)

    # --- candidates ---------------------------------------------------------------
    def _selected_index(self) -> int | None:
        row = self.candidate_list.currentRow()
        return row if 0 <= row < len(self.candidates) else None

    def _remove_layers(self, ids: list[str]) -> None:
        window = getattr(self.context, "_window", None)
        delete = getattr(window, "delete_layers", None)
        if delete is not None:
            delete(ids)  # undoable, through the window's undo stack
        else:
            for lid in ids:
                self.context.project.remove_layer(lid)
        self._forget(ids)

    def _forget(self, ids: list[str]) -> None:
        for lid in ids:
            if lid in self.candidates:
                row = self.candidates.index(lid)
                self.candidates.pop(row)
                self.candidate_list.takeItem(row)

    def accept_selected(self) -> None:
        row = self._selected_index()
        if row is None:
            self.context.show_error("Select a candidate to accept.")
            return
        project = self.context.project
        chosen = project.layer(self.candidates[row])
        if getattr(chosen, "candidate_of", None) is not None and hasattr(self.context, "accept_candidate"):
            try:
                self.context.accept_candidate(chosen.id, mode=self.then_combo.currentData(),
                                              gap=self.gap.value())  # one undo step, in the document
            except (AttributeError, TypeError):
                pass
            else:
                self._sync_candidates()
                return
        base = next((la for la in project.layers if la.name == self.seed_layer_name), None)
        merged = chosen.sequence if base is None else base.sequence.merged(chosen.sequence)
        self.context.add_layer(f"{self.seed_layer_name} + {chosen.name}", merged, CANDIDATE_KIND)
        self._remove_layers(list(self.candidates))

    def discard_selected(self) -> None:
        row = self._selected_index()
        if row is not None:
            self._remove_layers([self.candidates[row]])

    def discard_all(self) -> None:
        self._remove_layers(list(self.candidates))

    def _sync_candidates(self) -> None:
        """The Candidates list follows the document (undo/redo bring candidates back)."""
        project = self.context.project
        listed = getattr(project, "candidates", None)
        present = {la.id for la in project.layers}
        self._forget([lid for lid in self.candidates if lid not in present])
        if callable(listed):
            for layer in listed():
                if layer.id not in self.candidates:
                    self.candidates.append(layer.id)
                    self.candidate_list.addItem(f"{layer.name} ({len(layer.sequence.notes)} notes)")

    def _project_changed(self) -> None:
        self.candidates.clear()
        self.candidate_list.clear()
        self.update_seed_label()
