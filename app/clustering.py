"""Instance clustering of per-pixel features, consistent across views.

The official demo L2-normalises the 8-d features, averages each pixel's feature over its k=20 nearest
3D neighbours (all pixels of all views, itself excluded), runs HDBSCAN over every pixel of every view
(min_cluster_size 500, min_samples 100, cluster_selection_epsilon 0.06 — its "large" preset) and gives
noise pixels the label of their nearest non-noise pixel in feature space. That takes minutes.

`cluster_views` gets (nearly) the same partition in about a second:
  1. a stratified pixel sample (every g-th pixel of every view on a grid with a random offset, only
     pixels with valid points), about ``sample_size`` points; a uniform pixel sample keeps the feature
     density the official HDBSCAN sees, so its size parameters scale exactly with the sample fraction;
  2. the same 3D kNN smoothing for the sampled points, with neighbours searched among all valid points;
  3. HDBSCAN on the sample with min_cluster_size and min_samples scaled by
     ``sample / (views * 336 * 504)`` (the official point count for these views); epsilon is a
     feature-space distance and is kept; noise -> nearest clustered sample in feature space;
  4. every pixel takes the label of the best of its surrounding grid samples (same view) by
     distance in feature space (pixel features box-smoothed in the image) plus 3D distance; pixels
     whose neighbourhood has no sample fall back to the nearest sample in feature space.
``ClusterConfig(sample_size=0)`` runs the official procedure over all pixels (slow; for benchmarks).
Labels are 0-based cluster indices, -1 = no cluster (only when nothing could be clustered).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from app.progress import Cancelled

log = logging.getLogger(__name__)

OFFICIAL_PIXELS_PER_VIEW = 336 * 504

# The official demo's three clustering settings (demo.py; "large" is the one it runs).
PRESETS: dict[str, dict[str, float]] = {
    "small": {"epsilon": 0.005, "min_samples": 50, "min_cluster_size": 500, "knn_k": 20},
    "medium": {"epsilon": 0.01, "min_samples": 100, "min_cluster_size": 500, "knn_k": 20},
    "large": {"epsilon": 0.06, "min_samples": 100, "min_cluster_size": 500, "knn_k": 20},
}
DEFAULT_PRESET = "large"
SAMPLE_MIN_CLUSTER_SIZE = 5  # floors of the scaled HDBSCAN sizes on a subsample
SAMPLE_MIN_SAMPLES = 3


@dataclass(frozen=True)
class ClusterConfig:
    """Clustering settings. Sizes are in pixels at the official 336x504 resolution."""

    min_cluster_size: int = 500
    min_samples: int = 100
    epsilon: float = 0.06  # HDBSCAN cluster_selection_epsilon, in (smoothed, normalised) feature space
    knn_k: int = 20  # 3D neighbours averaged per point
    sample_size: int = 12_000  # points given to HDBSCAN; 0 = all pixels (the official procedure)
    spatial_weight: float = 1.0  # weight of 3D distance (relative to the median sample spacing) in step 4
    seed: int = 0

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ClusterConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown clustering preset {name!r}; choose from {', '.join(PRESETS)}")
        values = {k: (int(v) if k != "epsilon" else float(v)) for k, v in PRESETS[name].items()}
        return cls(**{**values, **overrides})

    def validate(self) -> None:
        from app.errors import UserError

        if self.min_cluster_size < 2:
            raise UserError(f"min cluster size must be at least 2, not {self.min_cluster_size}")
        if self.min_samples < 1:
            raise UserError(f"min samples must be at least 1, not {self.min_samples}")
        if not 0 <= self.epsilon < 2:
            raise UserError(f"cluster epsilon must be in [0, 2), not {self.epsilon}")
        if not 1 <= self.knn_k <= 200:
            raise UserError(f"kNN k must be between 1 and 200, not {self.knn_k}")
        if self.sample_size < 0 or 0 < self.sample_size < 500:
            raise UserError(f"sample size must be 0 (all points) or at least 500, not {self.sample_size}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClusterConfig:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    def scaled_sizes(self, n_sample: int, n_views: int, subsampled: bool = True) -> tuple[int, int]:
        """(min_cluster_size, min_samples) for HDBSCAN on ``n_sample`` points of ``n_views`` views.

        On a subsample the scaled values are floored at (5, 3): below that HDBSCAN splits instances into
        dozens of specks (measured on synthetic rooms: ARI vs the official result 0.59 -> 0.96).
        """
        factor = n_sample / float(n_views * OFFICIAL_PIXELS_PER_VIEW)
        floor_mcs, floor_ms = (SAMPLE_MIN_CLUSTER_SIZE, SAMPLE_MIN_SAMPLES) if subsampled else (2, 1)
        mcs = max(floor_mcs, round(self.min_cluster_size * factor))
        ms = max(floor_ms, round(self.min_samples * factor))
        return mcs, ms


@dataclass
class ClusterResult:
    labels: np.ndarray  # (S, H, W) int32, 0-based clusters, -1 none
    sample_index: np.ndarray  # (M,) flat pixel indices of the clustered sample
    sample_labels: np.ndarray  # (M,) labels of the sample after noise assignment
    noise_fraction: float  # of the sample, before noise assignment
    timings: dict[str, float]
    params: dict[str, Any]


CancelFn = Callable[[], bool]


def cpu_workers() -> int:
    """Threads to use: the CPU cores this process may run on."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def normalise(features: np.ndarray) -> np.ndarray:
    f = np.asarray(features, dtype=np.float32)
    n = np.linalg.norm(f, axis=-1, keepdims=True)
    return f / np.maximum(n, 1e-12)


def knn_smooth(
    points_all: np.ndarray,
    features_all: np.ndarray,
    query_index: np.ndarray | None,
    k: int,
    workers: int | None = None,
    tree: Any = None,
) -> np.ndarray:
    """Mean feature of each query point's k nearest 3D neighbours among all points, itself excluded.

    ``query_index`` selects query rows of ``points_all`` (None = all points, the official smoothing).
    """
    from scipy.spatial import cKDTree

    if tree is None:
        tree = cKDTree(points_all, balanced_tree=False, compact_nodes=False)
    q = np.arange(points_all.shape[0]) if query_index is None else np.asarray(query_index)
    k_eff = min(k + 1, points_all.shape[0])
    out = np.empty((q.shape[0], features_all.shape[1]), dtype=np.float32)
    chunk = 200_000
    for start in range(0, q.shape[0], chunk):
        qi = q[start : start + chunk]
        _, nn = tree.query(points_all[qi], k=k_eff, workers=workers or cpu_workers())
        nn = nn.reshape(qi.shape[0], k_eff)
        # drop the query point itself (usually column 0; duplicates of it may come first)
        is_self = nn == qi[:, None]
        keep = ~is_self
        no_self = keep.all(axis=1)
        keep[no_self, -1] = False  # no self found: drop the farthest to keep k neighbours
        nn_k = nn[keep].reshape(qi.shape[0], k_eff - 1)
        out[start : start + qi.shape[0]] = features_all[nn_k].mean(axis=1)
    return out


def _hdbscan_labels(
    features: np.ndarray, min_cluster_size: int, min_samples: int, epsilon: float
) -> np.ndarray:
    import hdbscan

    if features.shape[0] < max(min_cluster_size, min_samples + 1, 2):
        return np.full(features.shape[0], -1, dtype=np.int64)
    model = hdbscan.HDBSCAN(
        min_cluster_size=int(min_cluster_size),
        min_samples=int(min_samples),
        cluster_selection_epsilon=float(epsilon),
        allow_single_cluster=False,
        # worker processes only pay off for big inputs (they cost ~0.5 s to start)
        core_dist_n_jobs=cpu_workers() if features.shape[0] > 100_000 else 1,
    )
    return model.fit(features.astype(np.float64)).labels_.astype(np.int64)


def assign_noise(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Give noise (-1) rows the label of their nearest clustered row in feature space (as the demo)."""
    from scipy.spatial import cKDTree

    labels = labels.copy()
    noise = labels < 0
    if noise.any() and (~noise).any():
        _, nn = cKDTree(features[~noise]).query(features[noise], k=1, workers=cpu_workers())
        labels[noise] = labels[~noise][nn]
    return labels


def _box_mean(values: np.ndarray, weight: np.ndarray, radius: int) -> np.ndarray:
    """(2r+1)^2 box average of one view's ``values`` (H, W, C) over pixels where ``weight`` is 1."""
    from scipy.ndimage import uniform_filter

    size = 2 * radius + 1
    num = uniform_filter(values * weight[..., None], size=(size, size, 1), mode="constant")
    den = uniform_filter(weight, size=size, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den[..., None]


def _grid_sample(
    valid: np.ndarray, target: int, rng: np.random.Generator
) -> tuple[np.ndarray, int, np.ndarray]:
    """Stratified sample: every g-th row/col of each view from a random offset; returns
    (flat indices of valid sampled pixels, g, per-view (row, col) offsets)."""
    s = valid.shape[0]
    n_valid = int(valid.sum())
    g = max(1, round(math.sqrt(n_valid / max(target, 1))))
    offsets = rng.integers(0, g, size=(s, 2))
    grid = np.zeros_like(valid)
    for v in range(s):
        grid[v, offsets[v, 0] :: g, offsets[v, 1] :: g] = True
    chosen = np.flatnonzero((grid & valid).reshape(-1))
    return chosen, g, offsets


def iter_cluster_views(
    points: np.ndarray,
    features: np.ndarray,
    valid: np.ndarray | None = None,
    config: ClusterConfig = ClusterConfig(),
) -> Generator[tuple[str, float], None, ClusterResult]:
    """Cluster (S, H, W, 3) points with (S, H, W, C) raw features; yields (message, fraction).

    ``valid`` marks pixels whose points take part (finite, confident); every pixel gets a label.
    """
    config.validate()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    s, h, w, _ = points.shape
    pts = np.asarray(points, dtype=np.float32)
    finite = np.isfinite(pts).all(axis=-1)
    valid = finite if valid is None else (np.asarray(valid, dtype=bool) & finite)
    feats = normalise(features)
    flat_pts = pts.reshape(-1, 3)
    flat_f = feats.reshape(-1, feats.shape[-1])
    valid_flat = np.flatnonzero(valid.reshape(-1))
    rng = np.random.default_rng(config.seed)
    if valid_flat.size == 0:
        return ClusterResult(np.full((s, h, w), -1, np.int32), valid_flat, valid_flat, 1.0, {}, {})

    yield "smoothing features over 3D neighbours", 0.05
    from scipy.spatial import cKDTree

    t = time.perf_counter()
    tree = cKDTree(flat_pts[valid_flat], balanced_tree=False, compact_nodes=False)
    official = config.sample_size == 0 or config.sample_size >= valid_flat.size
    if official:
        sample = valid_flat
        g, offsets = 1, np.zeros((s, 2), np.int64)
    else:
        sample, g, offsets = _grid_sample(valid, config.sample_size, rng)
    pos_in_valid = np.searchsorted(valid_flat, sample)
    smoothed = knn_smooth(flat_pts[valid_flat], flat_f[valid_flat], pos_in_valid, config.knn_k, tree=tree)
    timings["smooth"] = time.perf_counter() - t

    yield f"HDBSCAN on {sample.size} points", 0.25
    t = time.perf_counter()
    mcs, ms = config.scaled_sizes(sample.size, s, subsampled=not official)
    raw = _hdbscan_labels(smoothed, mcs, ms, config.epsilon)
    noise_fraction = float((raw < 0).mean()) if raw.size else 1.0
    timings["hdbscan"] = time.perf_counter() - t
    t = time.perf_counter()
    # as the demo: when everything is noise, everything gets one label
    sample_labels = assign_noise(smoothed, raw) if (raw >= 0).any() else np.zeros_like(raw)
    timings["noise"] = time.perf_counter() - t

    yield "assigning every pixel", 0.8
    t = time.perf_counter()
    labels = np.full(s * h * w, -1, dtype=np.int64)
    if official:
        labels[sample] = sample_labels
        rest = np.flatnonzero(labels < 0)
        if rest.size:  # pixels without valid points: nearest sample in feature space
            _, nn = cKDTree(smoothed).query(flat_f[rest], k=1, workers=cpu_workers())
            labels[rest] = sample_labels[nn]
    else:
        labels = _assign_from_grid(pts, feats, valid, sample, sample_labels, smoothed, g, offsets, config)
    timings["assign"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    params = {
        "sample": int(sample.size),
        "grid_step": int(g),
        "min_cluster_size": mcs,
        "min_samples": ms,
        "epsilon": config.epsilon,
        "knn_k": config.knn_k,
    }
    yield "clustering done", 1.0
    log.info(
        "clustered %d samples -> %d clusters in %.2fs", sample.size, int(labels.max()) + 1, timings["total"]
    )
    return ClusterResult(
        labels.reshape(s, h, w).astype(np.int32), sample, sample_labels, noise_fraction, timings, params
    )


def _assign_from_grid(
    pts: np.ndarray,
    feats: np.ndarray,
    valid: np.ndarray,
    sample: np.ndarray,
    sample_labels: np.ndarray,
    sample_feats: np.ndarray,
    g: int,
    offsets: np.ndarray,
    config: ClusterConfig,
) -> np.ndarray:
    """Label every pixel from the best of the 2x2 surrounding grid samples of its own view."""
    from scipy.spatial import cKDTree

    s, h, w, _ = feats.shape
    n_gr, n_gc = h // g + 2, w // g + 2
    cell_sample = np.full((s, n_gr + 1, n_gc + 1), -1, dtype=np.int64)  # last row/col stay -1
    sv, sr, sc = np.unravel_index(sample, (s, h, w))
    cell_sample[sv, (sr - offsets[sv, 0]) // g, (sc - offsets[sv, 1]) // g] = np.arange(sample.size)
    sample_pts = pts.reshape(-1, 3)[sample]
    spacing = _median_sample_spacing(sample_pts)
    lam = np.float32(0.05 * config.spatial_weight / max(spacing, 1e-9) ** 2)
    labels = np.full((s, h, w), -1, dtype=np.int64)
    missing_f = []
    missing_at = []
    for v in range(s):
        weight = valid[v].astype(np.float32)
        pix_f = _box_mean(feats[v], weight, radius=2)  # close to the 3D kNN mean inside a surface
        no_near = ~np.isfinite(pix_f[..., 0])
        if no_near.any():
            pix_f[no_near] = feats[v][no_near]
        gr = (np.arange(h) - offsets[v, 0]) // g  # -1 above the first grid row
        gc = (np.arange(w) - offsets[v, 1]) // g
        costs = np.empty((4, h, w), dtype=np.float32)
        cands = np.empty((4, h, w), dtype=np.int64)
        pv = pts[v]
        for j, (dr, dc) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            cand = cell_sample[v][(gr + dr)[:, None], (gc + dc)[None, :]]  # index -1 -> the -1 border
            safe = np.maximum(cand, 0)
            diff = pix_f - sample_feats[safe]
            cost = np.einsum("ijk,ijk->ij", diff, diff)
            dp = pv - sample_pts[safe]
            cost += lam * np.einsum("ijk,ijk->ij", dp, dp) * weight
            cost[cand < 0] = np.inf
            costs[j] = cost
            cands[j] = cand
        pick = np.argmin(costs, axis=0)
        best = np.take_along_axis(cands, pick[None], axis=0)[0]
        labels[v] = np.where(best >= 0, sample_labels[np.maximum(best, 0)], -1)
        miss = best < 0
        if miss.any():
            missing_f.append(pix_f[miss])
            missing_at.append(np.flatnonzero(miss) + v * h * w)
    labels = labels.reshape(-1)
    if missing_at:
        _, nn = cKDTree(sample_feats).query(np.concatenate(missing_f), k=1, workers=cpu_workers())
        labels[np.concatenate(missing_at)] = sample_labels[nn]
    return labels


def _median_sample_spacing(sample_pts: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    m = sample_pts.shape[0]
    if m < 2:
        return 1.0
    probe = sample_pts[:: max(1, m // 2000)]
    d, _ = cKDTree(sample_pts).query(probe, k=2)
    return float(np.median(d[:, 1])) or 1.0


def cluster_views(
    points: np.ndarray,
    features: np.ndarray,
    valid: np.ndarray | None = None,
    config: ClusterConfig = ClusterConfig(),
    cancel: CancelFn | None = None,
) -> ClusterResult:
    """`iter_cluster_views` without progress (``cancel`` is polled between steps)."""
    gen = iter_cluster_views(points, features, valid, config)
    try:
        while True:
            next(gen)
            if cancel is not None and cancel():
                raise Cancelled("clustering cancelled")
    except StopIteration as stop:
        return stop.value
    finally:
        gen.close()


def with_sample_size(config: ClusterConfig, sample_size: int) -> ClusterConfig:
    return replace(config, sample_size=sample_size)


# ------------------------------------------------------------------------------- synthetic features
def synthetic_features(
    instance_ids: np.ndarray,
    points: np.ndarray,
    seed: int = 0,
    noise: float = 0.08,
    field_amplitude: float = 0.15,
    dims: int = 8,
) -> np.ndarray:
    """Raw IGGT-like features from ground-truth instance ids (for tests and benchmarks).

    Each instance gets a random direction; a smooth field over 3D position adds slow variation inside
    instances (as real features have) and i.i.d. noise per pixel adds grain. Ids < 0 never occur.
    """
    rng = np.random.default_rng(seed)
    ids = np.asarray(instance_ids)
    uniq, inverse = np.unique(ids, return_inverse=True)
    centres = rng.normal(size=(uniq.size, dims))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    f = centres[inverse.reshape(ids.shape)]
    p = np.nan_to_num(np.asarray(points, dtype=np.float64))
    freqs = rng.normal(scale=1.2, size=(3, 6))
    phases = rng.uniform(0, 2 * np.pi, 6)
    basis = np.sin(p @ freqs + phases)  # (..., 6) smooth in space
    mix = rng.normal(size=(6, dims)) / math.sqrt(6)
    f = f + field_amplitude * (basis @ mix) + noise * rng.normal(size=f.shape)
    return (f * rng.uniform(0.5, 2.0)).astype(np.float32)  # raw features are not unit length


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """ARI between two labelings of the same items (sklearn's formula, computed with bincounts)."""
    a = np.asarray(a).reshape(-1)
    b = np.asarray(b).reshape(-1)
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    n = a.size
    table = np.bincount(ai * (bi.max() + 1) + bi, minlength=(ai.max() + 1) * (bi.max() + 1)).astype(
        np.float64
    )

    def comb2(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    sum_ij = comb2(table)
    sum_a = comb2(table.reshape(ai.max() + 1, -1).sum(1))
    sum_b = comb2(table.reshape(ai.max() + 1, -1).sum(0))
    total = n * (n - 1) / 2
    expected = sum_a * sum_b / total if total else 0.0
    maximum = (sum_a + sum_b) / 2
    if maximum == expected:
        return 1.0
    return (sum_ij - expected) / (maximum - expected)
