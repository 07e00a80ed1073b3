"""Instance colours: a stable, distinguishable palette, and PCA colouring of features.

`instance_colour(i)` depends only on ``i`` (stable across runs, files and re-clustering): the first
colours are a hand-ordered set of well-separated hues/lightnesses; beyond them hues step by the
golden angle with alternating lightness, so neighbouring ids never look alike.
"""

from __future__ import annotations

import colorsys

import numpy as np

Colour = tuple[int, int, int]

# Well separated on a dark and on a light background; ordered so that consecutive ids contrast.
_BASE_PALETTE: tuple[Colour, ...] = (
    (230, 25, 75),  # red
    (60, 180, 75),  # green
    (0, 130, 200),  # blue
    (255, 225, 25),  # yellow
    (245, 130, 48),  # orange
    (145, 30, 180),  # purple
    (70, 240, 240),  # cyan
    (240, 50, 230),  # magenta
    (210, 245, 60),  # lime
    (250, 190, 212),  # pink
    (0, 128, 128),  # teal
    (220, 190, 255),  # lavender
    (170, 110, 40),  # brown
    (255, 250, 200),  # beige
    (128, 0, 0),  # maroon
    (170, 255, 195),  # mint
    (128, 128, 0),  # olive
    (255, 215, 180),  # apricot
    (0, 0, 128),  # navy
    (128, 128, 128),  # grey
)

NO_INSTANCE_COLOUR: Colour = (40, 40, 40)
_GOLDEN = 0.618033988749895


def instance_colour(index: int) -> Colour:
    """Colour for the ``index``-th instance (0-based position, or instance id - 1)."""
    if index < 0:
        return NO_INSTANCE_COLOUR
    if index < len(_BASE_PALETTE):
        return _BASE_PALETTE[index]
    k = index - len(_BASE_PALETTE)
    hue = (0.11 + k * _GOLDEN) % 1.0
    lightness = (0.45, 0.62, 0.35)[k % 3]
    saturation = (0.85, 0.65)[(k // 3) % 2]
    r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
    return (round(r * 255), round(g * 255), round(b * 255))


def palette(n: int) -> np.ndarray:
    """(n, 3) uint8 array of the first n instance colours."""
    return np.array([instance_colour(i) for i in range(n)], dtype=np.uint8).reshape(n, 3)


def label_image(
    labels: np.ndarray, colours: dict[int, Colour], background: Colour = NO_INSTANCE_COLOUR
) -> np.ndarray:
    """Colour an integer label map (any shape) with ``colours`` (id -> rgb); unknown ids: ``background``."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return np.zeros((*labels.shape, 3), dtype=np.uint8)
    ids = np.array(sorted(colours), dtype=np.int64)
    lut_vals = np.array([colours[i] for i in ids], dtype=np.uint8).reshape(-1, 3)
    out = np.empty((*labels.shape, 3), dtype=np.uint8)
    out[...] = background
    if ids.size:
        pos = np.searchsorted(ids, labels)
        pos = np.clip(pos, 0, ids.size - 1)
        hit = ids[pos] == labels
        out[hit] = lut_vals[pos[hit]]
    return out


def pca_colours(
    features: np.ndarray,
    fit_samples: int = 200_000,
    low: float = 0.02,
    high: float = 0.98,
    seed: int = 0,
) -> np.ndarray:
    """RGB in [0, 1] from the first three principal components of L2-normalised features.

    Same idea as the official demo's PCA colouring: one projection shared by all views (so colours are
    comparable across views), each component stretched between its 2nd and 98th percentile and clipped.
    The projection and the percentiles are fitted on at most ``fit_samples`` random rows for speed.
    Input ``(..., C)``; output ``(..., 3)`` float32.
    """
    feats = np.asarray(features, dtype=np.float32)
    shape = feats.shape[:-1]
    flat = feats.reshape(-1, feats.shape[-1])
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    flat = flat / np.maximum(norms, 1e-12)
    rng = np.random.default_rng(seed)
    sample = (
        flat if flat.shape[0] <= fit_samples else flat[rng.choice(flat.shape[0], fit_samples, replace=False)]
    )
    mean = sample.mean(axis=0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    components = vt[:3].T
    if components.shape[1] < 3:
        components = np.pad(components, ((0, 0), (0, 3 - components.shape[1])))
    proj_sample = (sample - mean) @ components
    lo = np.quantile(proj_sample, low, axis=0)
    hi = np.quantile(proj_sample, high, axis=0)
    proj = (flat - mean) @ components
    span = hi - lo
    out = np.full_like(proj, 0.5)
    ok = span > 1e-12
    out[:, ok] = np.clip((proj[:, ok] - lo[ok]) / span[ok], 0.0, 1.0)
    return out.reshape(*shape, 3).astype(np.float32)
