"""Display panel: colour mode, point size, live confidence filter, cameras, grid.

It writes what the user chooses into the viewer state and follows the state's events (the 3D view,
the keyboard shortcuts and the View menu write to the same state)."""

from __future__ import annotations

from PySide6.QtCore import Qt
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

from viewer.state import COLOUR_MODES, POINT_SIZE_RANGE, ViewerState


class DisplayPanel(QDockWidget):
    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__("Display", parent)
        self.setObjectName("display_panel")
        self.state = state
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
        self.point_size.setRange(*POINT_SIZE_RANGE)
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

        self._show_state()
        self.colour_mode.currentIndexChanged.connect(
            lambda _i: state.set_colour_mode(self.colour_mode.currentData()))
        self.point_size.valueChanged.connect(state.set_point_size)
        self.threshold.valueChanged.connect(state.set_threshold)
        self.frustums.toggled.connect(lambda on: setattr(state, "frustums_visible", on))
        self.grid.toggled.connect(lambda on: setattr(state, "grid_visible", on))
        for name in ("colour_mode", "point_size", "threshold_percent", "frustums_visible", "grid_visible"):
            getattr(state.events, name).connect(self._show_state)

    def set_colour_mode(self, mode: str) -> None:
        self.state.set_colour_mode(mode)

    def _show_state(self, *_args) -> None:
        """Show the state's values without writing them back."""
        s = self.state
        for widget, setter, value in (
            (self.colour_mode, self.colour_mode.setCurrentIndex, self.colour_mode.findData(s.colour_mode)),
            (self.point_size, self.point_size.setValue, s.point_size),
            (self.threshold, self.threshold.setValue, s.threshold_percent),
            (self.frustums, self.frustums.setChecked, s.frustums_visible),
            (self.grid, self.grid.setChecked, s.grid_visible),
        ):
            widget.blockSignals(True)
            try:
                setter(value)
            finally:
                widget.blockSignals(False)

    def show_point_counts(self, shown: int, total: int) -> None:
        """The visible-points line (the 3D view reports it after a scene or filter change)."""
        self.visible_label.setText(f"{shown:,} of {total:,} points shown" if total else "")
