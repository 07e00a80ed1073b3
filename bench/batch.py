"""Benchmark: `iggt batch` throughput, embedded (one process, scans in turn) vs Ray with 2 workers.

Both runners reconstruct the same synthetic scans with the bundled model into fresh output folders, in
one run, and print scans/hour for each (from the first scan's start, weights loading included) and
their ratio, plus what Ray costs beyond the scans: starting the local cluster, starting the actors (each
loads the weights) and, per scan, the driver-side time around the worker's own time (scheduling and the
transfer of the job and its record).

Run: `.venv/bin/python bench/batch.py [--scans 6] [--views 3] [--size 224x308]`
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_scans(root: Path, n: int, views: int, size: tuple[int, int]) -> None:
    from PIL import Image

    from training.synthetic import render_room

    for i in range(n):
        folder = root / f"scan_{i:02d}"
        folder.mkdir(parents=True)
        for v, image in enumerate(render_room(100 + i, views, *size).images):
            Image.fromarray(image).save(folder / f"{v:03d}.png")


def timed_run(runner: str, jobs, config, out: Path, settings: str, workers: int = 2):
    """(wall seconds, {scan: (driver seconds, worker seconds)}, RayStats or None)"""
    from app.batch_run import run_embedded

    started: dict[str, float] = {}
    per_scan: dict[str, tuple[float, float]] = {}

    def on_start(name: str) -> None:
        started[name] = time.perf_counter()

    def on_record(record) -> None:
        assert record.status == "done", record.error
        per_scan[record.scan] = (time.perf_counter() - started[record.scan], record.seconds)

    t = time.perf_counter()
    stats = None
    if runner == "embedded":
        run_embedded(jobs, config, out, settings, on_record, on_start)
    else:
        from app.batch_ray import RayStats, run_ray

        stats = RayStats()
        run_ray(jobs, config, out, settings, on_record, on_start, address=None, workers=workers, stats=stats)
    return time.perf_counter() - t, per_scan, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=6)
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--size", default="224x308", help="HxW of the photos and of the network input")
    args = parser.parse_args()
    h, w = (int(x) for x in args.size.split("x"))

    from app.batch import batch_plan, run_settings
    from app.batch_run import plan_batch
    from app.batch_scans import find_scans
    from app.images import PreprocessConfig
    from app.run_plan import ReconstructConfig

    config = batch_plan(ReconstructConfig(preprocess=PreprocessConfig(width=w, height=h)))
    settings = run_settings(config)
    with tempfile.TemporaryDirectory(prefix="iggt-bench-batch-") as tmp:
        root = Path(tmp) / "scans"
        make_scans(root, args.scans, args.views, (h, w))
        jobs = plan_batch(find_scans(root), Path(tmp), {}, settings, False).jobs
        results = {}
        for runner in ("embedded", "ray"):
            out = Path(tmp) / runner
            out.mkdir()
            results[runner] = timed_run(runner, jobs, config, out, settings)

    print(f"batch: {args.scans} scans x {args.views} views at {w}x{h}, bundled model, CPU "
          f"({__import__('os').cpu_count()} cores)")  # fmt: skip
    rate = {}
    for runner, (wall, per_scan, _stats) in results.items():
        rate[runner] = args.scans * 3600 / wall
        worker_s = statistics.mean(s for _, s in per_scan.values())
        label = "embedded (sequential)" if runner == "embedded" else "ray, 2 workers"
        print(f"  {label:22s} {wall:7.1f} s  {rate[runner]:7.1f} scans/hour  (mean scan on its worker "
              f"{worker_s:.1f} s)")  # fmt: skip
    print(f"  ratio ray/embedded: {rate['ray'] / rate['embedded']:.2f}x")
    wall, per_scan, stats = results["ray"]
    overhead = [driver - worker for driver, worker in per_scan.values()]
    print(f"  ray overhead: cluster start {stats.connect_s:.1f} s, actors up with weights loaded "
          f"{stats.actors_ready_s:.1f} s, per scan around the worker's time: mean "
          f"{statistics.mean(overhead) * 1000:.0f} ms, max {max(overhead) * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
