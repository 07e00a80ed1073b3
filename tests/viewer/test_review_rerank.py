"""The Review panel ranks the queue again after every one-key action and after an undo, in the background:
the next unreviewed item is shown at once, then parts of a split come in with their reasons and a
merged-away instance leaves; keys pressed before the ranking is in act on the item shown. Real window,
real keys, on a synthetic room with two touching objects in one instance and a cut object."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel
from review_rooms import touching_merged_room

from app.review import ACCEPTED, FIXED, UNREVIEWED, review_queue, review_state
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

    # S: the suggested split; the next unreviewed item of the queue is current at once; the new part
    # comes into the list with its own reason when the ranking is in, both parts fixed, and the item on
    # screen stays current
    before = set(_rows(panel))
    following = next(it.instance_id for it in panel.items[1:] if panel.session.is_open(it))
    QTest.keyClick(panel.list, Qt.Key.Key_S)
    (new,) = set(scene.instances) - before
    assert panel.current_item().instance_id == following and window.selection.instance == following
    qtbot.waitUntil(lambda: not panel.ranking, timeout=30_000)
    rows = _rows(panel)
    assert set(rows) == set(scene.instances) and new in rows
    assert rows[merged].startswith("✎") and rows[new].startswith("✎")
    assert "two objects" not in rows[merged] and "two objects" not in rows[new]
    _ranked_as_fresh(panel, scene)
    current = panel.current_item()
    assert current.instance_id == following and panel.list.currentRow() == panel.current
    assert window.selection.instance == following

    # N skips to the next open item; go to the cut object and press M: the fragment leaves the list
    while panel.current_item().instance_id not in (cut, fragment):
        QTest.keyClick(panel.list, Qt.Key.Key_N)
    item = panel.current_item()
    assert item.action == "merge" and {item.instance_id, item.partner} == {cut, fragment}
    skipped = set(panel.session.skipped)
    QTest.keyClick(panel.list, Qt.Key.Key_M)
    qtbot.waitUntil(lambda: not panel.ranking, timeout=30_000)
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
    qtbot.waitUntil(lambda: {cut, fragment} <= set(_rows(panel)) and not panel.ranking, timeout=30_000)
    _ranked_as_fresh(panel, scene)
    assert panel.current_item().instance_id == now.instance_id


@pytest.fixture
def held_ranking(monkeypatch):
    """The real ranking, started in its worker thread only when the test sets the event (so that keys are
    pressed while it runs, whatever the machine's speed)."""
    import threading

    from app.review_session import ReviewSession

    release = threading.Event()
    real_rank = ReviewSession.rank

    def held_rank(self, source=None):
        assert release.wait(60), "the ranking was never released"
        return real_rank(self, source)

    monkeypatch.setattr(ReviewSession, "rank", held_rank)
    yield release
    release.set()


def test_keys_pressed_while_ranking_act_on_the_item_shown(room, qtbot, held_ranking) -> None:
    """A key answers at once, without waiting for the ranking (it runs in a worker thread): the next
    item is shown, and keys pressed before the ranking is in act on the item on screen; each undoes in one
    step; the ranking that arrives is that of the scene as it is then, and the item on screen stays."""
    window, panel, _ = room
    scene, stack = window.document.scene, window.editing.stack
    shown = []
    for key in (Qt.Key.Key_A, Qt.Key.Key_A, Qt.Key.Key_M):
        while key == Qt.Key.Key_M and panel.current_item().action != "merge":
            QTest.keyClick(panel.list, Qt.Key.Key_N)
        item = panel.current_item()
        shown.append(item)
        QTest.keyClick(panel.list, key)  # returns while the ranking after the first key is still held
        assert panel.ranking and panel.current_item().instance_id != item.instance_id
        assert window.selection.instance == panel.current_item().instance_id
    first, second, third = shown
    assert review_state(scene.instances[first.instance_id]) == ACCEPTED
    assert review_state(scene.instances[second.instance_id]) == ACCEPTED
    assert stack.undoText().startswith("Merge") and stack.index() == 3
    merged = {third.instance_id, third.partner} & set(scene.instances)
    assert len(merged) == 1 and review_state(scene.instances[merged.pop()]) == FIXED
    on_screen = panel.current_item().instance_id
    # Ctrl+Z before the ranking is in: the merge comes apart, the item on screen stays current
    window.actions_["undo"].trigger()
    assert {third.instance_id, third.partner} <= set(scene.instances)
    held_ranking.set()
    qtbot.waitUntil(lambda: not panel.ranking, timeout=60_000)
    _ranked_as_fresh(panel, scene)
    assert panel.current_item().instance_id == on_screen and panel.list.currentRow() == panel.current
    assert review_state(scene.instances[second.instance_id]) == ACCEPTED
    window.actions_["undo"].trigger()
    window.actions_["undo"].trigger()
    assert all(review_state(i) == UNREVIEWED for i in scene.instances.values())
    qtbot.waitUntil(lambda: not panel.ranking, timeout=60_000)
    _ranked_as_fresh(panel, scene)


def test_an_edit_elsewhere_during_the_first_ranking_is_in_the_queue(room, qtbot, held_ranking) -> None:
    """Build queue ranks in the background; an edit made elsewhere meanwhile (a rename in the instance
    list) is in the queue that is shown (the ranking of the scene before it is dropped for a new one)."""
    from app import edits

    window, panel, known = room
    scene = window.document.scene
    panel.build_queue()
    iid = known["merged"]
    window.push_edit(edits.rename(scene, iid, "two chairs"))  # an edit elsewhere meanwhile
    held_ranking.set()
    qtbot.waitUntil(lambda: window.job is None and not panel.ranking, timeout=60_000)
    _ranked_as_fresh(panel, scene)
    assert "two chairs" in _rows(panel)[iid]
    assert panel.current_item() is next(it for it in panel.items if panel.session.is_open(it))


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
    qtbot.waitUntil(lambda: len(panel.items) == n and not panel.ranking, timeout=30_000)
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


def test_a_ranking_that_ends_after_the_window_closed_changes_nothing(room, qtbot, held_ranking) -> None:
    """The window is closed while the ranking after a key runs: it ends later without an error, and the
    scene and the undo history stay as they were at the close."""
    window, panel, _ = room
    scene, stack = window.document.scene, window.editing.stack
    QTest.keyClick(panel.list, Qt.Key.Key_A)
    assert panel.ranking
    window.document.set_modified(False)  # no "save changes?" question
    assert window.close()
    def states() -> dict[int, str]:
        return {i: review_state(inst) for i, inst in scene.instances.items()}

    labels, before, steps = scene.labels, states(), stack.count()
    held_ranking.set()
    qtbot.waitUntil(lambda: not panel.ranking, timeout=60_000)
    assert scene.labels is labels and stack.count() == steps and states() == before


def test_a_rename_whose_instance_went_away_while_asking_renames_nothing(room, qtbot, monkeypatch) -> None:
    """F2 asks for the name (a dialog: events go on); the instance is undone away meanwhile and the queue
    moves on to another item: the name typed is not given to that other one."""
    from viewer import review_panel

    window, panel, _ = room
    scene = window.document.scene
    before = set(scene.instances)
    QTest.keyClick(panel.list, Qt.Key.Key_S)  # the suggested split: a new part
    qtbot.waitUntil(lambda: not panel.ranking, timeout=30_000)
    (new,) = set(scene.instances) - before
    panel._go(next(k for k, it in enumerate(panel.items) if it.instance_id == new))
    names = {}

    def answer(_parent, _current):  # while the user types, the split is undone and the queue ranked again
        window.actions_["undo"].trigger()
        qtbot.waitUntil(lambda: not panel.ranking, timeout=30_000)
        names.update({i: inst.name for i, inst in scene.instances.items()})
        return "renamed"

    monkeypatch.setattr(review_panel, "ask_name", answer)
    QTest.keyClick(panel.list, Qt.Key.Key_F2)
    assert new not in scene.instances and panel.current_item().instance_id != new
    assert {i: inst.name for i, inst in scene.instances.items()} == names
    assert window.editing.stack.index() == 0


def test_another_scene_frees_the_window_from_a_build_queue_still_ranking(room, qtbot, held_ranking) -> None:
    """Build queue runs in the window's job slot; a scene replaced meanwhile drops its ranking, and the
    window is free at once for what comes next (not after the old ranking's end: seconds on a big room)."""
    from scene_factory import synthetic_scene

    window, panel, _ = room
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert window.job is not None and panel.ranking
    window.document.set_scene(synthetic_scene(seed=1, views=3))
    qtbot.waitUntil(lambda: window.job is None, timeout=5_000)  # while the old ranking is still held
    assert not panel.ranking and panel.items == []
    held_ranking.set()


def test_a_finished_pass_says_so(room, qtbot) -> None:
    """Every item accepted: the panel says the review is done (it said "Instance gone.")."""
    window, panel, _ = room
    scene = window.document.scene
    for _ in range(len(scene.instances) + 1):
        if panel.current_item() is None:
            break
        QTest.keyClick(panel.list, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: not panel.ranking and window.job is None, timeout=60_000)
    assert panel.current_item() is None
    text = panel.reason.full_text()
    assert text.startswith("Review done:") and "Build queue" in text, text
    assert not [w for w in panel.strip.findChildren(QLabel) if w.isVisible()]  # no masks of the last item
