"""Synthetic room renderer: determinism, ground-truth consistency across views, storage, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.synthetic import CATEGORIES, FURNITURE, RoomConfig, render_room
from training.synthetic.storage import read_scene, write_scene

H, W = 56, 84


@pytest.fixture(scope="module")
def scene():
    return render_room(3, 4, H, W)


def test_shapes_dtypes_and_first_camera(scene):
    assert scene.images.shape == (4, H, W, 3) and scene.images.dtype == np.uint8
    assert scene.depth.shape == (4, H, W) and scene.depth.dtype == np.float32
    assert scene.instance_ids.shape == scene.category_ids.shape == (4, H, W)
    assert np.all(scene.depth > 0.05) and np.all(np.isfinite(scene.depth))
    np.testing.assert_allclose(scene.extrinsic[0], np.eye(3, 4), atol=1e-6)
    for e in scene.extrinsic:
        np.testing.assert_allclose(e[:, :3] @ e[:, :3].T, np.eye(3), atol=1e-5)
    k = scene.intrinsic[0]
    assert k[0, 2] == W / 2 and k[1, 2] == H / 2 and k[0, 0] == pytest.approx(k[1, 1])
    ids = {i for i, _, _ in scene.instances}
    assert set(np.unique(scene.instance_ids)) - {0} <= ids
    # structure pixels have no instance, furniture pixels always have one
    structure = scene.category_ids <= CATEGORIES.index("ceiling")
    assert np.all((scene.instance_ids == 0) == structure)


def test_same_seed_same_scene_other_seed_differs():
    a, b, c = render_room(11, 2, 28, 56), render_room(11, 2, 28, 56), render_room(12, 2, 28, 56)
    for key in ("images", "depth", "extrinsic", "instance_ids"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.instances == b.instances
    assert not np.array_equal(a.images, c.images)


def _reproject(s, a: int, b: int):
    """Pixels of view a seen (unoccluded) in view b, and where they land in b."""
    h, w = s.depth.shape[1:]
    k = s.intrinsic[0].astype(np.float64)
    v, u = np.mgrid[0:h, 0:w]
    z = s.depth[a].astype(np.float64)
    cam = np.stack([(u - k[0, 2]) / k[0, 0] * z, (v - k[1, 2]) / k[1, 1] * z, z], -1)
    ea, eb = s.extrinsic[a].astype(np.float64), s.extrinsic[b].astype(np.float64)
    world = (cam - ea[:, 3]) @ ea[:, :3]  # camera a -> world (first camera frame)
    camb = world @ eb[:, :3].T + eb[:, 3]
    ub = np.round(camb[..., 0] / camb[..., 2] * k[0, 0] + k[0, 2]).astype(int)
    vb = np.round(camb[..., 1] / camb[..., 2] * k[1, 1] + k[1, 2]).astype(int)
    inside = (camb[..., 2] > 0) & (ub >= 0) & (ub < w) & (vb >= 0) & (vb < h)
    db = np.where(inside, s.depth[b][vb.clip(0, h - 1), ub.clip(0, w - 1)], 0)
    visible = inside & (np.abs(db - camb[..., 2]) < 0.02 * camb[..., 2])
    return visible, vb, ub


def test_instances_are_consistent_across_views():
    """Unproject a view with GT depth/cameras, project it into another: instance ids must agree."""
    overlaps = []
    for seed in (5, 6, 7):
        s = render_room(seed, 3, 112, 112, RoomConfig(noise_std=0.0))
        for a, b in ((0, 1), (2, 1)):
            visible, vb, ub = _reproject(s, a, b)
            overlaps.append(visible.mean())
            if visible.sum() > 100:
                same = s.instance_ids[b][vb[visible], ub[visible]] == s.instance_ids[a][visible]
                assert same.mean() > 0.97
    assert np.mean(overlaps) > 0.4, "consecutive views must overlap"


def test_rooms_cover_categories_and_repeat_instances():
    seen, repeated = set(), 0
    for seed in range(6):
        s = render_room(seed, 1, 28, 28)
        cats = [c for _, c, _ in s.instances]
        seen.update(cats)
        repeated += any(cats.count(c) > 1 for c in set(cats))
        assert all(n for _, _, n in s.instances)
    assert len(seen) >= 8 and seen <= set(FURNITURE)
    assert repeated >= 5  # several instances of one category is the normal case


def test_views_show_furniture():
    s = render_room(7, 6, 84, 84)
    assert (s.instance_ids > 0).mean() > 0.1
    assert len(np.unique(s.instance_ids)) >= 4


def test_bad_size_is_rejected():
    with pytest.raises(ValueError, match="multiples of 28"):
        render_room(0, 2, 50, 56)
    with pytest.raises(ValueError, match="views"):
        render_room(0, 0, 28, 28)


def test_storage_round_trip(tmp_path, scene):
    folder = write_scene(scene, tmp_path)
    back = read_scene(folder)
    np.testing.assert_array_equal(back.images, scene.images)
    np.testing.assert_array_equal(back.depth, scene.depth)
    np.testing.assert_array_equal(back.instance_ids, scene.instance_ids)
    np.testing.assert_array_equal(back.category_ids, scene.category_ids)
    np.testing.assert_allclose(back.extrinsic, scene.extrinsic)
    assert back.instances == scene.instances
    assert not list(tmp_path.glob("*.partial"))


def test_synth_command(tmp_path, capsys):
    from app.cli import main

    assert (
        main(
            [
                "synth",
                str(tmp_path / "out"),
                "--scenes",
                "2",
                "--views",
                "2",
                "--size",
                "56x84",
                "--seed",
                "9",
            ]
        )
        == 0
    )
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["scenes"] == ["scene_000009", "scene_000010"]
    s = read_scene(tmp_path / "out" / "scene_000010")
    assert s.images.shape == (2, 56, 84, 3) and s.seed == 10
    assert main(["synth", str(tmp_path / "bad"), "--size", "50x50"]) == 1
    assert "multiples of 28" in capsys.readouterr().err
