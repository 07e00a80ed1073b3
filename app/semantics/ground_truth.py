"""Scenes built from a synthetic room's ground truth (GT depth, cameras and instance masks), for evaluating
the semantics without the reconstruction network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.scene import Instance, Scene, ViewInfo, ViewTransform


@dataclass
class GroundTruthScene:
    scene: Scene  # instances are unnamed ("instance N", no category): nothing leaks to the semantics
    categories: dict[int, str]  # instance id -> true category
    colours: dict[int, str]  # instance id -> true colour name
    category_ids: np.ndarray  # (S, H, W) per-pixel category ids (model.synthetic.CATEGORIES)


def _unproject(depth: np.ndarray, extrinsic: np.ndarray, intrinsic: np.ndarray) -> np.ndarray:
    s, h, w = depth.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((s, h, w, 3), np.float32)
    for v in range(s):
        k = intrinsic[v]
        cam = np.stack(
            [(cols - k[0, 2]) / k[0, 0] * depth[v], (rows - k[1, 2]) / k[1, 1] * depth[v], depth[v]], -1
        )
        rot, t = extrinsic[v, :, :3], extrinsic[v, :, 3]
        out[v] = (cam - t) @ rot  # camera -> world: R^T (x - t)
    return out


def scene_from_synthetic(room) -> GroundTruthScene:
    """A Scene whose label maps are the room's GT instance ids (``room``: model.synthetic.SyntheticScene)."""
    s, h, w = room.depth.shape
    views = [
        ViewInfo(f"view_{v:03d}.png", "", "", (h, w), ViewTransform.resize((h, w), (h, w))) for v in range(s)
    ]
    labels = room.instance_ids.astype(np.int32)
    present = {int(i) for i in np.unique(labels) if i > 0}
    table = [Instance.new(iid) for iid, _, _ in room.instances if iid in present]
    scene = Scene(
        views=views,
        images=room.images,
        extrinsic=room.extrinsic,
        intrinsic=room.intrinsic,
        depth=room.depth,
        depth_conf=np.ones_like(room.depth),
        point_map=_unproject(room.depth, room.extrinsic, room.intrinsic),
        point_conf=np.ones_like(room.depth),
        point_mask=np.ones_like(room.depth, dtype=bool),
        features=np.zeros((s, h, w, 8), np.float16),
        labels=labels,
        instances=table,
        model_id="ground-truth",
        metadata={"source": f"synthetic room seed {room.seed} (ground-truth masks)"},
    )
    from app.instances import refresh_statistics

    refresh_statistics(scene)  # points, boxes, views, consistency of each instance, as a real scene has
    return GroundTruthScene(
        scene=scene,
        categories={iid: cat for iid, cat, _ in room.instances if iid in present},
        colours={iid: col for iid, _, col in room.instances if iid in present},
        category_ids=room.category_ids,
    )
