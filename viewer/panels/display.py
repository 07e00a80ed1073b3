"""Display panel: colour mode, point size, live confidence filter, cameras, grid."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QWidget,
)
from superqt import QLabeledDoubleSlider

from viewer.colouring import COLOUR_MODES
from viewer.scene_view import SceneView
from viewer.settings import AppSettings


class DisplayPanel(QDockWidget):
    colour_mode_changed = Signal(str)

    def __init__(self, view: SceneView, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__("Display", parent)
        self.setObjectName("display_panel")
        self.view = view
        self.settings = settings
        body = QWidget(self)
        form = QFormLayout(body)

        self.colour_mode = QComboBox(body)
        self.colour_mode.setObjectName("colour_mode")
        for key, label in COLOUR_MODES.items():
            self.colour_mode.addItem(label, key)
        self.colour_mode.setToolTip("What the point colours show (keys 1-6)")
        form.addRow("Colour", self.colour_mode)

        self.point_size = QDoubleSpinBox(body)
        self.point_size.setObjectName("point_size")
        self.point_size.setRange(1.0, 12.0)
        self.point_size.setSingleStep(0.5)
        self.point_size.setSuffix(" px")
        self.point_size.setToolTip("Size of the points on screen")
        form.addRow("Point size", self.point_size)

        self.threshold = QLabeledDoubleSlider(Qt.Orientation.Horizontal, body)
        self.threshold.setObjectName("confidence_threshold")
        self.threshold.setRange(0.0, 99.0)
        self.threshold.setDecimals(0)
        self.threshold.setSingleStep(1.0)
        self.threshold.setToolTip("Hide the least confident points: percentile of the point confidence")
        form.addRow("Hide below (%)", self.threshold)
        self.visible_label = QLabel("", body)
        self.visible_label.setObjectName("visible_points")
        form.addRow("", self.visible_label)

        self.frustums = QCheckBox("Show cameras", body)
        self.frustums.setObjectName("show_cameras")
        self.frustums.setToolTip("Draw the photo cameras; click one to look through it (C)")
        form.addRow(self.frustums)
        self.grid = QCheckBox("Show grid", body)
        self.grid.setObjectName("show_grid")
        form.addRow(self.grid)
        self.setWidget(body)

        mode_index = self.colour_mode.findData(settings.get("view/colour_mode", "rgb"))
        self.colour_mode.setCurrentIndex(max(0, mode_index))
        self.point_size.setValue(settings.get("view/point_size", 2.0))
        self.frustums.setChecked(settings.get("view/frustums", True))
        view.colour_mode = self.colour_mode.currentData()
        view.point_size = self.point_size.value()
        view.frustums_visible = self.frustums.isChecked()

        self.colour_mode.currentIndexChanged.connect(self._on_mode)
        self.point_size.valueChanged.connect(self._on_point_size)
        self.threshold.valueChanged.connect(self._on_threshold)
        self.frustums.toggled.connect(self._on_frustums)
        self.grid.toggled.connect(view.set_grid_visible)
        self.refresh()

    def set_colour_mode(self, mode: str) -> None:
        self.colour_mode.setCurrentIndex(self.colour_mode.findData(mode))

    def _on_mode(self, _index: int) -> None:
        mode = self.colour_mode.currentData()
        self.settings.set("view/colour_mode", mode)
        if self.view.scene is not None:
            self.view.set_colour_mode(mode)
        else:
            self.view.colour_mode = mode
        self.colour_mode_changed.emit(mode)

    def _on_point_size(self, value: float) -> None:
        self.settings.set("view/point_size", value)
        self.view.set_point_size(value)

    def _on_threshold(self, value: float) -> None:
        self.view.set_confidence_threshold(value)
        self.refresh()

    def _on_frustums(self, on: bool) -> None:
        self.settings.set("view/frustums", on)
        self.view.set_frustums_visible(on)

    def refresh(self) -> None:
        """Update the visible-points line (after a scene change or a filter change)."""
        if self.view.scene is None:
            self.visible_label.setText("")
            return
        self.visible_label.setText(f"{self.view.n_visible:,} of {self.view.n_points:,} points shown")
