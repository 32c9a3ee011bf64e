"""The layer list: show/mute/solo check boxes, colour swatch, editable name, drag a layer out as .mid."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDrag, QIcon, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from musestudio.core.project import Project, one_track

COL_SHOW, COL_MUTE, COL_SOLO, COL_COLOR, COL_NAME, COL_NOTES = range(6)


def swatch(color: str, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(color))
    return QIcon(pm)


def safe_file_stem(name: str) -> str:
    stem = re.sub(r"[^\w\- ]+", "_", name).strip() or "layer"
    return stem[:60]


class LayerTree(QTreeWidget):
    """A tree whose rows can be dragged out of the window as MIDI files (into a DAW or a file manager)."""

    def __init__(self, panel: LayersPanel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)

    def startDrag(self, supported: Any) -> None:  # noqa: N802
        paths = self.panel.export_for_drag()
        if not paths:
            return
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.exec(Qt.DropAction.CopyAction)


class LayersPanel(QWidget):
    visibility_toggled = Signal(str, str, bool)  # layer id, property (visible/muted/solo), value
    rename_requested = Signal(str, str)
    color_requested = Signal(str, str)
    delete_requested = Signal(list)
    current_changed = Signal(object)  # layer id or None
    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self._updating = False
        self.tree = LayerTree(self)
        self.tree.setColumnCount(6)
        self.tree.setHeaderLabels(["Show", "M", "S", "", "Layer", "Notes"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setToolTip(
            "Layers. The highlighted layer is the one you edit.\n"
            "Show / M (mute) / S (solo); double-click the name to rename, the swatch to recolour;\n"
            "drag a layer out of the window to drop it into a DAW as a .mid file."
        )
        head = self.tree.headerItem()
        for col, tip in ((COL_SHOW, "Show the layer"), (COL_MUTE, "Mute: leave out of playback"),
                         (COL_SOLO, "Solo: play only soloed layers"), (COL_COLOR, "Colour (double-click to change)"),
                         (COL_NOTES, "Number of notes")):
            head.setToolTip(col, tip)
        header = self.tree.header()
        header.setStretchLastSection(False)
        for col in (COL_SHOW, COL_MUTE, COL_SOLO, COL_COLOR, COL_NOTES):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        self.tree.itemChanged.connect(self._item_changed)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.tree.currentItemChanged.connect(lambda cur, _prev: self.current_changed.emit(self._id(cur)))
        self.tree.itemSelectionChanged.connect(self.selection_changed.emit)
        delete = QPushButton("Delete layer")
        delete.setToolTip("Delete the selected layers (undoable)")
        delete.clicked.connect(lambda: self.delete_requested.emit(self.selected_ids()))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(delete)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)
        self._temp: Path | None = None  # made on the first drag

    @staticmethod
    def _id(item: QTreeWidgetItem | None) -> str | None:
        return None if item is None else item.data(COL_NAME, Qt.ItemDataRole.UserRole)

    def set_project(self, project: Project) -> None:
        self.project = project
        self.sync()

    def set_dark(self, dark: bool) -> None:
        """Fusion outlines check boxes with a darker shade of the window colour, which vanishes on a
        dark base; a lighter window colour for this tree alone makes the show/mute/solo boxes visible."""
        pal = self.tree.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor("#6a707a" if dark else "#d0d0d0"))
        self.tree.setPalette(pal)

    def sync(self, current_id: str | None = None) -> None:
        if self.project is None:
            return
        keep = current_id or self.current_id()
        selected = set(self.selected_ids())
        self._updating = True
        self.tree.blockSignals(True)
        try:
            self.tree.clear()
            for layer in self.project.layers:
                item = QTreeWidgetItem()
                flags = item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled
                item.setFlags(flags)
                item.setCheckState(COL_SHOW, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
                item.setCheckState(COL_MUTE, Qt.CheckState.Checked if layer.muted else Qt.CheckState.Unchecked)
                item.setCheckState(COL_SOLO, Qt.CheckState.Checked if layer.solo else Qt.CheckState.Unchecked)
                item.setIcon(COL_COLOR, swatch(layer.color))
                item.setText(COL_NAME, layer.name)
                item.setToolTip(COL_NAME, f"{layer.name} ({layer.kind})" + (f"\n{layer.source}" if layer.source else ""))
                item.setData(COL_NAME, Qt.ItemDataRole.UserRole, layer.id)
                item.setText(COL_NOTES, str(len(layer.sequence)))
                item.setTextAlignment(COL_NOTES, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.tree.addTopLevelItem(item)
                if layer.id in selected:
                    item.setSelected(True)
            for i in range(self.tree.topLevelItemCount()):
                item = self.tree.topLevelItem(i)
                if self._id(item) == keep:
                    self.tree.setCurrentItem(item)
                    break
            else:
                if self.tree.topLevelItemCount():
                    self.tree.setCurrentItem(self.tree.topLevelItem(0))
        finally:
            self.tree.blockSignals(False)
            self._updating = False
        self.current_changed.emit(self.current_id())

    def current_id(self) -> str | None:
        return self._id(self.tree.currentItem())

    def set_current(self, layer_id: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if self._id(item) == layer_id:
                self.tree.setCurrentItem(item)
                return

    def selected_ids(self) -> list[str]:
        ids = [self._id(item) for item in self.tree.selectedItems()]
        return [i for i in ids if i]

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or self.project is None:
            return
        lid = self._id(item)
        if lid is None:
            return
        if column in (COL_SHOW, COL_MUTE, COL_SOLO):
            prop = {COL_SHOW: "visible", COL_MUTE: "muted", COL_SOLO: "solo"}[column]
            self.visibility_toggled.emit(lid, prop, item.checkState(column) == Qt.CheckState.Checked)
        elif column == COL_NAME:
            name = item.text(COL_NAME).strip()
            if name and name != self.project.layer(lid).name:
                self.rename_requested.emit(lid, name)

    def _double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        lid = self._id(item)
        if lid is None or self.project is None:
            return
        if column == COL_COLOR:
            color = QColorDialog.getColor(QColor(self.project.layer(lid).color), self, "Layer colour")
            if color.isValid():
                self.color_requested.emit(lid, color.name())
        elif column == COL_NAME:
            self.tree.editItem(item, COL_NAME)

    def export_for_drag(self) -> list[Path]:
        """Write the selected layers to temporary .mid files named after them."""
        from musestudio.io.midi import write_midi

        if self.project is None:
            return []
        if self._temp is None:
            self._temp = Path(tempfile.mkdtemp(prefix="musestudio-drag-"))
        paths = []
        for lid in self.selected_ids() or ([self.current_id()] if self.current_id() else []):
            layer = self.project.layer(lid)
            path = self._temp / f"{safe_file_stem(layer.name)}.mid"
            write_midi(one_track(layer.sequence, layer.name), path, overwrite=True)  # one track named after it
            paths.append(path)
        return paths
