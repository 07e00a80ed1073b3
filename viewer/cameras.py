"""The cameras of the 3D view: the photo cameras drawn as frustums, and the 3D camera (look through a
photo, fit the scene, orbit, pose and bookmark). ``CamerasMixin`` is part of
``viewer.scene_view.SceneView`` (it uses its plotter, scene and viewer state).
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from app.scene import Scene
from viewer.state import CameraPose

GRID_ZOOM = 1.1  # Reset view with the grid on: its box and the labels outside it stay in the view


class CamerasMixin:
    """Frustums and the 3D camera for SceneView."""

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
        self._frustum_actor.SetVisibility(self.frustums_drawn)

    def _on_frustums_visible(self, on: bool) -> None:
        if on:  # the user asks for the cameras: that wins over any framing that held them back
            self._frusta_held.clear()
        if self._frustum_actor is not None:
            self._frustum_actor.SetVisibility(self.frustums_drawn)
        self.render()

    def hold_frusta(self, reason: str, hold: bool, render: bool = True) -> None:
        """Keep the camera frusta off screen while ``reason`` lasts (an instance framed close up, which they
        would cover, or a presentation); the user's Show cameras setting is not touched."""
        before = self.frustums_drawn
        (self._frusta_held.add if hold else self._frusta_held.discard)(reason)
        if self._frustum_actor is not None and self.frustums_drawn != before:
            self._frustum_actor.SetVisibility(self.frustums_drawn)
            if render:
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
        if colours:  # a one-photo scene looked at through its camera draws no frustum at all
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

    def reset_view(self, render: bool = True, zoom: float = 1.4) -> None:
        """Look from the first photo's direction and fit the whole cloud; ``zoom`` 1 keeps the cloud's
        bounding sphere in view from every direction (presentation's orbit), 1.4 fills the view from here."""
        if self.scene is not None and self._poly is not None:
            self.go_to_view(0, render=False)
            self.current_view = None
            self._highlight_frustum(None)
            bounds, spec = self._poly.bounds, self.grid.spec
            if spec is not None:  # the grid's labels sit outside the cloud: fit the grid's box instead
                bounds, zoom = spec.bounds, min(zoom, GRID_ZOOM)
            self.plotter.renderer.ResetCamera(*[float(b) for b in bounds])
            self.camera.zoom(zoom)
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

    def camera_pose(self) -> CameraPose:
        cam = self.camera
        return CameraPose(tuple(cam.position), tuple(cam.focal_point), tuple(cam.up), float(cam.view_angle),
                          float(cam.parallel_scale))

    def set_camera_pose(self, pose: CameraPose, render: bool = True) -> None:
        """Put the camera back where ``pose`` was taken (e.g. a bookmark)."""
        cam = self.camera
        cam.position, cam.focal_point, cam.up = pose.position, pose.focal_point, pose.up
        cam.view_angle = pose.view_angle
        cam.parallel_scale = pose.parallel_scale
        self.current_view = None
        self._highlight_frustum(None)
        self.plotter.renderer.ResetCameraClippingRange()
        if render:
            self.render()

    def bookmark_camera(self) -> None:
        """Remember the current camera in the state (``go_to_bookmark`` comes back to it)."""
        self.state.bookmark = self.camera_pose()

    def go_to_bookmark(self) -> bool:
        if self.state.bookmark is None or self.scene is None:
            return False
        self.set_camera_pose(self.state.bookmark)
        return True
