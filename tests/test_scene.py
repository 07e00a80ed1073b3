"""The evented Scene model: construction checks, derived arrays, mutations and their events."""

from __future__ import annotations

import numpy as np
import pytest
from scenes import make_scene, rebuild_scene

from app.colors import instance_colour
from app.scene import Instance, InstanceEmbeddings, InstanceStats, ViewTransform


def test_derived_arrays_map_points_back_to_pixels() -> None:
    scene = make_scene()
    mask = np.ones(scene.point_mask.shape, bool)
    mask[0, 0, :5] = False
    scene.set_point_mask(mask)
    assert scene.n_points == mask.sum()
    v, r, c = scene.point_pixels.T
    np.testing.assert_array_equal(scene.points, scene.point_map[v, r, c])
    np.testing.assert_array_equal(scene.point_labels, scene.labels[v, r, c])
    np.testing.assert_array_equal(scene.point_rgb, scene.images[v, r, c])
    assert scene.image_size == (28, 42) and scene.n_views == 2


def test_arrays_are_read_only() -> None:
    scene = make_scene()
    with pytest.raises(ValueError):
        scene.labels[0, 0, 0] = 5
    with pytest.raises(ValueError):
        scene.depth[0, 0, 0] = 5


def test_validation_rejects_inconsistent_inputs() -> None:
    scene = make_scene()
    with pytest.raises(ValueError, match="missing from the instance table"):
        scene.set_labels(np.full(scene.labels.shape, 7, np.int32), [Instance.new(1)])
    with pytest.raises(ValueError, match="shape"):
        scene.set_point_mask(np.ones((1, 2, 3), bool))
    with pytest.raises(ValueError, match="extrinsic"):
        rebuild_scene(scene, extrinsic=np.zeros((3, 3, 4)))


def test_mutations_emit_events() -> None:
    scene = make_scene()
    seen: list[tuple] = []
    scene.events.instance_changed.connect(lambda i, f: seen.append(("instance", i, f)))
    scene.events.instances.connect(lambda: seen.append(("instances",)))
    scene.events.labels.connect(lambda: seen.append(("labels",)))
    scene.events.points.connect(lambda: seen.append(("points",)))
    scene.events.embeddings.connect(lambda m: seen.append(("embeddings", m)))

    scene.update_instance(2, name="sofa", visible=False)
    assert scene.instances[2].name == "sofa" and not scene.instances[2].visible
    assert ("instance", 2, "name") in seen and ("instance", 2, "visible") in seen
    seen.clear()
    scene.update_instance(2, name="sofa")  # unchanged: no event
    assert seen == []

    new_labels = np.where(scene.labels == 2, 1, scene.labels)
    scene.set_labels(new_labels, [scene.instances[1]])
    assert seen == [("labels",), ("instances",)] and list(scene.instances) == [1]
    scene.add_instance(Instance.new(scene.next_instance_id()))
    assert 2 in scene.instances and scene.instances[2].colour == instance_colour(1)
    scene.remove_instance(2)
    with pytest.raises(ValueError, match="still labels"):
        scene.remove_instance(1)
    scene.set_embeddings("clip", InstanceEmbeddings(np.array([1]), np.ones((1, 4))))
    assert seen[-1] == ("embeddings", "clip")
    with pytest.raises(ValueError, match="unknown instance fields"):
        scene.update_instance(1, size=3)


def test_point_labels_cache_invalidated_on_relabel() -> None:
    scene = make_scene()
    before = scene.point_labels.copy()
    scene.set_labels(np.ones_like(scene.labels), [Instance.new(1)])
    assert (scene.point_labels == 1).all() and not (before == 1).all()


def test_view_transform_round_trip_and_label_mapping() -> None:
    t = ViewTransform.resize((300, 500), (28, 56))
    r0, c0 = t.model_to_original(np.array([0.0, 27.0]), np.array([0.0, 55.0]))
    r, c = t.original_to_model(r0, c0)
    np.testing.assert_allclose(r, [0, 27], atol=1e-9)
    np.testing.assert_allclose(c, [0, 55], atol=1e-9)
    labels = np.zeros((28, 56), np.int32)
    labels[:, 28:] = 3  # right half
    big = t.labels_to_original(labels)
    assert big.shape == (300, 500)
    assert (big[:, :245] == 0).all() and (big[:, 255:] == 3).all()
    crop = ViewTransform((100.0, 0.0, 400.0, 300.0), (28, 28), (300, 500))  # centre crop
    big = crop.labels_to_original(np.full((28, 28), 5, np.int32), fill=0)
    assert (big[:, :99] == 0).all() and (big[:, 101:399] == 5).all() and (big[:, 401:] == 0).all()


def test_instance_json_round_trip() -> None:
    inst = Instance.new(
        4,
        category="chair",
        stats=InstanceStats(10, (0, 0, 0), (1, 1, 1), (0.5, 0.5, 0.5), {0: 4, 2: 6}, 0.75, 3),
        extra={"note": "x"},
    )
    assert Instance.from_json(inst.to_json()) == inst
    assert inst.stats.views == [0, 2]
