"""Review queue, review states and the one-key review actions (Qt-free), on a synthetic room whose
instances were damaged in known ways: an object cut in two (a fragment), two separate objects merged."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
from review_rooms import touching_merged_room
from review_rooms import truth as room_truth
from scenes import rebuild_scene

from app import review_actions as ra
from app.edits import EditError, EditHistory
from app.export import ExportOptions, export_scene
from app.instances import refresh_statistics
from app.review import (
    ACCEPTED,
    FIXED,
    REVIEW_KEY,
    UNREVIEWED,
    is_kept,
    kept_ids,
    progress_text,
    review_queue,
    review_state,
    touching_pairs,
)
from app.scene import Instance, Scene
from app.scene_io import load_scene, save_scene
from app.semantics.ground_truth import scene_from_synthetic
from training.synthetic import render_room


def _features(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Instance features as a trained network gives them: one direction per object, a little noise."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(int(labels.max()) + 1, 8))
    feats = dirs[labels] + 0.05 * rng.normal(size=(*labels.shape, 8))
    return feats.astype(np.float16)


def _gap(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest distance between two point sets."""
    from scipy.spatial import cKDTree

    return float(cKDTree(a).query(b)[0].min())


def _damaged_room() -> tuple[Scene, dict]:
    """Room seed 3 (4 views) with ground-truth instances, then: the biggest piece of furniture cut in two
    along its longest axis (a fragment of ~20 %); the two pieces (of 300 points or more) furthest apart
    given one id (a merge)."""
    room = render_room(3, 4, 112, 168)
    base = scene_from_synthetic(room).scene
    labels = np.array(base.labels)
    ids = sorted(base.instances, key=lambda i: -base.instances[i].stats.point_count)
    pts = np.asarray(base.point_map)
    cut = ids[0]
    mask = labels == cut
    axis = int(np.argmax(np.ptp(pts[mask], axis=0)))
    threshold = np.quantile(pts[mask][:, axis], 0.8)
    fragment = int(labels.max()) + 1
    labels[mask & (pts[..., axis] > threshold)] = fragment
    big = [i for i in ids[1:] if base.instances[i].stats.point_count >= 300]
    a, b = max(
        ((i, j) for i in big for j in big if i < j),
        key=lambda p: _gap(pts[(labels == p[0]) & base.point_mask], pts[(labels == p[1]) & base.point_mask]),
    )
    labels[labels == b] = a
    table = [Instance.new(i) for i in sorted(set(np.unique(labels).tolist()) - {0})]
    features = _features(np.array(base.labels))
    scene = rebuild_scene(base, features=features, labels=labels, instances=table, model_id="test")
    refresh_statistics(scene)
    return scene, {"cut": cut, "fragment": fragment, "merged": a, "gone": b}


@pytest.fixture()
def damaged():
    return _damaged_room()


def test_queue_ranks_the_known_fragment_and_merge_first_with_reasons(damaged) -> None:
    scene, known = damaged
    assert (min(known["cut"], known["fragment"]), max(known["cut"], known["fragment"])) in touching_pairs(
        scene
    )
    queue = review_queue(scene)
    assert len(queue) == len(scene.instances)
    # the three damaged instances come first; only a genuinely tiny piece (a few points) may come with them
    top = {item.instance_id: item for item in queue[:4]}
    assert all(
        iid in (known["cut"], known["fragment"], known["merged"]) or "tiny fragment" in item.reason_text
        for iid, item in top.items()
    ), [(i.instance_id, i.reason_text) for i in queue]
    # the merged pair: two separate 3D clusters, split suggested
    assert known["merged"] in top, [(i.instance_id, i.reason_text) for i in queue]
    merged = top[known["merged"]]
    assert merged.action == "split" and merged.parts == 2
    assert "2 separate 3D clusters" in merged.reason_text
    # the cut object: its fragment (or the rest) touches the other half with close features -> merge them
    pair = {known["cut"], known["fragment"]}
    hit = [item for item in queue[:4] if item.instance_id in pair]
    assert hit, [(i.instance_id, i.reason_text) for i in queue]
    assert hit[0].action == "merge" and {hit[0].instance_id, hit[0].partner} == pair
    assert "close features" in hit[0].reason_text
    # undamaged instances are not suspicious
    clean = [item for item in queue if item.instance_id not in pair | {known["merged"]}]
    assert all(item.score < top[known["merged"]].score for item in clean if "tiny" not in item.reason_text)


def test_queue_suggestions_repair_the_room_and_each_action_undoes_in_one_step(damaged) -> None:
    scene, known = damaged
    history = EditHistory(scene)
    start = np.array(scene.labels)
    done = []
    for _ in range(3):  # the tiny piece (accept), the cut object (merge), the merged pair (split)
        item = review_queue(scene)[0]
        done.append(item.action)
        before_labels = np.array(scene.labels)
        before_table = dict(scene.instances)
        history.push(ra.apply_suggestion(scene, item))
        after_labels, after_table = np.array(scene.labels), dict(scene.instances)
        assert after_table != before_table
        assert np.array_equal(before_labels, after_labels) == (item.action == "accept")
        history.undo()  # one step back restores pixels, table and review states exactly
        np.testing.assert_array_equal(scene.labels, before_labels)
        assert scene.instances == before_table
        history.redo()
        np.testing.assert_array_equal(scene.labels, after_labels)
        assert scene.instances == after_table
    # the cut object is one instance again, the merged instance two (each "fixed")
    (whole,) = np.unique(scene.labels[np.isin(start, [known["cut"], known["fragment"]])])
    assert review_state(scene.instances[int(whole)]) == FIXED
    parts = np.unique(scene.labels[start == known["merged"]])
    assert len(parts) == 2 and all(review_state(scene.instances[int(i)]) == FIXED for i in parts)
    assert sorted(done) == ["accept", "merge", "split"]
    assert progress_text(scene) == f"4 of {len(scene.instances)} reviewed"
    assert review_queue(scene)[0].score < 0.5  # nothing suspicious left


def test_accept_rename_delete_and_bad_actions(damaged) -> None:
    scene, known = damaged
    history = EditHistory(scene)
    other = next(i for i in scene.instances if i not in known.values())
    history.push(ra.accept(scene, other))
    assert review_state(scene.instances[other]) == ACCEPTED and is_kept(scene.instances[other])
    with pytest.raises(EditError, match="already accepted"):
        ra.accept(scene, other)
    history.push(ra.rename(scene, known["fragment"], "door"))
    inst = scene.instances[known["fragment"]]
    assert inst.name == "door" and review_state(inst) == FIXED
    history.undo()  # name and state together
    inst = scene.instances[known["fragment"]]
    assert inst.name != "door" and review_state(inst) == UNREVIEWED
    history.push(ra.delete(scene, known["fragment"]))
    assert known["fragment"] not in scene.instances
    history.undo()
    assert known["fragment"] in scene.instances
    with pytest.raises(EditError, match="one 3D cluster"):
        ra.split_3d(scene, other)
    with pytest.raises(EditError):
        ra.set_review_state(scene, [other], "great")


def test_review_states_survive_save_and_reach_the_exports(damaged, tmp_path) -> None:
    scene, _ = damaged
    ids = list(scene.instances)
    ra.accept(scene, ids[0]).apply(scene)
    ra.rename(scene, ids[1], "lamp").apply(scene)
    path = tmp_path / "room.iggt"
    save_scene(scene, path)
    back = load_scene(path)
    assert review_state(back.instances[ids[0]]) == ACCEPTED
    assert review_state(back.instances[ids[1]]) == FIXED
    assert review_state(back.instances[ids[2]]) == UNREVIEWED

    export_scene(back, "table", tmp_path / "t.csv", ExportOptions())
    rows = {int(r["id"]): r for r in csv.DictReader((tmp_path / "t.csv").open())}
    assert rows[ids[0]]["review"] == "accepted" and rows[ids[1]]["review"] == "fixed"
    assert rows[ids[2]]["review"] == "unreviewed"
    export_scene(back, "coco", tmp_path / "c.json", ExportOptions())
    coco = json.loads((tmp_path / "c.json").read_text())
    states = {i["id"]: i["review"] for i in coco["instances"]}
    assert states[ids[0]] == "accepted" and states[ids[2]] == "unreviewed"
    assert {a["review"] for a in coco["annotations"] if a["instance_id"] == ids[1]} == {"fixed"}


def test_old_scenes_load_with_every_instance_unreviewed(damaged, tmp_path) -> None:
    scene, _ = damaged
    # an instance table as written before review mode: no review entry in `extra`
    scene.set_instances([replace(i, extra={k: v for k, v in i.extra.items() if k != REVIEW_KEY}) for i in
                         scene.instances.values()])  # fmt: skip
    path = tmp_path / "old.iggt"
    save_scene(scene, path)
    back = load_scene(path)
    assert progress_text(back) == f"0 of {len(back.instances)} reviewed"
    assert kept_ids(back) == []


def test_recluster_keeps_accepted_and_renamed_instances(damaged) -> None:
    from app.clustering import ClusterConfig
    from app.reconstruct import recluster

    scene, known = damaged
    others = [i for i in scene.instances if i not in known.values()]
    ra.accept(scene, others[0]).apply(scene)
    ra.rename(scene, others[1], "the lamp").apply(scene)
    kept = {i: np.array(scene.labels == i) for i in others[:2]}
    names = {i: scene.instances[i].name for i in others[:2]}
    before = np.array(scene.labels)
    edit = recluster(scene, ClusterConfig.preset("spatial", min_cluster_size=300, min_samples=20))
    for iid, mask in kept.items():
        np.testing.assert_array_equal(scene.labels == iid, mask)
        assert scene.instances[iid].name == names[iid]
    assert review_state(scene.instances[others[0]]) == ACCEPTED
    rest = ~np.isin(before, list(kept))
    assert not np.array_equal(scene.labels[rest], before[rest])  # the rest was re-clustered
    edit.revert(scene)
    np.testing.assert_array_equal(scene.labels, before)


def test_review_command_lists_the_queue(damaged, tmp_path, capsys) -> None:
    from app.cli import main

    scene, known = damaged
    ra.accept(scene, next(i for i in scene.instances if i not in known.values())).apply(scene)
    path = tmp_path / "room.iggt"
    save_scene(scene, path)
    capsys.readouterr()
    assert main(["review", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["progress"] == f"1 of {len(scene.instances)} reviewed"
    assert len(doc["queue"]) == len(scene.instances) - 1
    first = {row["id"]: row for row in doc["queue"][:4]}
    assert first[known["merged"]]["suggestion"] == "split" and first[known["merged"]]["split"] == "3d"
    assert main(["review", str(path), "--all"]) == 0
    assert "most suspicious first" in capsys.readouterr().out
    assert main(["review", str(tmp_path / "missing.iggt")]) == 1
    assert "not found" in capsys.readouterr().err


def test_two_touching_objects_in_one_instance_are_flagged_with_the_matching_split() -> None:
    from app.clustering import adjusted_rand_index
    from app.review import feature_groups, spatial_parts

    scene, known = touching_merged_room()
    a, b = known["merged"], known["gone"]
    truth = room_truth()
    merged = scene.labels == a
    assert b not in scene.instances and set(np.unique(truth[merged]).tolist()) == {a, b}
    # the case the 3D-parts check cannot see: the two objects form one 3D cluster
    _, part = spatial_parts(scene, a)
    assert part.max() == 0
    queue = {item.instance_id: item for item in review_queue(scene)}
    item = queue[a]
    assert item.action == "split" and item.split == "features" and item.parts == 1
    assert "looks like two objects" in item.reason_text, item.reason_text
    assert item.score == max(it.score for it in queue.values())
    # a clean single object (every other instance big enough to test) is not flagged
    clean = [i for i in scene.instances if i != a and scene.instances[i].stats.point_count >= 100]
    assert clean
    for iid in clean:
        assert "two objects" not in queue[iid].reason_text and queue[iid].split is None, queue[iid]
        groups = feature_groups(scene, iid)
        assert groups is not None and not groups.two_objects
        assert groups.purity < 0.7 and groups.separation < 3.0  # a unimodal spread cut in two
    # the suggested fix is the matching split: the two parts are the two objects, one undo restores it
    history = EditHistory(scene)
    before = np.array(scene.labels)
    edit = history.push(ra.apply_suggestion(scene, item))
    (new,) = edit.details["new_ids"]
    parts = scene.labels[merged]
    assert set(np.unique(parts).tolist()) == {a, new}
    assert adjusted_rand_index(parts, truth[merged]) > 0.95
    assert review_state(scene.instances[a]) == FIXED and review_state(scene.instances[new]) == FIXED
    history.undo()
    np.testing.assert_array_equal(scene.labels, before)


def test_an_instance_of_one_feature_value_is_not_split_and_prints_nothing(capfd) -> None:
    """Ground-truth features are one value per instance: there is nothing to split (2-means of it printed
    sklearn's ConvergenceWarning on stderr for every such instance)."""
    import warnings

    from app.review import feature_groups

    scene, known = touching_merged_room()
    iid = known["merged"]
    assert feature_groups(scene, iid) is not None  # two objects' noisy features: there is something to split
    feats = np.asarray(scene.features).copy()
    feats[np.asarray(scene.labels) == iid] = np.arange(feats.shape[-1], dtype=feats.dtype) + 1.0
    scene.features = feats
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert feature_groups(scene, iid) is None
    assert capfd.readouterr().err == ""


def test_a_ranking_that_keeps_what_did_not_change_is_the_ranking_from_scratch(damaged) -> None:
    """Re-ranking keeps what an edit cannot change (each instance's checks, keyed by its pixels; the 3D gaps
    of neighbouring pixels; the cloud's spacing): after edits and undos the queue is the one ranked from
    scratch, and a new point mask (points hidden) is not answered from what was kept for the old one."""
    scene, known = damaged
    history = EditHistory(scene)
    cache: dict = {}

    def rows(cache: dict | None = None) -> list[tuple]:
        queue = review_queue(scene, include_reviewed=True, cache=cache)
        return [(i.instance_id, i.score, i.reasons, i.action, i.partner, i.parts, i.split) for i in queue]

    def same_as_fresh() -> list[tuple]:
        kept = rows(cache)
        assert kept == rows()
        return kept

    same_as_fresh()
    history.push(ra.merge_with(scene, known["cut"], known["fragment"]))
    same_as_fresh()
    history.push(ra.split(scene, known["merged"]))
    same_as_fresh()
    history.undo()
    before = same_as_fresh()
    merged = np.asarray(scene.labels) == known["merged"]
    pts = np.asarray(scene.point_map)
    axis = int(np.argmax(np.ptp(pts[merged & scene.point_mask], axis=0)))
    middle = np.median(pts[merged & scene.point_mask][:, axis])
    # hide a slab through the middle of the merged pair: its points now form more separate 3D clusters
    scene.set_point_mask(scene.point_mask & ~(merged & (np.abs(pts[..., axis] - middle) < 0.3)))
    assert same_as_fresh() != before


def test_a_kept_ranking_tells_apart_two_pixel_sets_of_the_same_count_and_sum(damaged) -> None:
    """An instance that swaps two pixels for two others with the same count and the same index sum is a
    new set of pixels: its mean feature is computed again, not answered from what was kept for the old."""
    from app.review import _label_index, _mean_features

    scene, known = damaged
    cache: dict = {}
    iid = known["merged"]
    _mean_features(scene, [iid], _label_index(scene), cache)
    flat = np.asarray(scene.labels).reshape(-1).copy()
    cloud = scene.point_mask.reshape(-1)
    inside = np.flatnonzero((flat == iid) & cloud)
    # two of its pixels i < j leave it, i - 1 and j + 1 (in the cloud, not its own) join it
    i, j = next((a, b) for a, b in zip(inside, inside[::-1], strict=False)
                if a < b and flat[a - 1] != iid and flat[b + 1] != iid
                and cloud[a - 1] and cloud[b + 1])  # fmt: skip
    flat[[i - 1, j + 1]], flat[[i, j]] = iid, flat[[i - 1, j + 1]]
    scene.set_labels(flat.reshape(scene.labels.shape), scene.instances.values())
    kept = _mean_features(scene, [iid], _label_index(scene), cache)[iid]
    fresh = _mean_features(scene, [iid], _label_index(scene))[iid]
    np.testing.assert_array_equal(kept, fresh)
