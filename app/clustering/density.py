"""The density clustering steps: 3D kNN feature smoothing, HDBSCAN (with its single-linkage tree kept for
re-selection) and the demo's noise assignment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .cache import ClusterCache


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


def _hdbscan_fit(
    features: np.ndarray, min_cluster_size: int, min_samples: int, epsilon: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """HDBSCAN labels and its single-linkage tree (None when the tree is not available)."""
    import hdbscan

    model = hdbscan.HDBSCAN(
        min_cluster_size=int(min_cluster_size),
        min_samples=int(min_samples),
        cluster_selection_epsilon=float(epsilon),
        allow_single_cluster=False,
        # worker processes only pay off for big inputs (they cost ~0.5 s to start)
        core_dist_n_jobs=cpu_workers() if features.shape[0] > 100_000 else 1,
    )
    labels = model.fit(features).labels_.astype(np.int64)
    try:
        linkage = np.asarray(model.single_linkage_tree_.to_numpy())
    except (AttributeError, TypeError):  # pragma: no cover - other hdbscan versions
        linkage = None
    return labels, linkage


def _labels_from_linkage(
    features: np.ndarray, linkage: np.ndarray, min_cluster_size: int, epsilon: float
) -> np.ndarray | None:
    """HDBSCAN's cluster selection on a stored single-linkage tree (what ``fit`` does after building it);
    None when this hdbscan version has no such step (the caller then fits again)."""
    try:
        from hdbscan.hdbscan_ import _tree_to_labels
    except ImportError:  # pragma: no cover - other hdbscan versions
        return None
    try:
        out = _tree_to_labels(
            features,
            linkage,
            min_cluster_size=int(min_cluster_size),
            cluster_selection_epsilon=float(epsilon),
        )
    except TypeError:  # pragma: no cover - a changed private signature
        return None
    return np.asarray(out[0]).astype(np.int64)


def hdbscan_labels(
    features: np.ndarray,
    min_cluster_size: int,
    min_samples: int,
    epsilon: float,
    cache: ClusterCache | None = None,
    key: tuple = (),
) -> np.ndarray:
    """HDBSCAN labels of ``features`` (-1 = noise).

    The expensive part, the minimum spanning tree of the mutual-reachability graph (its single-linkage
    tree), depends only on the features and ``min_samples``; min_cluster_size and epsilon only change the
    cluster selection on it (milliseconds). With a ``cache`` the tree is kept under ``key`` + min_samples,
    so moving the size/epsilon sliders or switching presets re-runs only the selection.
    """
    x = np.ascontiguousarray(features, dtype=np.float64)
    if x.shape[0] < max(min_cluster_size, min_samples + 1, 2):
        return np.full(x.shape[0], -1, dtype=np.int64)
    tree_key = ("linkage", *key, int(min_samples), x.shape[0])
    linkage = cache.peek(tree_key) if cache is not None else None
    if linkage is not None:
        labels = _labels_from_linkage(x, linkage, min_cluster_size, epsilon)
        if labels is not None:
            return labels
    labels, linkage = _hdbscan_fit(x, min_cluster_size, min_samples, epsilon)
    if cache is not None and linkage is not None:
        cache.put(tree_key, linkage)
    return labels


def assign_noise(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Give noise (-1) rows the label of their nearest clustered row in feature space (as the demo)."""
    from scipy.spatial import cKDTree

    labels = labels.copy()
    noise = labels < 0
    if noise.any() and (~noise).any():
        _, nn = cKDTree(features[~noise]).query(features[noise], k=1, workers=cpu_workers())
        labels[noise] = labels[~noise][nn]
    return labels
