"""One place where the window's actions are declared: text, icon, shortcut, tooltip, menu placement.

Panels and teammates' features add their actions with ``ActionRegistry.add``; menus and toolbars are
filled from the registry, and Help > Shortcuts lists every action that has a shortcut.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import qtawesome as qta
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar


@dataclass
class ActionSpec:
    id: str
    text: str
    icon: str | None = None
    shortcut: str | QKeySequence.StandardKey | None = None
    tip: str = ""
    menu: str | None = None
    toolbar: bool = False
    checkable: bool = False


class ActionRegistry(QObject):
    """Creates QActions from specs and remembers them by id."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._actions: dict[str, QAction] = {}
        self._specs: dict[str, ActionSpec] = {}
        self._menus: dict[str, QMenu] = {}
        self._toolbar: QToolBar | None = None
        self._icon_color: str | None = None

    def bind(self, menus: dict[str, QMenu], toolbar: QToolBar) -> None:
        self._menus = menus
        self._toolbar = toolbar

    def add(self, spec: ActionSpec, slot: Callable | None = None) -> QAction:
        if spec.id in self._actions:
            raise ValueError(f"action {spec.id!r} is registered twice")
        action = QAction(spec.text, self.parent())
        action.setObjectName(f"action_{spec.id}")
        action.setCheckable(spec.checkable)
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        tip = spec.tip or spec.text.replace("&", "").rstrip(".…")
        shortcut_text = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip} ({shortcut_text})" if shortcut_text else tip)
        action.setStatusTip(tip)
        if spec.icon:
            action.setIcon(self._icon(spec.icon))
        if slot is not None:
            if spec.checkable:
                action.toggled.connect(slot)
            else:
                action.triggered.connect(lambda _checked=False, s=slot: s())
        self._actions[spec.id] = action
        self._specs[spec.id] = spec
        parent = self.parent()
        if hasattr(parent, "addAction"):
            parent.addAction(action)  # shortcuts keep working when menus/toolbar are hidden
        if spec.menu and spec.menu in self._menus:
            self._menus[spec.menu].addAction(action)
        if spec.toolbar and self._toolbar is not None:
            self._toolbar.addAction(action)
        return action

    def __getitem__(self, action_id: str) -> QAction:
        return self._actions[action_id]

    def __contains__(self, action_id: str) -> bool:
        return action_id in self._actions

    def specs(self) -> list[ActionSpec]:
        return list(self._specs.values())

    def shortcuts(self) -> list[tuple[str, str]]:
        """(action text, shortcut) for every action with a shortcut, in registration order."""
        rows = []
        for spec_id, action in self._actions.items():
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if keys:
                rows.append((self._specs[spec_id].text.replace("&", "").rstrip(".…"), keys))
        return rows

    def set_icon_color(self, color: str) -> None:
        """Re-tint every icon (theme change)."""
        self._icon_color = color
        for spec_id, action in self._actions.items():
            name = self._specs[spec_id].icon
            if name:
                action.setIcon(self._icon(name))

    def _icon(self, name: str):
        return qta.icon(name, color=self._icon_color) if self._icon_color else qta.icon(name)
