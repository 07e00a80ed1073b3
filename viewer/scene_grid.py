"""The 3D view's grid: pyvista's cube axes around the point cloud, with round ticks in scene units, or in
metres once the scene has a scale (``app.scale_grid`` decides the ticks and labels).

``SceneGrid(view)`` is owned by the SceneView; it rebuilds the axes when the grid is switched on, when
another scene is shown and when the scene's settings change (Set scale, its undo).
"""

from __future__ import annotations

import contextlib
from typing import Any

from app.measure import scale_of
from app.scale_grid import GridSpec, grid_spec
from app.scene import Scene

GRID_COLOUR = "#888888"


class SceneGrid:
    def __init__(self, view: Any) -> None:
        self.view = view
        self.spec: GridSpec | None = None
        self._scene: Scene | None = None

    def follow(self, scene: Scene | None) -> None:
        """Listen to ``scene``'s settings (the scale) instead of the previous scene's."""
        if self._scene is not None:
            with contextlib.suppress(ValueError, RuntimeError):
                self._scene.events.settings.disconnect(self._on_settings)
        self._scene = scene
        if scene is not None:
            scene.events.settings.connect(self._on_settings)
        else:
            self.show(False)

    def _on_settings(self) -> None:
        if self.view.state.grid_visible:
            self.show(True)
            self.view.render()

    def show(self, on: bool) -> None:
        plotter = self.view.plotter
        poly = self.view._poly
        if not on or poly is None or self.view.scene is None:
            plotter.remove_bounds_axes()
            self.spec = None
            return
        self.spec = grid_spec(poly.bounds, scale_of(self.view.scene))
        # 2D labels: VTK's 3D-text labels of the z axis do not show in the window; the labels are set below
        fmt = "{0:.2f}"
        actor = plotter.show_grid(
            color=GRID_COLOUR, bounds=self.spec.bounds, axes_ranges=self.spec.ranges, fmt=fmt,
            xtitle=self.spec.titles[0], ytitle=self.spec.titles[1], ztitle=self.spec.titles[2],
            n_xlabels=len(self.spec.axes[0].labels), n_ylabels=len(self.spec.axes[1].labels),
            n_zlabels=len(self.spec.axes[2].labels), use_3d_text=False, render=False,
        )  # fmt: skip
        from vtkmodules.vtkCommonCore import vtkStringArray

        for i, axis in enumerate(self.spec.axes):
            labels = vtkStringArray()
            for text in axis.labels:
                labels.InsertNextValue(text)
            actor.SetAxisLabels(i, labels)

    def labels(self) -> list[list[str]]:
        """The labels the cube axes actor draws on x, y, z (empty without a grid)."""
        actor = getattr(self.view.plotter.renderer, "cube_axes_actor", None)
        if self.spec is None or actor is None:
            return []
        return [list(actor.x_labels), list(actor.y_labels), list(actor.z_labels)]
