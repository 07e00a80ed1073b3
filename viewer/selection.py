"""The selected instance, shared by the 3D view and every panel (one source, many listeners). Qt-free:
the signal is psygnal's, so the viewer state and its tests run without a GUI."""

from __future__ import annotations

from psygnal import Signal


class Selection:
    changed = Signal(object)  # int instance id | None

    def __init__(self) -> None:
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
