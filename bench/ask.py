"""Ask the scene: requests made and seconds per question for K = 4, 8, 16 candidates against a local
OpenAI-compatible server (tests/vlm_server.py) that answers at once without looking ("fast"), so the
figures are the app's own work: CLIP pre-ranking, choosing views, cropping and outlining, PNG/base64
encoding, HTTP. ``--vision`` uses the server mode that decodes and inspects every picture instead.

    .venv/bin/python bench/ask.py [--scene SCENE.iggt] [--concurrency 4] [--vision]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

DEFAULT_SCENE = ROOT / "tests" / "fixtures" / "scenes" / "sample_w112_v4.iggt"
QUESTIONS = ["can I sit on it?", "is it red?", "is it made of wood?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", type=Path, default=DEFAULT_SCENE)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--vision", action="store_true", help="the server decodes and looks at each image")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch
    from vlm_server import VlmServer

    from app.scene_io import load_scene
    from app.semantics import ensure_embeddings, load_backend
    from app.semantics.ask import AnswerCache, ask, clip_order, rank_candidates
    from app.semantics.vlm_client import VlmClient, VlmConfig

    torch.set_num_threads(args.threads)
    scene = load_scene(args.scene)
    h, w = scene.image_size
    print(f"scene {args.scene.name}: {scene.n_views} views at {w}x{h}, {len(scene.instances)} instances")
    backend = load_backend("bundled", device="cpu")
    t = time.perf_counter()
    emb, computed = ensure_embeddings(scene, backend)
    print(f"CLIP instance embeddings: {time.perf_counter() - t:.2f} s ({'computed' if computed else 'cached'}"
          ", once per scene and model)")  # fmt: skip
    mode = "vision" if args.vision else "fast"
    print(f"server mode {mode}, concurrency {args.concurrency}")
    print(f"{'K':>3}  {'requests':>8}  {'images':>6}  {'s/question':>10}  {'repeat: requests':>16}  {'s':>6}")
    with VlmServer(mode=mode) as server:
        client = VlmClient(VlmConfig(server.url, "bench", max_concurrent=args.concurrency))
        for k in (4, 8, 16):
            cache = AnswerCache()
            before_images = server.seen.images
            made, took = 0, 0.0
            for q in QUESTIONS:
                t = time.perf_counter()
                rank = clip_order(emb, q, backend) if len(scene.instances) > k else None
                result = ask(scene, q, client, rank_candidates(scene, k, rank), cache=cache)
                took += time.perf_counter() - t
                made += result.requests
            images = server.seen.images - before_images
            t = time.perf_counter()
            again = sum(ask(scene, q, client, rank_candidates(scene, k, clip_order(emb, q, backend)),
                            cache=cache).requests for q in QUESTIONS)  # fmt: skip
            repeat = (time.perf_counter() - t) / len(QUESTIONS)
            n = len(QUESTIONS)
            print(f"{k:>3}  {made / n:>8.1f}  {images / n:>6.1f}  {took / n:>10.3f}  {again / n:>16.1f}  "
                  f"{repeat:>6.3f}")  # fmt: skip
        client.close()


if __name__ == "__main__":
    main()
