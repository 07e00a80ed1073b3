"""Benchmark of the photo lasso preview (Edit > Draw on a view): how long carrying a lasso to every view
and preparing the edit (what the preview shows, before anything changes) take, by scene size.

    .venv/bin/python bench/photo_lasso.py                 # the bundled sample room and a 4M-pixel room
    .venv/bin/python bench/photo_lasso.py --views 16 --repeat 3

The lasso is an ellipse around the largest instance of view 1; "carry" is ``carried_selection`` alone,
"prepare" adds building the edit (relabelling and every instance's statistics) and reading what changes.
"first prepare" is the first on a scene: it also matches the views' pixels (app.instances
``scene_correspondences``, kept with the scene for every later edit); "prepare" is the best of the later ones.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "viewer"))


def sample_room():
    from app.paths import SAMPLE_DIR
    from app.semantics.ground_truth import scene_from_synthetic
    from training.synthetic.storage import read_scene

    return scene_from_synthetic(read_scene(SAMPLE_DIR / "scene_000012")).scene


def ellipse_around(mask: np.ndarray, n: int = 32) -> np.ndarray:
    rr, cc = np.nonzero(mask)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = (cc.min() + cc.max()) / 2 + (cc.max() - cc.min()) / 2 * 1.3 * np.cos(t)
    y = (rr.min() + rr.max()) / 2 + (rr.max() - rr.min()) / 2 * 1.3 * np.sin(t)
    return np.stack([x, y], 1)


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(name: str, scene, repeats: int) -> None:
    from app import photo_lasso

    ids, counts = np.unique(scene.labels[0][scene.labels[0] > 0], return_counts=True)
    target = int(ids[np.argmax(counts)])
    poly = ellipse_around(scene.labels[0] == target)
    t_carry, _ = best_of(lambda: photo_lasso.carried_selection(scene, 0, poly), repeats)
    t_first, _ = best_of(lambda: photo_lasso.prepare(scene, 0, poly, "split", target), 1)
    t_prep, pe = best_of(lambda: photo_lasso.prepare(scene, 0, poly, "split", target), repeats)
    s, h, w = scene.labels.shape
    print(f"{name:<28} {s:>3} views {h}x{w} ({s * h * w / 1e6:.1f}M px): carry {t_carry:.2f} s, "
          f"first prepare {t_first:.2f} s, prepare {t_prep:.2f} s -> {pe.summary}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=16, help="views of the larger synthetic room")
    parser.add_argument("--repeat", type=int, default=2, help="tile each pixel of it into repeat x repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timings: best of this many runs")
    args = parser.parse_args()
    from scene_factory import synthetic_scene
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2):
        run("sample room (ground truth)", sample_room(), args.repeats)
        big = synthetic_scene(seed=3, views=args.views, height=224, width=280, repeat=args.repeat)
        run(f"synthetic room x{args.repeat}", big, args.repeats)


if __name__ == "__main__":
    main()
