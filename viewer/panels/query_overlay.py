"""Query colours in the 3D view (the Find panel's highlight)."""

from __future__ import annotations

import numpy as np

from app.semantics.colouring import Colour


def apply_overlay(view, overlay: dict[int, Colour]) -> None:
    """Show query colours in the 3D view: matching instances in their heat colour, the rest dimmed.

    Uses ``view.set_instance_overlay(overlay)`` when the scene view offers it; otherwise writes the colours
    into the array the view draws from (an interim path until that hook exists).
    """
    hook = getattr(view, "set_instance_overlay", None)
    if callable(hook):
        hook(overlay or None)
        return
    scene = getattr(view, "scene", None)
    if scene is None or scene.n_points == 0:
        return
    if not overlay:
        view.set_colour_mode(view.colour_mode)  # restores the normal colours
        return
    colours = view.displayed_colours()
    labels = np.asarray(scene.point_labels)
    if colours is None or len(colours) != len(labels):
        return
    from viewer.colouring import dimmed

    base = view.base_colours()
    lut = np.zeros((max(int(labels.max(initial=0)), max(overlay)) + 1, 3), np.int16) - 1
    for iid, rgb in overlay.items():
        lut[iid] = rgb
    chosen = lut[labels]
    hit = chosen[:, 0] >= 0
    np.copyto(colours, dimmed(base, view._background_rgb()))
    colours[hit] = chosen[hit].astype(np.uint8)
    vtk_colours = getattr(view, "_vtk_colours", None)
    if vtk_colours is not None:
        vtk_colours.Modified()
    view.request_render()
