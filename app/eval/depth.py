"""Depth metrics after per-scene median scale alignment.

For one scene (all views together): ``s = median(gt) / median(pred)`` over valid pixels, then
* AbsRel = mean(|s * pred - gt| / gt),
* delta1 = fraction of pixels with max(s * pred / gt, gt / (s * pred)) < 1.25.
The model's depth is up to scale (it is trained on scale-normalised scenes), hence the alignment.
"""

from __future__ import annotations

import numpy as np


def depth_metrics(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    ok = (gt > 0) & np.isfinite(pred) & (pred > 0)
    if valid is not None:
        ok &= valid
    if not ok.any():
        return {"abs_rel": float("nan"), "delta1": float("nan")}
    p, g = pred[ok], gt[ok]
    p = p * (np.median(g) / np.median(p))
    ratio = np.maximum(p / g, g / p)
    return {"abs_rel": float(np.mean(np.abs(p - g) / g)), "delta1": float(np.mean(ratio < 1.25))}
