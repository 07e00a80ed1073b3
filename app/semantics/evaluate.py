"""`eval-vocab` metrics on held-out synthetic rooms: top-1 retrieval of "a {category}" queries and the 2D
mIoU of "Label all" semantic masks, beside a pixel-wise CLIP baseline (dense patches, no instance pooling).

Instance masks: ``masks="gt"`` uses the rooms' ground-truth instance ids (the semantics alone);
``masks="iggt"`` reconstructs every room from its images with IGGT (``app.reconstruct``, weights setting
``weights``) and scores the predicted instances: a retrieved instance counts as the majority ground-truth
category of its pixels, and the semantic masks are compared at the original image resolution.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from app.progress import Progress
from model.clip.crops import CropConfig, mask_crops
from model.clip.vocabulary import CATEGORIES

from .backends import ClipBackend
from .embed import EmbedConfig
from .ground_truth import scene_from_synthetic
from .labeling import label_instances
from .relevancy import QueryConfig, phrase_embedding, relevancy, run_query
from .scene_embeddings import iter_compute
from .vocab import SYNTHETIC

# Held out from the tiny CLIP's training rooms (training.clip.data.TRAIN_SEED_BASE = 1_000_000).
EVAL_SEED_BASE = 950_000
STRUCTURE = ("floor", "wall", "ceiling")
STAGE = "eval"


@dataclass(frozen=True)
class EvalConfig:
    scenes: int = 20
    views: int = 6
    height: int = 224
    width: int = 308
    seed: int = EVAL_SEED_BASE
    baseline: bool = True
    baseline_stride: int = 14  # pixels between dense patch centres
    baseline_windows: tuple[int, ...] = (48, 96)  # patch sizes averaged at every centre
    masks: str = "gt"  # "gt": ground-truth instance masks; "iggt": masks predicted by the IGGT pipeline
    weights: str = "bundled"  # IGGT weights setting when masks == "iggt"


@dataclass
class _Tally:
    hits: int = 0
    queries: int = 0
    confusion: np.ndarray | None = None  # (C+1, C+1) rows = truth, cols = prediction, 0 = background

    def add_confusion(self, truth: np.ndarray, pred: np.ndarray, n: int) -> None:
        if self.confusion is None:
            self.confusion = np.zeros((n, n), np.int64)
        self.confusion += np.bincount(truth.ravel() * n + pred.ravel(), minlength=n * n).reshape(n, n)

    def top1(self) -> float:
        return self.hits / self.queries if self.queries else 0.0

    def iou(self) -> dict[str, float]:
        c = self.confusion
        out = {}
        for k, name in enumerate(SYNTHETIC, start=1):
            union = c[k, :].sum() + c[:, k].sum() - c[k, k]
            if c[k, :].sum() > 0:  # classes present in the ground truth
                out[name] = float(c[k, k] / union) if union else 0.0
        return out

    def miou(self) -> float:
        iou = self.iou()
        return float(np.mean(list(iou.values()))) if iou else 0.0


def truth_classes(category_ids: np.ndarray) -> np.ndarray:
    """Per-pixel class index: 1 + index in SYNTHETIC for furniture, 0 for floor/wall/ceiling."""
    lut = np.zeros(len(CATEGORIES), np.int64)
    for k, name in enumerate(SYNTHETIC, start=1):
        lut[CATEGORIES.index(name)] = k
    return lut[category_ids]


def dense_features(
    images: np.ndarray, backend: ClipBackend, cfg: EvalConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline features: (S, gh, gw, D) per patch centre and the (gh, gw, 2) centre pixels."""
    s, h, w, _ = images.shape
    rows = np.arange(cfg.baseline_stride // 2, h, cfg.baseline_stride)
    cols = np.arange(cfg.baseline_stride // 2, w, cfg.baseline_stride)
    feats = np.zeros((s, len(rows), len(cols), backend.embed_dim), np.float32)
    for v in range(s):
        for window in cfg.baseline_windows:
            crop_cfg = CropConfig(expansions=(0.0,), masked_background=False, size=backend.image_size)
            batch = []
            for r in rows:
                for c in cols:
                    mask = np.zeros((h, w), bool)
                    half = window // 2
                    mask[max(0, r - half) : r + half, max(0, c - half) : c + half] = True
                    batch.append(mask_crops(images[v], mask, crop_cfg)[0].numpy())
            enc = np.concatenate(
                [backend.encode_images(np.stack(batch[i : i + 128])) for i in range(0, len(batch), 128)]
            )
            feats[v] += enc.reshape(len(rows), len(cols), -1)
    feats /= np.maximum(np.linalg.norm(feats, axis=-1, keepdims=True), 1e-12)
    centres = np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1)
    return feats, centres


def _upsample_nearest(grid: np.ndarray, h: int, w: int, stride: int) -> np.ndarray:
    """(S, gh, gw) -> (S, h, w) by nearest patch centre."""
    ri = np.clip(np.arange(h) // stride, 0, grid.shape[1] - 1)
    ci = np.clip(np.arange(w) // stride, 0, grid.shape[2] - 1)
    return grid[:, ri][:, :, ci]


def iter_evaluate(backend: ClipBackend, cfg: EvalConfig | None = None) -> Generator[Progress, None, dict]:
    from training.synthetic import render_room

    cfg = cfg or EvalConfig()
    ours, base = _Tally(), _Tally()
    labels_right: dict[str, list[bool]] = {"confident": [], "weak": []}  # Label all, judged with the scene
    n_classes = len(SYNTHETIC) + 1
    qcfg = QueryConfig()
    class_text = np.stack([phrase_embedding(backend, c) for c in (*SYNTHETIC, *STRUCTURE)])
    negatives = np.stack([phrase_embedding(backend, n) for n in qcfg.negatives])
    for i in range(cfg.scenes):
        frac = i / cfg.scenes
        yield Progress(STAGE, f"scene {i + 1}/{cfg.scenes}: rendering", frac, frac)
        room = render_room(cfg.seed + i, cfg.views, cfg.height, cfg.width)
        gt = scene_from_synthetic(room)
        truth = truth_classes(gt.category_ids)
        if cfg.masks == "iggt":
            yield Progress(STAGE, f"scene {i + 1}/{cfg.scenes}: IGGT reconstruction", frac, frac)
            scene = _reconstruct(room, cfg)
            label_maps = np.stack([scene.labels_original(v) for v in range(scene.n_views)])
            if label_maps.shape != truth.shape:
                raise ValueError(
                    f"reconstructed label maps {label_maps.shape} do not map back to {truth.shape}"
                )
            predicted_category = majority_categories(label_maps, gt.category_ids)
        else:
            scene, label_maps, predicted_category = gt.scene, gt.scene.labels, gt.categories
        emb, _ = yield from _silent(iter_compute(scene, backend, EmbedConfig()))
        # ours: queries ("a {category}" for every category present in the room)
        present = sorted({gt.categories[int(iid)] for iid in np.unique(room.instance_ids) if iid > 0})
        for category in present:
            ours.queries += 1
            if len(emb.instance_ids):
                best = int(run_query(emb, category, backend, qcfg).phrases[0].ids[0])
                ours.hits += int(predicted_category.get(best) == category)
        # ours: Label all -> semantic masks
        lut = np.zeros(int(label_maps.max()) + 1, np.int64)
        for s in label_instances(emb, list(SYNTHETIC), backend) if len(emb.instance_ids) else []:
            lut[s.instance_id] = SYNTHETIC.index(s.label) + 1
            right = predicted_category.get(s.instance_id) == s.label
            labels_right["weak" if s.weak else "confident"].append(right)
        ours.add_confusion(truth, lut[label_maps], n_classes)
        if not cfg.baseline:
            continue
        yield Progress(STAGE, f"scene {i + 1}/{cfg.scenes}: pixel-wise baseline", frac, frac)
        feats, centres = dense_features(room.images, backend, cfg)
        flat = feats.reshape(-1, feats.shape[-1])
        cls = np.argmax(flat @ class_text.T, axis=1)
        cls = np.where(cls < len(SYNTHETIC), cls + 1, 0).reshape(feats.shape[:3])
        base.add_confusion(
            truth, _upsample_nearest(cls, cfg.height, cfg.width, cfg.baseline_stride), n_classes
        )
        for category in present:
            rel = relevancy(flat, phrase_embedding(backend, category), negatives, qcfg.temperature)
            v, r, c = np.unravel_index(int(np.argmax(rel)), feats.shape[:3])
            row, col = centres[r, c]
            iid = int(room.instance_ids[v, row, col])
            base.queries += 1
            base.hits += int(iid > 0 and gt.categories.get(iid) == category)
    yield Progress(STAGE, "done", 1.0, 1.0)
    result = {
        "top1": round(ours.top1(), 4),
        "miou": round(ours.miou(), 4),
        "per_class_iou": {k: round(v, 4) for k, v in ours.iou().items()},
        "queries": ours.queries,
        "labels": {
            kind: {"count": len(v), "accuracy": round(float(np.mean(v)), 4) if v else None}
            for kind, v in labels_right.items()
        },
        "scenes": cfg.scenes,
        "views": cfg.views,
        "image_size": [cfg.height, cfg.width],
        "first_seed": cfg.seed,
        "masks": "ground-truth instance masks"
        if cfg.masks == "gt"
        else f"IGGT-predicted masks ({cfg.weights})",
        "model": backend.model_id,
    }
    if cfg.baseline:
        result["baseline"] = {
            "name": "pixel-wise CLIP (dense patches, no instance pooling)",
            "top1": round(base.top1(), 4),
            "miou": round(base.miou(), 4),
            "per_class_iou": {k: round(v, 4) for k, v in base.iou().items()},
        }
    else:
        result["baseline"] = {}
    return result


def majority_categories(label_maps: np.ndarray, category_ids: np.ndarray) -> dict[int, str]:
    """Predicted instance id -> the ground-truth category covering most of its pixels ("none" for
    instances lying mostly on floor / wall / ceiling)."""
    out = {}
    for iid in np.unique(label_maps):
        if iid <= 0:
            continue
        cats, counts = np.unique(category_ids[label_maps == iid], return_counts=True)
        out[int(iid)] = CATEGORIES[int(cats[np.argmax(counts)])]
    return out


def _reconstruct(room, cfg: EvalConfig):
    """Run the app's IGGT pipeline on the room's images (written to a temporary folder)."""
    import tempfile
    from pathlib import Path

    from PIL import Image

    from app.inference import InferenceConfig
    from app.reconstruct import ReconstructConfig, reconstruct

    with tempfile.TemporaryDirectory(prefix="iggt-eval-vocab-") as tmp:
        paths = []
        for v, image in enumerate(room.images):
            path = Path(tmp) / f"{v:03d}.png"
            Image.fromarray(image).save(path)
            paths.append(path)
        return reconstruct(paths, ReconstructConfig(inference=InferenceConfig(weights=cfg.weights)))


def _silent(gen):
    """Run a sub-generator, dropping its progress events (the evaluation reports per scene)."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value
    yield  # pragma: no cover  (makes this a generator)
