"""Instance embeddings as OpenMask3D pools them: per instance, the top-k views by visible mask area, crops
around the mask at several scales plus a masked-background crop, encoded in batches, averaged, normalised."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.progress import Progress
from app.scene import InstanceEmbeddings
from model.clip.crops import CropConfig, mask_crops

from .backends import ClipBackend

STAGE = "semantics"


@dataclass(frozen=True)
class EmbedConfig:
    top_k: int = 5  # views per instance, the ones where its mask is largest
    min_pixels: int = 32  # masks smaller than this are skipped (unless it is the instance's only view)
    expansions: tuple[float, ...] = field(default_factory=lambda: CropConfig().expansions)
    masked_background: bool = True
    batch: int = 64  # crops per forward pass

    def crop_config(self, size: int) -> CropConfig:
        return CropConfig(
            expansions=tuple(self.expansions), masked_background=self.masked_background, size=size
        )


@dataclass(frozen=True)
class _Job:
    row: int  # index of the instance in the output
    view: int


def _view_areas(labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(K, S) visible pixels of each instance in each view."""
    areas = np.zeros((len(ids), labels.shape[0]), np.int64)
    index = {int(i): r for r, i in enumerate(ids)}
    for v in range(labels.shape[0]):
        present, counts = np.unique(labels[v], return_counts=True)
        for i, n in zip(present.tolist(), counts.tolist(), strict=True):
            r = index.get(i)
            if r is not None:
                areas[r, v] = n
    return areas


def select_views(areas: np.ndarray, cfg: EmbedConfig) -> list[list[int]]:
    """Per instance, the views to crop: the top-k by area among those with at least min_pixels."""
    chosen = []
    for row in areas:
        order = [int(v) for v in np.argsort(-row, kind="stable") if row[v] > 0]
        good = [v for v in order if row[v] >= cfg.min_pixels]
        chosen.append((good or order[:1])[: cfg.top_k])
    return chosen


def iter_embed_instances(
    images: np.ndarray,
    labels: np.ndarray,
    instance_ids: Sequence[int],
    backend: ClipBackend,
    cfg: EmbedConfig | None = None,
) -> Generator[Progress, None, InstanceEmbeddings]:
    """Yield progress while encoding; return the embeddings of the instances that are visible somewhere.

    ``images`` (S,H,W,3) uint8, ``labels`` (S,H,W) int instance ids (0 = none).
    """
    cfg = cfg or EmbedConfig()
    ids = np.asarray(sorted({int(i) for i in instance_ids if int(i) > 0}), dtype=np.int32)
    views = select_views(_view_areas(labels, ids), cfg)
    jobs = [_Job(r, v) for r, vs in enumerate(views) for v in vs]
    crop_cfg = cfg.crop_config(backend.image_size)
    total_crops = len(jobs) * crop_cfg.per_mask
    sums: np.ndarray | None = None
    yield Progress(STAGE, f"encoding {len(ids)} instances ({total_crops} crops)", 0.0, 0.0)
    jobs_per_batch = max(1, cfg.batch // crop_cfg.per_mask)
    done = 0
    for start in range(0, len(jobs), jobs_per_batch):
        chunk = jobs[start : start + jobs_per_batch]
        crops = np.concatenate(
            [mask_crops(images[j.view], labels[j.view] == ids[j.row], crop_cfg).numpy() for j in chunk]
        )
        feats = backend.encode_images(crops)
        if sums is None:
            sums = np.zeros((len(ids), feats.shape[1]), np.float64)
        rows = np.repeat([j.row for j in chunk], crop_cfg.per_mask)
        np.add.at(sums, rows, feats)
        done += len(chunk)
        frac = done / len(jobs)
        yield Progress(STAGE, f"CLIP features {done * crop_cfg.per_mask}/{total_crops} crops", frac, frac)
    if sums is None:
        return InstanceEmbeddings(np.zeros(0, np.int32), np.zeros((0, backend.embed_dim), np.float32))
    seen = np.array([len(v) > 0 for v in views], bool)
    vecs = sums[seen]
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return InstanceEmbeddings(ids[seen], vecs.astype(np.float32))
