"""Baselines printed beside the model on the same scenes.

* ``median_depth``: every pixel gets the same depth (after median alignment that is the scene's
  median GT depth), so AbsRel/delta1 measure how much a constant explains.
* ``colour_clustering``: instances from appearance only. Per view, HDBSCAN clusters pixels on
  (CIE-Lab-like colour, pixel position) on a grid subsample; every pixel takes its nearest sample's
  label. Clusters of different views are then linked greedily by mean colour: each view's clusters,
  largest first, join the existing track with the closest mean colour (within ``max_colour_dist``)
  that this view has not used yet, or start a new track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ColourClusteringConfig:
    stride: int = 4  # grid subsample step in pixels
    position_weight: float = 0.5  # position (in image widths) relative to colour (0..1 scale)
    min_cluster_fraction: float = 0.004  # smallest cluster, as a fraction of the view's samples
    min_samples: int = 5
    max_colour_dist: float = 0.12


def _features(image: np.ndarray, cfg: ColourClusteringConfig) -> np.ndarray:
    h, w, _ = image.shape
    rgb = image.astype(np.float32) / 255.0
    # opponent colour space: brightness, red-green, yellow-blue (a cheap perceptual approximation)
    lum = rgb.mean(-1)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    scale = cfg.position_weight / max(h, w)
    return np.stack([lum, rg, yb, u * scale, v * scale], -1)


def cluster_view(image: np.ndarray, cfg: ColourClusteringConfig) -> np.ndarray:
    """(H, W) labels >= 0 of one view."""
    import hdbscan
    from scipy.spatial import cKDTree

    h, w, _ = image.shape
    feats = _features(image, cfg)
    sample = feats[:: cfg.stride, :: cfg.stride].reshape(-1, feats.shape[-1])
    size = max(5, round(cfg.min_cluster_fraction * len(sample)))
    labels = hdbscan.HDBSCAN(min_cluster_size=size, min_samples=min(cfg.min_samples, size)).fit_predict(
        sample
    )
    if (labels >= 0).any():
        keep = labels >= 0
        _, nn = cKDTree(sample[keep]).query(sample[~keep], k=1)
        labels[~keep] = labels[keep][nn]
    else:
        labels[:] = 0
    _, nn = cKDTree(sample).query(feats.reshape(-1, feats.shape[-1]), k=1)
    return labels[nn].reshape(h, w)


def colour_clustering(
    images: np.ndarray, cfg: ColourClusteringConfig = ColourClusteringConfig()
) -> np.ndarray:
    """(S, H, W) labels consistent across views (greedy colour matching of per-view clusters)."""
    tracks: list[np.ndarray] = []  # mean colour of each track
    out = np.zeros(images.shape[:3], np.int64)
    for v, image in enumerate(images):
        labels = cluster_view(image, cfg)
        colour = image.reshape(-1, 3).astype(np.float32) / 255.0
        flat = labels.ravel()
        ids, counts = np.unique(flat, return_counts=True)
        used: set[int] = set()
        mapping = np.zeros(int(ids.max()) + 1, np.int64)
        for k in ids[np.argsort(-counts)]:
            mean = colour[flat == k].mean(0)
            best, best_d = -1, cfg.max_colour_dist
            for t, c in enumerate(tracks):
                d = float(np.linalg.norm(c - mean))
                if t not in used and d < best_d:
                    best, best_d = t, d
            if best < 0:
                tracks.append(mean)
                best = len(tracks) - 1
            used.add(best)
            mapping[k] = best
        out[v] = mapping[labels]
    return out
