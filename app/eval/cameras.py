"""Camera metrics: relative rotation / translation angular errors over all view pairs, and AUC@30.

For every pair (i, j), i < j, of one scene with world-to-camera poses ``[R | t]``:
* relative pose ``R_ij = R_j R_i^T``, ``t_ij = t_j - R_ij t_i`` (camera i to camera j);
* rotation error = angle of ``R_ij_pred^T R_ij_gt`` in degrees;
* translation error = angle in degrees between ``t_ij_pred`` and ``t_ij_gt`` (scale-free), taken as
  ``min(e, 180 - e)`` as in VGGT's evaluation (the direction sign is ambiguous for tiny baselines);
* AUC@30 = mean over thresholds 1..30 degrees of the fraction of pairs whose
  ``max(rotation error, translation error)`` is below the threshold.
"""

from __future__ import annotations

import numpy as np


def _relative(ext: np.ndarray, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    r_i, t_i = ext[i, :, :3], ext[i, :, 3]
    r_j, t_j = ext[j, :, :3], ext[j, :, 3]
    r = r_j @ r_i.T
    return r, t_j - r @ t_i


def pair_errors(pred_ext: np.ndarray, gt_ext: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and translation angular errors (degrees) for all pairs of views."""
    pred_ext = np.asarray(pred_ext, dtype=np.float64)
    gt_ext = np.asarray(gt_ext, dtype=np.float64)
    rot, trans = [], []
    n = len(gt_ext)
    for i in range(n):
        for j in range(i + 1, n):
            rp, tp = _relative(pred_ext, i, j)
            rg, tg = _relative(gt_ext, i, j)
            cos = np.clip((np.trace(rp.T @ rg) - 1) / 2, -1.0, 1.0)
            rot.append(np.degrees(np.arccos(cos)))
            denom = np.linalg.norm(tp) * np.linalg.norm(tg)
            if denom < 1e-12:
                trans.append(0.0 if np.linalg.norm(tg) < 1e-9 else 90.0)
                continue
            e = np.degrees(np.arccos(np.clip(tp @ tg / denom, -1.0, 1.0)))
            trans.append(min(e, 180.0 - e))
    return np.asarray(rot), np.asarray(trans)


def auc(rot_err: np.ndarray, trans_err: np.ndarray, max_threshold: int = 30) -> float:
    if len(rot_err) == 0:
        return float("nan")
    worst = np.maximum(rot_err, trans_err)
    thresholds = np.arange(1, max_threshold + 1)
    return float(np.mean([(worst < t).mean() for t in thresholds]))
