"""Benchmark: fast subsampled clustering vs the official full-resolution procedure on the same features.

    .venv/bin/python bench/clustering.py                 # 10 synthetic views at 336x504 (the issue's goal)
    .venv/bin/python bench/clustering.py --views 4 --height 168 --width 252
    .venv/bin/python bench/clustering.py --scene room.iggt   # features and points of a reconstruction

Inputs: a synthetic room (model.synthetic.render_room: ground-truth depth, cameras and instance ids)
with IGGT-like features made from the ground-truth ids (app.clustering.synthetic_features), or the
stored features of a scene file. The official procedure (3D kNN k=20 over every pixel, HDBSCAN over
every pixel, noise -> nearest in feature space) is run once and cached in bench/out/.
Prints the fast clustering's time (median of --repeat runs, each stage) and its adjusted Rand index
against the official result (and against the ground truth for synthetic inputs).
Goal: under 3 s on 2 CPU cores with ARI >= 0.9.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.clustering import ClusterConfig, adjusted_rand_index, cluster_views, synthetic_features  # noqa: E402

OUT = ROOT / "bench" / "out"


def unproject(depth: np.ndarray, extrinsic: np.ndarray, intrinsic: np.ndarray) -> np.ndarray:
    s, h, w = depth.shape
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    out = np.empty((s, h, w, 3), np.float32)
    for v in range(s):
        k, e = intrinsic[v], extrinsic[v]
        z = depth[v]
        cam = np.stack([(cols - k[0, 2]) / k[0, 0] * z, (rows - k[1, 2]) / k[1, 1] * z, z], -1)
        out[v] = (cam - e[:, 3]) @ e[:, :3]
    return out


def synthetic_inputs(args) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    from model.synthetic import render_room

    room = render_room(args.seed, args.views, args.height, args.width)
    points = unproject(room.depth, room.extrinsic, room.intrinsic)
    feats = synthetic_features(room.instance_ids, points, seed=args.seed, noise=args.noise)
    return points, feats, np.ones(points.shape[:3], bool), room.instance_ids


def scene_inputs(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, None]:
    from app.scene_io import load_scene

    scene = load_scene(path)
    return (
        np.asarray(scene.point_map),
        np.asarray(scene.features, np.float32),
        np.asarray(scene.point_mask),
        None,
    )


def reference_labels(points, feats, valid, config: ClusterConfig) -> tuple[np.ndarray, float]:
    key = hashlib.sha256()
    for a in (points, feats, valid):
        key.update(np.ascontiguousarray(a).tobytes())
    key.update(repr((config.min_cluster_size, config.min_samples, config.epsilon, config.knn_k)).encode())
    cache = OUT / f"official_{key.hexdigest()[:16]}.npz"
    if cache.exists():
        d = np.load(cache)
        return d["labels"], float(d["seconds"])
    print("running the official full-resolution procedure once (slow) ...", flush=True)
    t = time.perf_counter()
    res = cluster_views(points, feats, valid, replace(config, sample_size=0))
    seconds = time.perf_counter() - t
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, labels=res.labels, seconds=seconds)
    return res.labels, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--views", type=int, default=10)
    ap.add_argument("--height", type=int, default=336)
    ap.add_argument("--width", type=int, default=504)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", type=float, default=0.08, help="per-pixel feature noise of synthetic features")
    ap.add_argument("--scene", help="use the points/features of this .iggt file instead")
    ap.add_argument("--sample-size", type=int, default=ClusterConfig().sample_size)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cores", type=int, default=2, help="pin to this many CPU cores (0: no pinning)")
    ap.add_argument("--no-reference", action="store_true", help="skip the official procedure")
    args = ap.parse_args()
    if args.cores and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, cpus)
        print(f"pinned to CPU cores {cpus}")

    points, feats, valid, gt = scene_inputs(args.scene) if args.scene else synthetic_inputs(args)
    s, h, w = points.shape[:3]
    print(f"input: {s} views at {h}x{w} = {s * h * w} pixels, {int(valid.sum())} valid points")
    config = ClusterConfig(sample_size=args.sample_size)
    times, cpu, results = [], [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        results.append(cluster_views(points, feats, valid, config))
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    fast = results[-1]
    print(
        f"fast clustering: median {np.median(times):.2f} s wall over {args.repeat} runs "
        f"(min {min(times):.2f}, max {max(times):.2f}); "
        f"CPU time (all threads) median {np.median(cpu):.2f} s; "
        "stages of the last run: " + ", ".join(f"{k} {v:.2f}s" for k, v in fast.timings.items())
    )
    print(f"  load average during the run: {os.getloadavg()[0]:.1f} (wall times grow when the CPU is shared)")
    print(
        f"  params {fast.params}; {int(fast.labels.max()) + 1} clusters, "
        f"sample noise {fast.noise_fraction:.1%}"
    )
    if gt is not None:
        print(f"  ARI fast vs ground truth: {adjusted_rand_index(fast.labels, gt):.4f}")
    if not args.no_reference:
        ref, seconds = reference_labels(points, feats, valid, config)
        print(f"official procedure: {seconds:.1f} s (cached run), {int(ref.max()) + 1} clusters")
        if gt is not None:
            print(f"  ARI official vs ground truth: {adjusted_rand_index(ref, gt):.4f}")
        print(f"ARI fast vs official: {adjusted_rand_index(fast.labels, ref):.4f}")


if __name__ == "__main__":
    main()
