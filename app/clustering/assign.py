"""Every pixel's label: the best of the grid samples around it in its own view.

A pixel compares itself with the samples of the surrounding grid cells (2x2, or 4x4 with a position
term) by a squared distance over its cues: box-smoothed feature, 3D position (weighted), photo colour
(weighted). All pixels of one grid cell share their candidate samples, so the distances of a whole
cell are one small matrix product ``-2 x.y + |y|^2`` (``|x|^2`` is the same for every candidate); that
is what makes this step fast (about 4x the per-candidate loops it replaces, same labels up to float
rounding of near ties).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .density import cpu_workers


def box_mean(values: np.ndarray, weight: np.ndarray, radius: int) -> np.ndarray:
    """(2r+1)^2 box average of one view's ``values`` (H, W, C) over pixels where ``weight`` is 1."""
    from scipy.ndimage import uniform_filter

    size = 2 * radius + 1
    num = uniform_filter(values * weight[..., None], size=(size, size, 1), mode="constant")
    den = uniform_filter(weight, size=size, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den[..., None]


def smoothed_view(values: np.ndarray, valid: np.ndarray, radius: int = 2) -> np.ndarray:
    """Box mean over valid pixels; pixels with no valid neighbour keep their own value."""
    out = box_mean(values, valid.astype(np.float32), radius)
    no_near = ~np.isfinite(out[..., 0])
    if no_near.any():
        out[no_near] = values[no_near]
    return out.astype(np.float32, copy=False)


@dataclass(frozen=True)
class Cues:
    """What a pixel is compared by, per view (``colour`` None without a colour term)."""

    feats: np.ndarray  # (S, H, W, C) unit features
    pts: np.ndarray  # (S, H, W, 3)
    valid: np.ndarray  # (S, H, W) bool
    colour: np.ndarray | None  # (S, H, W, 3) box-smoothed colour in [0, 1]
    position: float  # weight of squared 3D distance
    colour_weight: float  # weight (not squared) of colour


def sources_from_grid(
    cues: Cues,
    sample: np.ndarray,
    sample_feats: np.ndarray,
    sample_colour: np.ndarray | None,
    g: int,
    offsets: np.ndarray,
    reach: int,
) -> np.ndarray:
    """(S*H*W,) index into ``sample`` of the sample each pixel takes its label from. ``reach`` 1: the 2x2
    surrounding grid samples, 2: the 4x4. Pixels with no candidate: nearest sample in features."""
    from scipy.spatial import cKDTree

    s, h, w, _ = cues.feats.shape
    sample_pts = cues.pts.reshape(-1, 3)[sample]
    centre = sample_pts.mean(axis=0) if sample.size else np.zeros(3, np.float32)
    root = np.float32(np.sqrt(cues.position))
    y_parts = [sample_feats, (sample_pts - centre) * root]
    if sample_colour is not None:
        y_parts.append(sample_colour * np.float32(cues.colour_weight))
    y = np.concatenate(y_parts, axis=1).astype(np.float32)
    c = sample_feats.shape[1]
    # |y|^2 without and with the 3D part (the 3D term counts only for pixels with valid points)
    y_pos2 = np.einsum("ij,ij->i", y[:, c : c + 3], y[:, c : c + 3])
    y_rest2 = np.einsum("ij,ij->i", y, y) - y_pos2
    # a -1 row/column (no sample) appended at index M: gathered as zeros with infinite cost
    y = np.vstack([y, np.zeros((1, y.shape[1]), np.float32)])
    y_pos2 = np.append(y_pos2, 0).astype(np.float32)
    y_rest2 = np.append(y_rest2, np.inf).astype(np.float32)

    pad = 2  # cell rows/cols of -1 before the first grid cell
    n_br, n_bc = (h - 1) // g + 3, (w - 1) // g + 3  # pixel blocks: cell -1 .. last, one per grid cell
    table = np.full((s, n_br + 2 * pad + 2, n_bc + 2 * pad + 2), sample.size, dtype=np.int64)
    sv, sr, sc = np.unravel_index(sample, (s, h, w))
    table[sv, (sr - offsets[sv, 0]) // g + pad, (sc - offsets[sv, 1]) // g + pad] = np.arange(sample.size)
    steps = range(1 - reach, reach + 1)
    near = [(dr, dc) for dr in steps for dc in steps]
    br, bc = np.arange(n_br), np.arange(n_bc)
    source = np.empty((s, h, w), dtype=np.int64)
    missing_f, missing_at = [], []
    for v in range(s):
        valid = cues.valid[v]
        pix_f = smoothed_view(cues.feats[v], valid)
        pos = np.where(valid[..., None], cues.pts[v] - centre, 0).astype(np.float32) * root
        x_parts = [pix_f, pos]
        if cues.colour is not None:
            x_parts.append(cues.colour[v] * np.float32(cues.colour_weight))
        x = np.concatenate(x_parts, axis=-1)
        d = x.shape[-1]
        o0, o1 = int(offsets[v, 0]), int(offsets[v, 1])
        # pixel (r, c) lies in block ((r - o0) // g + 1, (c - o1) // g + 1)
        xp = np.zeros((n_br * g, n_bc * g, d), np.float32)
        xp[g - o0 : g - o0 + h, g - o1 : g - o1 + w] = x
        vp = np.zeros((n_br * g, n_bc * g), np.float32)
        vp[g - o0 : g - o0 + h, g - o1 : g - o1 + w] = valid
        xb = xp.reshape(n_br, g, n_bc, g, d).transpose(0, 2, 1, 3, 4).reshape(n_br, n_bc, g * g, d)
        vb = vp.reshape(n_br, g, n_bc, g).transpose(0, 2, 1, 3).reshape(n_br, n_bc, g * g, 1)
        cand = np.stack(
            [table[v][(br - 1 + dr + pad)[:, None], (bc - 1 + dc + pad)[None, :]] for dr, dc in near],
            axis=-1,
        )  # (n_br, n_bc, K)
        dots = np.matmul(xb, y[cand].transpose(0, 1, 3, 2))  # (n_br, n_bc, g*g, K)
        cost = y_rest2[cand][:, :, None, :] + vb * y_pos2[cand][:, :, None, :] - 2.0 * dots
        pick = np.argmin(cost, axis=-1)
        best = np.take_along_axis(cand[:, :, None, :], pick[..., None], axis=-1)[..., 0]
        best = best.reshape(n_br, n_bc, g, g).transpose(0, 2, 1, 3).reshape(n_br * g, n_bc * g)
        src = best[g - o0 : g - o0 + h, g - o1 : g - o1 + w]
        miss = src >= sample.size
        source[v] = src
        if miss.any():
            missing_f.append(pix_f[miss])
            missing_at.append(np.flatnonzero(miss) + v * h * w)
    source = source.reshape(-1)
    if missing_at:
        _, nn = cKDTree(sample_feats).query(np.concatenate(missing_f), k=1, workers=cpu_workers())
        source[np.concatenate(missing_at)] = nn
    return compact_index(source, sample.size)


def compact_index(index: np.ndarray, n: int) -> np.ndarray:
    return index.astype(np.int32) if n < 2**31 else index


def median_sample_spacing(sample_pts: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    m = sample_pts.shape[0]
    if m < 2:
        return 1.0
    probe = sample_pts[:: max(1, m // 2000)]
    d, _ = cKDTree(sample_pts).query(probe, k=2)
    return float(np.median(d[:, 1])) or 1.0
