"""The Review panel ranks the queue again after every one-key action and after an undo: parts of a split
come in with their reasons, a merged-away instance leaves, the next unreviewed item becomes current.
Real window, real keys, on a synthetic room with two touching objects in one instance and a cut object."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from review_rooms import touching_merged_room

from app.review import FIXED, UNREVIEWED, review_queue, review_state
from app.scene_io import save_scene
from viewer.review_panel import install_review


@pytest.fixture
def room(make_window, tmp_path, monkeypatch, qtbot):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    scene, known = touching_merged_room(cut=True)
    path = tmp_path / "room.iggt"
    save_scene(scene, path)
    window = make_window()
    panel = install_review(window)
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=60_000)
    panel.show()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.job is None and bool(panel.items), timeout=60_000)
    panel.list.setFocus()
    qtbot.waitUntil(panel.list.hasFocus)
    yield window, panel, known
    window.document.set_modified(False)


def _rows(panel) -> dict[int, str]:
    """Instance id -> text of its row in the list widget (what the user sees)."""
    rows = {}
    for r in range(panel.list.count()):
        item = panel.list.item(r)
        rows[int(item.data(Qt.ItemDataRole.UserRole))] = item.text()
    return rows


def _ranked_as_fresh(panel, scene) -> None:
    """The list is the queue ranked for the scene as it is now, row by row."""
    fresh = review_queue(scene, include_reviewed=True)
    assert [it.instance_id for it in panel.items] == [it.instance_id for it in fresh]
    for row, it in enumerate(fresh):
        assert it.reason_text in panel.list.item(row).text()


def test_queue_is_ranked_again_after_each_action_and_undo(room, qtbot) -> None:
    window, panel, known = room
    scene = window.document.scene
    merged, gone, cut, fragment = known["merged"], known["gone"], known["cut"], known["fragment"]
    assert panel.current_item().instance_id == merged
    assert "looks like two objects" in _rows(panel)[merged]
    assert _rows(panel)[merged].endswith("→ split into two objects")
    assert gone not in scene.instances

    # S: the suggested split; its new part comes into the list with its own reason, both parts fixed,
    # and the current item is the first unreviewed one of the new ranking
    before = set(_rows(panel))
    QTest.keyClick(panel.list, Qt.Key.Key_S)
    (new,) = set(scene.instances) - before
    rows = _rows(panel)
    assert set(rows) == set(scene.instances) and new in rows
    assert rows[merged].startswith("✎") and rows[new].startswith("✎")
    assert "two objects" not in rows[merged] and "two objects" not in rows[new]
    _ranked_as_fresh(panel, scene)
    current = panel.current_item()
    first_open = next(it for it in panel.items if review_state(scene.instances[it.instance_id]) == UNREVIEWED)
    assert current is first_open and panel.list.currentRow() == panel.current
    assert window.selection.instance == current.instance_id

    # N skips to the next open item; go to the cut object and press M: the fragment leaves the list
    while panel.current_item().instance_id not in (cut, fragment):
        QTest.keyClick(panel.list, Qt.Key.Key_N)
    item = panel.current_item()
    assert item.action == "merge" and {item.instance_id, item.partner} == {cut, fragment}
    skipped = set(panel.session.skipped)
    QTest.keyClick(panel.list, Qt.Key.Key_M)
    rows = _rows(panel)
    kept = cut if cut in scene.instances else fragment
    assert {cut, fragment} - set(rows) == {cut, fragment} - {kept} and len({cut, fragment} & set(rows)) == 1
    assert review_state(scene.instances[kept]) == FIXED and rows[kept].startswith("✎")
    _ranked_as_fresh(panel, scene)
    now = panel.current_item()
    assert review_state(scene.instances[now.instance_id]) == UNREVIEWED
    assert now.instance_id not in skipped or all(
        it.instance_id in skipped for it in panel.items if panel.session.is_open(it)
    )

    # Ctrl+Z: the fragment is back in the list, ranked again, the same item stays current
    window.actions_["undo"].trigger()
    qtbot.waitUntil(lambda: {cut, fragment} <= set(_rows(panel)))
    _ranked_as_fresh(panel, scene)
    assert panel.current_item().instance_id == now.instance_id


def test_edits_during_a_background_ranking_are_not_lost_or_raced(room, qtbot, monkeypatch) -> None:
    """Build queue ranks in the background: one-key actions wait for it (they would edit the scene under
    it), and an edit made elsewhere meanwhile (a rename in the instance list) is in the ranking that
    arrives (the ranking of the scene before replaced the fresh one)."""
    import threading

    from app import edits
    from app.review_session import ReviewSession

    window, panel, known = room
    scene = window.document.scene
    release = threading.Event()
    real_rank = ReviewSession.rank

    def held_rank(self):  # the real ranking, started only when the test says so
        release.wait(30)
        return real_rank(self)

    monkeypatch.setattr(ReviewSession, "rank", held_rank)
    panel.build_queue()
    stack = window.editing.stack
    before = stack.index()
    QTest.keyClick(panel.list, Qt.Key.Key_A)  # accept: refused while ranking
    assert stack.index() == before and all(review_state(i) == UNREVIEWED for i in scene.instances.values())
    iid = known["merged"]
    window.push_edit(edits.rename(scene, iid, "two chairs"))  # an edit elsewhere meanwhile
    release.set()
    qtbot.waitUntil(lambda: window.job is None and not getattr(panel, "_ranking", False), timeout=60_000)
    qtbot.wait(50)
    monkeypatch.setattr(ReviewSession, "rank", real_rank)
    _ranked_as_fresh(panel, scene)
    assert "two chairs" in _rows(panel)[iid]


def test_an_emptied_queue_comes_back_with_undo(room, qtbot) -> None:
    """Delete every instance from the queue, then undo them all: the queue is there again (it stayed
    "Build the queue to start reviewing.")."""
    window, panel, _ = room
    scene, stack = window.document.scene, window.editing.stack
    n = len(scene.instances)
    for _ in range(n):
        if not panel.items:
            break
        _key_delete(panel)
    assert not scene.instances and not panel.items
    while stack.canUndo():
        stack.undo()
    qtbot.waitUntil(lambda: len(panel.items) == n, timeout=30_000)
    _ranked_as_fresh(panel, scene)


def _key_delete(panel) -> None:
    panel.list.setFocus()
    QTest.keyClick(panel.list, Qt.Key.Key_Delete)


def test_a_rename_asked_for_while_another_scene_arrives_is_dropped(room, qtbot, monkeypatch) -> None:
    """F2 asks for the name in a dialog; a scene opened meanwhile (it was loading) must not get the rename
    meant for the one before (it was marked modified with 'Rename instance 17' it has no such instance)."""
    from scene_factory import synthetic_scene

    from viewer import review_panel

    window, panel, _ = room
    other = synthetic_scene(seed=1, views=3)

    def answer(_parent, _current):  # the user types a name; meanwhile the other scene has arrived
        window.document.set_scene(other)
        return "renamed"

    monkeypatch.setattr(review_panel, "ask_name", answer)
    QTest.keyClick(panel.list, Qt.Key.Key_F2)
    assert window.document.scene is other
    assert not window.document.modified and window.editing.stack.count() == 0
    assert all(inst.name != "renamed" for inst in other.instances.values())


def test_the_current_item_is_seen_from_the_photo_that_shows_most_of_it(room, qtbot) -> None:
    """Review frames the current instance looking from the photo with most of its pixels (the view kept
    the direction the user had, often looking at a small fragment through the rest of the room)."""
    import numpy as np

    window, panel, _ = room
    scene, view = window.document.scene, window.view
    iid = panel.current_item().instance_id
    best = int(np.argmax((scene.labels == iid).reshape(scene.n_views, -1).sum(1)))
    forwards = np.asarray(scene.extrinsic[:, 2, :3], np.float64)
    away = int(np.argmin(forwards @ forwards[best]))
    assert forwards[away] @ forwards[best] < 0.9  # the room's photos look different ways
    view.go_to_view(away)  # the user looks elsewhere; the item is shown again
    panel._go(panel.current)
    direction = np.subtract(view.camera.focal_point, view.camera.position)
    assert direction @ forwards[best] / np.linalg.norm(direction) > 0.999
