"""`iggt ask SCENE "question"`: put a yes/no question about each candidate object to a vision-language
model behind an OpenAI-compatible chat-completions endpoint (images: the object's best views, outlined)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from app.errors import UserError

NAME = "ask"
HELP = "ask a vision-language model a yes/no question about the scene's objects (OpenAI-compatible API)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from app.semantics.ask import DEFAULT_TOP
    from app.semantics.console import MODEL_ENV as CLIP_ENV
    from app.semantics.console import add_cache_argument
    from app.semantics.vlm_client import ENDPOINT_ENV, KEY_ENV, MODEL_ENV

    parser.add_argument("scene", type=Path, help="scene file (.iggt)")
    parser.add_argument("question", help="a yes/no question, e.g. 'can I sit on it?'")
    parser.add_argument(
        "--endpoint",
        default=os.environ.get(ENDPOINT_ENV, ""),
        help=f"server URL, e.g. http://localhost:8000/v1 (default ${ENDPOINT_ENV}); the API key, if any, "
        f"only from ${KEY_ENV}",
    )
    parser.add_argument(
        "--model",
        default=os.environ.get(MODEL_ENV, ""),
        help=f"the VLM's model name on that server (default ${MODEL_ENV})",
    )
    parser.add_argument(
        "--top", type=int, default=DEFAULT_TOP, help=f"objects to ask about (default {DEFAULT_TOP})"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    parser.add_argument("--retries", type=int, default=2, help="further tries on errors (default 2)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests at once (default 4)")
    parser.add_argument("--json", action="store_true", help='print {"question", "answers": [...]}')
    parser.add_argument(
        "--clip-model",
        default=os.environ.get(CLIP_ENV, "bundled"),
        help="CLIP model that pre-ranks the objects when there are more than --top (as `iggt query --model`)",
    )
    parser.add_argument("--device", default="auto", help="CLIP device: auto, cpu or cuda")
    add_cache_argument(parser)


def run(args: argparse.Namespace) -> int:
    from app.display import for_terminal
    from app.semantics.ask import ask, rank_candidates
    from app.semantics.vlm_client import ENDPOINT_ENV, VlmClient, VlmConfig

    if args.top < 1:
        raise UserError("--top must be at least 1")
    if not args.endpoint:
        raise UserError(f"no VLM endpoint: pass --endpoint URL or set {ENDPOINT_ENV}")
    config = VlmConfig(args.endpoint, args.model, timeout_s=args.timeout, retries=args.retries,
                       max_concurrent=args.concurrency)  # fmt: skip
    config.validate()
    if not " ".join(args.question.split()):
        raise UserError("the question is empty: ask something like 'can I sit on it?'")
    from app.scene_io import load_scene

    scene = load_scene(args.scene)
    if not scene.instances:
        raise UserError(f"{args.scene.name} has no instances to ask about")
    clip_rank, keep = None, None
    if len(scene.instances) > args.top:  # pre-rank with CLIP; with few objects, ask about all of them
        from app.semantics.ask import clip_order
        from app.semantics.console import keep_embeddings, load_backend_for, scene_embeddings

        backend = load_backend_for(argparse.Namespace(model=args.clip_model, device=args.device))
        scene, emb, computed = scene_embeddings(args.scene, backend)
        clip_rank = clip_order(emb, args.question, backend)
        keep = (scene, args.scene, emb, computed, args.save)
    candidates = rank_candidates(scene, args.top, clip_rank)
    client = VlmClient(config)
    try:
        result = ask(scene, args.question, client, candidates)
    finally:
        client.close()
    if result.error:
        raise UserError(f"no answers: {result.error}")
    if keep is not None:  # after the answers: a failed ask writes nothing
        keep_embeddings(*keep)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    for a in result.answers:
        answer = a.answer or "no answer"
        name = for_terminal(scene.instances[a.instance].name)
        views = ",".join(str(v) for v in a.views)
        print(f"{a.instance:>5}  {answer:<9}  {name}  (views {views}): {for_terminal(a.reason)}")
    yes = result.yes
    print(f"{len(yes)} of {len(result.answers)} objects: yes ({result.requests} requests to {config.model})",
          file=sys.stderr)  # fmt: skip
    return 0
