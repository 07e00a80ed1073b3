"""Per-view instance masks at the original image resolution.

Output folder::

    ids/<view>.png       16-bit greyscale PNG, pixel value = instance id (0 = no instance)
    overlay/<view>.png   the original image with each instance tinted in its colour
    instances.json       id -> name, category, colour, and the views' file names
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from app.colors import label_image
from app.errors import UserError
from app.export.atomic import atomic_folder, check_target
from app.export.base import ExportOptions, ExportResult, view_stems
from app.export.originals import load_original
from app.scene import NO_INSTANCE, Scene

MAX_PNG16_ID = 65535
OVERLAY_ALPHA = 0.5


def check_ids_fit(scene: Scene) -> None:
    top = max(scene.instances, default=0)
    if top > MAX_PNG16_ID:
        raise UserError(f"instance id {top} does not fit a 16-bit mask (max {MAX_PNG16_ID})")


def overlay(image: np.ndarray, labels: np.ndarray, colours: dict, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """``image`` blended with instance colours where ``labels`` is not 0."""
    tint = label_image(labels, colours)
    out = image.astype(np.float32)
    hit = labels != NO_INSTANCE
    out[hit] = (1 - alpha) * out[hit] + alpha * tint[hit].astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def instance_table_json(scene: Scene) -> dict:
    return {
        "instances": [
            {"id": iid, "name": inst.name, "category": inst.category, "colour": list(inst.colour)}
            for iid, inst in scene.instances.items()
        ],
    }


def export_masks(scene: Scene, path: Path, options: ExportOptions | None = None) -> ExportResult:
    from PIL import Image

    options = options or ExportOptions()
    check_ids_fit(scene)
    path = check_target(Path(path), options.force, folder=True)
    stems = view_stems(scene)
    colours = scene.instance_colours()
    warnings: list[str] = []
    with atomic_folder(path, options.force) as tmp:
        (tmp / "ids").mkdir()
        (tmp / "overlay").mkdir()
        views = []
        for s, view in enumerate(scene.views):
            options.report(f"masks of {view.name}", s / scene.n_views)
            labels = scene.labels_original(s)
            Image.fromarray(labels.astype(np.uint16)).save(tmp / "ids" / f"{stems[s]}.png")
            original = load_original(scene, s)
            if original.warning:
                warnings.append(original.warning)
            Image.fromarray(overlay(original.pixels, labels, colours)).save(
                tmp / "overlay" / f"{stems[s]}.png"
            )
            h0, w0 = view.transform.original_size
            views.append({"view": s, "name": view.name, "file": f"{stems[s]}.png", "width": w0, "height": h0})
        table = instance_table_json(scene) | {"views": views}
        (tmp / "instances.json").write_text(json.dumps(table, indent=2), encoding="utf-8")
        files = sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file())
    options.report("done", 1.0)
    return ExportResult(path, files, warnings)
