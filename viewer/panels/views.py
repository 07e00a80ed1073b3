"""Image browser dock: thumbnails of all views and one view shown large with its instance masks
(adjustable opacity); hovering a mask names the instance, clicking it selects the instance."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.scene import NO_INSTANCE, Scene
from viewer.imagery import ViewImages, overlay, to_pixmap
from viewer.panels.thumbnails import ThumbnailStrip
from viewer.selection import Selection

MAX_DISPLAY_SIDE = 2048  # overlays are composed at most this large (the widget is smaller anyway)


class ImageCanvas(QWidget):
    """Paints one photo with its masks, scaled to fit; reports the instance under the cursor."""

    hovered = Signal(int)  # instance id under the cursor (0: none)
    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(200, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._pixmap: QPixmap | None = None
        self._labels: np.ndarray | None = None
        self.hover_id = 0

    def set_content(self, pixmap: QPixmap | None, labels: np.ndarray | None) -> None:
        self._pixmap = pixmap
        self._labels = labels
        self.update()

    def image_rect(self) -> QRectF:
        if self._pixmap is None:
            return QRectF()
        pw, ph = self._pixmap.width(), self._pixmap.height()
        scale = min(self.width() / pw, self.height() / ph)
        w, h = pw * scale, ph * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def label_at(self, pos: QPointF) -> int:
        rect = self.image_rect()
        if self._labels is None or rect.isEmpty() or not rect.contains(pos):
            return NO_INSTANCE
        h, w = self._labels.shape
        col = int((pos.x() - rect.left()) / rect.width() * w)
        row = int((pos.y() - rect.top()) / rect.height() * h)
        return int(self._labels[min(max(row, 0), h - 1), min(max(col, 0), w - 1)])

    def widget_pos_of(self, row: float, col: float) -> QPointF:
        """Widget position of a pixel of the shown label grid (tests, automation)."""
        rect = self.image_rect()
        h, w = self._labels.shape
        return QPointF(rect.left() + (col + 0.5) / w * rect.width(),
                       rect.top() + (row + 0.5) / h * rect.height())

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window())
        if self._pixmap is not None:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawPixmap(self.image_rect(), self._pixmap, QRectF(self._pixmap.rect()))
        p.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        iid = self.label_at(event.position())
        if iid != self.hover_id:
            self.hover_id = iid
            self.hovered.emit(iid)

    def leaveEvent(self, _event) -> None:
        if self.hover_id:
            self.hover_id = 0
            self.hovered.emit(0)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.label_at(event.position()))


class ImageBrowserPanel(QDockWidget):
    view_changed = Signal(int)

    def __init__(self, selection: Selection, parent: QWidget | None = None) -> None:
        super().__init__("Images", parent)
        self.setObjectName("images_panel")
        self.selection = selection
        self.scene: Scene | None = None
        self.images: ViewImages | None = None
        self.current_view: int | None = None
        self._display_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

        body = QWidget(self)
        self.strip = ThumbnailStrip(body, icon_side=96)
        self.strip.setObjectName("view_thumbnails")
        self.strip.view_activated.connect(self.show_view)
        self.canvas = ImageCanvas(body)
        self.canvas.setObjectName("image_canvas")
        self.canvas.hovered.connect(self._on_hover)
        self.canvas.clicked.connect(self._on_canvas_click)
        self.opacity = QSlider(Qt.Orientation.Horizontal, body)
        self.opacity.setObjectName("mask_opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.setToolTip("Opacity of the instance masks")
        self.opacity.valueChanged.connect(lambda _v: self._redraw())
        self.hover_label = QLabel(" ", body)
        self.hover_label.setObjectName("hover_label")
        self.title = QLabel("", body)
        bottom = QHBoxLayout()
        bottom.addWidget(self.title, 1)
        bottom.addWidget(self.hover_label, 1)
        bottom.addWidget(QLabel("Masks", body))
        bottom.addWidget(self.opacity)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.strip)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(bottom)
        self.setWidget(body)
        selection.changed.connect(lambda _i: self._redraw())

    def set_scene(self, scene: Scene | None, images: ViewImages | None) -> None:
        if self.scene is not None:
            self.scene.events.labels.disconnect(self._on_labels)
            self.scene.events.instance_changed.disconnect(self._on_instance_changed)
        self.scene = scene
        self.images = images
        self._display_cache.clear()
        self.current_view = None
        if scene is None:
            self.strip.clear()
            self.canvas.set_content(None, None)
            self.title.setText("")
            return
        scene.events.labels.connect(self._on_labels)
        scene.events.instance_changed.connect(self._on_instance_changed)
        self.strip.set_items([
            (v, to_pixmap(images.thumbnail(v, 120)), info.name, info.path)
            for v, info in enumerate(scene.views)
        ])
        self.show_view(0, emit=False)

    def _on_labels(self) -> None:
        self._display_cache.clear()
        self._redraw()

    def _on_instance_changed(self, _iid: int, field: str) -> None:
        if field in ("colour", "name"):
            self._redraw()

    def _display_image(self, view: int) -> tuple[np.ndarray, np.ndarray]:
        if view not in self._display_cache:
            from PIL import Image

            img = self.images.original(view)
            h, w = img.shape[:2]
            if max(h, w) > MAX_DISPLAY_SIDE:
                s = MAX_DISPLAY_SIDE / max(h, w)
                size = (round(w * s), round(h * s))
                img = np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR))
            self._display_cache = {view: (img, self.images.labels_at(view, img.shape[:2]))}
        return self._display_cache[view]

    def show_view(self, view: int, emit: bool = True) -> None:
        if self.scene is None or not 0 <= view < self.scene.n_views:
            return
        self.current_view = view
        item = self.strip.item_for_view(view)
        if item is not None:
            self.strip.setCurrentItem(item)
        info = self.scene.views[view]
        h0, w0 = info.original_size
        self.title.setText(f"{info.name}  ({w0}×{h0})")
        self._redraw()
        if emit:
            self.view_changed.emit(view)

    def _redraw(self) -> None:
        if self.scene is None or self.current_view is None:
            return
        img, labels = self._display_image(self.current_view)
        colours = self.scene.instance_colours()
        hidden = [i for i, inst in self.scene.instances.items() if not inst.visible]
        shown = np.where(np.isin(labels, hidden), NO_INSTANCE, labels) if hidden else labels
        opacity = self.opacity.value() / 100.0
        picture = overlay(img, shown, colours, opacity=opacity, outline=opacity > 0)
        selected = self.selection.instance
        if selected:
            picture = overlay(picture, shown, colours, opacity=min(1.0, opacity + 0.3), only=selected,
                              dim_rest=0.0)
        self.canvas.set_content(to_pixmap(picture), labels)

    def _on_hover(self, iid: int) -> None:
        inst = None if self.scene is None else self.scene.instances.get(iid)
        text = inst.name if inst is not None else " "
        self.hover_label.setText(text)
        self.canvas.setToolTip("" if inst is None else inst.name)

    def _on_canvas_click(self, iid: int) -> None:
        if iid:
            self.selection.select(iid)
