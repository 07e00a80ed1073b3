"""Benchmark: save and load of a 10-view 336x504 scene file (goal: load under 1 s).

    .venv/bin/python bench/scene_io.py [--views 10] [--height 336] [--width 504] [--repeat 5]

The scene is a synthetic room (ground-truth depth, cameras, instance ids) with random float16
features, saved with app.scene_io.save_scene and loaded (fully validated) with load_scene.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.instances import build_instances, instance_statistics  # noqa: E402
from app.scene import Scene, ViewInfo, ViewTransform  # noqa: E402
from app.scene_io import load_scene, save_scene  # noqa: E402


def make_scene(views: int, height: int, width: int) -> Scene:
    from model.geometry import unproject_depth_map_to_point_map
    from training.synthetic import render_room

    room = render_room(0, views, height, width)
    points = unproject_depth_map_to_point_map(room.depth, room.extrinsic, room.intrinsic).astype(np.float32)
    labels = room.instance_ids.astype(np.int32)
    mask = np.ones(labels.shape, bool)
    stats = instance_statistics(labels, points, mask, room.depth, room.extrinsic, room.intrinsic)
    rng = np.random.default_rng(0)
    infos = [
        ViewInfo(
            f"{i}.jpg",
            f"/photos/{i}.jpg",
            "0" * 64,
            (960, 1440),
            ViewTransform.resize((960, 1440), (height, width)),
        )
        for i in range(views)
    ]
    return Scene(
        views=infos, images=room.images, extrinsic=room.extrinsic, intrinsic=room.intrinsic, depth=room.depth,
        depth_conf=rng.uniform(1, 3, labels.shape).astype(np.float32), point_map=points,
        point_conf=rng.uniform(1, 3, labels.shape).astype(np.float32), point_mask=mask,
        features=rng.normal(size=(*labels.shape, 8)).astype(np.float16), labels=labels,
        instances=build_instances(stats), model_id="bench",
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--views", type=int, default=10)
    ap.add_argument("--height", type=int, default=336)
    ap.add_argument("--width", type=int, default=504)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    scene = make_scene(args.views, args.height, args.width)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.iggt"
        saves, loads = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            save_scene(scene, path)
            saves.append(time.perf_counter() - t)
        for _ in range(args.repeat):
            t = time.perf_counter()
            loaded = load_scene(path)
            loads.append(time.perf_counter() - t)
        size = path.stat().st_size
    assert loaded.n_points == scene.n_points
    print(
        f"scene: {args.views} views at {args.height}x{args.width}, {scene.n_points} points, "
        f"{len(scene.instances)} instances; file {size / 2**20:.1f} MiB"
    )
    print(f"save: median {np.median(saves):.3f} s (min {min(saves):.3f})")
    print(f"load: median {np.median(loads):.3f} s (min {min(loads):.3f})  goal < 1 s")


if __name__ == "__main__":
    main()
