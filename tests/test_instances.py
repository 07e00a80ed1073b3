"""Instance ids, statistics, cross-view consistency and id matching after re-clustering."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import make_scene

from app.instances import (
    build_instances,
    cluster_labels_to_ids,
    consistency_from_confusion,
    correspondence_confusion,
    instance_statistics,
    match_to_previous,
    refresh_statistics,
)


@pytest.fixture(scope="module")
def room():
    from model.geometry import unproject_depth_map_to_point_map
    from training.synthetic import render_room

    r = render_room(11, 4, 84, 112)
    points = unproject_depth_map_to_point_map(r.depth, r.extrinsic, r.intrinsic).astype(np.float32)
    return r, points


def test_ids_ordered_by_size_and_none_is_zero() -> None:
    clusters = np.array([[2, 2, 2, 0], [1, -1, 2, 0]])
    ids = cluster_labels_to_ids(clusters)
    np.testing.assert_array_equal(ids, [[1, 1, 1, 2], [3, 0, 1, 2]])


def test_statistics_of_a_handmade_scene() -> None:
    labels = np.zeros((2, 2, 3), np.int32)
    labels[0, 0, :2] = 1
    labels[1, :, 2] = 1
    labels[1, 0, 0] = 2
    points = np.zeros((2, 2, 3, 3), np.float32)
    points[0, 0, 0] = [0, 0, 0]
    points[0, 0, 1] = [2, 0, 0]
    points[1, 0, 2] = [0, 4, 0]
    points[1, 1, 2] = [0, 0, 6]
    mask = np.ones((2, 2, 3), bool)
    mask[1, 1, 2] = False  # not in the cloud
    eye = np.tile(np.eye(4, dtype=np.float32)[:3], (2, 1, 1))
    k = np.tile(np.array([[3, 0, 1.5], [0, 3, 1], [0, 0, 1]], np.float32), (2, 1, 1))
    stats = instance_statistics(labels, points, mask, np.ones((2, 2, 3), np.float32), eye, k)
    s1 = stats[1]
    assert s1.point_count == 3 and s1.view_pixels == {0: 2, 1: 2} and s1.views == [0, 1]
    np.testing.assert_allclose(s1.centroid, [2 / 3, 4 / 3, 0], atol=1e-6)
    assert (
        s1.bbox_min[0] == 0
        and s1.bbox_max[0] == pytest.approx(1.96)
        and s1.bbox_max[1] == pytest.approx(3.92)
    )
    assert stats[2].point_count == 1 and stats[2].view_pixels == {1: 1}
    assert s1.consistency is None  # far too few correspondences to judge


def test_ground_truth_instances_are_consistent(room) -> None:
    r, points = room
    valid = np.ones(points.shape[:3], bool)
    stats = instance_statistics(r.instance_ids, points, valid, r.depth, r.extrinsic, r.intrinsic)
    scored = [s for s in stats.values() if s.consistency is not None]
    assert len(scored) >= 3
    assert all(s.consistency > 0.85 for s in scored)  # small objects lose a little at their borders
    assert max(scored, key=lambda s: s.point_count).consistency > 0.95


def test_identity_error_lowers_consistency_and_names_the_partner(room) -> None:
    r, points = room
    labels = r.instance_ids.copy()
    valid = np.ones(points.shape[:3], bool)
    base = consistency_from_confusion(
        correspondence_confusion(labels, r.depth, r.extrinsic, r.intrinsic, valid)
    )
    scored = sorted(
        (i for i, (c, _) in base.items() if c is not None and i != 0), key=lambda i: -(labels == i).sum()
    )
    a, b = scored[0], scored[1]
    swapped = labels.copy()
    view = int(np.argmax([((labels[v] == a).sum() + (labels[v] == b).sum()) for v in range(labels.shape[0])]))
    swapped[view][labels[view] == a] = b  # in one view, a and b are given each other's id
    swapped[view][labels[view] == b] = a
    after = consistency_from_confusion(
        correspondence_confusion(swapped, r.depth, r.extrinsic, r.intrinsic, valid)
    )
    assert after[a][0] < base[a][0] - 0.1
    assert after[a][1] == b and after[b][1] == a


def test_build_instances_keeps_previous_user_fields() -> None:
    scene = make_scene()
    scene.update_instance(2, name="chair", locked=True, colour=(1, 2, 3))
    stats = instance_statistics(
        np.asarray(scene.labels),
        np.asarray(scene.point_map),
        np.asarray(scene.point_mask),
        np.asarray(scene.depth),
        np.asarray(scene.extrinsic),
        np.asarray(scene.intrinsic),
    )
    table = {i.id: i for i in build_instances(stats, scene.instances)}
    assert table[2].name == "chair" and table[2].locked and table[2].colour == (1, 2, 3)
    assert table[2].stats.point_count == (scene.labels == 2).sum()
    refresh_statistics(scene)
    assert scene.instances[2].name == "chair" and scene.instances[1].stats.point_count > 0


def test_match_to_previous_keeps_ids_of_unchanged_instances() -> None:
    old = np.array([[5, 5, 5, 9, 9, 0]])
    new = np.array([[1, 1, 1, 2, 2, 3]])  # same two objects, renumbered, plus a new one
    out = match_to_previous(new, old, old_ids=[5, 9])
    np.testing.assert_array_equal(out, [[5, 5, 5, 9, 9, 10]])
