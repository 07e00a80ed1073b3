"""`iggt query SCENE "red chair"`: rank a scene's instances by an open-vocabulary phrase."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.errors import UserError

NAME = "query"
HELP = "rank the instances of a scene by a text phrase (CLIP features pooled over instance masks)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from app.semantics.console import add_cache_argument, add_model_arguments

    parser.add_argument("scene", type=Path, help="scene file (.iggt)")
    parser.add_argument("text", help="phrase(s) to look for; separate several with commas")
    parser.add_argument("--top", type=int, default=10, help="how many instances to list (default 10)")
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list of {id, name, score, match}, best first"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="relevancy that counts as a match (judged with the scene)",
    )
    add_model_arguments(parser)
    add_cache_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UserError("--top must be at least 1")
    if not 0.0 <= args.threshold <= 1.0:
        raise UserError("--threshold must be between 0 and 1")
    from app.display import for_terminal
    from app.semantics.console import keep_embeddings, load_backend_for, scene_embeddings
    from app.semantics.relevancy import QueryConfig, parse_query, run_query

    cfg = QueryConfig(threshold=args.threshold)
    parse_query(args.text, cfg)  # reject a bad query before any model work
    backend = load_backend_for(args)
    scene, emb, computed = scene_embeddings(args.scene, backend)
    if len(emb.instance_ids) == 0:
        raise UserError(f"{args.scene.name} has no instances to query")
    result = run_query(emb, args.text, backend, cfg)
    for warning in result.warnings:
        import sys

        print(f"warning: {warning}", file=sys.stderr)
    rows = result.rows()[: args.top]
    several = len(result.phrases) > 1
    if args.json:
        out = []
        for row in rows:
            item = {
                "id": row.instance,
                "name": scene.instances[row.instance].name,
                "score": round(row.score, 4),
                "match": row.verdict or "no",
            }
            if several:
                item["phrase"] = result.phrases[row.phrase].phrase
            out.append(item)
        print(json.dumps(out, ensure_ascii=False))
        keep_embeddings(scene, args.scene, emb, computed, args.save)
        return 0
    print(f"{'rank':>4}  {'id':>5}  {'score':>6}  match  name" + ("  (phrase)" if several else ""))
    for rank, row in enumerate(rows, 1):
        mark = {"match": "  *  ", "weak": "weak "}.get(row.verdict, "     ")
        phrase = f"  ({result.phrases[row.phrase].phrase})" if several else ""
        name = for_terminal(scene.instances[row.instance].name)  # names come from the scene file: untrusted
        print(f"{rank:>4}  {row.instance:>5}  {row.score:6.3f}  {mark}  {name}{for_terminal(phrase)}")
    print(for_terminal(result.summary(len(emb.instance_ids))))
    keep_embeddings(scene, args.scene, emb, computed, args.save)
    return 0
