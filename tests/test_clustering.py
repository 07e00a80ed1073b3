"""Clustering: official presets, kNN smoothing, noise handling, fast path vs the official procedure."""

from __future__ import annotations

import numpy as np
import pytest

from app.clustering import (
    PRESETS,
    ClusterCache,
    ClusterConfig,
    adjusted_rand_index,
    assign_noise,
    cluster_views,
    knn_smooth,
    synthetic_features,
)
from app.colors import FeaturePca, instance_colour, label_image, palette, pca_colours
from app.errors import UserError
from app.progress import Cancelled


@pytest.fixture(scope="module")
def room():
    from model.geometry import unproject_depth_map_to_point_map
    from training.synthetic import render_room

    r = render_room(7, 3, 84, 112)
    points = unproject_depth_map_to_point_map(r.depth, r.extrinsic, r.intrinsic).astype(np.float32)
    feats = synthetic_features(r.instance_ids, points, seed=3)
    return r, points, feats


def test_presets_are_the_official_demo_values() -> None:
    assert PRESETS["large"] == {"epsilon": 0.06, "min_samples": 100, "min_cluster_size": 500, "knn_k": 20}
    assert PRESETS["medium"]["epsilon"] == 0.01 and PRESETS["small"]["epsilon"] == 0.005
    assert PRESETS["small"]["min_samples"] == 50
    cfg = ClusterConfig()
    assert (cfg.epsilon, cfg.min_samples, cfg.min_cluster_size, cfg.knn_k) == (0.06, 100, 500, 20)
    assert ClusterConfig.preset("small", sample_size=0).sample_size == 0
    with pytest.raises(ValueError, match="unknown clustering preset"):
        ClusterConfig.preset("huge")
    assert ClusterConfig.from_json(cfg.to_json()) == cfg


def test_sizes_scale_with_the_official_point_count() -> None:
    cfg = ClusterConfig()
    # the whole official point set of 10 views: unchanged
    assert cfg.scaled_sizes(10 * 336 * 504, 10) == (500, 100)
    # a 2 % sample (floored so that HDBSCAN does not shatter instances), and the official path at 1 %
    assert cfg.scaled_sizes(10 * 336 * 504 // 50, 10) == (10, 3)
    assert cfg.scaled_sizes(10 * 336 * 504 // 100, 10, subsampled=False) == (5, 1)
    for bad in (ClusterConfig(min_cluster_size=1), ClusterConfig(epsilon=-1), ClusterConfig(sample_size=10)):
        with pytest.raises(UserError):
            bad.validate()


def test_knn_smoothing_excludes_the_point_itself() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(300, 3)).astype(np.float32)
    feats = rng.normal(size=(300, 4)).astype(np.float32)
    out = knn_smooth(pts, feats, np.array([5, 17]), k=6)
    for row, q in zip(out, (5, 17), strict=True):
        d = np.linalg.norm(pts - pts[q], axis=1)
        d[q] = np.inf
        np.testing.assert_allclose(row, feats[np.argsort(d)[:6]].mean(0), rtol=1e-5)


def test_noise_goes_to_the_nearest_cluster_in_feature_space() -> None:
    feats = np.array([[0.0, 0], [0.1, 0], [5, 5], [5.1, 5], [0.2, 0], [4.9, 5]])
    labels = np.array([0, 0, 1, 1, -1, -1])
    np.testing.assert_array_equal(assign_noise(feats, labels), [0, 0, 1, 1, 0, 1])


def test_adjusted_rand_index_ignores_label_names_and_takes_label_images() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, (4, 250))
    assert adjusted_rand_index(a, a + 3) == pytest.approx(1.0)
    assert abs(adjusted_rand_index(a, rng.integers(0, 5, (4, 250)))) < 0.05  # unrelated labelings


def test_fast_clustering_agrees_with_the_official_procedure(room) -> None:
    r, points, feats = room
    official = cluster_views(points, feats, None, ClusterConfig(sample_size=0))
    fast = cluster_views(points, feats, None, ClusterConfig(sample_size=3000))
    assert fast.params["sample"] < 4000 and official.params["sample"] == points[..., 0].size
    assert adjusted_rand_index(fast.labels, official.labels) >= 0.9
    assert adjusted_rand_index(fast.labels, r.instance_ids) >= 0.9
    assert adjusted_rand_index(official.labels, r.instance_ids) >= 0.9
    assert (fast.labels >= 0).all()  # every pixel labelled


def test_invalid_pixels_still_get_labels(room) -> None:
    r, points, feats = room
    valid = np.ones(points.shape[:3], bool)
    valid[:, :20] = False  # top rows: not in the point cloud
    res = cluster_views(points, feats, valid, ClusterConfig(sample_size=2000))
    assert (res.labels >= 0).all()
    assert adjusted_rand_index(res.labels, r.instance_ids) >= 0.85


def test_everything_noise_gives_one_label() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(1, 28, 28, 3)).astype(np.float32)
    feats = rng.normal(size=(1, 28, 28, 8)).astype(np.float32)
    res = cluster_views(pts, feats, None, ClusterConfig(sample_size=0, min_cluster_size=10**6))
    assert (res.labels == 0).all()


def test_cancel_between_steps(room) -> None:
    _, points, feats = room
    with pytest.raises(Cancelled):
        cluster_views(points, feats, None, ClusterConfig(sample_size=2000), cancel=lambda: True)


def test_palette_is_stable_and_distinct() -> None:
    cols = palette(60)
    assert cols.shape == (60, 3) and len({tuple(c) for c in cols}) == 60
    assert instance_colour(3) == tuple(cols[3])
    d = np.linalg.norm(cols[:20, None].astype(float) - cols[None, :20].astype(float), axis=-1)
    assert d[~np.eye(20, dtype=bool)].min() > 40
    img = label_image(np.array([[0, 1], [2, 9]]), {1: (1, 2, 3), 2: (4, 5, 6)}, background=(0, 0, 0))
    assert img.tolist() == [[[0, 0, 0], [1, 2, 3]], [[4, 5, 6], [0, 0, 0]]]


def test_pca_colours_shared_across_views(room) -> None:
    _, _, feats = room
    rgb = pca_colours(feats)
    assert rgb.shape == (*feats.shape[:3], 3) and rgb.min() >= 0 and rgb.max() <= 1
    # the same feature gets the same colour in every view
    again = pca_colours(np.concatenate([feats[:1], feats[:1]]))
    np.testing.assert_allclose(again[0], again[1])


def test_pca_fitted_on_a_subsample_matches_a_full_fit(room) -> None:
    _, _, feats = room
    flat = feats.reshape(-1, feats.shape[-1])
    full = pca_colours(flat, fit_samples=flat.shape[0])
    sub = pca_colours(flat, fit_samples=2000, seed=4)
    for k in range(3):  # same colours up to the fit's noise (component signs are fixed, not flipped)
        assert np.corrcoef(full[:, k], sub[:, k])[0, 1] > 0.99, k
    assert np.abs(full - sub).mean() < 0.02
    # the uint8 path gives the rounded float colours, also in parallel chunks
    fit = FeaturePca.fit(flat.astype(np.float16), fit_samples=2000)
    as_bytes = fit.colours(flat.astype(np.float16), np.uint8, chunk=1000)
    expect = (fit.colours(flat.astype(np.float16)) * 255 + 0.5).astype(np.int16)
    assert as_bytes.dtype == np.uint8 and np.abs(as_bytes.astype(np.int16) - expect).max() <= 1


def test_cache_reuses_everything_but_the_cluster_selection(room) -> None:
    _, points, feats = room
    cache = ClusterCache()
    first = cluster_views(points, feats, None, ClusterConfig(sample_size=2000), cache=cache)
    misses = cache.misses
    counts = {int(first.labels.max()) + 1}
    for cfg in (
        ClusterConfig.preset("small", sample_size=2000),
        ClusterConfig(sample_size=2000, min_cluster_size=3000, epsilon=0.5),
    ):
        warm = cluster_views(points, feats, None, cfg, cache=cache)
        fresh = cluster_views(points, feats, None, cfg)
        np.testing.assert_array_equal(warm.labels, fresh.labels)
        assert warm.params == fresh.params
        counts.add(int(warm.labels.max()) + 1)
    assert len(counts) > 1  # the settings did change the result
    assert cache.misses == misses and cache.hits >= 8  # nothing was computed again
    cluster_views(points.copy(), feats, None, ClusterConfig(sample_size=2000), cache=cache)
    assert cache.misses == 2 * misses  # other arrays: everything again
