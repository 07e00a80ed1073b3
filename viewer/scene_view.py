"""The 3D view: the scene's point cloud and cameras in a pyvistaqt QtInteractor.

Speed at millions of points comes from never rebuilding actors after a scene is shown:
- colour modes and selection dimming write into one uint8 colour array in place;
- the confidence filter, hidden and isolated instances only replace the vertex index list (which
  points are drawn); positions and colours stay on the GPU;
- a second actor shares the same points and colours but draws a random subset; it is shown while
  the user drags (or moves a slider) when full frames are slow, and the full cloud comes back
  once the view has been still for a moment;
- picking (viewer.picking) reads the depth buffer around the click and asks a k-d tree of the cloud
  for the nearest visible point.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pyvista as pv
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor
from scipy.spatial import cKDTree
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
from vtkmodules.vtkCommonDataModel import vtkCellArray

from app.scene import Scene
from viewer.cameras import CamerasMixin
from viewer.colouring import COLOUR_MODES, dimmed, mode_colours
from viewer.picking import ClickFilter, PickingMixin
from viewer.scene_grid import SceneGrid
from viewer.state import ViewerState
from viewer.workers import start_background

log = logging.getLogger(__name__)

DEFAULT_BACKGROUND = "#1e2126"
LOD_POINTS = 200_000  # points drawn while interacting when full frames are slow
LOD_MIN_POINTS = 400_000  # below this the full cloud is always drawn
SLOW_FRAME_S = 1 / 30  # full frames slower than this switch on level-of-detail while interacting
REFINE_DELAY_MS = 300  # still time before the full cloud is drawn again
CLICK_TOLERANCE_PX = 4  # press/release further apart than this is a drag, not a click
PICK_RADIUS_PX = 6  # how far from the cursor a point may be drawn and still be picked
FRUSTUM_PICK_PX = 6


class SceneView(CamerasMixin, PickingMixin, QWidget):
    """The 3D view of one Scene, drawn as ``state`` (viewer.state.ViewerState) says: it follows the
    state's events, and its ``set_*`` methods only write to the state."""

    picked = Signal(object)  # PickResult of a click (point -1 and view None: empty space)
    rendered = Signal(float)  # seconds the frame took
    visibility_changed = Signal(int, int)  # points shown, points in the cloud

    def __init__(self, parent: QWidget | None = None, background: str = DEFAULT_BACKGROUND,
                 state: ViewerState | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scene_view")
        self.plotter = QtInteractor(self, auto_update=False, multi_samples=1)
        self.plotter.setObjectName("scene_interactor")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plotter)
        self._disable_vtk_keys()
        self._click_filter = ClickFilter(self)
        self.plotter.installEventFilter(self._click_filter)

        self._background = background
        self.plotter.set_background(background)
        self._closed = False
        self.scene: Scene | None = None

        self.state = state if state is not None else ViewerState()
        self.current_view: int | None = None  # the photo the camera looks through
        self._preview_ids: frozenset[int] | None = None  # set_isolated: shown alone for a moment
        self.grid = SceneGrid(self)  # round ticks, in metres once the scene has a scale

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
        self._frusta_held: set[str] = set()  # hold_frusta: why the frusta are not drawn for a moment

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
        self._follow_state(self.state)

    def _follow_state(self, state: ViewerState) -> None:
        ev = state.events
        ev.colour_mode.connect(self._on_colour_mode)
        ev.point_size.connect(self._on_point_size)
        ev.threshold_percent.connect(self._on_threshold)
        ev.isolating.connect(self._on_isolating)
        ev.frustums_visible.connect(self._on_frustums_visible)
        ev.grid_visible.connect(self._on_grid_visible)
        ev.axes_visible.connect(self._on_axes_visible)
        ev.parallel_projection.connect(self._on_parallel_projection)
        state.selection.changed.connect(self._on_selection)

    # what the state says (read-only here; write to self.state) ----------------------------------------
    @property
    def colour_mode(self) -> str:
        return self.state.colour_mode

    @property
    def point_size(self) -> float:
        return self.state.point_size

    @property
    def threshold_percent(self) -> float:
        return self.state.threshold_percent

    @property
    def selected(self) -> int | None:
        return self.state.selection.instance

    @property
    def isolated(self) -> frozenset[int]:
        """The instances shown alone: a preview's (``set_isolated``), else the state's isolation."""
        return self._preview_ids if self._preview_ids is not None else self.state.isolated

    def set_isolated(self, instance_ids) -> None:
        """Show only these instances for a moment (a preview such as the merge dialog's; the viewer state
        is not changed); None or empty: back to what the state shows."""
        self._preview_ids = frozenset(instance_ids) if instance_ids else None
        self.hold_frusta("preview", self._preview_ids is not None, render=False)
        self._update_visibility()

    @property
    def frustums_visible(self) -> bool:
        """The user's Show cameras setting."""
        return self.state.frustums_visible

    @property
    def frustums_drawn(self) -> bool:
        """Whether the camera frusta are on screen: shown, and not held back by a framed instance."""
        return self.state.frustums_visible and not self._frusta_held

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
        self.grid.follow(scene)
        self.current_view = None
        self._preview_ids = None
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
        self._on_point_size(render=False)
        self._connect_scene(scene)
        if self.state.grid_visible:
            self._on_grid_visible(True)
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

        start_background(work, "colour modes")

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
        """Colour the points by ``mode``; the current mode again redraws its colours (the state emits no
        change then), which is how an overlay written into the colours (a Find highlight) is cleared."""
        if mode == self.colour_mode:
            self._update_colours(interactive=True)
        else:
            self.state.set_colour_mode(mode)

    def _on_colour_mode(self, _mode: str) -> None:
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
        self.state.set_threshold(percent)

    def _on_threshold(self, _percent: float) -> None:
        self._update_visibility(interactive=True)

    def _on_isolating(self, _on: bool) -> None:
        self._update_visibility()

    def _instance_visibility_lut(self) -> np.ndarray:
        scene = self.scene
        max_id = max(int(self._labels.max(initial=0)), max(scene.instances, default=0))
        lut = np.ones(max_id + 1, bool)
        for iid, inst in scene.instances.items():
            if not inst.visible:
                lut[iid] = False
        isolated = self.isolated
        if isolated:
            keep = np.zeros_like(lut)
            for iid in isolated:
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
        self.visibility_changed.emit(self.n_visible, self.n_points)
        if render:
            self.request_render(interactive=interactive)

    @property
    def n_visible(self) -> int:
        return 0 if self.visible_mask is None else int(self.visible_mask.sum())

    # ---------------------------------------------------------------------------------- selection
    def set_selection(self, instance_id: int | None) -> None:
        """Select one instance (others dimmed); None clears the selection."""
        self.state.selection.select(instance_id)

    def _on_selection(self, _instance_id: int | None) -> None:
        if self.state.isolating:
            self._update_visibility(render=False)
        self._update_colours()

    # ------------------------------------------------------------------------------- appearance
    def set_point_size(self, size: float) -> None:
        self.state.set_point_size(size)

    def _on_point_size(self, *_args, render: bool = True) -> None:
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
        self.state.parallel_projection = bool(on)

    def set_axes_visible(self, on: bool) -> None:
        self.state.axes_visible = bool(on)

    def set_grid_visible(self, on: bool) -> None:
        self.state.grid_visible = bool(on)

    def set_frustums_visible(self, on: bool) -> None:
        self.state.frustums_visible = bool(on)

    def _on_parallel_projection(self, on: bool) -> None:
        if on:
            self.plotter.enable_parallel_projection()
        else:
            self.plotter.disable_parallel_projection()
        self.render()

    def _on_axes_visible(self, on: bool) -> None:
        if on:
            self.plotter.show_axes()
        else:
            self.plotter.hide_axes()
        self.render()

    def _on_grid_visible(self, on: bool) -> None:
        self.grid.show(on)
        self.render()

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
