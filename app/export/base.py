"""What every exporter shares: options, progress/cancel callbacks, the result, and scene-derived tables."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.errors import UserError
from app.progress import Cancelled
from app.scene import NO_INSTANCE, Scene

ProgressFn = Callable[[str, float], None]
CancelFn = Callable[[], bool]

NO_CATEGORY = 0
DEFAULT_CATEGORY = "object"  # COCO needs a category for every annotation


class ExportCancelled(Cancelled):
    """The user stopped an export; nothing was written."""


@dataclass
class ExportOptions:
    force: bool = False  # replace an existing output
    colour_by: str = "rgb"  # PLY/GLB point colours: "rgb" or "instance"
    with_images: bool = True  # COLMAP: copy the (EXIF-upright) original images next to the model
    progress: ProgressFn | None = None
    cancel: CancelFn | None = None
    scale: float | None = None  # metres per scene unit for the geometry; None: the scene's own (if set)

    def report(self, message: str, fraction: float) -> None:
        if self.cancel is not None and self.cancel():
            raise ExportCancelled("export cancelled")
        if self.progress is not None:
            self.progress(message, float(min(max(fraction, 0.0), 1.0)))


@dataclass
class ExportResult:
    path: Path
    files: list[Path] = field(default_factory=list)  # written files, relative to ``path`` for folders
    warnings: list[str] = field(default_factory=list)


def category_ids(scene: Scene) -> dict[str, int]:
    """Category name -> id (1..K, sorted by name) over the categories instances use; 0 means none."""
    names = sorted({inst.category for inst in scene.instances.values() if inst.category})
    return {name: i + 1 for i, name in enumerate(names)}


def label_lookup(
    scene: Scene, values: dict[int, int], default: int = 0
) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised map from instance ids to ``values[id]`` (ids not in ``values`` -> ``default``)."""
    ids = np.array(sorted(values), dtype=np.int64)
    vals = np.array([values[i] for i in ids], dtype=np.int64)

    def apply(labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels, dtype=np.int64)
        out = np.full(labels.shape, default, dtype=np.int64)
        if ids.size:
            pos = np.clip(np.searchsorted(ids, labels), 0, ids.size - 1)
            hit = ids[pos] == labels
            out[hit] = vals[pos[hit]]
        return out

    return apply


def point_category_ids(scene: Scene) -> np.ndarray:
    """(N,) int32 category id of every point (0 = unlabelled point or instance without category)."""
    cats = category_ids(scene)
    per_instance = {iid: cats.get(inst.category or "", NO_CATEGORY) for iid, inst in scene.instances.items()}
    per_instance[NO_INSTANCE] = NO_CATEGORY
    return label_lookup(scene, per_instance)(scene.point_labels).astype(np.int32)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def view_stems(scene: Scene) -> list[str]:
    """A unique, file-system-safe stem per view (from the view's file name), in view order."""
    stems: list[str] = []
    seen: set[str] = set()
    for i, view in enumerate(scene.views):
        stem = _UNSAFE.sub("_", Path(view.name).stem).strip("._") or f"view_{i:03d}"
        candidate, k = stem, 1
        while candidate.lower() in seen:
            k += 1
            candidate = f"{stem}_{k}"
        seen.add(candidate.lower())
        stems.append(candidate)
    return stems


def require_points(scene: Scene) -> None:
    if scene.n_points == 0:
        raise UserError("the scene has no points to export (every pixel was filtered out)")
