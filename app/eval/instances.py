"""Multi-view instance metrics: T-mIoU and T-SR.

Ground truth: per-pixel instance ids over all views of a scene (0 = not an instance: floor, walls,
ceiling). Prediction: per-pixel cluster labels over all views (any integers; -1 = unlabelled).

* Matching: IoU between every GT instance and every predicted cluster is computed over *all views
  together* (pixel sets pooled across views); GT instances and clusters are matched one-to-one by the
  Hungarian algorithm maximising the summed IoU (pairs with IoU 0 count as unmatched).
* T-mIoU = mean over GT instances of the multi-view IoU with the matched cluster (0 when unmatched).
* T-SR = over all (GT instance, view) pairs where the instance is visible in the view, the fraction
  where the matched cluster's IoU *in that view* is at least 0.5.
An instance counts as visible in a view when it covers at least ``min_pixels`` pixels there (default
0.1% of the image: slivers of a few pixels are not meaningful tracking targets); GT instances never
visible that way are left out of both metrics. Predictions keep all their pixels.
Scores of several scenes are pooled: T-mIoU averages over all GT instances of all scenes, T-SR over
all (instance, view) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass
class InstanceScores:
    ious: list[float] = field(default_factory=list)  # one per GT instance
    successes: int = 0
    pairs: int = 0

    def add(self, other: InstanceScores) -> None:
        self.ious.extend(other.ious)
        self.successes += other.successes
        self.pairs += other.pairs

    @property
    def t_miou(self) -> float:
        return float(np.mean(self.ious)) if self.ious else float("nan")

    @property
    def t_sr(self) -> float:
        return self.successes / self.pairs if self.pairs else float("nan")


def _contingency(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of (a, b) label pairs; returns unique a, unique b and the count matrix."""
    ua, ia = np.unique(a, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    counts = np.bincount(ia * len(ub) + ib, minlength=len(ua) * len(ub)).reshape(len(ua), len(ub))
    return ua, ub, counts


def instance_scores(pred: np.ndarray, gt: np.ndarray, min_pixels: int | None = None) -> InstanceScores:
    """Scores of one scene. ``pred`` and ``gt``: (S, H, W) integer label maps."""
    pred = np.asarray(pred).astype(np.int64)
    gt = np.asarray(gt).astype(np.int64)
    s, h, w = gt.shape
    if min_pixels is None:
        min_pixels = max(1, round(0.001 * h * w))
    gt_ids = [g for g in np.unique(gt) if g > 0]
    visible = {g: [v for v in range(s) if (gt[v] == g).sum() >= min_pixels] for g in gt_ids}
    gt_ids = [g for g in gt_ids if visible[g]]
    scores = InstanceScores()
    if not gt_ids:
        return scores
    pred_ids = [p for p in np.unique(pred) if p >= 0]
    ug, up, inter = _contingency(gt.ravel(), pred.ravel())
    g_index = {g: i for i, g in enumerate(ug)}
    p_index = {p: i for i, p in enumerate(up)}
    gt_area = inter.sum(axis=1)
    pred_area = inter.sum(axis=0)
    rows = [g_index[g] for g in gt_ids]
    cols = [p_index[p] for p in pred_ids]
    iou = np.zeros((len(rows), len(cols)))
    if cols:
        sub = inter[np.ix_(rows, cols)].astype(np.float64)
        union = gt_area[rows][:, None] + pred_area[cols][None, :] - sub
        iou = np.where(union > 0, sub / np.maximum(union, 1), 0.0)
    match: dict[int, int] = {}
    if cols:
        r, c = linear_sum_assignment(-iou)
        match = {int(gt_ids[i]): int(pred_ids[j]) for i, j in zip(r, c, strict=True) if iou[i, j] > 0}
    for i, g in enumerate(gt_ids):
        p = match.get(int(g))
        scores.ious.append(float(iou[i, pred_ids.index(p)]) if p is not None else 0.0)
        for v in visible[g]:
            scores.pairs += 1
            if p is None:
                continue
            gm, pm = gt[v] == g, pred[v] == p
            union = np.logical_or(gm, pm).sum()
            if union and np.logical_and(gm, pm).sum() / union >= 0.5:
                scores.successes += 1
    return scores
