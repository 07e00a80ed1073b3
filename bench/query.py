"""Query latency over many instances once text features are cached (target: < 50 ms for 500 instances),
plus the cost of the first (uncached) query and of computing instance embeddings.

    .venv/bin/python bench/query.py [--instances 500] [--model bundled]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.scene import InstanceEmbeddings
from app.semantics import load_backend, run_query

PHRASES = ["red chair", "a table", "chair, sofa, plant", "something to sit on", "монитор"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    backend = load_backend(args.model, device="cpu")
    rng = np.random.default_rng(0)
    vec = rng.normal(size=(args.instances, backend.embed_dim)).astype(np.float32)
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    emb = InstanceEmbeddings(np.arange(1, args.instances + 1, dtype=np.int32), vec)
    print(
        f"model {backend.model_id}, {args.instances} instances, dim {backend.embed_dim}, "
        f"{args.threads} thread(s)"
    )
    for phrase in PHRASES:
        t0 = time.perf_counter()
        run_query(emb, phrase, backend)
        first = (time.perf_counter() - t0) * 1000
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            run_query(emb, phrase, backend)
            times.append((time.perf_counter() - t0) * 1000)
        print(
            f"  {phrase!r:28} first {first:7.1f} ms   cached median {statistics.median(times):6.2f} ms  "
            f"max {max(times):6.2f} ms"
        )

    from app.semantics.embed import EmbedConfig, iter_embed_instances
    from app.semantics.ground_truth import scene_from_synthetic
    from training.synthetic import render_room

    gt = scene_from_synthetic(render_room(950_000, 8, 224, 308))
    scene = gt.scene
    gen = iter_embed_instances(scene.images, scene.labels, list(scene.instances), backend, EmbedConfig())
    t0 = time.perf_counter()
    crops = 0
    try:
        while True:
            ev = next(gen)
            crops = ev.message
    except StopIteration as stop:
        out = stop.value
    dt = time.perf_counter() - t0
    print(f"instance embeddings: {len(out.instance_ids)} instances, 8 views 224x308: {dt:.2f} s ({crops})")


if __name__ == "__main__":
    main()
