"""`iter_cluster_views`: the clustering of all views' pixels, step by step (see the package docstring)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from app.progress import run_generator

from .assign import Cues, compact_index, median_sample_spacing, smoothed_view, sources_from_grid
from .cache import ClusterCache
from .config import OFFICIAL_PIXELS_PER_VIEW, ClusterConfig, log
from .density import assign_noise, cpu_workers, hdbscan_labels, knn_smooth, normalise
from .fragments import absorb_fragments, merge_touching, sample_graph

CancelFn = Callable[[], bool]
_DEFAULT = ClusterConfig()  # the official demo's settings


@dataclass
class ClusterResult:
    labels: np.ndarray  # (S, H, W) int32, 0-based clusters, -1 none
    sample_index: np.ndarray  # (M,) flat pixel indices of the clustered sample
    sample_labels: np.ndarray  # (M,) labels of the sample after noise assignment
    noise_fraction: float  # of the sample, before noise assignment
    timings: dict[str, float]
    params: dict[str, Any]


@dataclass(frozen=True)
class _Prepared:
    pts: np.ndarray  # (S, H, W, 3) float32
    feats: np.ndarray  # (S, H, W, C) float32, unit length
    valid: np.ndarray  # (S, H, W) bool, finite and valid
    valid_flat: np.ndarray  # flat indices of valid pixels


def _prepare(points: np.ndarray, features: np.ndarray, valid: np.ndarray | None) -> _Prepared:
    pts = np.asarray(points, dtype=np.float32)
    finite = np.isfinite(pts).all(axis=-1)
    ok = finite if valid is None else (np.asarray(valid, dtype=bool) & finite)
    return _Prepared(pts, normalise(features), ok, np.flatnonzero(ok.reshape(-1)))


def _smoothed_colours(prep: _Prepared, colours: np.ndarray) -> np.ndarray:
    """(S, H, W, 3) photo colour in [0, 1], box-averaged over valid pixels as the features are."""
    rgb = np.asarray(colours)
    if rgb.shape[:3] != prep.valid.shape or rgb.shape[-1] != 3:
        raise ValueError(f"colours must be (S, H, W, 3) like the points, not {rgb.shape}")
    rgb = rgb.astype(np.float32) / (255.0 if rgb.dtype == np.uint8 else 1.0)
    return np.stack([smoothed_view(rgb[v], prep.valid[v]) for v in range(rgb.shape[0])])


def iter_cluster_views(
    points: np.ndarray,
    features: np.ndarray,
    valid: np.ndarray | None = None,
    config: ClusterConfig = _DEFAULT,
    cache: ClusterCache | None = None,
    colours: np.ndarray | None = None,
) -> Generator[tuple[str, float], None, ClusterResult]:
    """Cluster (S, H, W, 3) points with (S, H, W, C) raw features; yields (message, fraction).

    ``valid`` marks pixels whose points take part (finite, confident); every pixel gets a label.
    ``colours``: the (S, H, W, 3) photos (uint8, or float in [0, 1]), used when ``config.colour_weight``
    is set (without them that term is left out, with a warning).
    A ``cache`` (bound to these arrays) makes later runs with other HDBSCAN sizes/epsilon fast; it is
    held for the whole run (also while suspended at a yield), so drive the generator to its end or close it.
    """
    config.validate()
    if config.colour_weight > 0 and colours is None:
        log.warning(
            "colour weight %.2f set but no photos given: clustering without colour", config.colour_weight
        )
        config = replace(config, colour_weight=0.0)
    cache = ClusterCache() if cache is None else cache
    with cache._running:
        return (yield from _iter_cluster_views(points, features, valid, config, cache, colours))


def _iter_cluster_views(
    points: np.ndarray,
    features: np.ndarray,
    valid: np.ndarray | None,
    config: ClusterConfig,
    cache: ClusterCache,
    colours: np.ndarray | None,
) -> Generator[tuple[str, float], None, ClusterResult]:
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    cache.bind(points, features, valid, colours)
    prep = cache.get(("prepared",), lambda: _prepare(points, features, valid))
    s, h, w, _ = prep.pts.shape
    valid_flat = prep.valid_flat
    if valid_flat.size == 0:
        return ClusterResult(np.full((s, h, w), -1, np.int32), valid_flat, valid_flat, 1.0, {}, {})
    official = config.sample_size == 0 or config.sample_size >= valid_flat.size
    sample_key = (0, 0) if official else (config.sample_size, config.seed)

    yield "smoothing features over 3D neighbours", 0.05
    t = time.perf_counter()
    sample, g, offsets = cache.get(("sample", *sample_key), lambda: _choose_sample(prep, config, official))
    smooth_key = (*sample_key, config.knn_k)
    smoothed = cache.get(("smoothed", *smooth_key), lambda: _smooth_sample(prep, sample, config.knn_k))
    timings["smooth"] = time.perf_counter() - t

    space, space_key, scale = smoothed, smooth_key, 1.0
    rgb = cache.get(("colours",), lambda: _smoothed_colours(prep, colours)) if config.colour_weight else None
    if config.position_weight > 0 or rgb is not None:
        frame = cache.get(("frame", *sample_key), lambda: _position_frame(prep, sample))
        scale = frame[1]
        space_key = (*smooth_key, "cues", config.position_weight, config.colour_weight)
        space = cache.get(
            ("space", *space_key), lambda: _with_cues(prep, sample, smoothed, frame, rgb, config)
        )

    yield f"HDBSCAN on {sample.size} points", 0.25
    t = time.perf_counter()
    mcs, ms = config.scaled_sizes(sample.size, s, subsampled=not official)
    raw = hdbscan_labels(space, mcs, ms, config.epsilon, cache, space_key)
    noise_fraction = float((raw < 0).mean()) if raw.size else 1.0
    timings["hdbscan"] = time.perf_counter() - t
    t = time.perf_counter()
    # as the demo: when everything is noise, everything gets one label
    sample_labels = assign_noise(space, raw) if (raw >= 0).any() else np.zeros_like(raw)
    timings["noise"] = time.perf_counter() - t
    if config.merge_distance > 0 or config.absorb_size > 0:
        graph = cache.get(
            ("sample_graph", *sample_key), lambda: sample_graph(prep.pts.reshape(-1, 3)[sample])
        )
        if config.merge_distance > 0:
            t = time.perf_counter()
            sample_labels = merge_touching(graph, smoothed, sample_labels, config.merge_distance)
            timings["merge"] = time.perf_counter() - t
        if config.absorb_size > 0:
            t = time.perf_counter()
            factor = sample.size / float(s * OFFICIAL_PIXELS_PER_VIEW)
            sample_labels = absorb_fragments(graph, sample_labels, max(2, round(config.absorb_size * factor)))
            timings["absorb"] = time.perf_counter() - t

    yield "assigning every pixel", 0.8
    t = time.perf_counter()
    source = cache.get(
        ("pixel_source", *space_key, config.spatial_weight),
        lambda: _pixel_sources(prep, sample, smoothed, g, offsets, config, official, scale, rgb),
    )
    labels = sample_labels[source]
    timings["assign"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_start
    params = {
        "sample": int(sample.size),
        "grid_step": int(g),
        "min_cluster_size": mcs,
        "min_samples": ms,
        "epsilon": config.epsilon,
        "knn_k": config.knn_k,
        "position_weight": config.position_weight,
        "merge_distance": config.merge_distance,
    }
    if config.colour_weight or config.absorb_size:
        params.update(colour_weight=config.colour_weight, absorb_size=config.absorb_size)
    yield "clustering done", 1.0
    log.info(
        "clustered %d samples -> %d clusters in %.2fs", sample.size, int(labels.max()) + 1, timings["total"]
    )
    return ClusterResult(
        labels.reshape(s, h, w).astype(np.int32), sample, sample_labels, noise_fraction, timings, params
    )


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


def _choose_sample(
    prep: _Prepared, config: ClusterConfig, official: bool
) -> tuple[np.ndarray, int, np.ndarray]:
    if official:
        return prep.valid_flat, 1, np.zeros((prep.valid.shape[0], 2), np.int64)
    return _grid_sample(prep.valid, config.sample_size, np.random.default_rng(config.seed))


def _smooth_sample(prep: _Prepared, sample: np.ndarray, k: int) -> np.ndarray:
    valid_flat = prep.valid_flat
    pts = prep.pts.reshape(-1, 3)[valid_flat]
    feats = prep.feats.reshape(-1, prep.feats.shape[-1])[valid_flat]
    return knn_smooth(pts, feats, np.searchsorted(valid_flat, sample), k)


def _position_frame(prep: _Prepared, sample: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (median point) and scale (median distance from it) of the sampled points: the units of
    ``ClusterConfig.position_weight``, independent of the reconstruction's arbitrary scale."""
    pts = prep.pts.reshape(-1, 3)[sample].astype(np.float64)
    if pts.shape[0] == 0:
        return np.zeros(3, np.float32), 1.0
    centre = np.median(pts, axis=0)
    scale = float(np.median(np.linalg.norm(pts - centre, axis=1)))
    return centre.astype(np.float32), scale if scale > 1e-12 else 1.0


def _with_cues(
    prep: _Prepared,
    sample: np.ndarray,
    smoothed: np.ndarray,
    frame: tuple[np.ndarray, float],
    rgb: np.ndarray | None,
    config: ClusterConfig,
) -> np.ndarray:
    """Smoothed features with the weighted, normalised 3D position and the weighted photo colour of each
    sample appended (each only when its weight is set)."""
    parts = [smoothed]
    if config.position_weight > 0:
        centre, scale = frame
        pos = (prep.pts.reshape(-1, 3)[sample] - centre) * np.float32(config.position_weight / scale)
        parts.append(pos.astype(np.float32))
    if rgb is not None:
        parts.append(rgb.reshape(-1, 3)[sample] * np.float32(config.colour_weight))
    return np.concatenate(parts, axis=1)


def _pixel_sources(
    prep: _Prepared,
    sample: np.ndarray,
    smoothed: np.ndarray,
    g: int,
    offsets: np.ndarray,
    config: ClusterConfig,
    official: bool,
    scale: float,
    rgb: np.ndarray | None,
) -> np.ndarray:
    """(S*H*W,) index into ``sample`` of the sample each pixel takes its label from."""
    from scipy.spatial import cKDTree

    if not official:
        # with a position term the 4x4 surrounding grid samples instead of 2x2: pixels at an object's
        # border then find a sample of their own object (tuning rooms: T-mIoU 0.37 -> 0.39); without
        # one, labels follow the features: 2x2. The 3D weight is the clustering's own position term,
        # else a small multiple of the sample spacing.
        wide = config.position_weight > 0
        if wide:
            lam = (config.position_weight / scale) ** 2
        else:
            spacing = median_sample_spacing(prep.pts.reshape(-1, 3)[sample])
            lam = 0.05 * config.spatial_weight / max(spacing, 1e-9) ** 2
        cues = Cues(prep.feats, prep.pts, prep.valid, rgb, float(lam), config.colour_weight)
        sample_rgb = rgb.reshape(-1, 3)[sample] if rgb is not None else None
        return sources_from_grid(cues, sample, smoothed, sample_rgb, g, offsets, reach=2 if wide else 1)
    n = prep.valid.size
    source = np.full(n, -1, dtype=np.int64)
    source[sample] = np.arange(sample.size)
    rest = np.flatnonzero(source < 0)
    if rest.size:  # pixels without valid points: nearest sample in feature space
        flat_f = prep.feats.reshape(n, -1)
        _, nn = cKDTree(smoothed).query(flat_f[rest], k=1, workers=cpu_workers())
        source[rest] = nn
    return compact_index(source, sample.size)


def cluster_views(
    points: np.ndarray,
    features: np.ndarray,
    valid: np.ndarray | None = None,
    config: ClusterConfig = _DEFAULT,
    cancel: CancelFn | None = None,
    cache: ClusterCache | None = None,
    colours: np.ndarray | None = None,
) -> ClusterResult:
    """`iter_cluster_views` without progress (``cancel`` is polled between steps)."""
    gen = iter_cluster_views(points, features, valid, config, cache, colours)
    return run_generator(gen, cancel=cancel, what="clustering")
