"""Small Scene builders shared by the tests (scene model, scene files, edits)."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.scene import Instance, Scene, ViewInfo, ViewTransform

# the per-view arrays a Scene is built from, in constructor order
SCENE_ARRAYS = (
    "images",
    "extrinsic",
    "intrinsic",
    "depth",
    "depth_conf",
    "point_map",
    "point_conf",
    "point_mask",
    "features",
    "labels",
)


def make_scene(views: int = 2, height: int = 28, width: int = 42, seed: int = 0) -> Scene:
    """A small consistent scene: two instances split by image column, random geometry."""
    rng = np.random.default_rng(seed)
    s, h, w = views, height, width
    labels = np.zeros((s, h, w), np.int32)
    labels[:, :, : w // 2] = 1
    labels[:, h // 2 :, w // 2 :] = 2
    depth = rng.uniform(1.0, 2.0, (s, h, w)).astype(np.float32)
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    point_map = np.stack([np.broadcast_to(cols, (s, h, w)), np.broadcast_to(rows, (s, h, w)), depth], -1)
    views_info = [
        ViewInfo(
            f"v{i}.png",
            f"/tmp/v{i}.png",
            "0" * 64,
            (2 * h, 2 * w),
            ViewTransform.resize((2 * h, 2 * w), (h, w)),
        )
        for i in range(s)
    ]
    return Scene(
        views=views_info,
        images=rng.integers(0, 256, (s, h, w, 3), dtype=np.uint8),
        extrinsic=np.tile(np.eye(4, dtype=np.float32)[:3], (s, 1, 1)),
        intrinsic=np.tile(np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], np.float32), (s, 1, 1)),
        depth=depth,
        depth_conf=np.ones((s, h, w), np.float32) * 2,
        point_map=point_map.astype(np.float32),
        point_conf=np.ones((s, h, w), np.float32) * 2,
        point_mask=np.ones((s, h, w), bool),
        features=rng.normal(size=(s, h, w, 8)).astype(np.float16),
        labels=labels,
        instances=[Instance.new(1), Instance.new(2, name="chair")],
        settings={"points_source": "depth"},
        model_id="test",
    )


def scene_fields(scene: Scene) -> dict[str, Any]:
    """The constructor arguments that rebuild ``scene``: views, arrays, instances, settings, model id."""
    fields = {"views": scene.views, **{name: getattr(scene, name) for name in SCENE_ARRAYS}}
    return fields | {"instances": list(scene.instances.values()), "settings": scene.settings,
                     "model_id": scene.model_id}  # fmt: skip


def rebuild_scene(scene: Scene, **overrides: Any) -> Scene:
    """A new Scene from ``scene``'s fields with some replaced (e.g. other features, a broken array)."""
    return Scene(**(scene_fields(scene) | overrides))
