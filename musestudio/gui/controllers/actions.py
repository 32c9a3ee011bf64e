"""ActionRegistry: every menu/shortcut action under a stable id, with shortcuts the user can change.

Menus, toolbars and context menus fetch actions by id, so one action has one
shortcut everywhere.  A user's own shortcuts are stored in QSettings under
``shortcuts/<id>`` (an empty value means "no shortcut"); the defaults live
here in code, in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QKeySequenceEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from musestudio.gui.settings import open_qsettings

SETTINGS_GROUP = "shortcuts"


@dataclass
class ActionSpec:
    id: str
    text: str
    defaults: list[QKeySequence]


def _keys(shortcut: Any) -> list[QKeySequence]:
    if shortcut is None:
        return []
    items = shortcut if isinstance(shortcut, list | tuple) else [shortcut]
    out = []
    for k in items:
        seq = QKeySequence(k)
        if isinstance(k, QKeySequence.StandardKey):
            out.extend(QKeySequence.keyBindings(k) or [seq])
        elif not seq.isEmpty():
            out.append(seq)
    return out


class ActionRegistry(QObject):
    def __init__(self, host: QWidget, qsettings: Callable[[], QSettings] = open_qsettings) -> None:
        super().__init__(host)
        self.host = host
        self._qsettings = qsettings
        self.actions: dict[str, QAction] = {}
        self.specs: dict[str, ActionSpec] = {}

    def add(
        self,
        action_id: str,
        text: str,
        slot: Callable[..., Any] | None = None,
        shortcut: Any = None,
        tip: str = "",
        *,
        checkable: bool = False,
        action: QAction | None = None,
    ) -> QAction:
        """Register (and return) an action; the user's saved shortcut wins over ``shortcut``."""
        if action_id in self.actions:
            raise ValueError(f"action {action_id!r} registered twice")
        act = action or QAction(text, self.host)
        act.setObjectName(f"action_{action_id}")
        act.setCheckable(checkable)
        if slot is not None:
            act.triggered.connect(slot)
        spec = ActionSpec(action_id, text.replace("&", ""), _keys(shortcut))
        self.specs[action_id] = spec
        self.actions[action_id] = act
        if tip:
            act.setStatusTip(tip)
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self._apply(action_id, self._saved(action_id))
        self.host.addAction(act)
        return act

    def __getitem__(self, action_id: str) -> QAction:
        return self.actions[action_id]

    def get(self, action_id: str) -> QAction | None:
        return self.actions.get(action_id)

    def _saved(self, action_id: str) -> list[QKeySequence] | None:
        raw = self._qsettings().value(f"{SETTINGS_GROUP}/{action_id}", None)
        if raw is None:
            return None
        text = ", ".join(raw) if isinstance(raw, list) else str(raw)
        return [QKeySequence(p.strip()) for p in text.split(",") if p.strip()]

    def _apply(self, action_id: str, keys: list[QKeySequence] | None) -> None:
        act, spec = self.actions[action_id], self.specs[action_id]
        keys = spec.defaults if keys is None else keys
        act.setShortcuts(keys)
        tip = act.statusTip() or spec.text
        shown = keys[0].toString(QKeySequence.SequenceFormat.NativeText) if keys else ""
        act.setToolTip(f"{spec.text.rstrip('.')} ({shown})" if shown else tip)

    def shortcut_text(self, action_id: str) -> str:
        return ", ".join(k.toString() for k in self.actions[action_id].shortcuts())

    def set_shortcut(self, action_id: str, keys: str | list[str] | None) -> None:
        """Change and persist a shortcut; ``None`` restores the default, ``""`` removes it."""
        qs = self._qsettings()
        if keys is None:
            qs.remove(f"{SETTINGS_GROUP}/{action_id}")
            self._apply(action_id, None)
        else:
            text = keys if isinstance(keys, str) else ", ".join(keys)
            qs.setValue(f"{SETTINGS_GROUP}/{action_id}", text)
            self._apply(action_id, [QKeySequence(p.strip()) for p in text.split(",") if p.strip()])
        qs.sync()

    def conflicts(self) -> dict[str, list[str]]:
        """Key sequence -> action ids that share it (Qt then fires none of them)."""
        seen: dict[str, list[str]] = {}
        for action_id, act in self.actions.items():
            for k in act.shortcuts():
                seen.setdefault(k.toString(), []).append(action_id)
        return {k: ids for k, ids in seen.items() if len(ids) > 1}


class ShortcutsDialog(QDialog):
    """Edit → Keyboard Shortcuts…: one row per action; type a new shortcut, or clear it."""

    def __init__(self, registry: ActionRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.registry = registry
        ids = sorted(registry.actions, key=lambda i: registry.specs[i].text.lower())
        self.table = QTableWidget(len(ids), 2, self)
        self.table.setHorizontalHeaderLabels(["Command", "Shortcut"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(1, 210)
        self.table.verticalHeader().hide()
        self.editors: dict[str, QKeySequenceEdit] = {}
        for row, action_id in enumerate(ids):
            item = QTableWidgetItem(registry.specs[action_id].text)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, 0, item)
            act = registry.actions[action_id]
            edit = QKeySequenceEdit(act.shortcut(), self)
            edit.setClearButtonEnabled(True)
            self.table.setCellWidget(row, 1, edit)
            self.editors[action_id] = edit
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults,
            self,
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(600, 640)

    def restore_defaults(self) -> None:
        for action_id, edit in self.editors.items():
            defaults = self.registry.specs[action_id].defaults
            edit.setKeySequence(defaults[0] if defaults else QKeySequence())

    def apply(self) -> None:
        for action_id, edit in self.editors.items():
            new = edit.keySequence()
            act = self.registry.actions[action_id]
            if new.toString() == act.shortcut().toString():
                continue  # unchanged: keep any extra default shortcuts the action has
            defaults = self.registry.specs[action_id].defaults
            if defaults and new.toString() == defaults[0].toString():
                self.registry.set_shortcut(action_id, None)
            else:
                self.registry.set_shortcut(action_id, new.toString())

    def accept(self) -> None:
        self.apply()
        super().accept()
