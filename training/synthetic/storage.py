"""On-disk layout of rendered scenes (written by ``iggt synth``, read by eval and tests).

    OUT/
      index.json                  {"format": "iggt-synthetic/1", "scenes": ["scene_000042", ...], ...}
      scene_000042/               one room; the number is its seed
        images/000.png ...        RGB, 8 bit, one per view (open this folder in the viewer)
        gt.npz                    depth (V,H,W) float32 metres (z-depth); extrinsic (V,3,4) float32
                                  world-to-camera OpenCV in the first camera's frame; intrinsic (V,3,3)
                                  float32 pixels; instance_ids (V,H,W) int32 (0 = floor/wall/ceiling);
                                  category_ids (V,H,W) uint8 (ids of palette.CATEGORIES)
        instances.json            {"seed", "views", "height", "width", "categories": [...],
                                   "instances": [{"id", "category", "colour"}, ...]}

Every scene folder is written under a temporary name and renamed when complete, so an
interrupted run never leaves a half-written scene behind.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from model.clip.vocabulary import CATEGORIES

from .render import SyntheticScene

FORMAT = "iggt-synthetic/1"


def scene_dir_name(seed: int) -> str:
    return f"scene_{seed:06d}"


def write_scene(scene: SyntheticScene, out_dir: Path) -> Path:
    """Write one scene to ``out_dir / scene_<seed>`` atomically; returns the folder."""
    from PIL import Image

    out_dir = Path(out_dir)
    final = out_dir / scene_dir_name(scene.seed)
    tmp = out_dir / (final.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "images").mkdir(parents=True)
    for v in range(scene.views):
        Image.fromarray(scene.images[v]).save(
            tmp / "images" / f"{v:03d}.png", optimize=False, compress_level=6
        )
    np.savez_compressed(
        tmp / "gt.npz",
        depth=scene.depth.astype(np.float32),
        extrinsic=scene.extrinsic.astype(np.float32),
        intrinsic=scene.intrinsic.astype(np.float32),
        instance_ids=scene.instance_ids.astype(np.int32),
        category_ids=scene.category_ids.astype(np.uint8),
    )
    meta = {
        "seed": scene.seed,
        "views": scene.views,
        "height": int(scene.images.shape[1]),
        "width": int(scene.images.shape[2]),
        "categories": list(CATEGORIES),
        "instances": [{"id": i, "category": c, "colour": n} for i, c, n in scene.instances],
    }
    (tmp / "instances.json").write_text(json.dumps(meta, indent=1))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def write_index(out_dir: Path, scene_names: list[str], **info) -> None:
    out_dir = Path(out_dir)
    tmp = out_dir / "index.json.partial"
    tmp.write_text(json.dumps({"format": FORMAT, "scenes": scene_names, **info}, indent=1))
    os.replace(tmp, out_dir / "index.json")


def read_scene(scene_dir: Path) -> SyntheticScene:
    """Load a scene folder written by ``write_scene``."""
    from PIL import Image

    scene_dir = Path(scene_dir)
    meta = json.loads((scene_dir / "instances.json").read_text())
    with np.load(scene_dir / "gt.npz") as gt:
        arrays = {k: gt[k] for k in gt.files}
    images = np.stack(
        [
            np.asarray(Image.open(scene_dir / "images" / f"{v:03d}.png").convert("RGB"))
            for v in range(meta["views"])
        ]
    )
    return SyntheticScene(
        images=images,
        depth=arrays["depth"],
        extrinsic=arrays["extrinsic"],
        intrinsic=arrays["intrinsic"],
        instance_ids=arrays["instance_ids"].astype(np.int32),
        category_ids=arrays["category_ids"].astype(np.int32),
        instances=[(d["id"], d["category"], d["colour"]) for d in meta["instances"]],
        seed=int(meta["seed"]),
    )
