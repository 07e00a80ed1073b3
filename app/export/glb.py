"""GLB (binary glTF 2.0) scene: the point cloud (coloured by RGB or by instance) and camera frustums.

glTF is Y-up with cameras looking down -Z, the scene is OpenCV (Y down, Z forward); every node therefore
carries the transform diag(1, -1, -1), so common viewers show the room upright while the stored vertex
positions stay in scene coordinates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.colors import NO_INSTANCE_COLOUR
from app.errors import UserError
from app.export.atomic import check_target, write_bytes_atomic
from app.export.base import ExportOptions, ExportResult, label_lookup, require_points
from app.export.cameras import camera_centres, frustum_corners, scene_scale
from app.scene import Scene

OPENCV_TO_GLTF = np.diag([1.0, -1.0, -1.0, 1.0])
COLOUR_MODES = ("rgb", "instance")
FRUSTUM_COLOUR = (255, 140, 0, 255)


def point_colours(scene: Scene, colour_by: str) -> np.ndarray:
    """(N, 3) uint8 colours of the points: their image colour, or their instance's colour."""
    if colour_by == "rgb":
        return np.asarray(scene.point_rgb, dtype=np.uint8)
    if colour_by == "instance":
        packed = {iid: (r << 16) | (g << 8) | b for iid, (r, g, b) in scene.instance_colours().items()}
        r, g, b = NO_INSTANCE_COLOUR
        code = label_lookup(scene, packed, default=(r << 16) | (g << 8) | b)(scene.point_labels)
        return np.stack([(code >> 16) & 255, (code >> 8) & 255, code & 255], axis=1).astype(np.uint8)
    raise UserError(f"unknown colouring {colour_by!r}; choose one of {', '.join(COLOUR_MODES)}")


def frustum_segments(scene: Scene) -> np.ndarray:
    """(S, 8, 2, 3) line segments per camera: four edges from the centre, four around the image plane."""
    depth = scene_scale(scene)
    centres = camera_centres(scene.extrinsic)
    corners = frustum_corners(scene.extrinsic, scene.intrinsic, scene.image_size, depth)
    segs = np.empty((scene.n_views, 8, 2, 3))
    for k in range(4):
        segs[:, k, 0] = centres
        segs[:, k, 1] = corners[:, k]
        segs[:, 4 + k, 0] = corners[:, k]
        segs[:, 4 + k, 1] = corners[:, (k + 1) % 4]
    return segs


def build_glb(scene: Scene, colour_by: str = "rgb") -> bytes:
    import trimesh

    require_points(scene)
    rgb = point_colours(scene, colour_by)
    rgba = np.concatenate([rgb, np.full((rgb.shape[0], 1), 255, np.uint8)], axis=1)
    gl_scene = trimesh.Scene()
    cloud = trimesh.PointCloud(np.asarray(scene.points, dtype=np.float64), colors=rgba)
    gl_scene.add_geometry(cloud, node_name="points", geom_name="points", transform=OPENCV_TO_GLTF)
    for s, segs in enumerate(frustum_segments(scene)):
        path = trimesh.load_path(segs)
        path.colors = np.tile(np.array(FRUSTUM_COLOUR, np.uint8), (len(path.entities), 1))
        name = f"camera_{s:03d}"
        gl_scene.add_geometry(path, node_name=name, geom_name=name, transform=OPENCV_TO_GLTF)
    return gl_scene.export(file_type="glb")


def export_glb(scene: Scene, path: Path, options: ExportOptions | None = None) -> ExportResult:
    options = options or ExportOptions()
    check_target(Path(path), options.force)
    options.report("building GLB", 0.0)
    data = build_glb(scene, options.colour_by)
    options.report("writing GLB", 0.9)
    write_bytes_atomic(Path(path), data, options.force)
    options.report("writing GLB", 1.0)
    return ExportResult(Path(path), [Path(path)])
