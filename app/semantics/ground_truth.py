"""Scenes built from a synthetic room's ground truth (GT depth, cameras and instance masks), for evaluating
the semantics without the reconstruction network."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.scene import Instance, Scene, ViewInfo, ViewTransform
from model.geometry import unproject_depth_map_to_point_map


@dataclass
class GroundTruthScene:
    scene: Scene  # instances are unnamed ("instance N", no category): nothing leaks to the semantics
    categories: dict[int, str]  # instance id -> true category
    colours: dict[int, str]  # instance id -> true colour name
    category_ids: np.ndarray  # (S, H, W) per-pixel category ids (model.clip.vocabulary.CATEGORIES)


def scene_from_synthetic(room) -> GroundTruthScene:
    """A Scene whose label maps are the room's GT instance ids (``room``: a SyntheticScene)."""
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
        point_map=unproject_depth_map_to_point_map(room.depth, room.extrinsic, room.intrinsic),
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
