"""The merge dialog: candidates nearest first, each with its colour swatch and size; hovering one shows the
two instances alone in the 3D view (a preview of the merge), leaving the dialog restores the view."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.scene import Scene
from viewer.swatch import swatch

PreviewFn = Callable[[set[int] | None], None]  # instances to show alone (None: restore the view)


class MergeDialog(QDialog):
    def __init__(
        self, scene: Scene, instance_id: int, candidates: list[int], preview: PreviewFn | None = None,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("merge_dialog")
        self.setWindowTitle("Merge instances")
        self.instance_id = instance_id
        self._preview = preview
        self.previewed: int | None = None
        self.listing = QListWidget(self)
        self.listing.setObjectName("merge_candidates")
        self.listing.setMouseTracking(True)
        self.listing.itemEntered.connect(self._on_hover)
        self.listing.viewport().installEventFilter(self)
        for iid in candidates:
            inst = scene.instances[iid]
            item = QListWidgetItem(swatch(inst.colour), f"{inst.name}  ({inst.stats.point_count:,} points)")
            item.setData(Qt.ItemDataRole.UserRole, iid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            if inst.locked:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.listing.addItem(item)
        ok_cancel = QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        buttons = QDialogButtonBox(ok_cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        base = scene.instances[instance_id]
        title = QLabel(f"Merge {base.name} with (nearest first; point at one to see both alone in 3D):", self)
        title.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.listing)
        layout.addWidget(buttons)

    def _on_hover(self, item: QListWidgetItem) -> None:
        iid = int(item.data(Qt.ItemDataRole.UserRole))
        if iid != self.previewed and self._preview is not None:
            self.previewed = iid
            self._preview({self.instance_id, iid})

    def _end_preview(self) -> None:
        if self.previewed is not None and self._preview is not None:
            self.previewed = None
            self._preview(None)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            self._end_preview()
        return False

    def done(self, result: int) -> None:
        self._end_preview()
        super().done(result)

    def checked(self) -> list[int]:
        return [
            int(self.listing.item(r).data(Qt.ItemDataRole.UserRole))
            for r in range(self.listing.count())
            if self.listing.item(r).checkState() == Qt.CheckState.Checked
        ]


def view_preview(view) -> PreviewFn:
    """A preview function showing instances alone in ``view`` (a SceneView); None: back to the view's own
    isolation (the viewer state's, which the preview never changes)."""

    def preview(ids: set[int] | None) -> None:
        view.set_isolated(ids)

    return preview
