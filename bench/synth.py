"""Benchmark: synthetic room rendering speed on one CPU core.

Target (issue #5): 8 views at 224x224 in under 0.5 s. Run: `.venv/bin/python bench/synth.py [--scenes N]`.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--size", default="224x224")
    parser.add_argument("--shadows", action="store_true")
    args = parser.parse_args()
    import numpy as np

    from training.synthetic import RoomConfig, render_room

    h, w = (int(x) for x in args.size.split("x"))
    cfg = RoomConfig(shadows=args.shadows)
    render_room(10_000, args.views, h, w, cfg)  # warm-up
    times = []
    for seed in range(args.scenes):
        t = time.perf_counter()
        render_room(seed, args.views, h, w, cfg)
        times.append(time.perf_counter() - t)
    t = np.array(times)
    print(f"render_room: {args.views} views {h}x{w} shadows={args.shadows}, {args.scenes} scenes, 1 core")
    print(
        f"  mean {t.mean():.3f} s  median {np.median(t):.3f} s  "
        f"p90 {np.quantile(t, 0.9):.3f} s  max {t.max():.3f} s"
    )
    print(f"  target < 0.5 s per scene: {'PASS' if t.mean() < 0.5 else 'FAIL'} (mean)")


if __name__ == "__main__":
    main()
