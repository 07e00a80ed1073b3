"""Evaluation metrics (depth, cameras, multi-view instances) and the baselines."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from app.eval import auc, depth_metrics, instance_scores, pair_errors
from app.eval.baselines import colour_clustering


def test_depth_metrics_are_scale_invariant_and_catch_errors():
    rng = np.random.default_rng(0)
    gt = rng.uniform(1, 5, size=(2, 8, 8))
    assert depth_metrics(gt * 3.7, gt) == {"abs_rel": pytest.approx(0.0, abs=1e-12), "delta1": 1.0}
    const = depth_metrics(np.ones_like(gt), gt)
    med = np.median(gt)
    assert const["abs_rel"] == pytest.approx(np.mean(np.abs(med - gt) / gt))
    assert const["delta1"] == pytest.approx(np.mean(np.maximum(med / gt, gt / med) < 1.25))


def _cameras(n, seed=0):
    rng = np.random.default_rng(seed)
    rot = Rotation.random(n, random_state=seed).as_matrix()
    return np.concatenate([rot, rng.normal(size=(n, 3, 1))], axis=2)


def test_camera_errors_zero_for_same_poses_and_invariant_to_world_frame_and_scale():
    gt = _cameras(4)
    rot, trans = pair_errors(gt, gt)
    assert len(rot) == 6 and np.allclose(rot, 0, atol=1e-5) and np.allclose(trans, 0, atol=1e-5)
    assert auc(rot, trans) == 1.0
    # another world frame and scale: relative poses unchanged
    g = np.eye(4)
    g[:3, :3] = Rotation.from_euler("xyz", [10, 20, 30], degrees=True).as_matrix()
    g[:3, 3] = [1, 2, 3]
    moved = np.stack([(np.vstack([e, [0, 0, 0, 1]]) @ np.linalg.inv(g))[:3] for e in gt])
    moved[:, :, 3] *= 2.5
    rot, trans = pair_errors(moved, gt)
    assert np.allclose(rot, 0, atol=1e-4) and np.allclose(trans, 0, atol=1e-4)


def test_camera_rotation_error_measures_the_perturbation():
    gt = _cameras(3, seed=1)
    pred = gt.copy()
    pred[2, :, :3] = Rotation.from_euler("z", 10, degrees=True).as_matrix() @ gt[2, :, :3]
    rot, _ = pair_errors(pred, gt)
    np.testing.assert_allclose(rot, [0, 10, 10], atol=1e-6)  # pairs (0,1), (0,2), (1,2)


def test_auc_definition():
    assert auc(np.array([0.5, 15.0, 45.0]), np.zeros(3)) == pytest.approx((30 + 15) / 90)
    assert auc(np.zeros(2), np.array([50.0, 0.2])) == pytest.approx(0.5)


def _two_objects():
    gt = np.zeros((2, 10, 10), np.int64)
    gt[:, 1:5, 1:5] = 3
    gt[:, 5:9, 5:9] = 8
    return gt


def test_instance_metrics_perfect_and_label_permutation():
    gt = _two_objects()
    pred = np.where(gt == 3, 11, np.where(gt == 8, 4, 0))
    s = instance_scores(pred, gt)
    assert s.t_miou == 1.0 and s.t_sr == 1.0 and s.pairs == 4 and len(s.ious) == 2


def test_instance_metrics_merge_and_view_inconsistency():
    gt = _two_objects()
    merged = np.where(gt > 0, 1, 0)
    s = instance_scores(merged, gt)
    assert s.t_miou == pytest.approx(0.25) and s.t_sr == pytest.approx(
        0.5
    )  # one match at IoU 0.5, one unmatched
    # consistent within each view but with a new label in the second view: half of each track
    flicker = np.where(gt > 0, gt * 10, 0)
    flicker[1] = np.where(gt[1] > 0, gt[1] * 100, 0)
    s = instance_scores(flicker, gt)
    assert s.t_miou == pytest.approx(0.5) and s.t_sr == pytest.approx(0.5)


def test_instance_metrics_ignore_slivers_and_unmatched_predictions_count_zero():
    gt = _two_objects()
    gt[0, 0, 9] = 5  # a one-pixel sliver
    s = instance_scores(np.zeros_like(gt) - 1, gt, min_pixels=2)
    assert len(s.ious) == 2 and s.t_miou == 0.0 and s.t_sr == 0.0


def test_colour_clustering_baseline_tracks_distinct_colours():
    img = np.full((2, 56, 56, 3), 128, np.uint8)
    img[:, 5:25, 5:25] = (220, 30, 30)
    img[0, 30:50, 30:50] = (30, 30, 220)
    img[1, 30:50, 20:40] = (30, 30, 220)  # moved between views
    gt = np.zeros((2, 56, 56), np.int64)
    gt[:, 5:25, 5:25] = 1
    gt[0, 30:50, 30:50] = 2
    gt[1, 30:50, 20:40] = 2
    labels = colour_clustering(img)
    s = instance_scores(labels, gt)
    assert s.t_miou > 0.9 and s.t_sr == 1.0


def test_eval_command_json_and_errors(tmp_path, capsys):
    """End to end on one small room with an untrained tiny network: the JSON has every key, in range."""
    import json

    import torch

    from app.cli import main
    from model import IGGTConfig, build_iggt
    from model.checkpoint import save_iggt

    torch.manual_seed(0)
    weights = save_iggt(build_iggt(IGGTConfig.tiny()), tmp_path / "tiny.safetensors")
    code = main(
        [
            "eval",
            str(weights),
            "--scenes",
            "1",
            "--views",
            "2",
            "--size",
            "56x56",
            "--device",
            "cpu",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scenes"] == 1 and out["views"] == 2 and out["size"] == [56, 56]
    for key in ("abs_rel", "delta1", "auc30", "t_miou", "t_sr"):
        assert key in out["model"]
    for key in ("delta1", "auc30", "t_miou", "t_sr"):
        assert 0.0 <= out["model"][key] <= 1.0
    assert set(out["baselines"]) == {"median_depth", "colour_clustering"}
    assert 0.0 <= out["baselines"]["colour_clustering"]["t_miou"] <= 1.0
    assert out["baselines"]["median_depth"]["abs_rel"] > 0
    assert main(["eval", str(tmp_path / "missing.safetensors")]) == 1
    assert main(["eval", str(weights), "--seed", "2000000"]) == 1
    assert "training" in capsys.readouterr().err
