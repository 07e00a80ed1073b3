"""Point cloud as binary PLY: position, colour, instance id, category id and confidence per vertex.

The header's comments name the categories (``comment category <id> <name>``) and instances
(``comment instance <id> <category id> <name>``), so a reader can map ids back to names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.export.atomic import atomic_file, check_target
from app.export.base import ExportOptions, ExportResult, category_ids, point_category_ids, require_points
from app.scene import Scene

VERTEX_DTYPE = np.dtype(
    [
        ("x", "<f4"),
        ("y", "<f4"),
        ("z", "<f4"),
        ("red", "u1"),
        ("green", "u1"),
        ("blue", "u1"),
        ("instance_id", "<i4"),
        ("category_id", "<i4"),
        ("confidence", "<f4"),
    ]
)


def _comment(text: str) -> str:
    """One line of ASCII (PLY headers are ASCII; other characters become '?')."""
    line = " ".join(text.replace("\r", " ").replace("\n", " ").split())
    return line.encode("ascii", errors="replace").decode("ascii")


def header_comments(scene: Scene) -> list[str]:
    """The header's comments: the model, then the id -> name tables of categories and instances."""
    comments = ["exported by iggt-viewer"]
    if scene.model_id:
        comments.append(f"model {_comment(scene.model_id)}")
    if scene.settings.scale is not None and scene.settings.scale.applied:
        comments.append("units metres")  # app.measure.metric_scene applied the scene's scale
    comments.append("instance_id 0 = no instance; category_id 0 = no category")
    cats = category_ids(scene)
    comments += [f"category {cid} {_comment(name)}" for name, cid in cats.items()]
    for iid, inst in scene.instances.items():
        comments.append(f"instance {iid} {cats.get(inst.category or '', 0)} {_comment(inst.name)}")
    return comments


def vertex_array(scene: Scene, colour_by: str = "rgb") -> np.ndarray:
    """Vertices with the photo colour of each point, or its instance's colour (``colour_by="instance"``)."""
    from app.export.glb import point_colours

    pts = scene.points
    rgb = point_colours(scene, colour_by)
    out = np.empty(pts.shape[0], dtype=VERTEX_DTYPE)
    out["x"], out["y"], out["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
    out["red"], out["green"], out["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    out["instance_id"] = scene.point_labels
    out["category_id"] = point_category_ids(scene)
    out["confidence"] = scene.point_confidence
    return out


def export_ply(scene: Scene, path: Path, options: ExportOptions | None = None) -> ExportResult:
    from plyfile import PlyData, PlyElement

    options = options or ExportOptions()
    require_points(scene)
    check_target(Path(path), options.force)
    options.report("collecting points", 0.0)
    vertices = vertex_array(scene, options.colour_by)
    ply = PlyData([PlyElement.describe(vertices, "vertex")], text=False, byte_order="<",
                  comments=header_comments(scene))  # fmt: skip
    options.report("writing PLY", 0.1)
    with atomic_file(Path(path), options.force) as tmp:
        ply.write(str(tmp))
        options.report("writing PLY", 1.0)
    return ExportResult(Path(path), [Path(path)])
