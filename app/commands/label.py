"""`iggt label SCENE --vocab scannet20|FILE`: name every instance with the best class of a vocabulary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.errors import UserError

NAME = "label"
HELP = "label all instances of a scene with the best class of a vocabulary (scannet20, synthetic or a file)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from app.semantics.console import add_model_arguments, add_save_argument

    parser.add_argument("scene", type=Path, help="scene file (.iggt)")
    parser.add_argument(
        "--vocab",
        default="scannet20",
        help="scannet20 (default), synthetic, or a text file with one class per line",
    )
    parser.add_argument(
        "--accept", action="store_true", help="also set each instance's category to its confident label"
    )
    parser.add_argument(
        "--accept-weak", action="store_true", help="with --accept: weak labels too (see docs/cli.md)"
    )
    parser.add_argument(
        "--min-score", type=float, default=0.0, help="with --accept: only labels scoring this much"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of {id, name, label, score}")
    add_model_arguments(parser)
    add_save_argument(parser)


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.min_score <= 1.0:
        raise UserError("--min-score must be between 0 and 1")
    from app.edits import EditError
    from app.scene_io import save_scene
    from app.semantics.console import load_backend_for, scene_embeddings
    from app.semantics.labeling import accept_labels, label_instances, store_suggestions
    from app.semantics.vocab import load_vocabulary

    vocab_name, vocabulary = load_vocabulary(args.vocab)
    backend = load_backend_for(args)
    scene, emb, _computed = scene_embeddings(args.scene, backend)  # saved below with the labels
    if len(emb.instance_ids) == 0:
        raise UserError(f"{args.scene.name} has no instances to label")
    suggestions = label_instances(emb, vocabulary, backend)
    store_suggestions(scene, suggestions, vocab_name, backend.model_id)
    accepted = 0
    if args.accept:
        try:
            edit = accept_labels(
                scene, [s.instance_id for s in suggestions], args.min_score, include_weak=args.accept_weak
            )
            edit.apply(scene)
            accepted = len(edit.details["ids"])
        except EditError:
            accepted = 0
    if not args.no_save:
        save_scene(scene, args.scene)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": s.instance_id,
                        "name": scene.instances[s.instance_id].name,
                        "label": s.label,
                        "score": round(s.score, 4),
                        "weak": s.weak,
                    }
                    for s in suggestions
                ],
                ensure_ascii=False,
            )
        )
        return 0
    from app.display import for_terminal

    print(f"{'id':>5}  {'score':>6}  {'':4}  label  (name)")
    for s in sorted(suggestions, key=lambda s: (s.weak, -s.score, s.instance_id)):
        mark = "weak" if s.weak else ""
        name = for_terminal(scene.instances[s.instance_id].name)  # from the scene file: untrusted
        print(f"{s.instance_id:>5}  {s.score:6.3f}  {mark:4}  {s.label}  ({name})")
    where = "not saved (--no-save)" if args.no_save else f"saved in {args.scene.name}"
    extra = f", {accepted} accepted as categories" if args.accept else ""
    n_weak = sum(s.weak for s in suggestions)
    weak = f", {n_weak} weak (not confident relative to the scene)" if n_weak else ""
    print(f"{len(suggestions)} labels from {vocab_name} ({len(vocabulary)} classes){weak}{extra}; {where}")
    return 0
