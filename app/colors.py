"""Instance colours: a stable, distinguishable palette, and PCA colouring of features.

`instance_colour(i)` depends only on ``i`` (stable across runs, files and re-clustering): the first
colours are a hand-ordered set of well-separated hues/lightnesses; beyond them hues step by the
golden angle with alternating lightness, so neighbouring ids never look alike.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

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


@dataclass(frozen=True)
class FeaturePca:
    """A PCA colouring of L2-normalised features: fitted on a subsample, applied to every row.

    Same idea as the official demo's PCA colouring: one projection shared by all views (so colours are
    comparable across views), each of the first three components stretched between its 2nd and 98th
    percentile and clipped. Fitting (mean, SVD, percentiles) uses at most ``fit_samples`` random rows;
    applying it is one (N, C) x (C, 3) product, done in chunks, with the normalisation folded in:
    (f / |f| - mean) @ P = (f @ P) / |f| - mean @ P. Component signs are fixed (largest entry positive),
    so refits on other samples give the same colours, not inverted ones.
    """

    mean: np.ndarray  # (C,)
    components: np.ndarray  # (C, 3)
    lo: np.ndarray  # (3,) projection at the ``low`` quantile
    hi: np.ndarray  # (3,)

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        fit_samples: int = 20_000,
        low: float = 0.02,
        high: float = 0.98,
        seed: int = 0,
    ) -> FeaturePca:
        with _one_blas_thread():
            return cls._fit(np.asarray(features), fit_samples, low, high, seed)

    @classmethod
    def _fit(cls, feats: np.ndarray, fit_samples: int, low: float, high: float, seed: int) -> FeaturePca:
        flat = feats.reshape(-1, feats.shape[-1])
        if flat.shape[0] > fit_samples:
            rows = np.random.default_rng(seed).integers(0, flat.shape[0], size=fit_samples)
            flat = flat[np.sort(rows)]
        sample = flat.astype(np.float32)
        sample /= np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-12)
        mean = sample.mean(axis=0) if sample.shape[0] else np.zeros(sample.shape[1], np.float32)
        if sample.shape[0]:
            _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
        else:
            vt = np.zeros((0, sample.shape[1]), np.float32)
        components = vt[:3].T
        if components.shape[1] < 3:
            components = np.pad(components, ((0, 0), (0, 3 - components.shape[1])))
        if components.shape[0]:
            pivot = np.abs(components).argmax(axis=0)
            components = components * np.where(components[pivot, np.arange(3)] < 0, -1.0, 1.0)
        components = components.astype(np.float32)
        proj = (sample - mean) @ components
        if proj.shape[0]:
            lo, hi = np.quantile(proj, low, axis=0), np.quantile(proj, high, axis=0)
        else:
            lo, hi = np.zeros(3), np.ones(3)
        return cls(mean.astype(np.float32), components, lo.astype(np.float32), hi.astype(np.float32))

    def colours(self, features: np.ndarray, dtype: type = np.float32, chunk: int = 1 << 15) -> np.ndarray:
        """(..., 3) colours of ``features`` (..., C): float32 in [0, 1], or uint8 0-255 for ``np.uint8``."""
        feats = np.asarray(features)
        shape = feats.shape[:-1]
        flat = feats.reshape(-1, feats.shape[-1])
        span = self.hi - self.lo
        ok = span > 1e-12
        scale = np.where(ok, 1.0 / np.where(ok, span, 1.0), 0.0).astype(np.float32)
        offset = np.where(ok, (self.mean @ self.components + self.lo) * scale, -0.5).astype(np.float32)
        as_bytes = np.dtype(dtype) == np.uint8
        if as_bytes:  # stretch to 0..255 (+0.5 to round) in the same pass
            scale, offset = scale * 255.0, offset * 255.0 - 0.5
        top = 255.0 if as_bytes else 1.0
        out = np.empty((flat.shape[0], 3), dtype=np.uint8 if as_bytes else np.float32)

        def run(start: int) -> None:
            x = flat[start : start + chunk].astype(np.float32, copy=False)
            norm = np.sqrt(np.einsum("ij,ij->i", x, x))
            np.maximum(norm, 1e-12, out=norm)
            p = x @ self.components
            p *= (1.0 / norm)[:, None]
            p *= scale
            p -= offset
            np.clip(p, 0.0, top, out=p)
            out[start : start + chunk] = p  # the uint8 cast truncates: +0.5 above rounds

        starts = range(0, flat.shape[0], chunk)
        workers = min(_cpu_count(), 4, len(starts))
        with _one_blas_thread():  # chunks run in parallel here; BLAS threads per tiny product only hurt
            if workers > 1:  # numpy releases the GIL in these loops
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(workers, thread_name_prefix="pca") as pool:
                    list(pool.map(run, starts))
            else:
                for start in starts:
                    run(start)
        return out.reshape(*shape, 3)


def _one_blas_thread():
    """BLAS limited to one thread: OpenBLAS threads woken for every small product cost 5-10x on a busy
    CPU (measured: PCA colours of 2M points 560 ms with OMP_NUM_THREADS=2, 60 ms limited)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _cpu_count() -> int:
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def pca_colours(
    features: np.ndarray,
    fit_samples: int = 20_000,
    low: float = 0.02,
    high: float = 0.98,
    seed: int = 0,
) -> np.ndarray:
    """RGB in [0, 1] from the first three principal components of L2-normalised features (`FeaturePca`).

    Input ``(..., C)``; output ``(..., 3)`` float32.
    """
    return FeaturePca.fit(features, fit_samples, low, high, seed).colours(features)
