"""Edits: apply/revert round trips, statistics and masks follow every edit, locks, history, save/reload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scenes import rebuild_scene
from test_export_fixtures import make_export_scene

from app import edits
from app.clustering import ClusterConfig
from app.edit_record import edits_since_clustering, history_of
from app.edits import EditError, EditHistory
from app.scene import Instance, Scene
from app.scene_io import load_scene, save_scene


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return make_export_scene(tmp_path / "photos")


def snapshot(scene: Scene) -> tuple:
    return (
        np.array(scene.labels),
        tuple(scene.instances.values()),
        None if edits.DELETED_LAYER not in scene.layers else np.array(scene.layers[edits.DELETED_LAYER]),
        dict(scene.metadata.get(edits.ARCHIVE_KEY, {})),
    )


def assert_same(a: tuple, b: tuple) -> None:
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    if a[2] is None or b[2] is None:
        assert a[2] is None and b[2] is None
    else:
        np.testing.assert_array_equal(a[2], b[2])
    assert a[3] == b[3]


def assert_stats_current(scene: Scene) -> None:
    """Every instance's statistics agree with the labels: point counts and pixels per view checked
    directly, the rest against a full recomputation as a fresh reconstruction would do it."""
    from app.instances import scene_statistics

    fresh = scene_statistics(scene)
    for iid, inst in scene.instances.items():
        sel = scene.point_labels == iid
        assert inst.stats.point_count == sel.sum(), inst.name
        pixels = {v: int((scene.labels[v] == iid).sum()) for v in range(scene.n_views)}
        assert inst.stats.view_pixels == {v: n for v, n in pixels.items() if n}
        if sel.any():
            np.testing.assert_allclose(inst.stats.centroid, scene.points[sel].mean(0), rtol=1e-5, atol=1e-6)
        assert inst.stats == fresh.get(iid, inst.stats.__class__())


def roundtrip(scene: Scene, edit: edits.Edit) -> None:
    before = snapshot(scene)
    edit.apply(scene)
    after = snapshot(scene)
    assert_stats_current(scene)
    edit.revert(scene)
    assert_same(snapshot(scene), before)
    edit.apply(scene)
    assert_same(snapshot(scene), after)


def test_merge_moves_pixels_and_reverts_exactly(scene: Scene) -> None:
    events = []
    scene.events.labels.connect(lambda: events.append("labels"))
    n2, n3 = (scene.labels == 2).sum(), (scene.labels == 3).sum()
    edit = edits.merge(scene, [3, 2])
    assert edit.details["target"] == 2  # the bigger piece keeps its id and name
    roundtrip(scene, edit)
    assert set(scene.instances) == {1, 2} and (scene.labels == 2).sum() == n2 + n3
    assert not (scene.labels == 3).any()
    assert events.count("labels") == 3 and edit.text == "Merge 2 instances into table"
    assert scene.edit_log[-1]["op"] == "merge" and scene.edit_log[-2]["undo"] is True


def test_merge_needs_two_unlocked_instances(scene: Scene) -> None:
    with pytest.raises(EditError, match="at least two"):
        edits.merge(scene, [1])
    edits.set_locked(scene, [1], True).apply(scene)
    with pytest.raises(EditError, match="chair 1 is locked"):
        edits.merge(scene, [1, 2])
    with pytest.raises(EditError, match="no instance 9"):
        edits.merge(scene, [2, 9])


def _scene_with_features(scene: Scene, codes: dict[int, np.ndarray], noise: float = 0.05) -> Scene:
    rng = np.random.default_rng(3)
    feats = rng.normal(scale=noise, size=scene.features.shape).astype(np.float32)
    for iid, code in codes.items():
        feats[scene.labels == iid] += code
    return rebuild_scene(scene, features=feats)


def test_split_kmeans_separates_a_wrongly_merged_pair(scene: Scene) -> None:
    codes = {i: np.eye(8)[i] * 3 for i in (1, 2, 3)}
    scene = _scene_with_features(scene, codes)
    truth = np.array(scene.labels)
    edits.merge(scene, [2, 3], target=2).apply(scene)
    edit = edits.split_kmeans(scene, 2, k=2)
    roundtrip(scene, edit)
    (new_id,) = edit.details["new_ids"]
    assert new_id == 3 and scene.instances[3].name == "table (2)" and scene.instances[3].category == "table"
    # the two parts are exactly the original pieces (the bigger keeps id 2)
    np.testing.assert_array_equal(scene.labels == 2, truth == 2)
    np.testing.assert_array_equal(scene.labels == 3, truth == 3)
    with pytest.raises(EditError, match="2 to 32"):
        edits.split_kmeans(scene, 2, k=1)


def test_split_by_mask_and_reassign(scene: Scene) -> None:
    mask = np.zeros(scene.labels.shape, bool)
    mask[:, :, :4] = True  # the left part of instance 1 (columns 1-3)
    edit = edits.split_by_mask(scene, 1, mask)
    roundtrip(scene, edit)
    new = edit.details["new_ids"][0]
    np.testing.assert_array_equal(scene.labels == new, mask & np.isin(edit_labels_before(scene, edit), [1]))
    with pytest.raises(EditError, match="does not touch"):
        edits.split_by_mask(scene, 2, mask)
    # reassign: a box over instances 2 and 3 in view 0 goes to instance 1, except locked instance 3
    edits.set_locked(scene, [3], True).apply(scene)
    box = edits.pixels_in_view_polygon(scene, 0, np.array([[8.5, 0], [16, 0], [16, 12], [8.5, 12]]))
    before = np.array(scene.labels)
    edit = edits.reassign(scene, box, 1)
    roundtrip(scene, edit)
    moved = box & (before == 2)
    assert (scene.labels[moved] == 1).all() and (scene.labels[box & (before == 3)] == 3).all()
    assert (scene.labels[~box] == before[~box]).all()
    # reassign to a new instance, and to "no instance"
    edit = edits.reassign(scene, box, None, name="new thing")
    roundtrip(scene, edit)
    assert scene.instances[edit.details["target"]].name == "new thing"
    roundtrip(scene, edits.reassign(scene, box, 0))
    assert not np.isin(scene.labels[box], [1, 2, edit.details["target"]]).any()


def edit_labels_before(scene: Scene, edit: edits.Edit) -> np.ndarray:
    return edit.labels.replay(scene.labels, forward=False)


def test_delete_and_restore_after_other_edits(scene: Scene, tmp_path: Path) -> None:
    pixels_3 = scene.labels == 3
    edit = edits.delete(scene, [3])
    roundtrip(scene, edit)
    assert 3 not in scene.instances and not (scene.labels == 3).any()
    assert [i.name for i in edits.deleted_instances(scene)] == ["thing"]
    # someone takes part of the deleted area, then the file is saved and reopened
    taken = pixels_3 & (np.arange(scene.labels.shape[2]) < 11)[None, None, :]
    edits.reassign(scene, taken, 1).apply(scene)
    assert edits.fresh_ids(scene, 1) == [4]  # the deleted id stays reserved
    scene = load_scene(save_scene(scene, tmp_path / "s.iggt"))
    edit = edits.restore(scene, 3)
    roundtrip(scene, edit)
    np.testing.assert_array_equal(scene.labels == 3, pixels_3 & ~taken)
    assert edits.deleted_instances(scene) == [] and edits.DELETED_LAYER not in scene.layers
    with pytest.raises(EditError, match="not among the deleted"):
        edits.restore(scene, 3)
    edits.delete(scene, [3]).apply(scene)
    edits.forget_deleted(scene)
    assert edits.deleted_instances(scene) == [] and edits.DELETED_LAYER not in scene.layers
    assert edits.fresh_ids(scene, 1) == [3]


def test_field_edits_and_locks(scene: Scene) -> None:
    changed = []
    scene.events.instance_changed.connect(lambda iid, name: changed.append((iid, name)))
    roundtrip(scene, edits.rename(scene, 3, "  lamp   shade "))
    assert scene.instances[3].name == "lamp shade"
    roundtrip(scene, edits.set_category(scene, [2, 3], "desk"))
    assert scene.instances[2].category == scene.instances[3].category == "desk"
    roundtrip(scene, edits.set_colour(scene, [1], (1, 2, 3)))
    assert scene.instances[1].colour == (1, 2, 3)
    assert (3, "name") in changed and (1, "colour") in changed
    with pytest.raises(EditError, match="empty"):
        edits.rename(scene, 1, "   ")
    with pytest.raises(EditError, match="0-255"):
        edits.set_colour(scene, [1], (1, 2, 300))
    with pytest.raises(EditError, match="nothing changes"):
        edits.rename(scene, 3, "lamp shade")
    edits.set_locked(scene, [1], True).apply(scene)
    for attempt in (
        lambda: edits.rename(scene, 1, "x"),
        lambda: edits.delete(scene, [1]),
        lambda: edits.split_kmeans(scene, 1),
        lambda: edits.reassign(scene, scene.labels == 2, 1),
    ):
        with pytest.raises(EditError, match="locked"):
            attempt()
    roundtrip(scene, edits.set_locked(scene, [1], False))
    assert edits.set_category(scene, [1], "").fields[0].new is None
    assert "desk" in edits.category_vocabulary(scene) and "sofa" in edits.category_vocabulary(scene)
    scene.update_instance(2, extra={edits.SUGGESTION_KEY: {"label": "bathtub", "score": 0.9}})
    assert edits.category_vocabulary(scene, 2)[0] == "bathtub"
    assert edits.category_vocabulary(scene, 1)[0] != "bathtub"


def test_edits_replay_exactly_and_the_saved_log_keeps_the_history(scene: Scene, tmp_path: Path) -> None:
    original = snapshot(scene)
    merge = edits.merge(scene, [2, 3])
    merge.apply(scene)
    after_merge = snapshot(scene)
    split = edits.split_by_mask(scene, 1, np.broadcast_to(np.arange(16) < 4, scene.labels.shape))
    split.apply(scene)
    rename = edits.rename(scene, 2, "big table")
    rename.apply(scene)
    rename.revert(scene)
    split.revert(scene)
    assert_same(snapshot(scene), after_merge)
    split.apply(scene)
    saved_state = snapshot(scene)
    reloaded = load_scene(save_scene(scene, tmp_path / "edited.iggt"))
    assert_same(snapshot(reloaded), saved_state)
    assert history_of(reloaded.edit_log) == [merge.text, split.text]  # the undone rename is not listed
    split.revert(scene)
    merge.revert(scene)
    assert_same(snapshot(scene), original)
    with pytest.raises(EditError, match="changed underneath"):
        split.revert(scene)


def test_history_undo_redo_and_dirty_state(scene: Scene, tmp_path: Path) -> None:
    original = snapshot(scene)
    history = EditHistory(scene)
    assert not history.dirty
    history.push(edits.merge(scene, [2, 3]))
    after_merge = snapshot(scene)
    history.push(edits.split_by_mask(scene, 1, np.broadcast_to(np.arange(16) < 4, scene.labels.shape)))
    history.push(edits.rename(scene, 2, "big table"))
    assert history.dirty and history.texts()[-1] == "Rename table to big table"
    history.undo()
    history.undo()
    assert_same(snapshot(scene), after_merge)
    history.redo()
    history.mark_saved()
    assert not history.dirty
    saved_state = snapshot(scene)
    reloaded = load_scene(save_scene(scene, tmp_path / "edited.iggt"))
    assert_same(snapshot(reloaded), saved_state)
    history.undo()
    history.undo()
    assert history.dirty and not history.can_undo
    assert_same(snapshot(scene), original)
    history.push(edits.rename(scene, 1, "x"))  # a new edit drops the redo branch; the saved state is gone
    assert not history.can_redo and history.dirty
    with pytest.raises(EditError):
        history.redo()
    history = EditHistory(scene, limit=1)  # only the newest edit is kept for undo
    history.push(edits.rename(scene, 1, "y"))
    history.push(edits.rename(scene, 1, "z"))
    history.undo()
    assert not history.can_undo and scene.instances[1].name == "y"


def test_replay_refuses_a_changed_scene(scene: Scene) -> None:
    edit = edits.merge(scene, [2, 3])
    labels = np.array(scene.labels)
    labels[scene.labels == 3] = 1
    scene.set_labels(labels, scene.instances.values())
    with pytest.raises(EditError, match="changed underneath"):
        edit.apply(scene)


def test_lasso_in_3d_selects_what_projects_inside(scene: Scene) -> None:
    k, ext = scene.intrinsic[0].astype(float), scene.extrinsic[0].astype(float)
    world_to_screen = np.eye(4)
    world_to_screen[:3, :4] = k @ ext
    world_to_screen = world_to_screen[[0, 1, 3, 2]]  # x, y, (unused), w = depth
    polygon = np.array([[2.5, 3.5], [9.5, 3.5], [9.5, 8.5], [2.5, 8.5]])  # screen = view 0's pixel grid
    sel = edits.pixels_in_polygon(scene, world_to_screen, polygon)
    rows, cols = np.mgrid[0:12, 0:16]
    np.testing.assert_array_equal(sel[0], (cols >= 3) & (cols <= 9) & (rows >= 4) & (rows <= 8))
    assert sel.shape == scene.labels.shape
    only = edits.pixels_in_polygon(scene, world_to_screen, polygon, only_cloud=True)
    np.testing.assert_array_equal(only, sel & scene.point_mask)
    tri = edits.points_in_polygon(
        np.array([[0.2, 0.2], [0.9, 0.9], [0.6, 0.1]]), np.array([[0, 0], [1, 0], [0, 1.0]])
    )
    assert tri.tolist() == [True, False, True]
    pts = edits.pixels_of_points(scene, np.array([0, 5]))
    assert pts.sum() == 2 and pts[tuple(scene.point_pixels[5])]


def test_exports_follow_edits(scene: Scene, tmp_path: Path) -> None:
    from PIL import Image

    from app.export import export_scene

    edits.merge(scene, [2, 3], target=2).apply(scene)
    export_scene(scene, "masks", tmp_path / "m")
    ids = np.asarray(Image.open(tmp_path / "m" / "ids" / "view_0.png")).astype(int)
    assert set(np.unique(ids)) == {0, 1, 2}


def test_new_instance_ids_skip_existing(scene: Scene) -> None:
    scene.add_instance(Instance.new(10))
    assert edits.fresh_ids(scene, 2) == [11, 12]


def test_label_diffs_stay_small(scene: Scene) -> None:
    edit = edits.merge(scene, [2, 3], target=2)
    moved = int((scene.labels == 3).sum())
    assert len(edit.labels) == moved and edit.labels.nbytes == 4 * moved + 8  # int32 indices, one id each
    mixed = edits.reassign(scene, np.ones(scene.labels.shape, bool), None)
    assert mixed.labels.old.shape == (len(mixed.labels),) and mixed.labels.new.shape == (1,)
    roundtrip(scene, mixed)


def test_recluster_edit_replaces_every_label_and_undoes_exactly(scene: Scene) -> None:
    edits.delete(scene, [3]).apply(scene)  # an archived instance: re-clustering drops it, undo brings it back
    # (a renamed instance would be kept as it is, app.review.is_kept; a colour carries over like a name)
    edits.set_colour(scene, [2], (1, 2, 3)).apply(scene)
    scene.update_settings(cluster=ClusterConfig(epsilon=0.06))
    labels = np.zeros(scene.labels.shape, np.int32)  # a different partition: two halves, ids 2 and 7
    labels[:, :, : labels.shape[2] // 2] = 2
    labels[:, :, labels.shape[2] // 2 :] = 7
    stats = edits.label_statistics(scene, labels)
    settings = {"cluster": ClusterConfig(epsilon=0.01), "cluster_params": {"sample": 10}}
    edit = edits.recluster(scene, labels, stats, settings, based_on=scene.labels)
    before_settings = scene.settings
    roundtrip(scene, edit)
    np.testing.assert_array_equal(scene.labels, labels)
    assert scene.instances[2].colour == (1, 2, 3) and scene.instances[7].name == "instance 7"
    assert edits.deleted_instances(scene) == [] and edits.DELETED_LAYER not in scene.layers
    assert {k: getattr(scene.settings, k) for k in settings} == settings
    assert scene.edit_log[-1]["cluster"] == ClusterConfig(epsilon=0.01).to_json()  # the log stays JSON
    edit.revert(scene)
    assert [i.name for i in edits.deleted_instances(scene)] == ["thing"]
    assert scene.settings == before_settings and not scene.settings.has("cluster_params")
    # every pixel changes, so both maps are kept whole, compressed: far below a per-pixel diff
    assert len(edit.labels) == int((labels != scene.labels).sum())
    assert edit.labels.nbytes < edits.LabelDiff.between(scene.labels, labels).nbytes / 10


def test_recluster_edit_is_refused_on_a_changed_scene_or_a_moved_locked_instance(scene: Scene) -> None:
    labels = np.where(scene.labels == 3, 2, scene.labels).astype(np.int32)
    stats = edits.label_statistics(scene, labels)
    started_from = np.array(scene.labels)
    edits.rename(scene, 1, "renamed meanwhile").apply(scene)  # names do not matter, labels do
    edit = edits.recluster(scene, labels, stats, based_on=started_from)
    assert edit.table_after[0].name == "renamed meanwhile"
    edits.merge(scene, [1, 2], target=2).apply(scene)
    with pytest.raises(EditError, match="changed while re-clustering"):
        edits.recluster(scene, labels, stats, based_on=started_from)
    with pytest.raises(EditError, match="without statistics"):
        edits.recluster(scene, labels, {})
    edits.set_locked(scene, [2], True).apply(scene)
    with pytest.raises(EditError, match="locked"):
        edits.recluster(scene, labels, stats)


def test_show_hide_is_an_edit_even_on_locked_instances(scene: Scene) -> None:
    edits.set_locked(scene, [1], True).apply(scene)
    edit = edits.set_visible(scene, [1, 2], False)
    roundtrip(scene, edit)
    assert not scene.instances[1].visible and not scene.instances[2].visible and scene.instances[3].visible
    assert edit.text == "Hide 2 instances"
    edit.revert(scene)
    assert scene.instances[1].visible and scene.instances[2].visible
    with pytest.raises(EditError, match="nothing changes"):
        edits.set_visible(scene, [1], True)


def test_edits_since_the_last_clustering_are_read_from_the_log() -> None:
    log = [
        {"op": "merge", "text": "Merge a, b"},
        {"op": "recluster", "text": "Re-cluster (large)"},
        {"op": "merge", "text": "Merge x, y"},
        {"op": "set_name", "text": "Rename c to d"},  # a renamed instance is kept by a re-clustering
        {"op": "split_kmeans", "text": "Split e into 2 parts"},
        {"op": "split_kmeans", "text": "Split e into 2 parts", "undo": True},
    ]
    assert history_of(log) == ["Merge a, b", "Re-cluster (large)", "Merge x, y", "Rename c to d"]
    assert edits_since_clustering(log) == ["Merge x, y"]
    undone = [*log, {"op": "set_name", "text": "Rename c to d", "undo": True},
              {"op": "merge", "text": "Merge x, y", "undo": True},
              {"op": "recluster", "text": "Re-cluster (large)", "undo": True}]
    assert edits_since_clustering(undone) == ["Merge a, b"]  # the undone re-clustering replaced nothing
