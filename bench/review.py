"""Scripted review of the bundled sample room: how many actions bring the instances to the ground truth?

    .venv/bin/python bench/review.py [--scene S.iggt] [--target 0.95] [--max-actions 400]

The room (resources/sample/scene_000012, 10 views) is reconstructed with the bundled weights (or read
from --scene: a scene of that room made by `iggt reconstruct resources/sample/scene_000012/images`).
An annotator works through it with the tools the app offers, every action one undoable edit as the GUI
makes it, and we count actions until the instances reach ARI >= target against the ground-truth segments
(furniture instances; floor and walls one each). The ground truth only DECIDES what to do (as a person
looking at the photos would); labels are only ever changed by the app's edits.

1. Instances, two ways:
   * queue: the review queue's current item (``app.review_session``: ranked again after every action).
     When the suggestion (merge with the suggested neighbour, the suggested split, accept) is what the
     annotator wants, one key; otherwise by hand: merge = M-dialog pick (2), split = Split into parts... and
     the number of parts, or the 3D-parts / two-objects split (2), accept (1);
   * list: the plain instance list in its order (largest first); each instance costs a click to select it,
     then the action by hand as above.
   The annotator splits an instance when a second object holds ``SPLIT_SHARE`` of it (trying the splits
   the app offers: 3D parts, the two feature groups, k-means into 2 or 3 parts, and keeping the best, as
   one would after looking at each) or when the queue suggests a split whose preview matches the photos
   better, merges a piece into the instance holding most of its object, and accepts the rest.
2. Pixels, the same for both: what merges and splits cannot fix (instances straddling two objects at their
   borders) the annotator fixes with the photo lasso (Edit > Draw on a view: a freehand outline on one
   photo, previewed, one action), around a wrongly labelled region of one object in one photo, outlined
   along its border (a vertex every ``LASSO_STEP`` pixels, holes included), in one of these ways:
   * "Assign to the selected instance" (the instance holding that object; a new instance when none does;
     "Make unlabelled" when the unlabelled pixels hold it), carried to every view through the 3D points;
   * the same with "Only this photo" ticked (when the other views' points do not line up with this one);
   * "Split off the selected instance" (only the instance the region is wrongly in changes, in every view)
     and a merge of the piece into the right instance (select, lasso, Ctrl+M and a pick: 4 actions).
   The annotator looks at the "Only this photo" preview of every wrong region and, for the
   ``LASSO_LOOKS`` most promising, at the other ways too, and takes the one whose preview makes the most
   pixels right per action; pixels of other objects it changes (inside the outline, or carried to other
   views) count against it.

Prints the ARI after each action and, for both runs, the number of actions to reach the target.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import edits
from app import review_actions as ra
from app.clustering import adjusted_rand_index
from app.edits import Edit, EditError, EditHistory
from app.paths import SAMPLE_DIR
from app.review import UNREVIEWED, review_state
from app.review_session import ReviewSession
from app.scene import NO_INSTANCE, Scene

ROOM = SAMPLE_DIR / "scene_000012"
HAND_COST = {"accept": 1, "merge": 2, "split": 2}
SPLIT_SHARE = 0.25  # an instance whose second ground-truth segment holds this share covers two objects
LASSO_STEP = 3  # a freehand outline: one vertex every this many pixels of the region's border
MIN_REGION = 12  # regions smaller than this (pixels) are not worth a lasso
LASSO_LOOKS = 6  # the annotator also previews the carried and split-off lassos of this many regions


# ------------------------------------------------------------------------------------- ground truth
def ground_truth(scene: Scene) -> np.ndarray:
    """(S, H, W) ground-truth segment of every pixel of ``scene``'s views (chosen evenly from the room's)."""
    from app.images import evenly_spaced
    from training.iggt.targets import structure_labels
    from training.synthetic.storage import read_scene

    segments = structure_labels(read_scene(ROOM))
    keep = evenly_spaced(segments.shape[0], scene.n_views) if scene.n_views != segments.shape[0] else None
    return segments if keep is None else segments[keep]


def owners(scene: Scene, segments: np.ndarray) -> dict[int, int]:
    """The instance that stands for each ground-truth segment: of the instances made mostly of it, the one
    holding most of it (segments no instance is mostly made of have none). Unlabelled pixels count as one
    more instance (the lasso's "Make unlabelled" gives pixels to it)."""
    labels, seg = scene.labels.reshape(-1), segments.reshape(-1)
    pairs, counts = np.unique(np.stack([labels, seg]), axis=1, return_counts=True)
    major: dict[int, tuple[int, int]] = {}  # instance -> (its main segment, pixels of it)
    for (iid, g), n in zip(pairs.T.tolist(), counts.tolist(), strict=True):
        if n > major.get(iid, (0, -1))[1]:
            major[iid] = (g, n)
    out: dict[int, tuple[int, int]] = {}
    for iid, (g, n) in major.items():
        if n > out.get(g, (0, -1))[1]:
            out[g] = (iid, n)
    return {g: iid for g, (iid, _) in out.items()}


def decide(scene: Scene, segments: np.ndarray, iid: int) -> tuple[str, int | None]:
    """What an annotator who sees the photos does with instance ``iid``: ("split"|"merge"|"accept", partner).

    Split when a second object holds ``SPLIT_SHARE`` of it; merge into the instance standing for its main
    object when that is another one; else accept.
    """
    mask = scene.labels == iid
    seg, counts = np.unique(segments[mask], return_counts=True)
    order = np.argsort(-counts)
    if seg.size >= 2 and counts[order[1]] >= SPLIT_SHARE * mask.sum():
        return "split", None
    owner = owners(scene, segments).get(int(seg[order[0]]))
    return ("merge", owner) if owner is not None and owner != iid else ("accept", None)


# ------------------------------------------------------------------------------------------ actions
def _preview(scene: Scene, segments: np.ndarray, make: Callable[[], Edit]) -> tuple[float, Edit] | None:
    """Apply an edit, measure, take it back (what looking at a split's preview tells the annotator)."""
    try:
        edit = make()
    except EditError:
        return None
    edit.apply(scene)
    ari = adjusted_rand_index(scene.labels, segments)
    edit.revert(scene)
    return ari, edit


def best_split(scene: Scene, iid: int, segments: np.ndarray) -> Edit:
    """Of the splits the app offers (3D parts, the two feature groups, k-means into 2 or 3 parts), the one
    that agrees best with the photos."""
    makers = (lambda: ra.split_3d(scene, iid), lambda: ra.split_groups(scene, iid),
              lambda: ra.split_features(scene, iid, 2), lambda: ra.split_features(scene, iid, 3))  # fmt: skip
    tried = [p for p in (_preview(scene, segments, m) for m in makers) if p is not None]
    if not tried:
        raise EditError(f"instance {iid} cannot be split")
    return max(tried, key=lambda p: p[0])[1]


def _do(scene: Scene, push: Callable[[Edit], object], iid: int, want: str, partner: int | None,
        segments: np.ndarray) -> None:  # fmt: skip
    try:
        if want == "merge":
            push(ra.merge_with(scene, iid, int(partner)))
        elif want == "split":
            push(best_split(scene, iid, segments))
        else:
            push(ra.accept(scene, iid))
    except EditError:
        if iid in scene.instances and review_state(scene.instances[iid]) == UNREVIEWED:
            push(ra.accept(scene, iid))  # the edit was refused: look at it no more


class Run:
    """Counts actions and records the ARI after each."""

    def __init__(self, name: str, scene: Scene, segments: np.ndarray) -> None:
        self.name, self.scene, self.segments = name, scene, segments
        self.history = EditHistory(scene)
        self.actions = 0
        self.ari = adjusted_rand_index(scene.labels, segments)
        self.trace = [(0, self.ari)]
        self.counts = {"suggested": 0, "by hand": 0, "lasso": 0}

    def record(self, cost: int, what: str) -> None:
        self.actions += cost
        self.ari = adjusted_rand_index(self.scene.labels, self.segments)
        self.trace.append((self.actions, self.ari))
        print(f"  {self.name:5s} {self.actions:4d} actions  ARI {self.ari:.4f}  {what}", flush=True)


def instances_by_queue(run: Run, target: float, max_actions: int) -> None:
    scene, segments = run.scene, run.segments
    session = ReviewSession(scene, run.history.push)
    session.rerank()
    while run.ari < target and run.actions < max_actions and session.current_item() is not None:
        item = session.current_item()
        want, partner = decide(scene, segments, item.instance_id)
        if item.action == "split" and want != "split":  # the queue points at a split: look at its preview
            seen = _preview(scene, segments, lambda it=item: ra.split_suggested(scene, it))
            if seen is not None and seen[0] > run.ari:
                want, partner = "split", None
        # a merge suggestion is right when it is into the instance standing for the object (a merge with
        # another piece of it would leave the object in two instances, the merged one marked fixed)
        agrees = item.action == want and (want != "merge" or item.partner == partner)
        if agrees and want == "split":
            agrees = _preview(scene, segments, lambda it=item: ra.split_suggested(scene, it)) is not None
        if agrees:
            session.act(want)  # one key: A, M or S
        else:
            _do(scene, session.push, item.instance_id, want, partner, segments)
            session.rerank()
        how = "suggested" if agrees else "by hand"
        run.counts[how] += 1
        cost = 1 if agrees else HAND_COST[want]
        run.record(cost, f"{want} {item.instance_id} ({how}: {item.reason_text[:50]})")


def instances_by_list(run: Run, target: float, max_actions: int) -> None:
    scene, segments = run.scene, run.segments
    seen: set[int] = set()
    while run.ari < target and run.actions < max_actions:
        todo = sorted(
            (i for i in scene.instances if i not in seen and review_state(scene.instances[i]) == UNREVIEWED),
            key=lambda i: -scene.instances[i].stats.point_count,
        )
        if not todo:
            break
        iid = todo[0]
        seen.add(iid)
        want, partner = decide(scene, segments, iid)
        _do(scene, run.history.push, iid, want, partner, segments)
        run.counts["by hand"] += 1
        run.record(1 + HAND_COST[want], f"{want} {iid} (select, then by hand)")


# -------------------------------------------------------------------------------------------- lasso
def lasso_outline(region: np.ndarray) -> np.ndarray:
    """The outline an annotator draws around a region of a photo: its outer border (half a pixel outside
    the border pixels' centres), a vertex every ``LASSO_STEP`` pixels; (P, 2) as (column, row)."""
    import contourpy  # comes with matplotlib (a pyvista requirement)

    lines = contourpy.contour_generator(z=np.pad(region, 1).astype(np.float64)).lines(0.5)

    def area(p: np.ndarray) -> float:
        return 0.5 * abs(float(np.dot(p[:, 0], np.roll(p[:, 1], 1)) - np.dot(p[:, 1], np.roll(p[:, 0], 1))))

    outer = max(lines, key=area)
    return outer[:-1:LASSO_STEP] - 1.0


def wrong_regions(scene: Scene, segments: np.ndarray, lookup: np.ndarray, view: int) -> list[tuple]:
    """(segment, region mask) of every connected region of one photo whose pixels are not in the instance
    standing for their object (regions of ``MIN_REGION`` pixels or more)."""
    from scipy import ndimage

    seg = segments[view]
    right = scene.labels[view] == lookup[seg]
    out = []
    for g in np.unique(seg[~right]).tolist():
        comp, n = ndimage.label((seg == g) & ~right, structure=np.ones((3, 3), bool))
        sizes = np.bincount(comp.reshape(-1), minlength=n + 1)
        out += [(g, comp == k) for k in np.flatnonzero(sizes >= MIN_REGION) if k > 0]
    return out


def owner_lookup(own: dict[int, int], segments: np.ndarray) -> np.ndarray:
    """Segment -> the instance standing for it (-1: none) as an array indexed by the segments' values."""
    ids = np.unique(segments)
    table = np.array([own.get(int(g), -1) for g in ids], np.int64)
    lookup = np.full(int(ids.max()) + 1, -1, np.int64)
    lookup[ids] = table
    return lookup


def _net(scene: Scene, segments: np.ndarray, lookup: np.ndarray, changed: np.ndarray, tid: int | None,
         g: int) -> int:  # fmt: skip
    """Pixels made right minus pixels made wrong when the ``changed`` pixels end in instance ``tid`` (None:
    a new instance, which will stand for segment ``g``)."""
    seg = segments[changed]
    before = np.count_nonzero(scene.labels[changed] == lookup[seg])
    after = np.count_nonzero(seg == g) if tid is None else np.count_nonzero(lookup[seg] == tid)
    return int(after - before)


def photo_lassos(scene: Scene, segments: np.ndarray, own: dict[int, int], lookup: np.ndarray,
                 view: int) -> list[tuple]:  # fmt: skip
    """(net pixels, view, segment, outline, region) of an "Only this photo" lasso around every wrong region
    of one photo (what its preview shows, counted from the pixels inside the outline)."""
    out = []
    for g, region in wrong_regions(scene, segments, lookup, view):
        outline = lasso_outline(region)
        if outline.shape[0] < 3:
            continue
        inside = edits.pixels_in_view_polygon(scene, view, outline)
        tid = own.get(g)
        changed = inside if tid is None else inside & (scene.labels != tid)
        out.append((_net(scene, segments, lookup, changed, tid, g), view, g, outline, region))
    return out


def other_ways(scene: Scene, segments: np.ndarray, own: dict[int, int], lookup: np.ndarray, view: int,
               g: int, outline: np.ndarray, region: np.ndarray) -> list[tuple]:  # fmt: skip
    """The other ways to fix a region, each (net pixels, actions, prepared lasso, text):
    * "Assign to the selected instance" carried to every view: 1 action;
    * select the instance the region is wrongly in (a click), lasso "Split off the selected instance" (only
      that instance's pixels change, in every view), then merge the piece into the instance standing for
      the object (Ctrl+M and a pick: 2; Del when the unlabelled pixels stand for it: 1; nothing when no
      instance does: the piece is the new one); the second edit is made after the first is applied."""
    from app import photo_lasso

    tid = own.get(g)
    out = []
    try:
        mode = "unlabel" if tid == NO_INSTANCE else "assign"
        prepared = photo_lasso.prepare(scene, view, outline, mode, tid)
        out.append((_net(scene, segments, lookup, prepared.changed, tid, g), 1, prepared,
                    f"{prepared.mode} ({len(prepared.views)} views)"))  # fmt: skip
    except EditError:
        pass
    ids, counts = np.unique(scene.labels[view][region], return_counts=True)
    wrong = int(ids[np.argmax(counts)])
    if wrong != NO_INSTANCE and wrong != tid:
        try:
            prepared = photo_lasso.prepare(scene, view, outline, "split", wrong)
        except EditError:
            return out
        cost = 2 + {None: 0, NO_INSTANCE: 1}.get(tid, 2)
        out.append((_net(scene, segments, lookup, prepared.changed, tid, g), cost, prepared,
                    f"split off {wrong} ({len(prepared.views)} views)"))  # fmt: skip
    return out


def pixels_by_lasso(run: Run, target: float, max_actions: int) -> str:
    """Fix wrong regions with the photo lasso, the most pixels made right per action first, again and again;
    returns why it stopped. Every lasso is the app's (``app.photo_lasso.prepare``): "Only this photo" for
    every wrong region, and carried to every view or split off for the ``LASSO_LOOKS`` most promising."""
    from app import photo_lasso

    scene, segments = run.scene, run.segments
    cache: dict[int, list[tuple]] = {}
    last_own: dict[int, int] | None = None
    while run.ari < target and run.actions < max_actions:
        own = owners(scene, segments)
        lookup = owner_lookup(own, segments)
        if own != last_own:  # another instance stands for an object now: every photo's regions change
            cache.clear()
            last_own = own
        for v in range(scene.n_views):
            if v not in cache:
                cache[v] = photo_lassos(scene, segments, own, lookup, v)
        pool = sorted((c for v in cache for c in cache[v]), key=lambda c: -c[0])
        best = None  # (net, actions, prepared or None, text, view, segment, outline)
        for k, (net, view, g, outline, region) in enumerate(pool):
            if net <= 0 or k >= LASSO_LOOKS:
                break
            ways = [(net, 1, None, "assign (only this photo)")]
            ways += other_ways(scene, segments, own, lookup, view, g, outline, region)
            for n, cost, prepared, how in ways:
                if n > 0 and (best is None or n / cost > best[0] / best[1]):
                    best = (n, cost, prepared, how, view, g, outline)
        if best is None:
            return f"no lasso around any of the {len(pool)} wrong regions makes more pixels right than wrong"
        net, cost, prepared, how, view, g, outline = best
        tid = own.get(g)
        if prepared is None:  # the "Only this photo" lasso, built as the dialog builds it
            mode = "unlabel" if tid == NO_INSTANCE else "assign"
            prepared = photo_lasso.prepare(scene, view, outline, mode, tid, carry=False)
        run.history.push(prepared.edit)
        if prepared.mode == "split" and tid is not None:
            piece = int(prepared.edit.details["new_ids"][0])
            if tid == NO_INSTANCE:
                run.history.push(edits.delete(scene, [piece]))
            else:
                run.history.push(edits.merge(scene, [piece, tid], tid))
        for v in prepared.views:
            cache.pop(v, None)
        run.counts["lasso"] += 1
        name = {None: "a new instance", NO_INSTANCE: "no instance"}.get(tid, f"instance {tid}")
        run.record(cost, f"lasso on view {view}, {how}: {net} pixels of segment {g} right, to {name}")
    return "target reached" if run.ari >= target else "action budget spent"


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
    parser.add_argument("--max-actions", type=int, default=400)
    parser.add_argument("--no-lasso", action="store_true", help="merge, split and accept only")
    args = parser.parse_args()
    from app.scene_io import load_scene

    path = room_path(args.scene)
    results = {}
    for name, walk in (("queue", instances_by_queue), ("list", instances_by_list)):
        scene = load_scene(path)
        segments = ground_truth(scene)
        run = Run(name, scene, segments)
        if name == "queue":
            print(f"{len(scene.instances)} instances, {len(np.unique(segments))} ground-truth segments, "
                  f"ARI {run.ari:.4f}")  # fmt: skip
        t = time.perf_counter()
        walk(run, args.target, args.max_actions)
        instance_actions, instance_ari = run.actions, run.ari
        why = "--no-lasso" if args.no_lasso else pixels_by_lasso(run, args.target, args.max_actions)
        results[name] = (run, instance_actions, instance_ari, why, time.perf_counter() - t)
    print()
    for name, (run, n_inst, ari_inst, why, secs) in results.items():
        reached = actions_to(run.trace, args.target)
        c = run.counts
        end = (f"reached after {reached} actions" if reached is not None
               else f"NOT reached ({why}; best {max(a for _, a in run.trace):.4f})")  # fmt: skip
        label = "review queue" if name == "queue" else "instance list"
        print(f"{label}: instances {n_inst} actions -> "
              f"ARI {ari_inst:.4f} ({c['suggested']} suggestions taken, {c['by hand']} by hand); then "
              f"{c['lasso']} lassos -> ARI {run.ari:.4f}; ARI {args.target} {end}; {secs:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
