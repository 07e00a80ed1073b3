"""The "spatial" clustering preset (features + 3D position) and weights that name their own preset:
metadata, the app's default per weights, the CLI and the evaluation using it."""

from __future__ import annotations

import json
import logging
import re

import numpy as np
import pytest
import torch
from fake_weights import placeholder_weights

from app.cli import main
from app.clustering import (
    DEFAULT_PRESET,
    OFFICIAL_PRESETS,
    PRESETS,
    ClusterCache,
    ClusterConfig,
    adjusted_rand_index,
    cluster_views,
    known_preset,
)
from app.errors import UserError
from app.inference import InferenceConfig
from app.run_plan import (
    ReconstructConfig,
    WeightsDefaults,
    cluster_plan,
    cluster_preset_metadata,
    make_plan,
    weights_defaults,
)
from model import IGGTConfig, build_iggt, load_iggt, save_iggt
from model.checkpoint import PreferredInput, preferred_metadata, read_preferred_input, with_preferred_input


def look_alike_boxes(views: int = 2, h: int = 56, w: int = 84, seed: int = 0):
    """Two boxes with the *same* feature, 4 units apart, and a floor with another feature: what a model
    whose features do not tell instances apart gives for two identical chairs. Returns points, features
    and the true segment of every pixel (0 floor, 1 left box, 2 right box)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.meshgrid(np.arange(h) / h, np.arange(w) / w, indexing="ij")
    truth = np.where(cols < 1 / 3, 1, np.where(cols >= 2 / 3, 2, 0))
    x = np.where(truth == 1, -3 + cols * 3, np.where(truth == 2, 1 + cols * 3, cols * 6 - 3))
    z = np.where(truth == 0, 2.0, 0.0)
    pts = np.stack([x, rows, z], axis=-1)
    points = np.stack([pts + rng.normal(0, 0.002, pts.shape) for _ in range(views)]).astype(np.float32)
    feats = np.zeros((views, h, w, 8), np.float32)
    feats[..., 0] = truth == 0
    feats[..., 1] = truth > 0
    feats += rng.normal(0, 0.02, feats.shape).astype(np.float32)
    return points, feats, np.broadcast_to(truth, (views, h, w))


def test_spatial_preset_values_and_the_official_ones_untouched() -> None:
    assert OFFICIAL_PRESETS == ("small", "medium", "large") and DEFAULT_PRESET == "large"
    assert all("position_weight" not in PRESETS[name] for name in OFFICIAL_PRESETS)
    spatial = ClusterConfig.preset("spatial")
    assert spatial.position_weight == 0.35 and isinstance(spatial.position_weight, float)
    assert (spatial.epsilon, spatial.min_samples, spatial.min_cluster_size) == (0.06, 100, 2500)
    assert ClusterConfig.preset("large").position_weight == 0.0
    assert ClusterConfig.from_json(spatial.to_json()) == spatial
    # scene files written before the field existed: features only
    old = {k: v for k, v in ClusterConfig().to_json().items() if k != "position_weight"}
    assert ClusterConfig.from_json(old).position_weight == 0.0
    for bad in (-0.1, 10.5):
        with pytest.raises(UserError, match="position weight"):
            ClusterConfig(position_weight=bad).validate()


@pytest.mark.parametrize("sample_size", [0, 2000])
def test_position_keeps_look_alike_objects_apart(sample_size) -> None:
    points, feats, truth = look_alike_boxes()
    large = cluster_views(points, feats, None, ClusterConfig.preset("large", sample_size=sample_size))
    spatial = cluster_views(points, feats, None, ClusterConfig.preset("spatial", sample_size=sample_size))
    assert int(large.labels.max()) + 1 == 2  # features only: the two boxes are one instance
    assert adjusted_rand_index(large.labels, truth) < 0.7
    assert int(spatial.labels.max()) + 1 == 3
    assert adjusted_rand_index(spatial.labels, truth) > 0.98
    assert spatial.params["position_weight"] == 0.35 and large.params["position_weight"] == 0.0


def test_position_is_measured_in_the_scene_own_units() -> None:
    """Scaling the whole reconstruction (its scale is arbitrary) does not change the result."""
    points, feats, _ = look_alike_boxes()
    cfg = ClusterConfig.preset("spatial", sample_size=2000)
    a = cluster_views(points, feats, None, cfg).labels
    b = cluster_views(points * 37.0 + 5.0, feats, None, cfg).labels
    assert adjusted_rand_index(a, b) == pytest.approx(1.0)


def test_cache_keeps_position_and_feature_only_results_apart() -> None:
    points, feats, _ = look_alike_boxes()
    cache = ClusterCache()
    large = ClusterConfig.preset("large", sample_size=2000)
    spatial = ClusterConfig.preset("spatial", sample_size=2000)
    first = cluster_views(points, feats, None, large, cache=cache).labels
    cluster_views(points, feats, None, spatial, cache=cache)
    again = cluster_views(points, feats, None, large, cache=cache).labels
    np.testing.assert_array_equal(first, again)
    assert int(cluster_views(points, feats, None, spatial, cache=cache).labels.max()) + 1 == 3


def test_weights_name_their_preset_in_metadata(tmp_path) -> None:
    assert cluster_preset_metadata("spatial") == {"iggt.cluster_preset": "spatial"}
    with pytest.raises(ValueError, match="unknown clustering preset"):
        cluster_preset_metadata("huge")
    torch.manual_seed(0)
    net = build_iggt(IGGTConfig.tiny())
    path = save_iggt(net, tmp_path / "w.safetensors", metadata=preferred_metadata(308, 224))
    with_preferred_input(path, path, 308, 224, extra=cluster_preset_metadata("spatial"))
    assert read_preferred_input(path) == PreferredInput(308, 224, None)
    assert weights_defaults(str(path)) == WeightsDefaults(308, 224, None, "spatial")
    assert weights_defaults(str(path)).cluster_preset == "spatial"
    assert load_iggt(path).weights_info.metadata["iggt.cluster_preset"] == "spatial"
    with_preferred_input(path, path, 336)  # re-stamping the size keeps the app's entry
    assert weights_defaults(str(path)) == WeightsDefaults(336, None, None, "spatial")
    bad = save_iggt(net, tmp_path / "bad.safetensors", metadata={"iggt.cluster_preset": "Spatial Preset!"})
    message = "invalid iggt.cluster_preset metadata 'Spatial Preset!'"
    with pytest.raises(UserError, match=re.escape(message)):
        make_plan(ReconstructConfig(inference=InferenceConfig(weights=str(bad))))


def test_app_default_preset_follows_the_weights(tmp_path, caplog) -> None:
    def preset_of(weights: str) -> ClusterConfig:
        return cluster_plan(None, weights)

    assert preset_of("bundled") == ClusterConfig.preset("spatial")  # the bundled tiny model's metadata
    plain = str(placeholder_weights(tmp_path / "plain.safetensors"))
    assert preset_of(plain) == ClusterConfig.preset("large")
    # unreadable weights: the run that loads them reports them
    assert preset_of("/nonexistent/w.safetensors") == ClusterConfig.preset("large")
    from safetensors.numpy import save_file

    future = tmp_path / "future.safetensors"
    save_file({"unused": np.zeros(1, np.float32)}, str(future), metadata={"iggt.cluster_preset": "hyper"})
    with caplog.at_level(logging.WARNING):
        assert preset_of(str(future)) == ClusterConfig.preset("large")
    assert "unknown clustering preset 'hyper'" in caplog.text
    assert known_preset(None) == "large" and known_preset("medium") == "medium"
    # the plan resolves it once; overrides apply on top of the weights' preset
    plan = make_plan(ReconstructConfig(cluster_overrides=(("min_samples", 7),)))
    assert plan.cluster == ClusterConfig.preset("spatial", min_samples=7)
    assert plan.preprocess.target_size() == (224, 308)  # the bundled weights' size


def test_cli_position_weight_overrides_the_preset() -> None:
    import argparse

    from app.commands.reconstruct import add_arguments, build_config

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    def planned(*argv: str) -> ClusterConfig:
        return make_plan(build_config(parser.parse_args(["imgs", "-o", "x.iggt", *argv]))).cluster

    assert planned() == ClusterConfig.preset("spatial")  # the bundled weights' preset
    assert planned("--preset", "large") == ClusterConfig.preset("large")
    cfg = planned("--position-weight", "0.8")
    assert cfg.position_weight == 0.8 and cfg.min_cluster_size == 2500
    with pytest.raises(UserError, match="position weight"):
        build_config(parser.parse_args(["imgs", "-o", "x.iggt", "--position-weight", "-1"]))


def test_cli_bad_position_weight_is_a_one_line_error(tmp_path, capsys) -> None:
    out = tmp_path / "x.iggt"
    assert main(["reconstruct", str(tmp_path), "-o", str(out), "--position-weight", "99"]) == 1
    err = capsys.readouterr().err
    assert "position weight must be between 0 and 10" in err and "Traceback" not in err
    assert not out.exists()


def test_evaluation_uses_the_weights_preset(tmp_path) -> None:
    from app.eval.runner import EvalConfig, cluster_preset_for, evaluate

    torch.manual_seed(0)
    net = build_iggt(IGGTConfig.tiny())
    plain = load_iggt(save_iggt(net, tmp_path / "plain.safetensors"))
    named = load_iggt(save_iggt(net, tmp_path / "named.safetensors",
                                metadata=cluster_preset_metadata("spatial")))  # fmt: skip
    assert cluster_preset_for(plain, EvalConfig()) == "large"
    assert cluster_preset_for(named, EvalConfig()) == "spatial"
    assert cluster_preset_for(named, EvalConfig(cluster_preset="medium")) == "medium"
    with pytest.raises(ValueError, match="unknown clustering preset"):
        cluster_preset_for(named, EvalConfig(cluster_preset="huge"))
    cfg = EvalConfig(scenes=1, seed=3, views=2, height=56, width=56, baselines=False, device="cpu")
    results = evaluate(named, cfg)
    assert results["cluster_preset"] == "spatial"
    assert json.loads(json.dumps(results))["cluster_preset"] == "spatial"



def test_touching_look_alike_fragments_are_merged() -> None:
    """Fragments of one object (touching, close features) merge; touching objects with different features
    and look-alike objects far apart stay separate; closest pairs first; labels renumbered from 0."""
    from app.clustering import merge_touching

    rng = np.random.default_rng(0)
    # five clusters of points on a line: 0,1 = one object split in two; 2 touches 1 but looks different;
    # 3 looks like 0/1 but lies far away; 4 touches 3 and looks close to it (a second split object)
    centres_x = [0.0, 0.25, 0.5, 10.0, 10.25]  # strips 0.25 wide: neighbours share a long border
    feats_by_cluster = [[1, 0], [0.9, 0.1], [0, 1], [1, 0], [0.8, 0.2]]
    pts, feats, labels = [], [], []
    for c, (x, f) in enumerate(zip(centres_x, feats_by_cluster, strict=True)):
        pts.append(np.column_stack([x + rng.uniform(0, 0.25, 200), rng.uniform(0, 1, 200), np.zeros(200)]))
        feats.append(np.asarray(f) + rng.normal(0, 0.01, (200, 2)))
        labels.append(np.full(200, c))
    pts, feats, labels = np.concatenate(pts), np.concatenate(feats), np.concatenate(labels)
    from scipy.spatial import cKDTree

    graph = cKDTree(pts).query(pts, k=9)[1][:, 1:]
    merged = merge_touching(graph, feats, labels, max_distance=0.3)
    groups = [set(np.unique(merged[labels == c]).tolist()) for c in range(5)]
    assert all(len(g) == 1 for g in groups)
    ids = [g.pop() for g in groups]
    assert ids[0] == ids[1] and ids[3] == ids[4]  # fragments joined
    assert len({ids[0], ids[2], ids[3]}) == 3  # different looks, or far apart: kept apart
    assert sorted(set(ids)) == [0, 1, 2]
    np.testing.assert_array_equal(merge_touching(graph, feats, labels, max_distance=0.05), labels)
    # nothing to merge with a single cluster or no neighbours
    np.testing.assert_array_equal(merge_touching(graph, feats, np.zeros_like(labels), 0.3), 0)


def test_merge_step_joins_a_split_object_and_keeps_look_alikes_apart() -> None:
    points, feats, truth = look_alike_boxes()
    # split the left box's features in two halves (what weak features do to one object)
    feats = feats.copy()
    top = (truth[0] == 1) & (np.arange(truth.shape[1])[:, None] < truth.shape[1] // 2)
    feats[:, top, 2] += 0.25
    cfg = ClusterConfig.preset("spatial", sample_size=2000, merge_distance=0.3)
    merged = cluster_views(points, feats, None, cfg)
    split = cluster_views(points, feats, None, ClusterConfig.preset("spatial", sample_size=2000))
    assert int(split.labels.max()) + 1 > 3  # the left box in pieces
    assert int(merged.labels.max()) + 1 == 3
    assert adjusted_rand_index(merged.labels, truth) > 0.98
    assert "merge" in merged.timings and merged.params["merge_distance"] == 0.3
    with pytest.raises(UserError, match="merge distance"):
        ClusterConfig(merge_distance=2.5).validate()


def test_cli_merge_distance_override() -> None:
    import argparse

    from app.commands.reconstruct import add_arguments, build_config

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert ClusterConfig.preset("spatial").merge_distance == 0.0  # opt-in (see app/clustering.py)
    cfg = build_config(parser.parse_args(["imgs", "-o", "x.iggt", "--merge-distance", "0.3"]))
    assert make_plan(cfg).cluster == ClusterConfig.preset("spatial", merge_distance=0.3)
    with pytest.raises(UserError, match="merge distance"):
        build_config(parser.parse_args(["imgs", "-o", "x.iggt", "--merge-distance", "3"]))


def test_info_names_the_weights_clustering_preset(tmp_path, capsys) -> None:
    assert main(["info", "bundled", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["cluster_preset"], summary["cluster_preset_from"]) == ("spatial", "metadata")
    plain = placeholder_weights(tmp_path / "plain.safetensors")
    assert main(["info", str(plain)]) == 0
    assert "clustering   preset large (the default)" in capsys.readouterr().out
