"""Right-click on a point in the 3D view: a menu of that instance's actions (accept, rename, merge, split,
delete, isolate, show/hide). A right *drag* still zooms (VTK); only a right click opens the menu.

Installed by ``install_context_menu(window)``; uses the window's ``view`` (``pick``), ``selection``,
``actions_`` and ``push_edit``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtWidgets import QMenu

from app import review_actions as ra
from app.edits import EditError
from viewer.swatch import swatch

CLICK_TOLERANCE_PX = 4
# (window action id, menu text) offered for the instance under the pointer, in this order
INSTANCE_ACTIONS = (
    ("rename", "Rename…"),
    ("merge", "Merge with…"),
    ("split", "Split…"),
    ("delete", "Delete"),
    ("isolate", "Isolate"),
    ("toggle_visible", "Show/hide"),
)


class ContextMenu(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self._press: QPoint | None = None
        self.last_menu: QMenu | None = None
        window.view.plotter.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        et = event.type()
        if et == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.RightButton:
            self._press = event.position().toPoint()
        elif et == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.RightButton:
            press, self._press = self._press, None
            pos = event.position().toPoint()
            if press is not None and (pos - press).manhattanLength() <= CLICK_TOLERANCE_PX:
                self.open_at(pos)
        return False

    def build(self, x: float, y: float) -> QMenu | None:
        """The menu for the point at widget position (x, y); None when no instance is there."""
        scene = self.window.document.scene
        if scene is None:
            return None
        result = self.window.view.pick(x, y)
        iid = int(result.instance or 0)
        if iid not in scene.instances:
            return None
        self.window.selection.select(iid)  # the window's actions work on the selection
        inst = scene.instances[iid]
        menu = QMenu(self.window)
        menu.setObjectName("instance_context_menu")
        title = menu.addAction(swatch(inst.colour), inst.name)
        title.setEnabled(False)
        menu.addSeparator()
        accept = menu.addAction("Accept (reviewed)")
        accept.setObjectName("context_accept")
        accept.triggered.connect(lambda: self._accept(iid))
        for action_id, text in INSTANCE_ACTIONS:
            action = self.window.actions_[action_id]
            item = menu.addAction(action.icon(), text)
            item.setObjectName(f"context_{action_id}")
            item.setEnabled(action.isEnabled())
            item.triggered.connect(action.trigger)
        return menu

    def open_at(self, pos: QPoint) -> None:
        menu = self.build(pos.x(), pos.y())
        if menu is not None:
            self.last_menu = menu
            menu.popup(self.window.view.plotter.mapToGlobal(pos))

    def _accept(self, iid: int) -> None:
        scene = self.window.document.scene
        try:
            edit = ra.accept(scene, iid)
        except EditError as exc:
            self.window.statusBar().showMessage(str(exc), 6000)
            return
        self.window.push_edit(edit)


def install_context_menu(window: Any) -> ContextMenu:
    existing = getattr(window, "context_menu", None)
    if isinstance(existing, ContextMenu):
        return existing
    window.context_menu = ContextMenu(window)
    return window.context_menu
