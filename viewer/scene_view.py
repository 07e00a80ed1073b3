"""The 3D view: a pyvistaqt QtInteractor showing the point cloud (basic version for the app shell)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyvista as pv
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

log = logging.getLogger(__name__)

DEFAULT_BACKGROUND = "#1e2126"


class SceneView(QWidget):
    """Owns the render window; everything else talks to it through methods, not the plotter."""

    rendered = Signal()

    def __init__(self, parent: QWidget | None = None, background: str = DEFAULT_BACKGROUND) -> None:
        super().__init__(parent)
        self.setObjectName("scene_view")
        self.plotter = QtInteractor(self, auto_update=False)
        self.plotter.setObjectName("scene_interactor")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plotter)
        self._background = background
        self.plotter.set_background(background)
        self._axes_visible = False
        self._cloud_actor = None
        self._closed = False

    # content ------------------------------------------------------------------------------------
    def set_points(self, points: np.ndarray, rgb: np.ndarray | None = None) -> None:
        if self._cloud_actor is not None:
            self.plotter.remove_actor(self._cloud_actor, render=False)
        cloud = pv.PolyData(np.asarray(points, dtype=np.float32))
        if rgb is not None:
            cloud.point_data["rgb"] = np.asarray(rgb, dtype=np.uint8)
        self._cloud_actor = self.plotter.add_points(
            cloud, scalars="rgb" if rgb is not None else None, rgb=rgb is not None, point_size=2,
            reset_camera=False, render=False,
        )
        self.reset_view()

    # view controls ------------------------------------------------------------------------------
    def reset_view(self) -> None:
        self.plotter.reset_camera(render=False)
        self.render()

    def set_background(self, color: str) -> None:
        self._background = color
        self.plotter.set_background(color)
        self.render()

    def background(self) -> str:
        return self._background

    def set_parallel_projection(self, on: bool) -> None:
        if on:
            self.plotter.enable_parallel_projection()
        else:
            self.plotter.disable_parallel_projection()
        self.render()

    def set_axes_visible(self, on: bool) -> None:
        self._axes_visible = on
        if on:
            self.plotter.show_axes()
        else:
            self.plotter.hide_axes()
        self.render()

    def render(self) -> None:
        if not self._closed:
            self.plotter.render()
            self.rendered.emit()

    def save_screenshot(self, path: Path | str) -> Path:
        path = Path(path)
        self.plotter.screenshot(str(path))
        return path

    def shutdown(self) -> None:
        """Release the render window (call before the widget is destroyed)."""
        if not self._closed:
            self._closed = True
            self.plotter.close()
