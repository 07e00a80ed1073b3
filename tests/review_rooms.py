"""Synthetic rooms damaged the ways the review queue looks for (shared by the Qt-free and the GUI tests)."""

from __future__ import annotations

import numpy as np
from scenes import rebuild_scene

from app.instances import refresh_statistics
from app.review import touching_pairs
from app.scene import Instance, Scene
from app.semantics.ground_truth import scene_from_synthetic
from training.synthetic import render_room

ROOM = (3, 4, 112, 168)  # seed, views, height, width


def truth() -> np.ndarray:
    """Ground-truth instance ids of the room's pixels."""
    return np.array(render_room(*ROOM).instance_ids)


def touching_merged_room(noise: float = 0.25, cut: bool = False) -> tuple[Scene, dict[str, int]]:
    """Room seed 3 (4 views) with ground-truth instances and noisy per-object features (one direction per
    object, ``noise`` per dimension, as a trained network gives them), then the two objects that touch most
    (their pixels neighbour in views and their 3D points meet) given one id: one 3D cluster, two objects.
    With ``cut``, the biggest other object is also cut in two along its longest axis (a ~20 % fragment).
    Returns the scene and {"merged", "gone"[, "cut", "fragment"]}."""
    base = scene_from_synthetic(render_room(*ROOM)).scene
    gt = np.array(base.labels)
    (a, b), _ = max(touching_pairs(base).items(), key=lambda kv: kv[1])
    labels = np.where(gt == b, a, gt).astype(np.int32)
    known = {"merged": a, "gone": b}
    if cut:
        pts = np.asarray(base.point_map)
        size = {i: inst.stats.point_count for i, inst in base.instances.items() if i not in (a, b)}
        c = max(size, key=size.get)
        mask = labels == c
        axis = int(np.argmax(np.ptp(pts[mask], axis=0)))
        fragment = int(gt.max()) + 1
        labels[mask & (pts[..., axis] > np.quantile(pts[mask][:, axis], 0.8))] = fragment
        known |= {"cut": c, "fragment": fragment}
    rng = np.random.default_rng(1)
    dirs = rng.normal(size=(int(gt.max()) + 1, 8))
    features = (dirs[gt] + noise * rng.normal(size=(*gt.shape, 8))).astype(np.float16)
    table = [Instance.new(i) for i in sorted(set(np.unique(labels).tolist()) - {0})]
    scene = rebuild_scene(base, features=features, labels=labels, instances=table, model_id="test")
    refresh_statistics(scene)
    return scene, known
