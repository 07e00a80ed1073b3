"""A lasso drawn on one photo of the bundled sample room (ground-truth geometry and instances) reaches the
same surface in every other view; the prepared edit's preview (pixels, points, views) is exactly what
applying it changes, and one undo restores the scene."""

from __future__ import annotations

import numpy as np
import pytest

from app import edits, photo_lasso
from app.edits import EditError, EditHistory
from app.instances import scene_correspondences_ready
from app.paths import SAMPLE_DIR
from app.progress import Progress

VIEW = 0
CHAIR = 3  # one of the room's three red chairs, large in view 0
STAGES = ["carrying", "matching", "measuring"]


@pytest.fixture(scope="module")
def room():
    from app.semantics.ground_truth import scene_from_synthetic
    from training.synthetic.storage import read_scene

    return scene_from_synthetic(read_scene(SAMPLE_DIR / "scene_000012")).scene


def chair_box(scene, pad: int = 2) -> np.ndarray:
    rr, cc = np.nonzero(scene.labels[VIEW] == CHAIR)
    x0, x1, y0, y1 = cc.min() - pad, cc.max() + pad, rr.min() - pad, rr.max() + pad
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)


def test_selection_reaches_the_same_surface_in_the_other_views(room) -> None:
    poly = chair_box(room)
    sel = photo_lasso.carried_selection(room, VIEW, poly)
    np.testing.assert_array_equal(sel[VIEW], photo_lasso.edits.pixels_in_view_polygon(room, VIEW, poly)[VIEW])
    others = [v for v in range(room.n_views) if v != VIEW and sel[v].any()]
    assert len(others) >= 4
    h, w = room.image_size
    agree, recall = [], []
    drawn_idx = np.flatnonzero(sel[VIEW].reshape(-1))
    drawn_pts = np.asarray(room.point_map[VIEW]).reshape(-1, 3)[drawn_idx]
    for v in others:
        # precision: each carried pixel shows what the drawn view shows where its point lands
        idx = np.flatnonzero(sel[v].reshape(-1))
        uvz = photo_lasso.camera_points(room, VIEW, np.asarray(room.point_map[v]).reshape(-1, 3)[idx])
        r = np.clip(np.rint(uvz[:, 1]).astype(int), 0, h - 1)
        c = np.clip(np.rint(uvz[:, 0]).astype(int), 0, w - 1)
        agree.append(np.mean(room.labels[v].reshape(-1)[idx] == room.labels[VIEW][r, c]))
        # recall: the drawn chair's points that view v sees (not hidden there) are selected in view v
        chair = room.labels[VIEW].reshape(-1)[drawn_idx] == CHAIR
        uvz = photo_lasso.camera_points(room, v, drawn_pts[chair])
        ok = (uvz[:, 2] > 0) & (uvz[:, 0] >= 0) & (uvz[:, 0] <= w - 1)
        ok &= (uvz[:, 1] >= 0) & (uvz[:, 1] <= h - 1)
        r = np.rint(uvz[ok, 1]).astype(int)
        c = np.rint(uvz[ok, 0]).astype(int)
        seen = photo_lasso.camera_points(room, v, np.asarray(room.point_map[v])[r, c])[:, 2]
        visible = np.abs(seen - uvz[ok, 2]) < 0.01 * seen
        if visible.sum() > 50:
            recall.append(np.mean(sel[v][r[visible], c[visible]]))
    assert min(agree) > 0.99, agree
    assert recall and min(recall) > 0.95, recall


@pytest.mark.parametrize(("mode", "selected"), [("split", CHAIR), ("unlabel", None), ("assign", None)])
def test_preview_is_exactly_what_applying_changes(room, mode, selected) -> None:
    before = np.array(room.labels, copy=True)
    table = tuple(room.instances.values())
    pe = photo_lasso.prepare(room, VIEW, chair_box(room), mode, selected)
    assert pe.is_current(room) and len(pe.views) >= 4 and pe.changed[VIEW].any()
    history = EditHistory(room)
    history.push(pe.edit)
    changed = room.labels != before
    np.testing.assert_array_equal(changed, pe.changed)
    np.testing.assert_array_equal(np.flatnonzero(changed[room.point_mask]), pe.points)
    assert pe.view_pixels == [int(n) for n in changed.sum(axis=(1, 2))]
    assert pe.summary == f"{changed.sum():,} points, {len(pe.views)} views"  # every pixel is a point here
    if mode == "split":
        assert set(np.unique(before[changed])) == {CHAIR}
    assert not pe.is_current(room)
    history.undo()  # one step back to the scene as it was
    np.testing.assert_array_equal(room.labels, before)
    assert tuple(room.instances.values()) == table


def test_nothing_to_change_is_one_clear_error(room) -> None:
    corner = np.array([[0, 0], [3, 0], [3, 3], [0, 3]], float)  # background only: nothing to split/unlabel
    with pytest.raises(EditError, match="does not touch"):
        photo_lasso.prepare(room, VIEW, corner, "split", CHAIR)
    with pytest.raises(EditError, match="select the instance"):
        photo_lasso.prepare(room, VIEW, chair_box(room), "split", None)
    with pytest.raises(EditError, match="unknown lasso mode"):
        photo_lasso.prepare(room, VIEW, chair_box(room), "paint", None)
    with pytest.raises(EditError, match="no view"):
        photo_lasso.prepare(room, 99, chair_box(room), "assign", None)


@pytest.fixture
def fresh_room():
    """The sample room loaded anew: no correspondences computed for it yet."""
    from app.semantics.ground_truth import scene_from_synthetic
    from training.synthetic.storage import read_scene

    return scene_from_synthetic(read_scene(SAMPLE_DIR / "scene_000012")).scene


def test_prepare_as_a_long_step_reports_progress_and_gives_the_same_edit(fresh_room) -> None:
    room = fresh_room
    assert not scene_correspondences_ready(room)
    gen = photo_lasso.iter_prepare(room, VIEW, chair_box(room), "split", CHAIR)
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            stepped = stop.value
            break
    assert all(isinstance(e, Progress) for e in events)
    assert [e.stage for e in events] == sorted((e.stage for e in events), key=STAGES.index)
    assert {e.stage for e in events} == set(STAGES)  # the first on this scene matches the views' pixels
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and 0 <= fractions[0] < 0.2 and 0.5 < fractions[-1] <= 1
    assert f"into view {room.n_views} of {room.n_views}" in " ".join(e.message for e in events)
    assert scene_correspondences_ready(room)
    again = list(photo_lasso.iter_prepare(room, VIEW, chair_box(room), "split", CHAIR))
    assert "matching" not in {e.stage for e in again}  # kept with the scene
    plain = photo_lasso.prepare(room, VIEW, chair_box(room), "split", CHAIR)
    np.testing.assert_array_equal(stepped.changed, plain.changed)
    np.testing.assert_array_equal(stepped.points, plain.points)
    assert stepped.edit.table_after == plain.edit.table_after


@pytest.mark.parametrize("stage", ["carrying", "matching"])
def test_a_closed_prepare_stops_and_leaves_the_scene_as_it_was(fresh_room, stage) -> None:
    room = fresh_room
    before, table = np.array(room.labels, copy=True), tuple(room.instances.values())
    gen = photo_lasso.iter_prepare(room, VIEW, chair_box(room), "unlabel")
    seen = 0
    for event in gen:
        seen += event.stage == stage
        if seen == 3:
            break
    gen.close()
    assert seen == 3 and gen.gi_frame is None
    assert not scene_correspondences_ready(room)  # nothing half-computed is kept
    np.testing.assert_array_equal(room.labels, before)
    assert tuple(room.instances.values()) == table


def test_edit_statistics_with_the_kept_correspondences_are_those_computed_afresh(fresh_room) -> None:
    """Every edit's statistics use the scene's correspondences, computed once; a new point mask (fewer
    points) computes them again."""
    from app.instances import instance_statistics

    room = fresh_room
    labels = np.where(room.labels == CHAIR, 0, room.labels).astype(np.int32)

    def afresh():
        return instance_statistics(labels, room.point_map, room.point_mask, room.depth, room.extrinsic,
                                   room.intrinsic)  # fmt: skip

    assert edits.label_statistics(room, labels) == afresh() and scene_correspondences_ready(room)
    assert edits.label_statistics(room, labels) == afresh()
    mask = np.array(room.point_mask, copy=True)
    mask[:, ::2] = False
    room.set_point_mask(mask)
    assert not scene_correspondences_ready(room)
    assert edits.label_statistics(room, labels) == afresh()
