"""Training losses, targets and the resumable, deterministic loop."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
import torch

from training.iggt import TrainConfig, camera_loss, contrastive_loss, make_batch, regression_loss, train
from training.iggt.losses import sample_pixels
from training.iggt.targets import STUFF_LABEL_OFFSET, pose_encoding
from training.synthetic import render_room


def test_camera_loss_zero_for_exact_poses_and_grows_with_error():
    gt = torch.randn(2, 3, 9)
    assert camera_loss([gt.clone() for _ in range(4)], gt).item() == 0.0
    worse = camera_loss([gt + 0.1 for _ in range(4)], gt).item()
    only_last_wrong = camera_loss([gt, gt, gt, gt + 0.1], gt).item()
    only_first_wrong = camera_loss([gt + 0.1, gt, gt, gt], gt).item()
    assert worse > only_last_wrong > only_first_wrong > 0  # later iterations weigh more


def test_regression_loss_zero_at_exact_prediction_with_unit_confidence():
    gt = torch.rand(1, 2, 8, 8, 3)
    conf = torch.ones(1, 2, 8, 8)
    valid = torch.ones(1, 2, 8, 8, dtype=torch.bool)
    assert regression_loss(gt.clone(), gt, conf, valid).item() == pytest.approx(0.0, abs=1e-7)
    assert regression_loss(gt + 0.2, gt, conf, valid).item() == pytest.approx(0.2 * 3**0.5, rel=1e-4)
    # confidence: for a fixed error the loss is minimised near c = alpha / err
    err = 0.05
    losses = {
        c: regression_loss(gt + err / 3**0.5, gt, conf * c, valid, alpha=0.2).item() for c in (1.0, 4.0, 20.0)
    }
    assert losses[4.0] < losses[1.0] and losses[4.0] < losses[20.0]
    # the gradient term sees structure errors a constant offset hides
    noisy = gt + 0.05 * torch.sign(torch.randn_like(gt))
    shifted = gt + 0.05
    assert regression_loss(noisy, gt, conf, valid).item() > regression_loss(shifted, gt, conf, valid).item()


def _one_hot_features(labels: torch.Tensor, dim: int = 8) -> torch.Tensor:
    uniq = torch.unique(labels)
    index = torch.searchsorted(uniq, labels)
    return torch.nn.functional.one_hot(index, dim).permute(0, 1, 4, 2, 3).float() * 3.0  # (B,S,C,H,W)


def test_contrastive_loss_zero_for_separated_features_positive_otherwise():
    labels = torch.zeros(1, 3, 16, 16, dtype=torch.long)
    labels[:, :, :8] = 1
    labels[:, :, 8:, :8] = 2
    labels[:, :, 12:, 12:] = STUFF_LABEL_OFFSET + 1
    gen = torch.Generator().manual_seed(0)
    feats = _one_hot_features(labels)
    assert contrastive_loss(feats, labels, n_samples=256, generator=gen).item() < 1e-4
    # identical features for everything: pull is 0 and every different pair pays the margin; "groups"
    # averages the push term over different pairs only, "pairs" over all pairs
    same = torch.ones_like(feats)
    grouped = contrastive_loss(same, labels, n_samples=256, generator=gen, reduction="groups")
    assert grouped.item() == pytest.approx(1.0, abs=1e-3)
    idx = sample_pixels(labels[0], 256, torch.Generator().manual_seed(5))
    lab, view = labels[0].reshape(-1)[idx], idx // 256
    cross = view[:, None] != view[None, :]
    different = ((lab[:, None] != lab[None, :]) & cross).sum() / cross.sum()
    paired = contrastive_loss(same, labels, n_samples=256, generator=torch.Generator().manual_seed(5))
    assert 0.2 < different < 0.95 and paired.item() == pytest.approx(different.item(), abs=1e-4)
    with pytest.raises(ValueError, match="reduction"):
        contrastive_loss(same, labels, n_samples=16, reduction="mean")
    # noisy features of one instance: the pull term is positive and its gradient reduces it
    noisy = (feats + 0.5 * torch.randn(feats.shape, generator=gen)).requires_grad_()
    loss = contrastive_loss(noisy, labels, n_samples=256, generator=torch.Generator().manual_seed(1))
    loss.backward()
    stepped = noisy.detach() - 0.5 * noisy.grad
    after = contrastive_loss(stepped, labels, n_samples=256, generator=torch.Generator().manual_seed(1))
    assert loss.item() > 0.05 and after.item() < loss.item()


def test_balanced_sampling_reaches_small_instances():
    labels = torch.zeros(2, 32, 32, dtype=torch.long)
    labels[0, 0, 0] = 7  # a one-pixel instance
    idx = sample_pixels(labels, 512, torch.Generator().manual_seed(0))
    assert (labels.reshape(-1)[idx] == 7).sum() > 50


def test_targets_are_scale_normalised_in_first_camera_frame():
    scene = render_room(2, 3, 56, 56)
    b = make_batch([scene])
    norms = torch.linalg.vector_norm(b.world_points, dim=-1)
    assert norms.mean().item() == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(b.pose_enc[0, 0, :7].numpy(), [0, 0, 0, 0, 0, 0, 1], atol=1e-6)
    # depth of view 0 is the z of its points (view 0 camera = world)
    np.testing.assert_allclose(
        b.world_points[0, 0, ..., 2].numpy(), b.depth[0, 0].numpy(), rtol=1e-5, atol=1e-6
    )
    assert b.labels[b.instance_ids == 0].min() >= STUFF_LABEL_OFFSET
    enc = pose_encoding(scene.extrinsic, scene.intrinsic, 56, 56)
    fov_w = 2 * np.arctan(28 / scene.intrinsic[0, 0, 0])
    assert enc[1, 8] == pytest.approx(fov_w, rel=1e-6)


def _read_log(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_training_is_resumable_and_deterministic(tmp_path):
    cfg = TrainConfig(
        steps=4, warmup=2, sizes=((56, 56),), min_views=2, max_views=3, log_every=1, val_every=0, seed=3
    )
    assert train(cfg, tmp_path / "straight", progress=lambda m: None) == 4
    # the same run split into two pieces: stop after 2 steps, then resume
    stop_after = iter([False, True])
    assert train(cfg, tmp_path / "pieces", progress=lambda m: None, should_stop=lambda: next(stop_after)) == 2
    messages = []
    assert train(cfg, tmp_path / "pieces", progress=messages.append) == 4
    assert any("resuming" in m for m in messages)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "pieces" / "last.pt", weights_only=False)
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0)
    log_a, log_b = (
        _read_log(tmp_path / "straight" / "train_log.csv"),
        _read_log(tmp_path / "pieces" / "train_log.csv"),
    )
    assert [r["total"] for r in log_a] == [r["total"] for r in log_b] and len(log_a) == 4
    first = float(log_a[0]["total"])
    assert np.isfinite(first)


def test_train_config_round_trips():
    cfg = TrainConfig(sizes=((112, 112), (168, 224)), steps=10)
    back = TrainConfig.from_dict(dataclasses.asdict(cfg))
    assert back == cfg


def test_targets_agree_with_model_geometry():
    """The training targets use the same pose encoding and unprojection as the network's decoders."""
    from model.geometry import extri_intri_to_pose_encoding, unproject_depth_map_to_point_map
    from training.iggt.targets import unproject

    scene = render_room(4, 3, 56, 84)
    ours = pose_encoding(scene.extrinsic, scene.intrinsic, 56, 84)
    theirs = np.asarray(extri_intri_to_pose_encoding(scene.extrinsic[None], scene.intrinsic[None], (56, 84)))[
        0
    ]
    q_ours, q_theirs = ours[:, 3:7], theirs[:, 3:7]
    q_theirs = q_theirs * np.sign(
        np.sum(q_ours * q_theirs, axis=1, keepdims=True)
    )  # q and -q are one rotation
    np.testing.assert_allclose(ours[:, :3], theirs[:, :3], atol=1e-5)
    np.testing.assert_allclose(q_ours, q_theirs, atol=1e-5)
    np.testing.assert_allclose(ours[:, 7:], theirs[:, 7:], atol=1e-5)
    pts = np.asarray(
        unproject_depth_map_to_point_map(scene.depth[..., None], scene.extrinsic, scene.intrinsic)
    )
    np.testing.assert_allclose(
        unproject(scene.depth, scene.extrinsic, scene.intrinsic), pts.reshape(3, 56, 84, 3), atol=1e-4
    )


def test_export_round_trip(tmp_path):
    from model.checkpoint import load_iggt
    from training.iggt.export import export_checkpoint, read_metadata

    cfg = TrainConfig(steps=1, warmup=1, sizes=((56, 56),), min_views=2, max_views=2, val_every=0)
    train(cfg, tmp_path / "run", progress=lambda m: None)
    path = export_checkpoint(tmp_path / "run" / "last.pt", tmp_path / "w.safetensors", name="t")
    meta = read_metadata(path)
    assert meta["step"] == "1" and meta["name"] == "t" and "iggt_config" in meta
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    back = load_iggt(path)
    for k, v in back.state_dict().items():
        torch.testing.assert_close(v, state["model"][k])


def test_train_command_runs_resumes_and_exports(tmp_path, capsys):
    from app.cli import main
    from training.iggt.export import read_metadata

    args = [
        "train",
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "1",
        "--warmup",
        "1",
        "--size",
        "56x56",
        "--views",
        "2-2",
        "--export",
        str(tmp_path / "w.safetensors"),
    ]
    assert main(args) == 0
    assert read_metadata(tmp_path / "w.safetensors")["step"] == "1"
    assert main([*args[:4], "2", *args[5:], "--input-width", "308", "--input-height", "224"]) == 0
    assert "resuming" in capsys.readouterr().out  # two steps: resumed at step 1
    meta = read_metadata(tmp_path / "w.safetensors")
    assert (meta["step"], meta["iggt.input_width"], meta["iggt.input_height"]) == ("2", "308", "224")
    assert main([*args[:-2], "--input-width", "308"]) == 1  # needs --export
    assert main([*args, "--input-width", "10"]) == 1  # below the smallest input
    assert main(["train", "--out", str(tmp_path / "bad"), "--views", "9-2"]) == 1
    assert main(["train", "--out", str(tmp_path / "bad"), "--size", "100x100"]) == 1


def test_fine_tuning_starts_from_given_weights_and_resumes_its_architecture(tmp_path):
    from model import IGGTConfig, build_iggt
    from model.checkpoint import save_iggt

    torch.manual_seed(1)
    small = IGGTConfig.tiny(vit_depth=2, aa_depth=2, head_layers=(0, 1, 1, 1), name="smaller")
    init = save_iggt(build_iggt(small), tmp_path / "init.safetensors")
    cfg = TrainConfig(
        steps=1, warmup=1, sizes=((56, 56),), min_views=2, max_views=2, val_every=0, init=str(init)
    )
    train(cfg, tmp_path / "ft", progress=lambda m: None)
    state = torch.load(tmp_path / "ft" / "last.pt", weights_only=False)
    assert state["model_config"]["name"] == "smaller" and state["model_config"]["aa_depth"] == 2
    train(dataclasses.replace(cfg, steps=2), tmp_path / "ft", progress=lambda m: None)  # resumes the same net
    assert torch.load(tmp_path / "ft" / "last.pt", weights_only=False)["step"] == 2


def test_lr_schedule_restarts_at_schedule_start():
    from training.iggt.loop import lr_at

    old = TrainConfig(steps=20, lr=1e-3, warmup=4, min_lr_ratio=0.1)
    assert lr_at(old, 0) == pytest.approx(2.5e-4) and lr_at(old, 3) == pytest.approx(1e-3)
    assert lr_at(old, 20) == pytest.approx(1e-4)
    new = dataclasses.replace(old, steps=30, schedule_start=20, lr=2e-4, warmup=2)
    assert lr_at(new, 20) == pytest.approx(1e-4)  # warm-up starts again at schedule_start
    assert lr_at(new, 21) == pytest.approx(2e-4)
    assert 2e-5 < lr_at(new, 26) < 2e-4
    assert lr_at(new, 30) == pytest.approx(2e-5) and lr_at(new, 40) == pytest.approx(2e-5)


def _saved_config(run):
    return TrainConfig.from_dict(torch.load(run / "last.pt", weights_only=False)["train_config"])


@pytest.mark.slow
def test_resume_with_a_later_schedule_start_uses_the_new_schedule(tmp_path):
    cfg = TrainConfig(
        steps=2, lr=1e-3, warmup=1, sizes=((56, 56),), min_views=2, max_views=2, log_every=1, val_every=0
    )
    train(cfg, tmp_path / "run", progress=lambda m: None)
    cont = dataclasses.replace(cfg, steps=4, schedule_start=2, lr=3e-4, warmup=2)
    train(cont, tmp_path / "run", progress=lambda m: None)
    lrs = [float(r["lr"]) for r in _read_log(tmp_path / "run" / "train_log.csv")]
    assert lrs == pytest.approx([1e-3, 1e-3, 1.5e-4, 3e-4])
    saved = _saved_config(tmp_path / "run")
    assert (saved.schedule_start, saved.lr, saved.warmup) == (2, 3e-4, 2)
    # resuming again without asking for a new schedule keeps the continuation's schedule
    train(dataclasses.replace(cfg, steps=5), tmp_path / "run", progress=lambda m: None)
    saved = _saved_config(tmp_path / "run")
    assert (saved.schedule_start, saved.lr, saved.warmup, saved.steps) == (2, 3e-4, 2, 5)


def test_instance_stage_trains_only_the_instance_branch(tmp_path):
    from model import IGGTConfig, build_iggt
    from model.checkpoint import save_iggt

    torch.manual_seed(2)
    small = IGGTConfig.tiny(vit_depth=2, aa_depth=2, head_layers=(0, 1, 1, 1), name="smaller")
    init_net = build_iggt(small)
    init = save_iggt(init_net, tmp_path / "init.safetensors")
    before = {k: v.clone() for k, v in init_net.state_dict().items()}
    cfg = TrainConfig(
        steps=2, warmup=1, sizes=((56, 56),), min_views=2, max_views=2, val_every=0, log_every=1,
        init=str(init), stage="instance", reinit_instance=True,
    )
    train(cfg, tmp_path / "inst", progress=lambda m: None)
    after = torch.load(tmp_path / "inst" / "last.pt", weights_only=False)["model"]
    branch = [k for k in after if k.startswith(("part_adaptor.", "part_head."))]
    trunk = [k for k in after if k not in branch and after[k].is_floating_point()]
    assert branch and trunk
    for k in trunk:  # frozen (BatchNorm statistics included: the trunk has none that move in eval)
        torch.testing.assert_close(after[k], before[k], rtol=0, atol=0)
    changed = [k for k in branch if after[k].is_floating_point() and not torch.equal(after[k], before[k])]
    assert len(changed) > len(branch) // 2
    rows = _read_log(tmp_path / "inst" / "train_log.csv")
    assert len(rows) == 2 and all(float(r["mvc"]) > 0 and r["camera"] == "" for r in rows)


def test_unknown_training_stage_is_rejected(tmp_path):
    cfg = TrainConfig(steps=1, sizes=((56, 56),), min_views=2, max_views=2, val_every=0, stage="heads")
    with pytest.raises(ValueError, match="unknown training stage"):
        train(cfg, tmp_path / "bad", progress=lambda m: None)
