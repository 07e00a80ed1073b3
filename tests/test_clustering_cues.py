"""Clustering with every cue (features, 3D position, photo colour), the folding of fragments into their
neighbours, and the blockwise pixel assignment."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from app.clustering import (
    ClusterConfig,
    absorb_fragments,
    adjusted_rand_index,
    cluster_views,
)
from app.clustering.assign import Cues, sources_from_grid
from app.errors import UserError


def touching_twins(views: int = 2, h: int = 48, w: int = 72, seed: int = 0):
    """A red and a blue box side by side on one surface with the *same* feature: neither features nor
    position keep them apart, only colour does. Returns points, features, photos (uint8) and the truth."""
    rng = np.random.default_rng(seed)
    rows, cols = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    truth = (cols >= 0.5).astype(np.int64)
    pts = np.stack([cols * 2.0, rows, np.zeros_like(rows)], axis=-1)
    points = np.stack([pts + rng.normal(0, 0.002, pts.shape) for _ in range(views)]).astype(np.float32)
    feats = np.zeros((views, h, w, 8), np.float32)
    feats[..., 0] = 1.0
    feats += rng.normal(0, 0.02, feats.shape).astype(np.float32)
    colour = np.where(truth[..., None] == 0, [200, 30, 30], [30, 40, 200]).astype(np.float64)
    photos = np.clip(colour + rng.normal(0, 4, (views, h, w, 3)), 0, 255).astype(np.uint8)
    return points, feats, photos, np.broadcast_to(truth, (views, h, w))


def test_colour_separates_look_alikes_that_touch() -> None:
    points, feats, photos, truth = touching_twins()
    base = ClusterConfig.preset("large", sample_size=2000, min_cluster_size=30_000)
    without = cluster_views(points, feats, None, base, colours=photos)
    assert adjusted_rand_index(without.labels, truth) < 0.3  # same feature, one surface: not the two boxes
    coloured = ClusterConfig.preset("large", sample_size=2000, min_cluster_size=30_000, colour_weight=1.0)
    with_colour = cluster_views(points, feats, None, coloured, colours=photos)
    assert int(with_colour.labels.max()) + 1 == 2
    assert adjusted_rand_index(with_colour.labels, truth) > 0.9  # the boundary blurs over the 5x5 box
    assert with_colour.params["colour_weight"] == 1.0


def test_colour_weight_without_photos_warns_and_clusters_without_it(caplog) -> None:
    points, feats, _, _ = touching_twins()
    cfg = ClusterConfig.preset("large", sample_size=2000, min_cluster_size=30_000, colour_weight=1.0)
    with caplog.at_level(logging.WARNING, logger="app.clustering"):
        res = cluster_views(points, feats, None, cfg)
    assert "no photos" in caplog.text
    assert adjusted_rand_index(res.labels, touching_twins()[3]) < 0.3


def test_photos_of_the_wrong_shape_are_refused() -> None:
    points, feats, photos, _ = touching_twins()
    cfg = ClusterConfig.preset("spatial", sample_size=2000, colour_weight=1.0)
    with pytest.raises(ValueError, match="colours must be"):
        cluster_views(points, feats, None, cfg, colours=photos[:, :10])


def test_new_fields_validate_and_are_written_only_when_set() -> None:
    with pytest.raises(UserError, match="colour weight"):
        ClusterConfig(colour_weight=-1).validate()
    with pytest.raises(UserError, match="fragment size"):
        ClusterConfig(absorb_size=-5).validate()
    plain = ClusterConfig.preset("large")
    assert "colour_weight" not in plain.to_json() and "absorb_size" not in plain.to_json()
    full = ClusterConfig(colour_weight=0.5, absorb_size=3000)
    assert full.to_json()["colour_weight"] == 0.5 and full.to_json()["absorb_size"] == 3000
    assert ClusterConfig.from_json(full.to_json()) == full
    assert ClusterConfig.from_json(plain.to_json()) == plain


def test_fragments_join_the_neighbour_they_touch_most() -> None:
    # points on a line: 0-39 cluster 0, 40-79 cluster 1, 80-82 a crumb between 1 and a far cluster 2
    labels = np.array([0] * 40 + [1] * 40 + [3] * 3 + [2] * 40)
    n = labels.size
    graph = np.stack([np.clip(np.arange(n) + d, 0, n - 1) for d in (-2, -1, 1, 2)], axis=1)
    graph[80:83] = [[78, 79, 79, 78]] * 3  # the crumb touches cluster 1 only
    graph[83:86, :2] = 86  # cluster 2 does not link back to the crumb
    out = absorb_fragments(graph, labels, min_size=10)
    assert np.array_equal(out[80:83], out[40:43])
    assert len(np.unique(out)) == 3 and out.max() == 2
    # an isolated small cluster (no links to others) stays
    lone = np.array([0] * 20 + [1] * 3)
    g = np.array([[i - 1 if i % 20 else i + 1] for i in range(20)] + [[21], [22], [20]])
    assert len(np.unique(absorb_fragments(g, lone, min_size=10))) == 2


def _brute_force_sources(cues: Cues, sample, sample_feats, sample_colour, g, offsets, reach):
    """Every pixel's best candidate by the written-out cost (the definition the blocks must match)."""
    s, h, w, _ = cues.feats.shape
    from app.clustering.assign import smoothed_view

    cell = {}
    sv, sr, sc = np.unravel_index(sample, (s, h, w))
    for i, (v, r, c) in enumerate(zip(sv, sr, sc, strict=True)):
        cell[(v, (r - offsets[v, 0]) // g, (c - offsets[v, 1]) // g)] = i
    sp = cues.pts.reshape(-1, 3)[sample]
    out = np.empty((s, h, w), np.int64)
    for v in range(s):
        pf = smoothed_view(cues.feats[v], cues.valid[v])
        for r in range(h):
            for c in range(w):
                gr, gc = (r - offsets[v, 0]) // g, (c - offsets[v, 1]) // g
                best, arg = np.inf, -1
                for dr in range(1 - reach, reach + 1):
                    for dc in range(1 - reach, reach + 1):
                        j = cell.get((v, gr + dr, gc + dc))
                        if j is None:
                            continue
                        cost = float(((pf[r, c] - sample_feats[j]) ** 2).sum())
                        if cues.valid[v, r, c]:
                            cost += cues.position * float(((cues.pts[v, r, c] - sp[j]) ** 2).sum())
                        if sample_colour is not None:
                            dcol = cues.colour[v, r, c] - sample_colour[j]
                            cost += cues.colour_weight**2 * float((dcol**2).sum())
                        if cost < best - 1e-5:
                            best, arg = cost, j
                out[v, r, c] = arg
    return out.reshape(-1)


@pytest.mark.parametrize("reach", [1, 2])
def test_blockwise_assignment_picks_the_cheapest_nearby_sample(reach: int) -> None:
    rng = np.random.default_rng(reach)
    s, h, w, g = 2, 23, 31, 5
    feats = rng.normal(size=(s, h, w, 8)).astype(np.float32)
    feats /= np.linalg.norm(feats, axis=-1, keepdims=True)
    pts = rng.normal(size=(s, h, w, 3)).astype(np.float32)
    valid = rng.random((s, h, w)) > 0.1
    colour = rng.random((s, h, w, 3)).astype(np.float32)
    offsets = rng.integers(0, g, size=(s, 2))
    grid = np.zeros((s, h, w), bool)
    for v in range(s):
        grid[v, offsets[v, 0] :: g, offsets[v, 1] :: g] = True
    sample = np.flatnonzero((grid & valid).reshape(-1))
    sample_feats = feats.reshape(-1, 8)[sample] + rng.normal(0, 0.05, (sample.size, 8)).astype(np.float32)
    sample_colour = colour.reshape(-1, 3)[sample]
    cues = Cues(feats, pts, valid, colour, position=0.3, colour_weight=0.7)
    got = sources_from_grid(cues, sample, sample_feats, sample_colour, g, offsets, reach)
    want = _brute_force_sources(cues, sample, sample_feats, sample_colour, g, offsets, reach)
    found = want >= 0
    assert found.mean() > 0.9
    assert (got[found] == want[found]).mean() > 0.999


def test_spatial_uses_every_cue_and_the_official_presets_none() -> None:
    spatial = ClusterConfig.preset("spatial")
    assert spatial.position_weight > 0 and spatial.colour_weight > 0 and spatial.absorb_size > 0
    for name in ("small", "medium", "large"):
        official = ClusterConfig.preset(name)
        assert (official.position_weight, official.colour_weight, official.absorb_size) == (0, 0, 0)
