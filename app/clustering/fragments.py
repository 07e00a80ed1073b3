"""Clean-up of the clusters HDBSCAN found on the sample: join look-alike fragments that touch
(`merge_touching`, opt-in) and fold clusters too small to be objects into their neighbours
(`absorb_fragments`), so the instance list holds objects rather than crumbs."""

from __future__ import annotations

import numpy as np

from .density import cpu_workers

MERGE_NEIGHBOURS = 8  # 3D neighbours per sample point that define which clusters touch
MERGE_MIN_CONTACT = 0.1  # touching: this share of the smaller cluster's neighbour links go to the other


def sample_graph(sample_pts: np.ndarray) -> np.ndarray:
    """(M, MERGE_NEIGHBOURS) indices of each sample point's nearest other sample points in 3D."""
    from scipy.spatial import cKDTree

    k = min(MERGE_NEIGHBOURS + 1, sample_pts.shape[0])
    _, nn = cKDTree(sample_pts).query(sample_pts, k=k, workers=cpu_workers())
    return np.asarray(nn).reshape(sample_pts.shape[0], k)[:, 1:]


def _links(graph: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """(n, n) symmetric count of neighbour links between clusters."""
    src = np.repeat(labels, graph.shape[1])
    dst = labels[graph.ravel()]
    links = np.bincount(src * n + dst, minlength=n * n).reshape(n, n)
    return links + links.T


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Labels 0.. in order of first appearance."""
    kept, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.empty(kept.size, dtype=np.int64)
    order[np.argsort(first)] = np.arange(kept.size)
    return order[inverse.reshape(labels.shape)]


def merge_touching(
    graph: np.ndarray,
    features: np.ndarray,
    labels: np.ndarray,
    max_distance: float,
    min_contact: float = MERGE_MIN_CONTACT,
) -> np.ndarray:
    """Merge clusters that touch in 3D and look alike: a pair whose neighbour links (``graph``: each
    point's 3D neighbours) make up at least ``min_contact`` of the smaller cluster's links, and whose mean
    features are closer than ``max_distance``, becomes one cluster, transitively (connected components of
    the qualifying pairs). Returns labels renumbered 0.. in order of first appearance.

    Why: weak features split one object into fragments that lie side by side; HDBSCAN alone cannot join
    them without also joining separate objects (measured in the package docstring).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    labels = np.asarray(labels, dtype=np.int64)
    n = int(labels.max()) + 1 if labels.size else 0
    if n < 2 or graph.size == 0:
        return labels
    links = _links(graph, labels, n)
    counts = np.bincount(labels, minlength=n)
    degree = counts * graph.shape[1]
    sums = np.zeros((n, features.shape[1]))
    np.add.at(sums, labels, features)
    centres = sums / np.maximum(counts, 1)[:, None]
    i, j = np.triu_indices(n, 1)
    contact = links[i, j] / np.maximum(np.minimum(degree[i], degree[j]), 1)
    dist = np.linalg.norm(centres[i] - centres[j], axis=1)
    ok = (contact >= min_contact) & (dist < max_distance)
    pairs = coo_matrix((np.ones(int(ok.sum())), (i[ok], j[ok])), shape=(n, n))
    _, component = connected_components(pairs, directed=False)
    return _renumber(component[labels])


def absorb_fragments(graph: np.ndarray, labels: np.ndarray, min_size: int) -> np.ndarray:
    """Fold every cluster of fewer than ``min_size`` points into the cluster it shares most 3D neighbour
    links with (smallest fragments first, so a chain of crumbs ends in a real object). A fragment that
    touches no other cluster stays (a small object on its own). Returns labels renumbered 0.."""
    labels = np.asarray(labels, dtype=np.int64)
    n = int(labels.max()) + 1 if labels.size else 0
    if n < 2 or graph.size == 0 or min_size <= 1:
        return labels
    links = _links(graph, labels, n).astype(np.int64)
    np.fill_diagonal(links, 0)
    counts = np.bincount(labels, minlength=n).astype(np.int64)
    target = np.arange(n)
    alive = counts > 0
    while True:
        small = np.flatnonzero(alive & (counts < min_size) & (links.sum(axis=1) > 0))
        if small.size == 0 or alive.sum() < 2:
            break
        a = int(small[np.argmin(counts[small])])
        b = int(np.argmax(links[a]))
        links[b] += links[a]
        links[:, b] += links[:, a]
        links[a] = 0
        links[:, a] = 0
        links[b, b] = 0
        counts[b] += counts[a]
        counts[a] = 0
        alive[a] = False
        target[target == a] = b
    return _renumber(target[labels])
