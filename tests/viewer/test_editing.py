"""Annotating through the real window: merge, split, rename, undo/redo, save/reopen, export, lasso tools,
history, autosave and crash recovery."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QThreadPool
from PySide6.QtTest import QTest
from scene_factory import synthetic_scene

from app import autosave, edits
from app.export import FORMATS
from app.scene import Instance, Scene
from app.scene_io import load_scene, save_scene
from viewer import edit_dialogs, export_dialog, lasso
from viewer.panels.instances import ID_ROLE
from viewer.run_settings import RunSettings

OPEN_TIMEOUT_MS = 30_000
EXPORT_TARGETS = {"ply": "cloud.ply", "glb": "scene.glb", "colmap": "colmap", "masks": "masks",
                  "coco": "coco.json", "table": "instances.csv"}  # fmt: skip


def _sizes(scene: Scene) -> list[int]:
    counts = np.bincount(np.asarray(scene.labels).ravel())
    counts[0] = 0
    return [int(i) for i in np.argsort(-counts) if counts[i] > 0]


@pytest.fixture(scope="module")
def annotation_case(tmp_path_factory):
    """A synthetic room where clustering went wrong twice: one object cut in two pieces (ids
    ``piece_a``/``piece_b``) and two different objects labelled as one (``pair``; truth in ``pair_truth``)."""
    scene = synthetic_scene(seed=0, views=4)
    by_size = _sizes(scene)
    first, second, third = by_size[0], by_size[1], by_size[2]
    labels = np.array(scene.labels)
    truth_first, truth_second = labels == first, labels == second
    labels[truth_second] = first  # a wrongly merged pair
    cols = np.arange(labels.shape[2])[None, None, :]
    third_mask = labels == third
    split_col = int(np.median(np.nonzero(third_mask)[2]))
    piece_b = max(scene.instances) + 1
    labels[third_mask & (cols >= split_col)] = piece_b  # one object in two pieces
    table = [i for i in scene.instances.values() if i.id != second]
    table.append(Instance.new(piece_b, name="piece b", category=scene.instances[third].category))
    scene.set_labels(labels, table)
    from app.instances import refresh_statistics

    refresh_statistics(scene)
    path = tmp_path_factory.mktemp("annotate") / "room.iggt"
    save_scene(scene, path)
    return {
        "path": path, "pair": first, "pair_truth": (truth_first, truth_second), "piece_a": third,
        "piece_b": piece_b, "piece_union": third_mask,
    }  # fmt: skip


@pytest.fixture
def edit_window(make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # a private autosave folder
    window = make_window()
    controller = window.editing
    yield window, controller
    window.document.set_modified(False)  # no unsaved-changes prompt at teardown


def open_scene(window, path: Path, qtbot) -> Scene:
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=OPEN_TIMEOUT_MS)
    return window.document.scene


def rename_in_list(window, iid: int, name: str) -> None:
    """Type a new name into the instance list (as a double-click edit does)."""
    model = window.instances_panel.model
    index = model.index(model.row_of(iid), 0)
    assert model.setData(index, name, Qt.ItemDataRole.EditRole)


def snapshot(scene: Scene) -> tuple:
    return np.array(scene.labels), {
        i: (x.name, x.category, x.colour, x.locked) for i, x in scene.instances.items()
    }


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def run_export(dialog, fmt: str, target: Path, qtbot) -> None:
    dialog.set_format(fmt)
    dialog.set_target(target)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=60_000)


def test_done_when_path(edit_window, annotation_case, tmp_path, qtbot, monkeypatch):
    """Open, merge two pieces, split a wrongly merged pair, rename, undo x2, redo, save, reopen, export."""
    window, ctl = edit_window
    case = annotation_case
    path = tmp_path / "room.iggt"
    shutil.copyfile(case["path"], path)  # this test saves over its file
    scene = open_scene(window, path, qtbot)
    actions = window.actions_
    assert not actions["undo"].isEnabled() and not window.document.modified
    assert window.menus["edit"].actions()[:2] == [actions["undo"], actions["redo"]]

    # merge the two pieces of one object (Edit > Merge with…, partner picked in the dialog)
    monkeypatch.setattr(edit_dialogs, "ask_merge_partners", lambda _w, _s, _i: [case["piece_b"]])
    window.selection.select(case["piece_a"])
    actions["merge"].trigger()
    kept = ctl.stack.command(0).edit.details["target"]  # the bigger piece keeps its id and name
    gone = ({case["piece_a"], case["piece_b"]} - {kept}).pop()
    assert gone not in scene.instances
    np.testing.assert_array_equal(scene.labels == kept, case["piece_union"])
    assert window.instances_panel.model.rowCount() == len(scene.instances)
    np.testing.assert_array_equal(window.view._labels, scene.point_labels)  # the 3D view follows
    assert window.document.modified and actions["undo"].isEnabled()

    # split the wrongly merged pair into two (Edit > Split into parts…, k = 2)
    monkeypatch.setattr(edit_dialogs, "ask_split_parts", lambda _w, _n: 2)
    window.selection.select(case["pair"])
    actions["split"].trigger()
    (new_id,) = ctl.stack.command(ctl.stack.index() - 1).edit.details["new_ids"]
    truth_a, truth_b = case["pair_truth"]
    parts = (scene.labels == case["pair"], scene.labels == new_id)
    best = max(
        iou(parts[0], truth_a) + iou(parts[1], truth_b), iou(parts[0], truth_b) + iou(parts[1], truth_a)
    )
    assert best > 1.9, best  # both objects recovered almost exactly
    assert window.selection.instance == case["pair"]
    assert scene.instances[new_id].stats.point_count == int((scene.point_labels == new_id).sum()) > 0

    # rename the new instance in the instance list
    window.selection.select(new_id)
    rename_in_list(window, new_id, "second object")
    assert scene.instances[new_id].name == "second object"
    assert window.history.entries()[-1].startswith("Rename")

    # undo twice (rename, split), redo once (split)
    actions["undo"].trigger()
    actions["undo"].trigger()
    assert new_id not in scene.instances and gone not in scene.instances
    assert window.selection.instance is None  # the selected instance was undone away
    actions["redo"].trigger()
    assert scene.instances[new_id].name != "second object"  # the rename stays undone
    assert actions["redo"].isEnabled() and actions["undo"].text().startswith("&Undo Split")
    assert len(window.history.entries()) == 1 + 3  # the empty state + merge, split, rename (one undone)
    expected = snapshot(scene)

    # save, reopen, find exactly that state
    assert window.scenes.save() and not window.document.modified
    reopened = open_scene(window, path, qtbot)
    assert reopened is not scene
    np.testing.assert_array_equal(snapshot(reopened)[0], expected[0])
    assert snapshot(reopened)[1] == expected[1]
    assert not actions["undo"].isEnabled()  # a new document starts a new history
    assert [e["op"] for e in reopened.edit_log if not e["undo"]][-1] == "split_kmeans"

    # export every format through File > Export
    actions["export"].trigger()
    dialog = ctl.export_dialog
    assert dialog.isVisible()
    out = tmp_path / "exports"
    out.mkdir()
    for fmt, name in EXPORT_TARGETS.items():
        run_export(dialog, fmt, out / name, qtbot)
        assert dialog.last_result is not None and dialog.last_result.path == out / name, dialog.status.text()
        assert (out / name).exists()
    ids = np.asarray(__import__("PIL.Image").Image.open(out / "masks" / "ids" / "view_000.png")).astype(int)
    assert new_id in np.unique(ids)
    coco = json.loads((out / "coco.json").read_text())
    assert {a["instance_id"] for a in coco["annotations"]} >= {case["pair"], new_id}
    dialog.close()


def test_export_asks_before_overwriting(edit_window, annotation_case, tmp_path, qtbot, monkeypatch):
    window, ctl = edit_window
    open_scene(window, annotation_case["path"], qtbot)
    target = tmp_path / "cloud.ply"
    target.write_text("mine")
    dialog = ctl.show_export()
    asked = []
    monkeypatch.setattr(export_dialog, "confirm_overwrite", lambda _p, path: asked.append(path) or False)
    run_export(dialog, "ply", target, qtbot)
    assert asked == [target] and target.read_text() == "mine" and "kept" in dialog.status.text()
    monkeypatch.setattr(export_dialog, "confirm_overwrite", lambda _p, path: True)
    run_export(dialog, "ply", target, qtbot)
    assert target.read_bytes().startswith(b"ply\n")
    # the suggested names follow the format
    dialog._user_edited_path = False
    dialog.set_format("colmap")
    assert dialog.target.text().endswith("room-colmap")
    assert {*FORMATS, "all"} == {dialog.format.itemData(i) for i in range(dialog.format.count())}
    dialog.close()


def test_history_panel_jumps_and_edits_are_refused_on_locked(
    edit_window, annotation_case, qtbot, monkeypatch
):
    window, _ctl = edit_window
    scene = open_scene(window, annotation_case["path"], qtbot)
    original = snapshot(scene)
    iid = annotation_case["piece_a"]
    window.selection.select(iid)
    monkeypatch.setattr(edit_dialogs, "ask_category",
                        lambda _w, vocab, _c: vocab[0] if "chair" in vocab else None)
    window.actions_["category"].trigger()
    monkeypatch.setattr(edit_dialogs, "ask_colour", lambda _w, _c: (10, 20, 30))
    window.actions_["colour"].trigger()
    window.actions_["lock"].trigger()
    assert scene.instances[iid].locked and scene.instances[iid].colour == (10, 20, 30)
    assert window.actions_["lock"].isChecked()
    window.actions_["delete"].trigger()  # refused: locked
    assert iid in scene.instances
    qtbot.waitUntil(lambda: bool(window.error_dialogs))
    assert "locked" in window.error_dialogs[-1].text()
    window.error_dialogs[-1].close()
    view = window.history.view
    view.setCurrentIndex(view.model().index(0, 0))  # click "Opened scene": back to the start
    np.testing.assert_array_equal(snapshot(scene)[0], original[0])
    assert snapshot(scene)[1] == original[1]
    assert not window.document.modified
    view.setCurrentIndex(view.model().index(3, 0))
    assert scene.instances[iid].locked and window.document.modified


def test_delete_and_restore_from_the_menu(edit_window, annotation_case, qtbot, monkeypatch):
    window, _ctl = edit_window
    scene = open_scene(window, annotation_case["path"], qtbot)
    iid = annotation_case["piece_b"]
    pixels = scene.labels == iid
    window.selection.select(iid)
    window.actions_["delete"].trigger()
    assert iid not in scene.instances and window.selection.instance is None
    assert window.actions_["restore"].isEnabled()
    monkeypatch.setattr(edit_dialogs, "ask_restore", lambda _w, deleted: deleted[-1].id)
    window.actions_["restore"].trigger()
    np.testing.assert_array_equal(scene.labels == iid, pixels)
    assert window.selection.instance == iid and not window.actions_["restore"].isEnabled()


def test_lasso_in_the_3d_view_assigns_points(edit_window, annotation_case, qtbot):
    window, ctl = edit_window
    scene = open_scene(window, annotation_case["path"], qtbot)
    view = window.view
    view.plotter.render()
    # the display matrix agrees with VTK's own world -> display transform
    matrix = lasso.view_display_matrix(view)
    renderer = view.plotter.renderer
    for p in scene.points[:: max(scene.n_points // 5, 1)][:5]:
        renderer.SetWorldPoint(*p, 1.0)
        renderer.WorldToDisplay()
        h = matrix @ np.append(p, 1.0)
        np.testing.assert_allclose(h[:2] / h[3], renderer.GetDisplayPoint()[:2], atol=1e-3)
    # draw a box (Shift) over the middle of the view: the points inside go to a new instance, except
    # those of a hidden instance (the one with most pixels in the box)
    widget = view.plotter
    w, h = widget.width(), widget.height()
    ratio = widget.devicePixelRatioF()
    box = np.array([[w / 3, h / 3], [2 * w / 3, h / 3], [2 * w / 3, 2 * h / 3], [w / 3, 2 * h / 3]])
    box = np.c_[box[:, 0] * ratio, (h - box[:, 1]) * ratio]  # VTK display pixels, origin bottom-left
    in_box = np.asarray(scene.labels)[edits.pixels_in_polygon(scene, matrix, box)]
    counts = np.bincount(in_box, minlength=2)
    counts[0] = 0
    hidden = int(counts.argmax())
    assert counts[hidden] > 0 and (counts > 0).sum() >= 2  # the box holds the hidden one and others
    window.edit_instance(hidden, visible=False)
    before = np.array(scene.labels)
    tool = ctl.start_lasso("assign")
    assert tool is not None and tool.active
    a, b = QPoint(w // 3, h // 3), QPoint(2 * w // 3, 2 * h // 3)
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, a)
    QTest.mouseMove(widget, QPoint(w // 2, h // 2))
    QTest.mouseMove(widget, b)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, b)
    assert not tool.active
    edit = ctl.stack.command(ctl.stack.index() - 1).edit
    assert edit.op == "reassign"
    new_id = edit.details["target"]
    changed = scene.labels != before
    assert changed.any() and (scene.labels[changed] == new_id).all()
    np.testing.assert_array_equal(scene.labels == hidden, before == hidden)
    assert window.selection.instance == new_id
    # every changed pixel projects inside the box drawn (in display pixels, origin bottom-left)
    pts = np.asarray(scene.point_map)[changed].astype(float)
    hom = np.c_[pts, np.ones(len(pts))] @ matrix.T
    xy = hom[:, :2] / hom[:, 3:]
    assert (xy[:, 0] >= w / 3 * ratio - 1).all() and (xy[:, 0] <= 2 * w / 3 * ratio + 1).all()
    assert (xy[:, 1] >= h / 3 * ratio - 1).all() and (xy[:, 1] <= 2 * h / 3 * ratio + 1).all()
    # Esc cancels a lasso without editing
    index = ctl.stack.index()
    tool = ctl.start_lasso("assign")
    QTest.keyClick(widget, Qt.Key.Key_Escape)
    assert not tool.active and ctl.stack.index() == index


def test_lasso_on_a_photo_splits_the_selected_instance(edit_window, annotation_case, qtbot):
    window, ctl = edit_window
    scene = open_scene(window, annotation_case["path"], qtbot)
    iid = annotation_case["pair"]
    window.selection.select(iid)
    window.actions_["draw_on_view"].trigger()
    dialog = ctl._view_lasso
    dialog.resize(800, 700)
    qtbot.waitExposed(dialog)
    canvas = dialog.canvas
    view = dialog.current_view()
    rows, cols = np.nonzero(scene.labels[view] == iid)
    r0, c0 = int(np.median(rows)), int(np.median(cols))
    scale, ox, oy = canvas._geometry()

    def at(r: float, c: float) -> QPoint:
        return QPoint(round(ox + (c + 0.5) * scale), round(oy + (r + 0.5) * scale))

    # a box from the instance's median pixel to the bottom-right corner of the image
    h, w = scene.image_size
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, at(r0, c0))
    QTest.mouseMove(canvas, at(h - 1, w - 1))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, at(h - 1, w - 1))
    qtbot.waitUntil(lambda: dialog.job is None, timeout=30_000)  # prepared in the background
    assert dialog.pending is not None and ctl.stack.index() == 0  # previewed, not applied yet
    QTest.keyClick(dialog, Qt.Key.Key_Return)
    edit = ctl.stack.command(ctl.stack.index() - 1).edit
    assert edit.op == "split_mask"
    (new_id,) = edit.details["new_ids"]
    got = scene.labels[view] == new_id
    rr, cc = np.mgrid[0:h, 0:w]
    expected = (
        (edit.labels.replay(scene.labels, forward=False)[view] == iid) & (rr >= r0 - 1) & (cc >= c0 - 1)
    )
    assert got.sum() > 0 and not (got & ~expected).any()
    # the other views follow, and only the selected instance's pixels move there too
    before = edit.labels.replay(scene.labels, forward=False)
    others = np.arange(scene.n_views) != view
    moved = scene.labels[others] == new_id
    assert moved.any() and (before[others][moved] == iid).all()
    dialog.close()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_autosave_recovery_after_a_crash(edit_window, annotation_case, make_window, qtbot, monkeypatch):
    window, ctl = edit_window
    scene = open_scene(window, annotation_case["path"], qtbot)
    assert ctl.autosave_now() is None  # nothing to save yet
    rename_in_list(window, annotation_case["piece_a"], "recovered name")
    path = ctl.autosave_now()
    assert path is not None and path.parent == autosave.autosave_dir()
    assert ctl.autosave_now() is None  # unchanged since
    assert load_scene(path).instances[annotation_case["piece_a"]].name == "recovered name"
    # the process "dies": its note keeps a pid that no longer runs
    note = Path(str(path) + ".json")
    data = json.loads(note.read_text())
    data["pid"] = _dead_pid()
    note.write_text(json.dumps(data))
    ctl.autosaver.current = None  # the crashed session never cleaned up
    window.document.set_modified(False)
    window.close()

    second = make_window()
    ctl2 = second.editing
    asked = []
    monkeypatch.setattr(edit_dialogs, "ask_recover", lambda _w, rec: asked.append(rec) or "recover")
    assert ctl2.offer_recovery()
    assert asked and asked[0].source == annotation_case["path"]
    recovered = second.document.scene
    assert recovered.instances[annotation_case["piece_a"]].name == "recovered name"
    assert second.document.modified and second.document.path == annotation_case["path"]
    np.testing.assert_array_equal(recovered.labels, scene.labels)
    assert autosave.find_recoverable() == []
    # a clean close removes this session's autosave too
    second.document.set_modified(False)
    second.close()
    qtbot.waitUntil(lambda: not any(autosave.autosave_dir().glob("*.iggt")), timeout=3000)


def test_autosave_timer_writes_while_modified(edit_window, annotation_case, tmp_path, qtbot):
    window, ctl = edit_window
    path = tmp_path / "room.iggt"
    shutil.copyfile(annotation_case["path"], path)
    open_scene(window, path, qtbot)
    ctl.autosave_timer.setInterval(50)
    rename_in_list(window, annotation_case["piece_a"], "timer")
    qtbot.waitUntil(
        lambda: ctl.autosaver.current is not None and ctl.autosaver.current.exists(), timeout=5000
    )
    assert window.scenes.save()
    assert ctl.autosaver.current is None  # saving discards the autosave


def test_every_shortcut_is_used_once(edit_window):
    from collections import Counter

    from PySide6.QtGui import QAction

    window, _ctl = edit_window
    keys = [k.toString() for a in window.findChildren(QAction) for k in a.shortcuts() if not k.isEmpty()]
    assert {"Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+M", "Ctrl+E", "Del"} <= set(keys)
    assert [k for k, n in Counter(keys).items() if n > 1] == []


def test_merge_rows_selected_together_in_the_list(edit_window, annotation_case, qtbot, monkeypatch):
    from PySide6.QtCore import QItemSelectionModel
    from PySide6.QtWidgets import QAbstractItemView

    window, ctl = edit_window
    scene = open_scene(window, annotation_case["path"], qtbot)
    a, b = annotation_case["piece_a"], annotation_case["piece_b"]
    table = window.instances_panel.table
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    proxy = table.model()
    window.selection.select(a)
    rows = [r for r in range(proxy.rowCount()) if proxy.index(r, 0).data(ID_ROLE) == b]
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    table.selectionModel().select(proxy.index(rows[0], 0), flags)
    assert sorted(ctl.list_selection()) == sorted([a, b])
    monkeypatch.setattr(edit_dialogs, "ask_merge_partners", lambda *_a: pytest.fail("no dialog expected"))
    window.actions_["merge"].trigger()
    assert len({a, b} & set(scene.instances)) == 1
    qtbot.waitUntil(lambda: "Ctrl+Z" in window.statusBar().currentMessage(), timeout=2000)


def test_relabelling_outside_the_stack_starts_a_new_history(edit_window, annotation_case, qtbot):
    window, ctl = edit_window
    scene = open_scene(window, annotation_case["path"], qtbot)
    window.selection.select(annotation_case["piece_a"])
    window.actions_["delete"].trigger()
    assert window.actions_["undo"].isEnabled()
    window.edit_instance(annotation_case["pair"], visible=False)  # hiding is an undoable edit too
    assert ctl.stack.count() == 2 and window.document.modified
    scene.set_labels(np.zeros_like(scene.labels), [])  # e.g. re-clustering replaced every label
    assert ctl.stack.count() == 0 and not window.actions_["undo"].isEnabled()
    assert window.document.modified  # still not saved


def test_sample_room_merge_split_rename_undo_save_reopen_export(
    edit_window, fast_run, tmp_path, qtbot, monkeypatch
):
    """The issue's path on the bundled sample room, reconstructed by the real pipeline (tiny network)."""
    from PySide6.QtWidgets import QFileDialog

    window, ctl = edit_window
    assert window.open_sample()
    qtbot.waitUntil(lambda: window.job is None, timeout=240_000)
    assert window.jobs.last_outcome == "succeeded", [d.text() for d in window.error_dialogs]
    scene = window.document.scene
    by_size = _sizes(scene)
    assert len(by_size) >= 2, f"the sample gave {len(by_size)} instances"
    actions = window.actions_

    # merge two pieces: an instance and its nearest neighbour
    first = by_size[min(1, len(by_size) - 1)]
    partner = edits.merge_candidates(scene, first)[0]
    union = np.isin(scene.labels, [first, partner])
    monkeypatch.setattr(edit_dialogs, "ask_merge_partners", lambda _w, _s, _i: [partner])
    window.selection.select(first)
    actions["merge"].trigger()
    kept = ctl.stack.command(0).edit.details["target"]
    np.testing.assert_array_equal(scene.labels == kept, union)

    # split the biggest instance in two (with the untrained network's few instances, the merged one)
    big = _sizes(scene)[0]
    pixels = scene.labels == big
    monkeypatch.setattr(edit_dialogs, "ask_split_parts", lambda _w, _n: 2)
    window.selection.select(big)
    actions["split"].trigger()
    (new_id,) = ctl.stack.command(1).edit.details["new_ids"]
    np.testing.assert_array_equal((scene.labels == big) | (scene.labels == new_id), pixels)
    assert (scene.labels == new_id).any() and (scene.labels == big).any()

    # rename, undo twice, redo once
    rename_in_list(window, new_id, "right half")
    actions["undo"].trigger()
    actions["undo"].trigger()
    actions["redo"].trigger()
    assert scene.instances[new_id].name != "right half" and ctl.stack.index() == 2
    expected = snapshot(scene)

    # save (a new reconstruction: Save asks where), reopen, find exactly that state
    target = tmp_path / "sample.iggt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(target), ""))
    actions["save"].trigger()
    assert target.exists() and not window.document.modified
    reopened = open_scene(window, target, qtbot)
    np.testing.assert_array_equal(snapshot(reopened)[0], expected[0])
    assert snapshot(reopened)[1] == expected[1]

    # export every format
    dialog = ctl.show_export()
    for fmt, name in EXPORT_TARGETS.items():
        run_export(dialog, fmt, tmp_path / name, qtbot)
        assert dialog.last_result is not None, dialog.status.text()
    assert (tmp_path / "colmap" / "sparse" / "0" / "points3D.txt").exists()
    dialog.close()


def test_export_can_be_cancelled_and_writes_nothing(
    edit_window, annotation_case, tmp_path, qtbot, monkeypatch
):
    import time

    import app.export.colmap as colmap

    window, ctl = edit_window
    open_scene(window, annotation_case["path"], qtbot)

    def slow_points(scene, options):  # a long export: reports progress until cancelled
        for i in range(400):
            options.report("writing points3D.txt", i / 400)
            time.sleep(0.01)
        return ""

    monkeypatch.setattr(colmap, "points3d_text", slow_points)
    dialog = ctl.show_export()
    dialog.set_format("colmap")
    out = tmp_path / "exports"
    out.mkdir()
    dialog.set_target(out / "colmap")
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10_000)
    assert dialog.cancel_button.text() == "Cancel"
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.is_busy(), timeout=10_000)
    assert "cancelled" in dialog.status.text() and dialog.last_result is None
    assert list(out.iterdir()) == []  # no output, no temporary folder left behind
    dialog.close()


def test_recluster_is_undone_with_ctrl_z_labels_table_and_selection(
    edit_window, annotation_case, qtbot, monkeypatch
):
    window, ctl = edit_window
    asked = []  # a renamed instance is kept by re-clustering: nothing to ask
    monkeypatch.setattr(edit_dialogs, "ask_replace_edits", lambda _w, texts: asked.append(texts) or True)
    scene = open_scene(window, annotation_case["path"], qtbot)
    window.display_panel.set_colour_mode("instance")
    pair = annotation_case["pair"]
    window.edit_instance(pair, name="my pair")  # a user edit the re-clustering keeps and undo restores
    window.selection.select(pair)
    labels, table = np.array(scene.labels), dict(scene.instances)
    # this scene names no clustering, so the panel shows the settings' preset: the official features-only
    # one here (the bundled weights' "spatial" default adds the 3D position: another space to prepare)
    window.clustering_panel.show_run_settings(RunSettings(cluster_preset="large"))
    window.clustering_panel.show()  # showing the panel prepares what no setting changes, in the background
    window.clustering_panel.raise_()
    cache = window.reclustering.cache

    def warmed() -> bool:  # the warm-up (a pool worker) ended (the cache may hold 6 or 7 entries meanwhile)
        return len(cache) >= 6 and QThreadPool.globalInstance().activeThreadCount() == 0

    qtbot.waitUntil(warmed, timeout=60_000)
    misses = cache.misses
    qtbot.mouseClick(window.clustering_panel.preset_buttons["small"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.job is None and scene.edit_log[-1]["op"] == "recluster", timeout=60_000)
    assert cache.misses == misses  # nothing but the cluster selection was computed
    relabelled = np.array(scene.labels)
    assert not np.array_equal(relabelled, labels) and scene.settings.cluster.epsilon == 0.005
    assert ctl.stack.count() == 2 and window.history.entries()[-1].startswith("Re-cluster into")
    assert asked == []
    # a second re-clustering (reusing the first one's work), undone: the panel shows the settings again
    buttons = window.clustering_panel.preset_buttons
    biggest = _sizes(scene)[0]
    window.selection.select(biggest)
    qtbot.mouseClick(buttons["large"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.job is None and ctl.stack.count() == 3, timeout=60_000)
    assert scene.settings.cluster.epsilon == 0.06 and cache.misses == misses
    window.actions_["undo"].trigger()
    np.testing.assert_array_equal(scene.labels, relabelled)
    assert buttons["small"].isChecked() and not buttons["large"].isChecked()
    rows = window.instances_panel.table.selectionModel().selectedRows()
    assert window.selection.instance == biggest and [r.data(ID_ROLE) for r in rows] == [biggest]
    window.selection.select(None)

    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(scene.labels, labels)
    assert scene.instances == table and scene.instances[pair].name == "my pair"
    assert window.selection.instance == pair
    shown = window.view.displayed_colours()
    inside = scene.point_labels == pair
    assert (shown[inside] == table[pair].colour).all()  # the cloud shows the old instance, selected
    assert not (shown[~inside] == table[pair].colour).all(axis=1).any()
    assert window.instances_panel.model.rowCount() == len(table)

    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(window, Qt.Key.Key_Z, redo)
    np.testing.assert_array_equal(scene.labels, relabelled)
    window.actions_["undo"].trigger()
    window.actions_["undo"].trigger()  # and the rename before it
    assert scene.instances[pair].name != "my pair" and not window.document.modified


def test_show_hide_and_isolate_are_undone_with_ctrl_z(edit_window, annotation_case, qtbot):
    window, _ctl = edit_window
    scene = open_scene(window, annotation_case["path"], qtbot)
    view = window.view
    iid = annotation_case["pair"]
    n_all, n_iid = view.n_visible, int((scene.point_labels == iid).sum())
    window.selection.select(iid)
    qtbot.keyClick(window, Qt.Key.Key_H)  # hide the selected instance
    assert not scene.instances[iid].visible and view.n_visible == n_all - n_iid
    assert window.document.modified
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert scene.instances[iid].visible and view.n_visible == n_all
    assert not window.document.modified  # back at the saved state

    qtbot.keyClick(window, Qt.Key.Key_I)  # isolate
    assert window.instances_panel.isolate_button.isChecked() and view.n_visible == n_iid
    assert window.history.entries()[-1] == f"Isolate {scene.instances[iid].name}"
    assert not window.document.modified  # isolating changes nothing that is saved
    window.selection.select(None)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not window.instances_panel.isolate_button.isChecked() and view.n_visible == n_all
    assert not window.actions_["isolate"].isChecked()
    window.actions_["redo"].trigger()  # isolates the same instance again, selecting it
    assert window.selection.instance == iid and view.n_visible == n_iid
