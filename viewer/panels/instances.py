"""Instance list dock: searchable, sortable table of the scene's instances with visibility toggles,
isolate, in-place rename and selection synced with the 3D view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import qtawesome as qta
from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.review import review_state
from app.scene import Scene
from viewer.state import ViewerState

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
REVIEW_MARKS = {"accepted": "✓", "fixed": "✎"}  # shown after the name of reviewed instances
COLUMNS = ("Name", "Points", "Views", "Cons.")
COLUMN_TIPS = ("Instance name (tick: shown)", "Points in the cloud", "Views it is seen in",
               "Consistency: how well its masks agree across views")

EditFn = Callable[..., Any]  # edit(instance_id, **fields)


def swatch(colour: tuple[int, int, int], size: int = 12) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(QColor(*colour))
    return pm


def format_consistency(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


class InstanceTableModel(QAbstractTableModel):
    def __init__(self, edit: EditFn, parent=None) -> None:
        super().__init__(parent)
        self.scene: Scene | None = None
        self._ids: list[int] = []
        self._edit = edit
        self._swatches: dict[tuple[int, int, int], QPixmap] = {}

    def set_scene(self, scene: Scene | None) -> None:
        if self.scene is not None:
            self.scene.events.instances.disconnect(self.reload)
            self.scene.events.instance_changed.disconnect(self._on_changed)
        self.scene = scene
        if scene is not None:
            scene.events.instances.connect(self.reload)
            scene.events.instance_changed.connect(self._on_changed)
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._ids = [] if self.scene is None else list(self.scene.instances)
        self.endResetModel()

    def _on_changed(self, instance_id: int, _field: str) -> None:
        if instance_id in self._ids:
            row = self._ids.index(instance_id)
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def row_of(self, instance_id: int) -> int:
        return self._ids.index(instance_id) if instance_id in self._ids else -1

    def instance_id(self, row: int) -> int:
        return self._ids[row]

    # Qt model API -----------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS[section]
        return None

    def flags(self, index):
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            f |= Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable
        return f

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.scene is None:
            return None
        inst = self.scene.instances.get(self._ids[index.row()])
        if inst is None:
            return None
        col = index.column()
        stats = inst.stats
        if role == ID_ROLE:
            return inst.id
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == 0:  # reviewed instances carry their state's mark (app.review)
                mark = REVIEW_MARKS.get(review_state(inst), "")
                return f"{inst.name}  {mark}" if mark and role == Qt.ItemDataRole.DisplayRole else inst.name
            if col == 1:
                return f"{stats.point_count:,}" if role == Qt.ItemDataRole.DisplayRole else stats.point_count
            if col == 2:
                return f"{len(stats.views)}/{self.scene.n_views}"
            return format_consistency(stats.consistency)
        if role == SORT_ROLE:
            return (inst.name.lower(), stats.point_count, len(stats.views),
                    -1.0 if stats.consistency is None else stats.consistency)[col]
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            if inst.colour not in self._swatches:
                self._swatches[inst.colour] = swatch(inst.colour)
            return self._swatches[inst.colour]
        if role == Qt.ItemDataRole.CheckStateRole and col == 0:
            return Qt.CheckState.Checked if inst.visible else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            cat = f" ({inst.category})" if inst.category else ""
            return (f"{inst.name}{cat} — id {inst.id}\n{stats.point_count:,} points, seen in "
                    f"{len(stats.views)} of {self.scene.n_views} views, consistency "
                    f"{format_consistency(stats.consistency)}, {review_state(inst)}\n"
                    "Double-click to rename; tick to show/hide; Ctrl+click several, then Merge")
        if role == Qt.ItemDataRole.TextAlignmentRole and col > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and not inst.visible:
            return QColor(128, 128, 128)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or self.scene is None or index.column() != 0:
            return False
        iid = self._ids[index.row()]
        if role == Qt.ItemDataRole.EditRole:
            name = str(value).strip()
            if not name or name == self.scene.instances[iid].name:
                return False
            self._edit(iid, name=name)
            return True
        if role == Qt.ItemDataRole.CheckStateRole:
            visible = Qt.CheckState(value) == Qt.CheckState.Checked
            self._edit(iid, visible=visible)
            return True
        return False


class InstanceListPanel(QDockWidget):
    """Writes the selection to the viewer state and follows it; the isolate button asks for isolating
    (``isolate_requested``: the window records it for undo) and shows the state's isolation."""

    isolate_requested = Signal(bool)

    def __init__(self, state: ViewerState, edit: EditFn, parent: QWidget | None = None) -> None:
        super().__init__("Instances", parent)
        self.setObjectName("instances_panel")
        self.state = state
        self.selection = selection = state.selection
        self.model = InstanceTableModel(edit, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        body = QWidget(self)
        self.search = QLineEdit(body)
        self.search.setObjectName("instance_search")
        self.search.setPlaceholderText("Search instances…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.isolate_button = QToolButton(body)
        self.isolate_button.setObjectName("isolate_button")
        self.isolate_button.setCheckable(True)
        self.isolate_button.setIcon(qta.icon("mdi6.image-filter-center-focus"))
        self.isolate_button.setToolTip("Show only the selected instance (I)")
        self.isolate_button.toggled.connect(self._on_isolate_button)
        state.events.isolating.connect(self._show_isolating)

        self.table = QTableView(body)
        self.table.setObjectName("instance_table")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # several rows (Ctrl/Shift+click) then Merge merges them all (EditingController.list_selection)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)

        top = QHBoxLayout()
        top.addWidget(self.search)
        top.addWidget(self.isolate_button)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self.setWidget(body)
        selection.changed.connect(self._on_selection)
        # a reloaded table (e.g. re-clustering, undo) drops its row selection: select the row again
        self.model.modelReset.connect(lambda: self._on_selection(self.selection.instance))
        self._syncing = False
        self._from_table = False

    def set_scene(self, scene: Scene | None) -> None:
        self.model.set_scene(scene)

    def _on_isolate_button(self, on: bool) -> None:
        self.isolate_requested.emit(on)
        self._show_isolating(self.state.isolating)  # the request may have been refused

    def _show_isolating(self, on: bool) -> None:
        self.isolate_button.blockSignals(True)
        self.isolate_button.setChecked(bool(on))
        self.isolate_button.blockSignals(False)

    # selection sync ---------------------------------------------------------------------------------
    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing or not current.isValid():
            return
        iid = self.proxy.data(current, ID_ROLE)
        self._from_table = True  # the table already shows this selection (maybe with other rows: Ctrl+click)
        try:
            self.selection.select(iid)
        finally:
            self._from_table = False

    def _on_selection(self, instance_id: int | None) -> None:
        if self._from_table:  # (isolation follows the selection in the viewer state)
            return
        self._syncing = True
        try:
            sm = self.table.selectionModel()
            row = self.model.row_of(instance_id) if instance_id else -1
            if row < 0:
                sm.clearSelection()
                sm.setCurrentIndex(QModelIndex(), QItemSelectionModel.SelectionFlag.NoUpdate)
            else:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if index.isValid():
                    sm.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                       | QItemSelectionModel.SelectionFlag.Rows)
                    self.table.scrollTo(index)
        finally:
            self._syncing = False

    def selected_ids(self) -> list[int]:
        """Instance ids of the rows selected in the table (several when it allows multiple selection)."""
        sm = self.table.selectionModel()
        if sm is None:
            return []
        return [int(r.data(ID_ROLE)) for r in sm.selectedRows() if r.data(ID_ROLE) is not None]

    def selected_index(self) -> QModelIndex | None:
        iid = self.selection.instance
        row = self.model.row_of(iid) if iid else -1
        if row < 0:
            return None
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        return index if index.isValid() else None

    # actions ----------------------------------------------------------------------------------------
    def rename_selected(self) -> None:
        index = self.selected_index()
        if index is not None:
            self.table.setFocus()
            self.table.edit(index)

    def toggle_selected_visibility(self) -> None:
        index = self.selected_index()
        if index is not None:
            state = self.proxy.data(index, Qt.ItemDataRole.CheckStateRole)
            new = Qt.CheckState.Unchecked if state == Qt.CheckState.Checked else Qt.CheckState.Checked
            self.proxy.setData(index, new.value, Qt.ItemDataRole.CheckStateRole)

    def _context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        self.selection.select(self.proxy.data(index, ID_ROLE))
        menu = QMenu(self)
        menu.addAction(QAction("Rename", menu, triggered=self.rename_selected))
        menu.addAction(QAction("Show / hide", menu, triggered=self.toggle_selected_visibility))
        iso = QAction("Isolate", menu, checkable=True, checked=self.isolate_button.isChecked())
        iso.toggled.connect(self.isolate_button.setChecked)
        menu.addAction(iso)
        menu.popup(self.table.viewport().mapToGlobal(pos))


__all__ = ["InstanceListPanel", "InstanceTableModel"]
