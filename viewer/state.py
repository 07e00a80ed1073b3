"""How the scene is looked at, Qt-free and evented (psygnal), like napari's layer models.

The scene (points, labels, instances) belongs to the document; this holds only the viewer's side of it:
the selected instance, colour mode, point size, confidence filter, isolation, cameras, grid, axes,
projection and a camera bookmark. The 3D view and the panels subscribe to ``state.events.<field>`` (and
``state.selection.changed``) and write to the fields; none of them holds another widget, so each one can
be built and tested alone, and view-state rules are tested without a GUI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from psygnal import evented

from viewer.selection import Selection

COLOUR_MODES: dict[str, str] = {
    "rgb": "Photo colour",
    "instance": "Instance",
    "pca": "Features (PCA)",
    "confidence": "Confidence",
    "height": "Height",
    "depth": "Depth",
}
POINT_SIZE_RANGE = (1.0, 12.0)
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class CameraPose:
    """Where the 3D camera is and what it looks at (a bookmark to come back to)."""

    position: Vec3
    focal_point: Vec3
    up: Vec3
    view_angle: float
    parallel_scale: float = 1.0


@evented
@dataclass
class ViewerState:
    colour_mode: str = "rgb"
    point_size: float = 2.0
    threshold_percent: float = 0.0  # hide points below this confidence percentile (0: show all)
    isolating: bool = False  # show only the selected instance (follows the selection)
    frustums_visible: bool = True
    grid_visible: bool = False
    axes_visible: bool = False
    parallel_projection: bool = False
    bookmark: CameraPose | None = None
    selection: Selection = field(default_factory=Selection, compare=False)

    @property
    def isolated(self) -> frozenset[int]:
        """The instances shown alone (empty: all are shown)."""
        sel = self.selection.instance
        return frozenset((sel,)) if self.isolating and sel is not None else frozenset()

    def set_colour_mode(self, mode: str) -> None:
        if mode not in COLOUR_MODES:
            raise ValueError(f"unknown colour mode {mode!r}")
        self.colour_mode = mode

    def set_point_size(self, size: float) -> None:
        lo, hi = POINT_SIZE_RANGE
        self.point_size = float(min(max(size, lo), hi))

    def set_threshold(self, percent: float) -> None:
        self.threshold_percent = float(min(max(percent, 0.0), 100.0))

    def new_scene(self) -> None:
        """Another scene is shown: nothing is selected or isolated, the old bookmark means nothing."""
        self.selection.clear()
        self.isolating = False
        self.bookmark = None

    def keep_instances(self, instance_ids: Iterable[int]) -> None:
        """The scene's instances changed (edit, undo, re-clustering): drop a selection that vanished."""
        sel = self.selection.instance
        if sel is not None and sel not in set(instance_ids):
            self.selection.clear()
