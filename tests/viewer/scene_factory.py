"""Scenes for GUI tests and viewer benchmarks, built from a synthetic room without running the network.

Depth, cameras and instance ids come from the renderer (ground truth), so instances are real 3D objects
seen consistently across views; features are a fixed random code per instance plus noise.
"""

from __future__ import annotations

import numpy as np

from app.scene import Instance, InstanceStats, Scene, ViewInfo, ViewTransform
from model.geometry import unproject_depth_map_to_point_map


def _stats(labels: np.ndarray, mask: np.ndarray, points: np.ndarray, ids) -> dict[int, InstanceStats]:
    stats = {}
    for iid in ids:
        sel = (labels == iid) & mask
        pts = points[sel]
        view_pixels = {v: int(n) for v, n in enumerate((labels == iid).sum(axis=(1, 2))) if n}
        if len(pts):
            stats[iid] = InstanceStats(
                point_count=len(pts), bbox_min=tuple(pts.min(0)), bbox_max=tuple(pts.max(0)),
                centroid=tuple(pts.mean(0)), view_pixels=view_pixels, consistency=0.9,
            )
        else:
            stats[iid] = InstanceStats(view_pixels=view_pixels)
    return stats


def synthetic_scene(seed: int = 0, views: int = 4, height: int = 112, width: int = 140,
                    repeat: int = 1) -> Scene:
    """A Scene of a synthetic room; ``repeat`` > 1 tiles each view's pixels into more points (for benches)."""
    from training.synthetic import render_room

    room = render_room(seed=seed, views=views, height=height, width=width)
    depth, ext, intr = room.depth, room.extrinsic, room.intrinsic
    point_map = unproject_depth_map_to_point_map(depth, ext, intr)
    labels = room.instance_ids.astype(np.int32)
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(labels.max() + 1, 8)).astype(np.float32)
    features = (codes[labels] + rng.normal(scale=0.15, size=(*labels.shape, 8))).astype(np.float16)
    conf = (1.0 + 4.0 * rng.random(depth.shape)).astype(np.float32)
    mask = np.ones(depth.shape, bool)
    images = room.images
    if repeat > 1:  # more points per view: upsample every map, jitter the point positions a little
        def up(a):
            return np.repeat(np.repeat(a, repeat, axis=1), repeat, axis=2)
        depth, labels, features, conf, mask, images = map(up, (depth, labels, features, conf, mask, images))
        point_map = up(point_map) + rng.normal(scale=0.004, size=up(point_map).shape).astype(np.float32)
        intr = intr.copy()
        intr[:, :2] *= repeat
        height, width = height * repeat, width * repeat
    ids = [i for i, _, _ in room.instances]
    stats = _stats(labels, mask, point_map, ids)
    counts: dict[str, int] = {}
    instances = []
    for iid, category, colour_name in room.instances:
        counts[category] = counts.get(category, 0) + 1
        instances.append(Instance.new(iid, name=f"{colour_name} {category} {counts[category]}",
                                      category=category, stats=stats[iid]))
    view_infos = [
        ViewInfo(f"view_{v:03d}.png", f"/nonexistent/view_{v:03d}.png", "0" * 64, (height, width),
                 ViewTransform.resize((height, width), (height, width)))
        for v in range(views)
    ]
    return Scene(
        views=view_infos, images=images, extrinsic=ext, intrinsic=intr, depth=depth, depth_conf=conf,
        point_map=point_map, point_conf=conf, point_mask=mask, features=features, labels=labels,
        instances=instances, model_id="synthetic-ground-truth",
    )
