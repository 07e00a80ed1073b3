"""A lasso drawn on one photo, carried to every view through the 3D points, and what applying it changes
(Qt-free).

The lasso selects the drawn view's pixels inside the polygon. A pixel of another view joins when its 3D
point, seen from the drawn view's camera, falls inside the polygon and is the surface that camera sees
there (its camera depth agrees with the depth of the drawn view's own point at that pixel within
``DEPTH_TOLERANCE``): the same surface, not something behind it.

``prepare`` builds the edit (split off, assign, unlabel: the builders of ``app.edits``) and reads what
changes from the edit itself: the pixels its label diff touches in every view and the points of the cloud
behind them. The preview shows exactly that, and applying pushes that same edit, so the preview cannot
promise anything the edit does not do. ``iter_prepare`` is the same as a long step (progress events, stops
when closed) for the viewer's background job; the first on a scene also matches the views' pixels once
(``app.instances.scene_correspondences``), which every later edit's statistics reuse.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from app import edits
from app.edit_record import Edit, EditError, LabelDiff
from app.instances import iter_scene_correspondences, scene_correspondences_ready
from app.progress import Progress, StagePlan, relay, run_generator
from app.scene import NO_INSTANCE, Scene

DEPTH_TOLERANCE = 0.03  # relative depth difference still counted as the same surface
MODES = ("split", "assign", "unlabel")


def camera_points(scene: Scene, view: int, points: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> (N, 3) float32 [column, row, depth] in ``view``'s model-grid pixels (depth
    <= 0: behind the camera; column and row are then NaN). float32 is ample for pixels and a 3 % depth test
    and twice as fast on millions of points."""
    ext = np.asarray(scene.extrinsic[view], np.float32)
    k = np.asarray(scene.intrinsic[view], np.float32)
    # einsum, not @: BLAS is ~5x slower on (N, 3) x (3, 3) (thread start-up for a tiny inner dimension)
    cam = np.einsum("nj,kj->nk", np.asarray(points, np.float32), ext[:, :3]) + ext[:, 3]
    z = cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(z > 1e-9, 1.0 / z, np.nan).astype(np.float32)
    cam[:, 0] = k[0, 0] * cam[:, 0] * inv + k[0, 2]
    cam[:, 1] = k[1, 1] * cam[:, 1] * inv + k[1, 2]
    return cam


def iter_carried_selection(
    scene: Scene, view: int, polygon: np.ndarray, tolerance: float = DEPTH_TOLERANCE
) -> Generator[float, None, np.ndarray]:
    """`carried_selection` one view at a time: yields the fraction of views done, returns the selection."""
    polygon = np.asarray(polygon, np.float64).reshape(-1, 2)
    out = edits.pixels_in_view_polygon(scene, view, polygon)
    if polygon.shape[0] < 3:
        return out
    h, w = scene.image_size
    ref = camera_points(scene, view, np.asarray(scene.point_map[view]).reshape(-1, 3))[:, 2].reshape(h, w)
    for other in range(scene.n_views):
        yield other / scene.n_views
        if other == view:
            continue
        uvz = camera_points(scene, view, np.asarray(scene.point_map[other]).reshape(-1, 3))
        inside = edits.points_in_polygon(uvz[:, :2], polygon)
        idx = np.flatnonzero(inside)
        col = np.clip(np.rint(uvz[idx, 0]).astype(np.int64), 0, w - 1)
        row = np.clip(np.rint(uvz[idx, 1]).astype(np.int64), 0, h - 1)
        seen = ref[row, col]
        same = np.abs(uvz[idx, 2] - seen) <= tolerance * np.abs(seen)
        hit = np.zeros(h * w, bool)
        hit[idx[same]] = True
        out[other] = hit.reshape(h, w)
    return out


def carried_selection(
    scene: Scene, view: int, polygon: np.ndarray, tolerance: float = DEPTH_TOLERANCE
) -> np.ndarray:
    """(S, H, W) bool: the pixels of every view that a lasso drawn on ``view`` reaches (see module doc).

    ``polygon`` is (P, 2) in the drawn view's model-grid pixel coordinates (x = column, y = row).
    """
    return run_generator(iter_carried_selection(scene, view, polygon, tolerance))


def changed_pixels(scene: Scene, edit: Edit) -> np.ndarray:
    """(S, H, W) bool: the pixels whose instance id ``edit`` changes."""
    out = np.zeros(scene.labels.shape, bool)
    if isinstance(edit.labels, LabelDiff):
        out.reshape(-1)[edit.labels.index] = True
    return out


@dataclass
class PhotoEdit:
    """A prepared lasso edit and what it changes; ``edit`` is what applying pushes."""

    view: int
    mode: str
    edit: Edit
    changed: np.ndarray  # (S, H, W) bool: pixels relabelled in every view
    points: np.ndarray  # (M,) indices into scene.points of the points relabelled
    based_on: np.ndarray  # the scene's label maps the edit was built on

    @property
    def view_pixels(self) -> list[int]:
        """Pixels changing in each view."""
        return [int(n) for n in self.changed.sum(axis=(1, 2))]

    @property
    def views(self) -> list[int]:
        return [v for v, n in enumerate(self.view_pixels) if n]

    @property
    def summary(self) -> str:
        n, k = int(self.points.shape[0]), len(self.views)
        return f"{n:,} point{'s' if n != 1 else ''}, {k} view{'s' if k != 1 else ''}"

    def is_current(self, scene: Scene) -> bool:
        """True while the scene's labels and instances are those the edit was built on."""
        if scene.labels is not self.based_on and not np.array_equal(scene.labels, self.based_on):
            return False
        return tuple(scene.instances.values()) == tuple(self.edit.table_before or ())


def check_mode(mode: str, selected: int | None) -> None:
    """EditError when ``mode`` cannot be done whatever is drawn."""
    if mode not in MODES:
        raise EditError(f"unknown lasso mode {mode!r}; use one of {', '.join(MODES)}")
    if mode == "split" and selected is None:
        raise EditError("select the instance to split first")


def build_edit(scene: Scene, mode: str, selection: np.ndarray, selected: int | None) -> Edit:
    """The edit of ``mode`` for a pixel selection: "split" it off instance ``selected``, "assign" it to
    ``selected`` (None: a new instance) or "unlabel" it."""
    check_mode(mode, selected)
    if mode == "split":
        return edits.split_by_mask(scene, selected, selection)
    if mode == "assign":
        return edits.reassign(scene, selection, selected)
    return edits.reassign(scene, selection, NO_INSTANCE)


def iter_prepare(
    scene: Scene,
    view: int,
    polygon: np.ndarray,
    mode: str,
    selected: int | None = None,
    tolerance: float = DEPTH_TOLERANCE,
    carry: bool = True,
) -> Generator[Progress, None, PhotoEdit]:
    """`prepare` as a long step (app.progress): yields its progress, returns the PhotoEdit; closing it
    between events stops it. The scene is only read."""
    based_on = scene.labels
    polygon = np.asarray(polygon, np.float64).reshape(-1, 2)
    check_mode(mode, selected)  # before any work
    match = not scene_correspondences_ready(scene)  # once per scene: the views' pixel correspondences
    plan = StagePlan([("carrying", 1.0 if carry else 0.0), ("matching", 6.0 if match else 0.0),
                      ("measuring", 2.0)])  # fmt: skip
    n = scene.n_views
    if carry:
        selection = yield from relay(
            iter_carried_selection(scene, view, polygon, tolerance),
            lambda f: plan.event("carrying", f, f"following the shape into view {round(f * n) + 1} of {n}"),
        )
    else:
        selection = edits.pixels_in_view_polygon(scene, view, polygon)
    if match:
        yield from relay(
            iter_scene_correspondences(scene),
            lambda f: plan.event("matching", f, "matching the views' pixels (once per scene)"),
        )
    yield plan.event("measuring", 0.0, "measuring the instances after the change")
    edit = build_edit(scene, mode, selection, selected)
    changed = changed_pixels(scene, edit)
    points = np.flatnonzero(changed[scene.point_mask])
    n_views = int(changed.any(axis=(1, 2)).sum())
    edit.text = f"{edit.text} (lasso on view {view + 1}, {n_views} view{'s' if n_views != 1 else ''})"
    edit.details = {**edit.details, "view": int(view), "views": n_views}
    return PhotoEdit(int(view), mode, edit, changed, points, based_on)


def prepare(
    scene: Scene,
    view: int,
    polygon: np.ndarray,
    mode: str,
    selected: int | None = None,
    tolerance: float = DEPTH_TOLERANCE,
    carry: bool = True,
) -> PhotoEdit:
    """The edit a lasso on ``view`` makes in every view, and exactly what it changes (EditError when it
    would change nothing or cannot be done). ``carry=False``: only the drawn photo's pixels (for when the
    3D points of other views do not line up with it well enough to follow)."""
    return run_generator(iter_prepare(scene, view, polygon, mode, selected, tolerance, carry))
