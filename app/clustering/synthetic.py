"""IGGT-like features made from ground-truth ids (tests, benchmarks) and the adjusted Rand index."""

from __future__ import annotations

import math

import numpy as np


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
    """ARI between two labelings of the same items (sklearn's ``adjusted_rand_score``)."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)))
