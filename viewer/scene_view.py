"""The 3D view: the scene's point cloud and cameras in a pyvistaqt QtInteractor.

Speed at millions of points comes from never rebuilding actors after a scene is shown:
- colour modes and selection dimming write into one uint8 colour array in place;
- the confidence filter, hidden and isolated instances only replace the vertex index list (which
  points are drawn); positions and colours stay on the GPU;
- a second actor shares the same points and colours but draws a random subset; it is shown while
  the user drags (or moves a slider) when full frames are slow, and the full cloud comes back
  once the view has been still for a moment;
- picking reads the depth buffer around the click, unprojects it, and asks a k-d tree of the cloud
  for the nearest visible point (no linear scan, no extra render pass).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyvista as pv
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QMouseEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor
from scipy.spatial import cKDTree
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
from vtkmodules.vtkCommonCore import vtkFloatArray
from vtkmodules.vtkCommonDataModel import vtkCellArray

from app.scene import Scene
from viewer.colouring import COLOUR_MODES, dimmed, mode_colours

log = logging.getLogger(__name__)

DEFAULT_BACKGROUND = "#1e2126"
LOD_POINTS = 200_000  # points drawn while interacting when full frames are slow
LOD_MIN_POINTS = 400_000  # below this the full cloud is always drawn
SLOW_FRAME_S = 1 / 30  # full frames slower than this switch on level-of-detail while interacting
REFINE_DELAY_MS = 300  # still time before the full cloud is drawn again
CLICK_TOLERANCE_PX = 4  # press/release further apart than this is a drag, not a click
PICK_RADIUS_PX = 6  # how far from the cursor a point may be drawn and still be picked
FRUSTUM_PICK_PX = 6


@dataclass(frozen=True)
class PickResult:
    """What is under the cursor: a point of the cloud (index into scene.points) and/or a camera."""

    point: int = -1
    instance: int = 0
    position: tuple[float, float, float] | None = None
    view: int | None = None


class _ClickFilter(QObject):
    """Tells clicks from drags on the interactor widget (VTK keeps handling the drags)."""

    def __init__(self, view: SceneView) -> None:
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


class SceneView(QWidget):
    """The 3D view of one Scene. Other widgets talk to it through these methods and signals."""

    picked = Signal(object)  # PickResult of a click (point -1 and view None: empty space)
    rendered = Signal(float)  # seconds the frame took

    def __init__(self, parent: QWidget | None = None, background: str = DEFAULT_BACKGROUND) -> None:
        super().__init__(parent)
        self.setObjectName("scene_view")
        self.plotter = QtInteractor(self, auto_update=False, multi_samples=1)
        self.plotter.setObjectName("scene_interactor")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plotter)
        self._disable_vtk_keys()
        self._click_filter = _ClickFilter(self)
        self.plotter.installEventFilter(self._click_filter)

        self._background = background
        self.plotter.set_background(background)
        self._closed = False
        self.scene: Scene | None = None

        # display state
        self.colour_mode = "rgb"
        self.point_size = 2.0
        self.threshold_percent = 0.0  # hide points below this confidence percentile
        self.selected: int | None = None
        self.isolated: set[int] = set()
        self.frustums_visible = True
        self.current_view: int | None = None

        # per-scene data
        self._poly: pv.PolyData | None = None
        self._lod_poly: pv.PolyData | None = None
        self._actor = None
        self._lod_actor = None
        self._frustum_actor = None
        self._colour_cache: dict[str, np.ndarray] = {}
        self._dim_cache: dict[str, np.ndarray] = {}
        self._colours: np.ndarray | None = None  # (N, 3) uint8 shared with VTK
        self._labels: np.ndarray | None = None
        self._conf_quantiles: np.ndarray | None = None
        self._lod_mask: np.ndarray | None = None
        self.visible_mask: np.ndarray | None = None
        self._tree: cKDTree | None = None
        self._tree_lock = threading.Lock()
        self._frustum_points: np.ndarray | None = None  # (S, 5, 3) apex + 4 corners
        self._precompute_token: object | None = None
        self._frustum_hidden: int | None = None

        # level of detail
        self._full_frame_s = 0.0
        self._render_t0 = 0.0
        self._drawing_lod = False
        self._last_interaction = 0.0
        self._refining = False
        self.lod_policy = "auto"  # "auto", "always" (tests/benches), "never"
        self._render_timer = QTimer(self)  # one render for several scene events in a row
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self.render)
        self._refine_timer = QTimer(self)
        self._refine_timer.setSingleShot(True)
        self._refine_timer.timeout.connect(self._refine)
        ren_win = self.plotter.ren_win
        ren_win.AddObserver("StartEvent", self._on_render_start)
        ren_win.AddObserver("EndEvent", self._on_render_end)

    # ------------------------------------------------------------------------------------- setup
    def _disable_vtk_keys(self) -> None:
        """VTK's and pyvista's one-letter keys (quit, wireframe, stereo…) would fight our shortcuts."""
        with_iren = getattr(self.plotter, "iren", None)
        if with_iren is not None:
            with_iren.clear_key_event_callbacks()
            inner = with_iren.interactor
            inner.RemoveObservers("CharEvent")
            inner.RemoveObservers("KeyPressEvent")
            inner.RemoveObservers("KeyReleaseEvent")
        self.plotter.enable_trackball_style()
        if with_iren is not None:
            with_iren.interactor.RemoveObservers("CharEvent")

    # ----------------------------------------------------------------------------------- content
    @property
    def n_points(self) -> int:
        return 0 if self._poly is None else self._poly.n_points

    def set_scene(self, scene: Scene | None, reset_camera: bool = True) -> None:
        """Show ``scene`` (None clears the view). Builds the actors once."""
        self._clear_actors()
        self.scene = scene
        self.selected = None
        self.isolated = set()
        self.current_view = None
        if scene is None or scene.n_points == 0:
            self.render()
            return
        points = np.ascontiguousarray(scene.points, dtype=np.float32)
        n = len(points)
        self._labels = np.asarray(scene.point_labels)
        conf = np.asarray(scene.point_confidence, dtype=np.float32)
        self._conf_quantiles = np.quantile(conf, np.linspace(0.0, 1.0, 201)).astype(np.float32)
        self._conf = conf
        rng = np.random.default_rng(0)
        self._lod_mask = np.zeros(n, bool)
        self._lod_mask[rng.permutation(n)[: min(n, LOD_POINTS)]] = True

        self._colours = np.zeros((n, 3), np.uint8)
        vtk_colours = numpy_to_vtk(self._colours, deep=False)
        vtk_colours.SetName("colours")
        self._poly = pv.PolyData()
        self._poly.SetPoints(pv.vtk_points(points, deep=True))
        self._poly.GetPointData().SetScalars(vtk_colours)
        self._lod_poly = pv.PolyData()
        self._lod_poly.SetPoints(self._poly.GetPoints())  # shared: one copy on the GPU
        self._lod_poly.GetPointData().SetScalars(vtk_colours)
        self._vtk_colours = vtk_colours

        self._actor = self._add_cloud_actor(self._poly, "cloud")
        self._lod_actor = self._add_cloud_actor(self._lod_poly, "cloud_lod")
        self._lod_actor.SetVisibility(False)
        self._build_frustums(scene)
        self._start_tree(points)
        self._update_visibility(render=False)
        self._update_colours(render=False)
        self.set_point_size(self.point_size, render=False)
        self._connect_scene(scene)
        if reset_camera:
            self.reset_view()
        else:
            self.render()
        self._precompute_colours(scene)

    def _precompute_colours(self, scene: Scene) -> None:
        """Compute the other colour modes in the background, so switching to them later is instant."""
        token = object()
        self._precompute_token = token
        modes = [m for m in COLOUR_MODES if m != "instance" and m not in self._colour_cache]

        def work() -> None:
            for mode in modes:
                if self._precompute_token is not token:
                    return
                try:
                    colours = mode_colours(scene, mode)
                except Exception:
                    log.debug("precomputing %s colours failed", mode, exc_info=True)
                    continue
                if self._precompute_token is token:
                    self._colour_cache.setdefault(mode, colours)

        threading.Thread(target=work, name="colour-modes", daemon=True).start()

    def _add_cloud_actor(self, poly: pv.PolyData, name: str):
        actor = self.plotter.add_mesh(
            poly, scalars="colours", rgb=True, style="points", point_size=self.point_size,
            render_points_as_spheres=False, lighting=False, name=name, reset_camera=False,
            render=False, show_scalar_bar=False,
        )
        actor.mapper.SetColorModeToDirectScalars()
        actor.SetPickable(False)
        return actor

    def _clear_actors(self) -> None:
        if self.scene is not None:
            self._disconnect_scene(self.scene)
        for actor in (self._actor, self._lod_actor, self._frustum_actor):
            if actor is not None:
                self.plotter.remove_actor(actor, render=False)
        self._actor = self._lod_actor = self._frustum_actor = None
        self._poly = self._lod_poly = None
        self._precompute_token = None
        self._colour_cache.clear()
        self._dim_cache.clear()
        self._colours = None
        self.visible_mask = None
        self._frustum_points = None
        self._frustum_hidden = None
        with self._tree_lock:
            self._tree = None
        self._tree_points = None

    # scene events ---------------------------------------------------------------------------------
    def _connect_scene(self, scene: Scene) -> None:
        scene.events.labels.connect(self._on_labels_changed)
        scene.events.instances.connect(self._on_instances_changed)
        scene.events.instance_changed.connect(self._on_instance_changed)
        scene.events.points.connect(self._on_points_changed)

    def _disconnect_scene(self, scene: Scene) -> None:
        for sig, slot in (
            (scene.events.labels, self._on_labels_changed),
            (scene.events.instances, self._on_instances_changed),
            (scene.events.instance_changed, self._on_instance_changed),
            (scene.events.points, self._on_points_changed),
        ):
            with contextlib.suppress(ValueError, RuntimeError):
                sig.disconnect(slot)

    def _on_labels_changed(self) -> None:
        self._labels = np.asarray(self.scene.point_labels)
        for mode in ("instance",):
            self._colour_cache.pop(mode, None)
            self._dim_cache.pop(mode, None)
        if self.selected is not None and self.selected not in self.scene.instances:
            self.selected = None
        self.isolated &= set(self.scene.instances)
        self._update_visibility(render=False)
        self._update_colours(render=False)
        self._render_timer.start()

    def _on_instances_changed(self) -> None:
        # Scene.set_labels sends labels then instances: both are drawn by one render
        self._colour_cache.pop("instance", None)
        self._dim_cache.pop("instance", None)
        self._update_visibility(render=False)
        self._update_colours(render=False)
        self._render_timer.start()

    def _on_instance_changed(self, instance_id: int, field: str) -> None:
        if field == "colour":
            self._colour_cache.pop("instance", None)
            self._dim_cache.pop("instance", None)
            if self.colour_mode == "instance":
                self._update_colours()
        elif field == "visible":
            self._update_visibility()

    def _on_points_changed(self) -> None:
        camera = self.camera.copy()
        self.set_scene(self.scene, reset_camera=False)
        self.plotter.camera = camera
        self.render()

    # ------------------------------------------------------------------------------------ colours
    def set_colour_mode(self, mode: str) -> None:
        if mode not in COLOUR_MODES:
            raise ValueError(f"unknown colour mode {mode!r}")
        self.colour_mode = mode
        self._update_colours(interactive=True)

    def base_colours(self, mode: str | None = None) -> np.ndarray:
        """(N, 3) uint8 colours of ``mode`` (cached; first call per mode computes them)."""
        mode = mode or self.colour_mode
        if mode not in self._colour_cache:
            t0 = time.perf_counter()
            self._colour_cache[mode] = mode_colours(self.scene, mode)
            log.debug("colours %s computed in %.0f ms", mode, (time.perf_counter() - t0) * 1e3)
        return self._colour_cache[mode]

    def _update_colours(self, render: bool = True, interactive: bool = False) -> None:
        if self._colours is None or self.scene is None:
            return
        base = self.base_colours()
        if self.selected is None:
            self._colours[:] = base
        else:
            if self.colour_mode not in self._dim_cache:
                self._dim_cache[self.colour_mode] = dimmed(base, self._background_rgb())
            chosen = self._labels == self.selected
            np.copyto(self._colours, self._dim_cache[self.colour_mode])
            self._colours[chosen] = base[chosen]
        self._vtk_colours.Modified()
        if render:
            self.request_render(interactive=interactive)

    def displayed_colours(self) -> np.ndarray:
        """The (N, 3) colours currently drawn (a view of the array VTK draws from)."""
        return self._colours

    # --------------------------------------------------------------------------------- visibility
    def confidence_threshold_value(self) -> float:
        if self._conf_quantiles is None:
            return 0.0
        q = np.clip(self.threshold_percent, 0.0, 100.0) * 2.0
        lo = int(np.floor(q))
        hi = min(lo + 1, len(self._conf_quantiles) - 1)
        qs = self._conf_quantiles
        return float(qs[lo] + (q - lo) * (qs[hi] - qs[lo]))

    def set_confidence_threshold(self, percent: float) -> None:
        """Hide points whose confidence is below the ``percent``-th percentile (0 shows all)."""
        self.threshold_percent = float(np.clip(percent, 0.0, 100.0))
        self._update_visibility(interactive=True)

    def set_isolated(self, instance_ids: set[int] | None) -> None:
        """Show only these instances (None or empty: show all)."""
        self.isolated = set(instance_ids or ())
        self._update_visibility()

    def _instance_visibility_lut(self) -> np.ndarray:
        scene = self.scene
        max_id = max(int(self._labels.max(initial=0)), max(scene.instances, default=0))
        lut = np.ones(max_id + 1, bool)
        for iid, inst in scene.instances.items():
            if not inst.visible:
                lut[iid] = False
        if self.isolated:
            keep = np.zeros_like(lut)
            for iid in self.isolated:
                if iid <= max_id:
                    keep[iid] = lut[iid]
            lut = keep
        return lut

    def _update_visibility(self, render: bool = True, interactive: bool = False) -> None:
        if self._poly is None or self.scene is None:
            return
        mask = self._instance_visibility_lut()[self._labels]
        if self.threshold_percent > 0.0:
            mask &= self._conf >= self.confidence_threshold_value()
        self.visible_mask = mask
        self._poly.SetVerts(_vertex_cells(np.flatnonzero(mask)))
        self._lod_poly.SetVerts(_vertex_cells(np.flatnonzero(mask & self._lod_mask)))
        if render:
            self.request_render(interactive=interactive)

    @property
    def n_visible(self) -> int:
        return 0 if self.visible_mask is None else int(self.visible_mask.sum())

    # ---------------------------------------------------------------------------------- selection
    def set_selection(self, instance_id: int | None) -> None:
        """Highlight one instance (others dimmed); None clears the highlight."""
        instance_id = None if not instance_id else int(instance_id)
        if instance_id == self.selected:
            return
        self.selected = instance_id
        self._update_colours()

    # ------------------------------------------------------------------------------- appearance
    def set_point_size(self, size: float, render: bool = True) -> None:
        self.point_size = float(size)
        scale = self.devicePixelRatioF() if self.devicePixelRatioF() > 1 else 1.0
        for actor in (self._actor, self._lod_actor):
            if actor is not None:
                actor.GetProperty().SetPointSize(self.point_size * scale)
        if render:
            self.request_render(interactive=True)

    def set_background(self, color: str) -> None:
        self._background = color
        self.plotter.set_background(color)
        self._dim_cache.clear()
        if self.selected is not None:
            self._update_colours(render=False)
        self.render()

    def background(self) -> str:
        return self._background

    def _background_rgb(self) -> tuple[int, int, int]:
        c = QColor(self._background)
        return c.red(), c.green(), c.blue()

    def set_parallel_projection(self, on: bool) -> None:
        if on:
            self.plotter.enable_parallel_projection()
        else:
            self.plotter.disable_parallel_projection()
        self.render()

    def set_axes_visible(self, on: bool) -> None:
        if on:
            self.plotter.show_axes()
        else:
            self.plotter.hide_axes()
        self.render()

    def set_grid_visible(self, on: bool) -> None:
        if on and self._poly is not None:
            self.plotter.show_grid(color="#888888")
        else:
            self.plotter.remove_bounds_axes()
        self.render()

    # ---------------------------------------------------------------------------------- cameras
    @property
    def camera(self):
        """The 3D camera (pyvista's plotter.camera would reset and render it on first use)."""
        cam = self.plotter.renderer.camera
        cam.is_set = True
        return cam

    def _build_frustums(self, scene: Scene) -> None:
        h, w = scene.image_size
        depth = float(np.median(scene.depth)) if scene.depth.size else 1.0
        size = 0.1 * depth
        corners_px = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], np.float64)
        pts = np.empty((scene.n_views, 5, 3), np.float64)
        for v in range(scene.n_views):
            r = scene.extrinsic[v, :, :3].astype(np.float64)
            t = scene.extrinsic[v, :, 3].astype(np.float64)
            k_inv = np.linalg.inv(scene.intrinsic[v].astype(np.float64))
            cam = (corners_px @ k_inv.T) * size
            pts[v, 0] = -r.T @ t
            pts[v, 1:] = (cam - t) @ r
        self._frustum_points = pts
        poly = pv.PolyData()
        poly.points = pts.reshape(-1, 3).astype(np.float32)  # no vertex cells: lines only
        self._frustum_poly = poly
        self._set_frustum_lines(hidden=None, highlight=None)
        self._frustum_actor = self.plotter.add_mesh(
            poly, scalars="colours", rgb=True, line_width=1.5, lighting=False, name="frustums",
            reset_camera=False, render=False, show_scalar_bar=False,
        )
        self._frustum_actor.SetPickable(False)
        self._frustum_actor.SetVisibility(self.frustums_visible)

    def set_frustums_visible(self, on: bool) -> None:
        self.frustums_visible = bool(on)
        if self._frustum_actor is not None:
            self._frustum_actor.SetVisibility(self.frustums_visible)
        self.render()

    def _set_frustum_lines(self, hidden: int | None, highlight: int | None) -> None:
        """Draw every camera but ``hidden`` (the one we look through), ``highlight`` in another colour."""
        lines, colours = [], []
        for v in range(len(self._frustum_points)):
            if v == hidden:
                continue
            b = v * 5
            lines += [[2, b, b + i] for i in range(1, 5)] + [[2, b + i, b + 1 + i % 4] for i in range(1, 5)]
            colours += [(60, 220, 255) if v == highlight else (255, 200, 60)] * 8
        poly = self._frustum_poly
        poly.cell_data.clear()
        poly.lines = np.asarray(lines, dtype=np.int64).ravel() if lines else np.empty(0, np.int64)
        poly.cell_data["colours"] = np.asarray(colours, np.uint8).reshape(-1, 3)
        self._frustum_hidden = hidden

    def _highlight_frustum(self, view: int | None, looking_through: bool = False) -> None:
        if self._frustum_points is not None:
            self._set_frustum_lines(hidden=view if looking_through else None, highlight=view)

    def go_to_view(self, view: int, render: bool = True) -> None:
        """Put the 3D camera where photo ``view`` was taken (same direction, up and field of view)."""
        scene = self.scene
        if scene is None or not 0 <= view < scene.n_views:
            return
        r = scene.extrinsic[view, :, :3].astype(np.float64)
        t = scene.extrinsic[view, :, 3].astype(np.float64)
        centre = -r.T @ t
        forward, down = r[2], r[1]
        depth = float(np.median(scene.depth[view]))
        cam = self.camera
        cam.position = tuple(centre)
        cam.focal_point = tuple(centre + forward * depth)
        cam.up = tuple(-down)
        # fit the whole photo: match its vertical or horizontal field of view, whichever is limiting
        h, w = scene.image_size
        fx, fy = float(scene.intrinsic[view, 0, 0]), float(scene.intrinsic[view, 1, 1])
        win_w, win_h = self.plotter.ren_win.GetSize()
        horizontal = win_h > 0 and win_w / win_h < w / h
        cam.SetUseHorizontalViewAngle(horizontal)
        half = w / (2 * fx) if horizontal else h / (2 * fy)
        cam.view_angle = float(np.degrees(2 * np.arctan(half)))
        self.plotter.renderer.ResetCameraClippingRange()
        self.current_view = view
        self._highlight_frustum(view, looking_through=True)
        if render:
            self.render()

    def reset_view(self, render: bool = True) -> None:
        """Look from the first photo's direction and fit the whole cloud."""
        if self.scene is not None and self._poly is not None:
            self.go_to_view(0, render=False)
            self.current_view = None
            self._highlight_frustum(None)
            self.plotter.renderer.ResetCamera(self._poly.bounds)
            self.camera.zoom(1.4)
        else:
            self.plotter.reset_camera(render=False)
        if render:
            self.render()

    def orbit(self, degrees: float) -> None:
        """Turn the camera around the focal point about the view-up axis (presentation mode)."""
        if self._frustum_hidden is not None:
            self._highlight_frustum(self.current_view)
        self.camera.Azimuth(degrees)
        self.plotter.renderer.ResetCameraClippingRange()
        self.request_render(interactive=True)

    # ------------------------------------------------------------------------------------ picking
    def _start_tree(self, points: np.ndarray) -> None:
        self._tree_points = points

        def build() -> None:
            tree = cKDTree(points, leafsize=32, balanced_tree=False, compact_nodes=False)
            with self._tree_lock:
                if self._tree_points is points:
                    self._tree = tree

        threading.Thread(target=build, name="pick-tree", daemon=True).start()

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

    def pick(self, x: float, y: float) -> PickResult:
        """What is drawn at widget position (x, y): the nearest visible point, else a camera frustum."""
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
            k = order[0]
            world = self._display_to_world(xs[k] + x0, ys[k] + y0, float(z[ys[k], xs[k]]))
            index = self._nearest_visible(world)
            if index >= 0:
                p = self._poly.points[index]
                xyz = (float(p[0]), float(p[1]), float(p[2]))
                result = PickResult(int(index), int(self._labels[index]), xyz)
        hit = self._pick_frustum(x, y)
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
        if not self.frustums_visible or self._frustum_points is None:
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
        result = self.pick(x, y)
        log.debug("pick at (%d, %d) -> %s in %.1f ms", x, y, result, (time.perf_counter() - t0) * 1e3)
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

    # ------------------------------------------------------------------------------ rendering / LOD
    def lod_active(self) -> bool:
        if self._lod_actor is None or self.lod_policy == "never":
            return False
        if self.lod_policy == "always":
            return True
        return self.n_points >= LOD_MIN_POINTS and self._full_frame_s > SLOW_FRAME_S

    def request_render(self, interactive: bool = False) -> None:
        """Render now; ``interactive`` frames may use the reduced cloud and are refined when still."""
        if interactive:
            self._last_interaction = time.perf_counter()
        self.render()

    def _on_render_start(self, *_args) -> None:
        self._render_t0 = time.perf_counter()
        if self._lod_actor is None:
            return
        now = time.perf_counter()
        if self.plotter.ren_win.GetDesiredUpdateRate() >= 1.0:  # the interactor style is dragging
            self._last_interaction = now
            if self._frustum_hidden is not None:  # we left the photo's viewpoint: show its camera
                self._highlight_frustum(self.current_view)
        recent = (now - self._last_interaction) * 1000 < REFINE_DELAY_MS
        use_lod = self.lod_active() and recent and not self._refining
        if use_lod:
            self._refine_timer.start(REFINE_DELAY_MS)
        self._drawing_lod = use_lod
        self._actor.SetVisibility(not use_lod)
        self._lod_actor.SetVisibility(use_lod)

    def _on_render_end(self, *_args) -> None:
        dt = time.perf_counter() - self._render_t0
        if not self._drawing_lod and self._actor is not None:
            self._full_frame_s = dt if self._full_frame_s == 0 else 0.7 * self._full_frame_s + 0.3 * dt
        self.rendered.emit(dt)

    def _refine(self) -> None:
        if (time.perf_counter() - self._last_interaction) * 1000 < REFINE_DELAY_MS:
            self._refine_timer.start(REFINE_DELAY_MS)
            return
        self._refining = True
        try:
            self.render()
        finally:
            self._refining = False

    @property
    def drawing_lod(self) -> bool:
        return self._drawing_lod

    def render(self) -> None:
        self._render_timer.stop()
        if not self._closed:
            self.plotter.render()

    def save_screenshot(self, path: Path | str, scale: int = 1) -> Path:
        """Save the 3D view (full detail) as a PNG image (atomically, as every file the app writes)."""
        from PIL import Image

        from model import atomic_write

        path = Path(path)
        self._refining = True
        try:
            self.render()
            image = self.plotter.screenshot(None, return_img=True, scale=scale)
        finally:
            self._refining = False
        with atomic_write.atomic_file(path) as tmp:
            Image.fromarray(image).save(tmp, format="PNG")
        return path

    def shutdown(self) -> None:
        """Release the render window (call before the widget is destroyed)."""
        if not self._closed:
            self._refine_timer.stop()
            self._render_timer.stop()
            if self.scene is not None:
                self._disconnect_scene(self.scene)
            self._closed = True
            self.plotter.close()


def _vertex_cells(indices: np.ndarray) -> vtkCellArray:
    """A vertex cell for each index, built from numpy without a Python loop."""
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    offsets = np.arange(len(indices) + 1, dtype=np.int64)
    cells = vtkCellArray()
    cells.SetData(numpy_to_vtkIdTypeArray(offsets, deep=True), numpy_to_vtkIdTypeArray(indices, deep=True))
    return cells


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(distance, parameter t in [0, 1]) of the point of segment ab nearest to p."""
    ab = b - a
    denom = float(ab @ ab)
    t = 0.0 if denom < 1e-12 else float(np.clip((p - a) @ ab / denom, 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab))), t
