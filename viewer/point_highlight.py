"""A temporary highlight of some points in the 3D view (the points a previewed edit will change): those
points in one bright colour, every other point faded towards the background. ``clear`` gives the view its
own colours back (colour mode, selection dimming) by recomputing them.

It writes into the view's colour array only (no new actor, no copy of the cloud on the GPU). The faded
colours are kept between previews of the same view colours (fading 4M points takes 0.3 s on the GUI thread);
``release`` lets go of them when no more previews come.
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
        self._faded: tuple[np.ndarray, tuple[int, int, int], np.ndarray] | None = None  # (base, bg, faded)

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
        np.copyto(colours, self._faded_colours())
        colours[self.indices] = HIGHLIGHT_RGB
        view._vtk_colours.Modified()
        view.request_render()

    def _faded_colours(self) -> np.ndarray:
        base, background = self.view.base_colours(), self.view._background_rgb()
        kept = self._faded
        if kept is None or kept[0] is not base or kept[1] != background:  # the view's colours changed
            kept = self._faded = (base, background, dimmed(base, background, keep=FADE_KEEP))
        return kept[2]

    def release(self) -> None:
        """Clear, and let go of the faded colours kept for the next preview."""
        self.clear()
        self._faded = None

    def clear(self) -> None:
        if self.indices is None:
            return
        self.indices = None
        self.view._update_colours()
