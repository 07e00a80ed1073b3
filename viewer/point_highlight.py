"""A temporary highlight of some points in the 3D view (the points a previewed edit will change): those
points in one bright colour, every other point faded towards the background. ``clear`` gives the view its
own colours back (colour mode, selection dimming) by recomputing them.

It writes into the view's colour array only (no new actor, no copy of the cloud on the GPU).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from viewer.colouring import dimmed

HIGHLIGHT_RGB = (255, 214, 0)
FADE_KEEP = 0.3  # how much of its own colour a point outside the highlight keeps


class PointHighlight:
    def __init__(self, view: Any) -> None:
        self.view = view
        self.indices: np.ndarray | None = None

    @property
    def active(self) -> bool:
        return self.indices is not None

    def show(self, indices: np.ndarray | None) -> None:
        """Highlight points ``indices`` (into the scene's cloud); None clears."""
        if indices is None:
            self.clear()
            return
        view = self.view
        colours = view.displayed_colours()
        if colours is None or view.scene is None:
            return
        self.indices = np.asarray(indices, dtype=np.int64)
        np.copyto(colours, dimmed(view.base_colours(), view._background_rgb(), keep=FADE_KEEP))
        colours[self.indices] = HIGHLIGHT_RGB
        view._vtk_colours.Modified()
        view.request_render()

    def clear(self) -> None:
        if self.indices is None:
            return
        self.indices = None
        self.view._update_colours()
