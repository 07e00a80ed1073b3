"""A strip of view thumbnails (shared by the Instance panel and the image browser)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

VIEW_ROLE = Qt.ItemDataRole.UserRole + 10


def missing_badge(pixmap: QPixmap) -> QPixmap:
    """Grey out a thumbnail and cross it: the instance is not seen in this view."""
    out = QPixmap(pixmap.size())
    out.fill(QColor(0, 0, 0, 0))
    p = QPainter(out)
    p.setOpacity(0.35)
    p.drawPixmap(0, 0, pixmap)
    p.setOpacity(1.0)
    pen = QPen(QColor(220, 60, 60))
    pen.setWidth(3)
    p.setPen(pen)
    w, h = out.width(), out.height()
    p.drawLine(6, 6, w - 6, h - 6)
    p.drawLine(w - 6, 6, 6, h - 6)
    p.end()
    return out


class ThumbnailStrip(QListWidget):
    view_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None, icon_side: int = 150, wrap: bool = False) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(wrap)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(icon_side, icon_side))
        self.setSpacing(4)
        self.setWordWrap(True)
        if not wrap:
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.setFixedHeight(icon_side + 52)
        self.itemClicked.connect(lambda item: self.view_activated.emit(item.data(VIEW_ROLE)))
        self.itemActivated.connect(lambda item: self.view_activated.emit(item.data(VIEW_ROLE)))

    def set_items(self, entries: list[tuple[int, QPixmap, str, str]]) -> None:
        """entries: (view index, pixmap, caption, tooltip)."""
        self.clear()
        for view, pixmap, caption, tip in entries:
            item = QListWidgetItem(QIcon(pixmap), caption)
            item.setData(VIEW_ROLE, view)
            item.setToolTip(tip)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.addItem(item)

    def item_for_view(self, view: int) -> QListWidgetItem | None:
        for i in range(self.count()):
            if self.item(i).data(VIEW_ROLE) == view:
                return self.item(i)
        return None
