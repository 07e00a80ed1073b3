"""Instance panel: the picked instance's name, colour, size, views seen, consistency, and its mask in
every view (drawn over the photo; views where it is missing are marked)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QFormLayout, QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.scene import Scene
from viewer.imagery import ViewImages, overlay, to_pixmap
from viewer.panels.instances import format_consistency, swatch
from viewer.panels.thumbnails import ThumbnailStrip, missing_badge
from viewer.selection import Selection

NOTHING = "Click a point in the 3D view to pick its instance."


class InstanceDetailPanel(QDockWidget):
    view_activated = Signal(int)

    def __init__(self, selection: Selection, parent: QWidget | None = None) -> None:
        super().__init__("Instance", parent)
        self.setObjectName("instance_panel")
        self.selection = selection
        self.scene: Scene | None = None
        self.images: ViewImages | None = None
        self._label_cache: dict[int, object] = {}

        body = QWidget(self)
        self.placeholder = QLabel(NOTHING, body)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)
        self.name = QLabel("", body)
        self.name.setObjectName("instance_name")
        font = self.name.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.name.setFont(font)
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.colour = QLabel(body)
        self.colour.setObjectName("instance_colour")
        self.points = QLabel(body)
        self.points.setObjectName("instance_points")
        self.views = QLabel(body)
        self.views.setObjectName("instance_views")
        self.consistency = QLabel(body)
        self.consistency.setObjectName("instance_consistency")
        self.consistency.setToolTip("How well the instance's masks agree across the views it is seen in")
        form = QFormLayout()
        form.addRow("Colour", self.colour)
        form.addRow("Points", self.points)
        form.addRow("Views", self.views)
        form.addRow("Consistency", self.consistency)
        self.strip = ThumbnailStrip(body, icon_side=140)
        self.strip.setObjectName("instance_thumbnails")
        self.strip.setToolTip("The instance's mask in every view; click to open the view")
        self.strip.view_activated.connect(self.view_activated)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.placeholder)
        layout.addWidget(self.name)
        layout.addLayout(form)
        layout.addWidget(self.strip)
        layout.addStretch(1)
        # in a scroll area: what an instance shows never changes the dock's size (no jumping panels, and
        # the window never grows past the screen)
        scroll = QScrollArea(self)
        scroll.setObjectName("instance_scroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.setWidget(scroll)
        self._details = [self.name, self.colour, self.points, self.views, self.consistency, self.strip]
        selection.changed.connect(self.show_instance)
        self.show_instance(None)

    def set_scene(self, scene: Scene | None, images: ViewImages | None) -> None:
        if self.scene is not None:
            self.scene.events.instance_changed.disconnect(self._on_instance_changed)
            self.scene.events.labels.disconnect(self._on_labels)
        self.scene = scene
        self.images = images
        self._label_cache.clear()
        if scene is not None:
            scene.events.instance_changed.connect(self._on_instance_changed)
            scene.events.labels.connect(self._on_labels)
        self.show_instance(self.selection.instance)

    def _on_labels(self) -> None:
        self._label_cache.clear()
        self.show_instance(self.selection.instance)

    def _on_instance_changed(self, instance_id: int, _field: str) -> None:
        if instance_id == self.selection.instance:
            self.show_instance(instance_id)

    def _thumb_labels(self, view: int, shape):
        key = (view, shape)
        if key not in self._label_cache:
            self._label_cache[key] = self.images.labels_at(view, shape)
        return self._label_cache[key]

    def show_instance(self, instance_id: int | None) -> None:
        scene = self.scene
        inst = None if scene is None or not instance_id else scene.instances.get(instance_id)
        self.placeholder.setVisible(inst is None)
        for w in self._details:
            w.setVisible(inst is not None)
        if inst is None:
            self.strip.clear()
            return
        stats = inst.stats
        self.name.setText(inst.name + (f"  ({inst.category})" if inst.category else ""))
        self.colour.setPixmap(swatch(inst.colour, 16))
        self.colour.setToolTip("rgb({}, {}, {})".format(*inst.colour))
        self.points.setText(f"{stats.point_count:,}")
        seen = stats.views
        self.views.setText(f"seen in {len(seen)} of {scene.n_views}")
        text = format_consistency(stats.consistency)
        if stats.confused_with is not None and stats.confused_with in scene.instances:
            text += f" (mixed up with {scene.instances[stats.confused_with].name})"
        self.consistency.setText(text)
        entries = []
        colours = {inst.id: inst.colour}
        for v in range(scene.n_views):
            thumb = self.images.thumbnail(v)
            labels = self._thumb_labels(v, thumb.shape[:2])
            present = stats.view_pixels.get(v, 0) > 0
            if present:
                pm = to_pixmap(overlay(thumb, labels, colours, opacity=0.55, only=inst.id, dim_rest=0.35))
                caption = scene.views[v].name
                tip = f"{scene.views[v].name}: {stats.view_pixels[v]:,} pixels"
            else:
                pm = missing_badge(to_pixmap(thumb))
                caption = f"{scene.views[v].name}\n(missing)"
                tip = f"{scene.views[v].name}: not seen in this view"
            entries.append((v, pm, caption, tip))
        self.strip.set_items(entries)
