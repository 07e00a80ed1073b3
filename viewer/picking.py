"""Picking in the 3D view: what is drawn under the cursor (a point of the cloud or a camera frustum).

Picking reads the depth buffer around the click, unprojects it, and asks a k-d tree of the cloud for the
nearest visible point (no linear scan, no extra render pass). ``PickingMixin`` is part of
``viewer.scene_view.SceneView``, kept apart because it is one job: cursor -> what is there.

Click routing: a click normally goes to the camera it lands on (the view moves there) or to the window
(``picked``: selection). A tool that needs points (Measure) takes the clicks with ``take_clicks``: until it
lets go, a click picks points of the cloud only and goes to that tool alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QMouseEvent
from scipy.spatial import cKDTree
from vtkmodules.vtkCommonCore import vtkFloatArray

from viewer.workers import start_background

log = logging.getLogger(__name__)

CLICK_TOLERANCE_PX = 4  # press/release further apart than this is a drag, not a click
PICK_RADIUS_PX = 6  # how far from the cursor a point may be drawn and still be picked
FRUSTUM_PICK_PX = 6
DEPTH_TRIES = 32  # depth pixels tried, nearest the cursor first, for one drawn by a point of the cloud


@dataclass(frozen=True)
class PickResult:
    """What is under the cursor: a point of the cloud (index into scene.points) and/or a camera."""

    point: int = -1
    instance: int = 0
    position: tuple[float, float, float] | None = None
    view: int | None = None


class ClickFilter(QObject):
    """Tells clicks from drags on the interactor widget (VTK keeps handling the drags)."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self._view = view
        self._press: QPoint | None = None

    def eventFilter(self, obj, event) -> bool:
        et = event.type()
        if et == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
        elif et == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            press, self._press = self._press, None
            pos = event.position().toPoint()
            if press is not None and (pos - press).manhattanLength() <= CLICK_TOLERANCE_PX:
                self._view.handle_click(pos.x(), pos.y(), event.modifiers())
        return False



class PickingMixin:
    """Cursor -> point / camera for SceneView (uses its plotter, cloud, labels and visible mask)."""

    _click_taker: Callable[[PickResult], None] | None = None  # see take_clicks

    def take_clicks(self, handler: Callable[[PickResult], None] | None) -> None:
        """Send every click, as a point of the cloud only (cameras are not clicked), to ``handler`` alone;
        ``None`` gives the clicks back (cameras and selection)."""
        self._click_taker = handler

    def _start_tree(self, points: np.ndarray) -> None:
        self._tree_points = points

        def build() -> None:
            tree = cKDTree(points, leafsize=32, balanced_tree=False, compact_nodes=False)
            with self._tree_lock:
                if self._tree_points is points:
                    self._tree = tree

        start_background(build, "pick tree")

    def _ensure_tree(self) -> cKDTree | None:
        with self._tree_lock:
            tree = self._tree
        if tree is None and self._tree_points is not None:
            tree = cKDTree(self._tree_points, leafsize=32, balanced_tree=False, compact_nodes=False)
            with self._tree_lock:
                self._tree = tree
        return tree

    def _to_display(self, x: float, y: float) -> tuple[int, int]:
        """Widget (logical, top-left origin) -> VTK display pixels (device, bottom-left origin)."""
        ratio = self.plotter.devicePixelRatioF()
        height = self.plotter.ren_win.GetSize()[1]
        return round(x * ratio), round(height - 1 - y * ratio)

    def world_to_widget(self, xyz) -> tuple[float, float]:
        """Widget coordinates (logical pixels, top-left origin) of a world point."""
        ren = self.plotter.renderer
        ren.SetWorldPoint(float(xyz[0]), float(xyz[1]), float(xyz[2]), 1.0)
        ren.WorldToDisplay()
        dx, dy, _ = ren.GetDisplayPoint()
        ratio = self.plotter.devicePixelRatioF()
        height = self.plotter.ren_win.GetSize()[1]
        return dx / ratio, (height - 1 - dy) / ratio

    def _read_depth_patch(self, dx: int, dy: int, radius: int) -> tuple[np.ndarray, int, int]:
        w, h = self.plotter.ren_win.GetSize()
        x0, x1 = max(dx - radius, 0), min(dx + radius, w - 1)
        y0, y1 = max(dy - radius, 0), min(dy + radius, h - 1)
        if x1 < x0 or y1 < y0:
            return np.ones((0, 0), np.float32), x0, y0
        buf = vtkFloatArray()
        self.plotter.ren_win.GetZbufferData(x0, y0, x1, y1, buf)
        from vtkmodules.util.numpy_support import vtk_to_numpy

        z = vtk_to_numpy(buf).reshape(y1 - y0 + 1, x1 - x0 + 1)
        return z, x0, y0

    def pick(self, x: float, y: float, cameras: bool = True) -> PickResult:
        """What is drawn at widget position (x, y): the nearest visible point, else (when ``cameras``) a
        camera frustum drawn there, or in front of the point."""
        if self.scene is None or self._poly is None:
            return PickResult()
        dx, dy = self._to_display(x, y)
        ratio = self.plotter.devicePixelRatioF()
        radius = max(1, round(PICK_RADIUS_PX * ratio))
        z, x0, y0 = self._read_depth_patch(dx, dy, radius)
        result = PickResult()
        if z.size and (z < 1.0).any():
            ys, xs = np.nonzero(z < 1.0)
            d2 = (xs + x0 - dx) ** 2 + (ys + y0 - dy) ** 2
            order = np.lexsort((z[ys, xs], d2))  # nearest to the cursor, then nearest to the eye
            reach = self.point_size * ratio / 2 + 2  # display pixels from a drawn point to its centre
            for k in order[:DEPTH_TRIES]:
                px, py = xs[k] + x0, ys[k] + y0
                index = self._nearest_visible(self._display_to_world(px, py, float(z[ys[k], xs[k]])))
                if index < 0:
                    break
                p = self._poly.points[index]
                wx, wy = self.world_to_widget(p)
                cx, cy = self._to_display(wx, wy)
                if (cx - px) ** 2 + (cy - py) ** 2 > reach**2:
                    continue  # a camera line or the grid drew this pixel, not that point
                xyz = (float(p[0]), float(p[1]), float(p[2]))
                result = PickResult(int(index), int(self._labels[index]), xyz)
                break
        hit = self._pick_frustum(x, y) if cameras else None
        if hit is not None:
            view, on_line = hit
            eye = np.asarray(self.camera.position)
            nearer = result.point >= 0 and np.linalg.norm(on_line - eye) < np.linalg.norm(
                np.asarray(result.position) - eye)
            if result.point < 0 or nearer:
                result = PickResult(view=view)  # the camera's lines are drawn in front of the point
        return result

    def _display_to_world(self, dx: float, dy: float, z: float) -> np.ndarray:
        ren = self.plotter.renderer
        ren.SetDisplayPoint(float(dx), float(dy), z)
        ren.DisplayToWorld()
        wx, wy, wz, ww = ren.GetWorldPoint()
        ww = ww or 1.0
        return np.array([wx / ww, wy / ww, wz / ww], np.float32)

    def _nearest_visible(self, world: np.ndarray) -> int:
        tree = self._ensure_tree()
        if tree is None:
            return -1
        for k in (8, 64, 512):
            _dist, idx = tree.query(world, k=min(k, self.n_points))
            idx = np.atleast_1d(idx)
            idx = idx[idx < self.n_points]
            ok = idx[self.visible_mask[idx]]
            if ok.size:
                return int(ok[0])
        return -1

    def _pick_frustum(self, x: float, y: float) -> tuple[int, np.ndarray] | None:
        """(view, world point on the clicked line) of the camera frustum drawn under (x, y), if any."""
        if not self.frustums_drawn or self._frustum_points is None:
            return None
        best, best_d = None, float(FRUSTUM_PICK_PX)
        segs = [(0, i) for i in range(1, 5)] + [(i, 1 + i % 4) for i in range(1, 5)]
        cam = self.camera
        eye = np.asarray(cam.position)
        forward = np.asarray(cam.focal_point) - eye
        forward /= max(np.linalg.norm(forward), 1e-12)
        near = cam.clipping_range[0]
        for v, pts in enumerate(self._frustum_points):
            if v == self.current_view or ((pts - eye) @ forward <= near).any():
                continue  # the camera we look through, or lines crossing behind the eye
            screen = np.array([self.world_to_widget(p) for p in pts])
            for a, b in segs:
                d, t = _point_segment_distance(np.array([x, y]), screen[a], screen[b])
                if d < best_d:
                    best, best_d = (v, pts[a] + t * (pts[b] - pts[a])), d
        return best

    def handle_click(self, x: float, y: float, modifiers=Qt.KeyboardModifier.NoModifier) -> PickResult:
        t0 = time.perf_counter()
        taker = self._click_taker
        result = self.pick(x, y, cameras=taker is None)
        log.debug("pick at (%d, %d) -> %s in %.1f ms", x, y, result, (time.perf_counter() - t0) * 1e3)
        if taker is not None:
            taker(result)
            return result
        if result.view is not None:
            self.go_to_view(result.view)
        self.picked.emit(result)
        return result

    def click(self, x: float, y: float) -> None:
        """Synthesise a real left click at widget position (x, y) (tests, automation)."""
        pos = QPoint(round(x), round(y))
        for et in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
            event = QMouseEvent(et, pos, self.plotter.mapToGlobal(pos), Qt.MouseButton.LeftButton,
                                Qt.MouseButton.LeftButton if et == QEvent.Type.MouseButtonPress
                                else Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
            from PySide6.QtWidgets import QApplication

            QApplication.sendEvent(self.plotter, event)


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(distance, parameter t in [0, 1]) of the point of segment ab nearest to p."""
    ab = b - a
    denom = float(ab @ ab)
    t = 0.0 if denom < 1e-12 else float(np.clip((p - a) @ ab / denom, 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab))), t
