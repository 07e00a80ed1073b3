"""Scripted review of the bundled sample room: how many actions bring the instances to the ground truth?

    .venv/bin/python bench/review.py [--scene S.iggt] [--target 0.95] [--max-actions 120]

The room (resources/sample/scene_000012, 10 views) is reconstructed with the bundled weights (or read
from --scene: a scene of that room made by `iggt reconstruct resources/sample/scene_000012/images`).
An annotator who knows what is right (the ground truth decides: split an instance that covers two
objects, merge a piece into the instance holding most of its object, accept the rest) works through it
two ways, and we count actions (key presses and dialog choices) until the instances reach ARI >= target
against the ground-truth segments (furniture instances; floor, walls and ceiling one each):

* queue: the review queue's top item each time; when its suggestion (merge with the suggested neighbour,
  split into 3D parts, accept) is what the annotator would do, one key; otherwise the annotator does it by
  hand (merge: M and a pick in the merge dialog = 2; split: 2; accept: 1);
* list: the plain instance list in its order (largest first); each instance costs a click to select it,
  then the action by hand as above.

Prints the ARI after each action and the totals of both runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import review_actions as ra
from app.clustering import adjusted_rand_index
from app.edits import EditError, EditHistory
from app.paths import SAMPLE_DIR
from app.review import UNREVIEWED, review_queue, review_state
from app.scene import Scene

ROOM = SAMPLE_DIR / "scene_000012"
HAND_COST = {"accept": 1, "merge": 2, "split": 2}
SPLIT_SHARE = 0.25  # an instance whose second ground-truth segment holds this share covers two objects


def ground_truth(scene: Scene) -> np.ndarray:
    """(S, H, W) ground-truth segment of every pixel of ``scene``'s views (chosen evenly from the room's)."""
    from app.images import evenly_spaced
    from training.iggt.targets import structure_labels
    from training.synthetic.storage import read_scene

    gt = read_scene(ROOM)
    segments = structure_labels(gt)
    keep = evenly_spaced(segments.shape[0], scene.n_views) if scene.n_views != segments.shape[0] else None
    return segments if keep is None else segments[keep]


def majority(scene: Scene, segments: np.ndarray, iid: int) -> int:
    seg, counts = np.unique(segments[scene.labels == iid], return_counts=True)
    return int(seg[np.argmax(counts)]) if seg.size else -1


def oracle(scene: Scene, segments: np.ndarray, iid: int) -> tuple[str, int | None]:
    """What an annotator who sees the truth does with instance ``iid``: ("split"|"merge"|"accept", partner).

    Split when a second object holds ``SPLIT_SHARE`` of it; merge into the biggest other instance that is
    mostly the same object; else accept.
    """
    mask = scene.labels == iid
    seg, counts = np.unique(segments[mask], return_counts=True)
    order = np.argsort(-counts)
    if seg.size >= 2 and counts[order[1]] >= SPLIT_SHARE * mask.sum():
        return "split", None
    major = seg[order[0]]
    best, best_n = iid, int(counts[order[0]])
    for other in scene.instances:
        m = scene.labels == other
        s, c = np.unique(segments[m], return_counts=True)
        if other != iid and s[np.argmax(c)] == major and c.max() > best_n:
            best, best_n = other, int(c.max())
    return ("merge", best) if best != iid else ("accept", None)


def best_split(scene: Scene, iid: int, segments: np.ndarray):
    """The split (into 3D parts, or in two by features) that agrees better with the truth."""
    candidates = []
    for make in (ra.split_3d, ra.split_features):
        try:
            edit = make(scene, iid)
        except EditError:
            continue
        edit.apply(scene)
        candidates.append((adjusted_rand_index(scene.labels, segments), edit))
        edit.revert(scene)
    if not candidates:
        raise EditError(f"instance {iid} cannot be split")
    return max(candidates, key=lambda c: c[0])[1]


def _do(
    scene: Scene, history: EditHistory, iid: int, action: str, partner: int | None, segments: np.ndarray
) -> bool:
    try:
        if action == "merge":
            history.push(ra.merge_with(scene, iid, int(partner)))
        elif action == "split":  # the annotator previews both splits and takes the better one
            history.push(best_split(scene, iid, segments))
        else:
            history.push(ra.accept(scene, iid))
    except EditError:
        if review_state(scene.instances[iid]) == UNREVIEWED:  # the edit was refused: look at it no more
            history.push(ra.accept(scene, iid))
        return False
    return True


def run_queue(scene: Scene, segments: np.ndarray, target: float, max_actions: int) -> dict:
    history = EditHistory(scene)
    actions, steps, hits = 0, 0, 0
    ari = adjusted_rand_index(scene.labels, segments)
    trace = [(0, ari)]
    cache: dict = {}
    while ari < target and actions < max_actions:
        queue = review_queue(scene, cache=cache)
        if not queue:
            break
        item = queue[0]
        want, partner = oracle(scene, segments, item.instance_id)
        # any partner that is mostly the same object is a right merge
        same = item.partner is not None and majority(scene, segments, item.partner) == majority(
            scene, segments, item.instance_id
        )
        agrees = item.action == want and (want != "merge" or same)
        if agrees and want == "merge":
            partner = item.partner
        cost = 1 if agrees else HAND_COST[want]
        hits += agrees
        _do(scene, history, item.instance_id, want, partner, segments)
        actions += cost
        steps += 1
        ari = adjusted_rand_index(scene.labels, segments)
        trace.append((actions, ari))
        print(f"  queue {steps:3d}: {want:6s} {item.instance_id:4d} ({'suggested' if agrees else 'by hand'}, "
              f"{item.reason_text[:60]}) -> ARI {ari:.3f}, {actions} actions")  # fmt: skip
    return {"actions": actions, "items": steps, "suggestion_used": hits, "ari": ari, "trace": trace}


def run_list(scene: Scene, segments: np.ndarray, target: float, max_actions: int) -> dict:
    history = EditHistory(scene)
    actions, steps = 0, 0
    ari = adjusted_rand_index(scene.labels, segments)
    seen: set[int] = set()
    trace = [(0, ari)]
    while ari < target and actions < max_actions:
        todo = sorted(
            (i for i in scene.instances if i not in seen and review_state(scene.instances[i]) == UNREVIEWED),
            key=lambda i: -scene.instances[i].stats.point_count,
        )
        if not todo:
            break
        iid = todo[0]
        seen.add(iid)
        want, partner = oracle(scene, segments, iid)
        _do(scene, history, iid, want, partner, segments)
        actions += 1 + HAND_COST[want]
        steps += 1
        ari = adjusted_rand_index(scene.labels, segments)
        trace.append((actions, ari))
        print(f"  list  {steps:3d}: {want:6s} {iid:4d} -> ARI {ari:.3f}, {actions} actions")
    return {"actions": actions, "items": steps, "ari": ari, "trace": trace}


def actions_to(trace: list[tuple[int, float]], level: float) -> int | None:
    """Actions after which the ARI first reached ``level`` (None: never)."""
    return next((a for a, ari in trace if ari >= level - 1e-9), None)


def room_path(path: Path | None) -> Path:
    """``path``, or a fresh reconstruction of the room with the bundled weights."""
    if path is not None:
        return path
    from app.cli import main

    out = Path(tempfile.mkdtemp(prefix="iggt-review-")) / "sample.iggt"
    print(f"reconstructing the sample room with the bundled weights into {out} ...", flush=True)
    if main(["reconstruct", str(ROOM / "images"), "-o", str(out), "--device", "cpu", "-q"]) != 0:
        raise SystemExit("reconstruction failed")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scene", type=Path, help="a reconstruction of the sample room (default: make one)")
    parser.add_argument("--target", type=float, default=0.95, help="ARI to reach (default 0.95)")
    parser.add_argument("--max-actions", type=int, default=150)
    args = parser.parse_args()
    from app.scene_io import load_scene

    path = room_path(args.scene)
    scene = load_scene(path)
    segments = ground_truth(scene)
    start = adjusted_rand_index(scene.labels, segments)
    print(
        f"{len(scene.instances)} instances, {len(np.unique(segments))} ground-truth segments, ARI {start:.3f}"
    )
    t = time.perf_counter()
    queue = run_queue(scene, segments, args.target, args.max_actions)
    t_queue = time.perf_counter() - t
    plain = run_list(load_scene(path), segments, args.target, args.max_actions)
    for name, res in (("review queue", queue), ("instance list", plain)):
        reached = "reached" if res["ari"] >= args.target else "NOT reached"
        print(f"{name:14s}: {res['actions']:4d} actions over {res['items']} instances, ARI {res['ari']:.3f} "
              f"({reached} {args.target})" + (f", queue suggestion right {res['suggestion_used']} times"
                                               if "suggestion_used" in res else ""))  # fmt: skip
    best = max(ari for _, ari in queue["trace"])
    common = min(best, max(ari for _, ari in plain["trace"]), args.target)
    if common > start:
        q_n, l_n = actions_to(queue["trace"], common), actions_to(plain["trace"], common)
        print(f"actions to reach ARI {common:.3f} (the best both runs reach): review queue {q_n}, list {l_n}")
    print(f"queue run took {t_queue:.1f} s (queue recomputed after every action)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
