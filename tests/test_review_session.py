"""ReviewSession (Qt-free): after every action the queue is ranked again and the next unreviewed item the
user has not skipped becomes current; an undo followed by ``rerank(keep=...)`` keeps the item."""

from __future__ import annotations

import pytest
from review_rooms import touching_merged_room

from app.edits import EditError, EditHistory
from app.review import ACCEPTED, FIXED, UNREVIEWED, review_queue, review_state, snapshot
from app.review_session import ReviewSession


def _ids(session: ReviewSession) -> list[int]:
    return [it.instance_id for it in session.items]


def test_session_reranks_after_each_action() -> None:
    scene, known = touching_merged_room(cut=True)
    history = EditHistory(scene)
    session = ReviewSession(scene, history.push)
    session.rerank()
    assert session.current_item().instance_id == known["merged"]

    before = set(scene.instances)
    session.act("split")  # the two touching objects: a new part enters the queue
    (new,) = set(scene.instances) - before
    assert new in _ids(session) and known["merged"] in _ids(session)
    assert _ids(session) == [it.instance_id for it in review_queue(scene, include_reviewed=True)]
    assert review_state(scene.instances[new]) == FIXED
    current = session.current_item()
    assert review_state(scene.instances[current.instance_id]) == UNREVIEWED
    assert current is next(it for it in session.items if session.is_open(it))

    # skip (N) until the cut object; merging it takes its fragment out of the queue
    while session.current_item().instance_id not in (known["cut"], known["fragment"]):
        assert session.next()
    skipped = set(session.skipped)
    edit = session.act("merge")
    gone = (set(edit.details["ids"]) - {edit.details["target"]}).pop()
    assert gone not in _ids(session) and edit.details["target"] in _ids(session)
    # the next item is an open one not skipped in this pass (or, when all open ones were, a new pass)
    now = session.current_item()
    assert session.is_open(now) and (now.instance_id not in skipped or not session.skipped)

    # undo, then rank again keeping the current item: the fragment is back, the same item current
    history.undo()
    session.rerank(keep=now.instance_id)
    assert gone in _ids(session) and session.current_item().instance_id == now.instance_id

    # accept everything left: the walk ends with no current item
    while session.current_item() is not None:
        session.act("accept")
    assert all(review_state(scene.instances[i]) in (ACCEPTED, FIXED) for i in scene.instances)
    with pytest.raises(EditError, match="no review item"):
        session.act("accept")


def test_a_snapshot_ranks_the_scene_as_it_was_and_step_on_shows_the_next_item_at_once() -> None:
    """The panel ranks a snapshot in the background while the user goes on: the snapshot's ranking is
    that of the scene when it was taken (later edits do not reach it), and ``step_on`` moves to the next
    open item of the ranking before, without the instances that are gone."""
    scene, known = touching_merged_room(cut=True)
    history = EditHistory(scene)
    session = ReviewSession(scene, history.push)
    session.rerank()
    before = [(it.instance_id, it.reasons, it.action) for it in session.items]
    taken = snapshot(scene)
    while session.current_item().instance_id not in (known["cut"], known["fragment"]):
        assert session.next()
    edit = session.edit_for("merge")
    session.push(edit)
    gone = (set(edit.details["ids"]) - {edit.details["target"]}).pop()
    assert [(it.instance_id, it.reasons, it.action) for it in session.rank(taken)] == before
    old = _ids(session)
    session.step_on()
    assert _ids(session) == [i for i in old if i != gone]
    assert session.current_item() is next(
        it for it in session.items if session.is_open(it) and it.instance_id not in session.skipped
    )
    shown = session.current_item().instance_id
    session.set_items(session.rank(), keep=shown)  # the ranking arrives: the item on screen stays
    assert _ids(session) == [it.instance_id for it in review_queue(scene, include_reviewed=True)]
    assert session.current_item().instance_id == shown
