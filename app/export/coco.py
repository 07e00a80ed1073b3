"""COCO-style instance segmentation JSON: one image per view, one annotation per (view, instance).

Masks are at the original image resolution as compressed RLE. Every annotation carries the scene's
``instance_id`` (the same across views) and ``instance_name``; categories come from the instances'
categories (instances without one are filed under "object").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from app.export.atomic import check_target, write_text_atomic
from app.export.base import DEFAULT_CATEGORY, ExportOptions, ExportResult
from app.review import review_state
from app.scene import NO_INSTANCE, Scene


def encode_mask(mask: np.ndarray) -> tuple[dict, int, list[float]]:
    """COCO compressed RLE (pycocotools), area and [x, y, width, height] box of a (h, w) bool mask."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    area = int(mask_utils.area(rle))
    box = [float(v) for v in mask_utils.toBbox(rle)]
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}, area, box


def coco_categories(scene: Scene) -> dict[str, int]:
    names = sorted({inst.category or DEFAULT_CATEGORY for inst in scene.instances.values()})
    return {name: i + 1 for i, name in enumerate(names)}


def build_coco(scene: Scene, options: ExportOptions | None = None) -> dict:
    options = options or ExportOptions()
    cats = coco_categories(scene)
    images, annotations = [], []
    for s, view in enumerate(scene.views):
        options.report(f"encoding masks of {view.name}", s / scene.n_views)
        h0, w0 = view.transform.original_size
        images.append({"id": s + 1, "file_name": view.name, "width": w0, "height": h0, "view_index": s})
        labels = scene.labels_original(s)
        present = [int(i) for i in np.unique(labels) if i != NO_INSTANCE]
        for iid in present:
            inst = scene.instances[iid]
            segmentation, area, box = encode_mask(labels == iid)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": s + 1,
                    "category_id": cats[inst.category or DEFAULT_CATEGORY],
                    "segmentation": segmentation,
                    "area": area,
                    "bbox": box,
                    "iscrowd": 0,
                    "instance_id": iid,
                    "instance_name": inst.name,
                    "review": review_state(inst),
                }
            )
    return {
        "info": {
            "description": "IGGT Viewer instance masks",
            "model": scene.model_id,
            "date_created": scene.created,
        },
        "images": images,
        "categories": [{"id": cid, "name": name, "supercategory": ""} for name, cid in cats.items()],
        "annotations": annotations,
        "instances": [
            {
                "id": iid,
                "name": inst.name,
                "category": inst.category,
                "colour": list(inst.colour),
                "review": review_state(inst),
            }
            for iid, inst in scene.instances.items()
        ],
    }


def export_coco(scene: Scene, path: Path, options: ExportOptions | None = None) -> ExportResult:
    options = options or ExportOptions()
    path = check_target(Path(path), options.force)
    data = build_coco(scene, options)
    write_text_atomic(path, json.dumps(data), options.force)
    options.report("done", 1.0)
    return ExportResult(path, [path])
