"""bench/review.py's annotator on a small synthetic room: its lasso outlines select the region drawn
around, the scripted review (re-ranked queue, then the app's photo lasso carried to every view) reaches the
ground truth with the app's own edits only, each one undoable (undoing them all gives back the start)."""

from __future__ import annotations

import importlib.util

import numpy as np
from review_rooms import touching_merged_room
from review_rooms import truth as room_truth

from app import edits
from app.paths import ROOT

spec = importlib.util.spec_from_file_location("bench_review", ROOT / "bench" / "review.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_lasso_outline_selects_the_region_it_is_drawn_around() -> None:
    scene, _ = touching_merged_room()
    region = np.zeros(scene.image_size, bool)
    region[20:60, 30:90] = True
    region[35:45, 50:70] = False  # a hole: a lasso along the outer border includes it
    region[50:60, 40:50] = False  # a notch in the border: left out
    outline = bench.lasso_outline(region)
    assert outline.shape[1] == 2 and 3 <= outline.shape[0] < region.sum() // 4  # a freehand path
    got = edits.pixels_in_view_polygon(scene, 1, outline)[1]
    want = region.copy()
    want[35:45, 50:70] = True
    assert np.count_nonzero(got != want) <= 0.03 * want.sum()
    assert not got[50:59, 41:49].any()


def _bleed(scene, segments: np.ndarray, big: int) -> None:
    """Instances straddling objects at their borders, as the network's often do: in every photo the left
    half of object ``big`` goes to the room's structure next to it (unlabelled)."""
    labels = np.array(scene.labels)
    for v in range(segments.shape[0]):
        rows, cols = np.nonzero(segments[v] == big)
        if cols.size:
            left = cols <= np.quantile(cols, 0.5)
            labels[v, rows[left], cols[left]] = 0
    edits.reassign(scene, labels != scene.labels, 0).apply(scene)


def test_scripted_review_reaches_the_ground_truth_with_undoable_edits() -> None:
    scene, known = touching_merged_room(cut=True)
    segments = room_truth()
    untouched = [i for i in scene.instances if i not in known.values()]
    _bleed(scene, segments, max(untouched, key=lambda i: scene.instances[i].stats.point_count))
    start = np.array(scene.labels)
    run = bench.Run("queue", scene, segments)
    assert run.ari < 0.95
    bench.instances_by_queue(run, 0.99, 50)
    # the queue suggested the split of the two touching objects and the merge of the cut one; taken as is
    assert run.counts["suggested"] >= 2
    assert {"split_groups", "merge"} <= {e.op for e in run.history._done}
    after_instances = run.ari
    bench.pixels_by_lasso(run, 0.99, 80)
    assert run.counts["lasso"] >= 1 and run.ari >= 0.99 > after_instances, run.trace
    # the app's photo lasso: drawn on one photo, it reached the object in the other views too
    lassos = [e for e in run.history._done if "lasso on view" in e.text]
    assert len(lassos) == run.counts["lasso"] and max(e.details["views"] for e in lassos) >= 2
    assert run.trace[-1][0] == run.actions and [a for a, _ in run.trace] == sorted(a for a, _ in run.trace)
    # every action was one edit on the history; undoing them all restores the start
    n = 0
    while run.history.can_undo:
        run.history.undo()
        n += 1
    assert n >= run.counts["suggested"] + run.counts["by hand"] + run.counts["lasso"]
    np.testing.assert_array_equal(scene.labels, start)
    assert known["gone"] not in scene.instances
