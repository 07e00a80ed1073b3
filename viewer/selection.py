"""The selected instance, shared by the 3D view and every panel (one source, many listeners)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class Selection(QObject):
    changed = Signal(object)  # int instance id | None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._instance: int | None = None

    @property
    def instance(self) -> int | None:
        return self._instance

    def select(self, instance_id: int | None) -> None:
        instance_id = int(instance_id) if instance_id else None
        if instance_id != self._instance:
            self._instance = instance_id
            self.changed.emit(instance_id)

    def clear(self) -> None:
        self.select(None)
