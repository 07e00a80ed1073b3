"""`iggt review SCENE [--all] [--json]`: the review queue, most suspicious instances first, with reasons."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "review"
HELP = "list a scene's instances to review, most suspicious first, with the reason and the suggested fix"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", type=Path, help="scene file (.iggt)")
    parser.add_argument("--all", action="store_true", help="also list instances already reviewed")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from app.display import for_terminal
    from app.errors import UserError
    from app.review import progress_text, review_queue, review_state
    from app.scene_io import load_scene

    if not args.scene.exists():  # a folder is told as such by load_scene
        raise UserError(f"scene file not found: {args.scene}")
    scene = load_scene(args.scene)
    queue = review_queue(scene, include_reviewed=args.all)
    rows = [
        {
            "id": item.instance_id,
            "name": scene.instances[item.instance_id].name,
            "review": review_state(scene.instances[item.instance_id]),
            "suspicion": item.score,
            "reasons": list(item.reasons),
            "suggestion": item.action,
            "partner": item.partner,
            "parts": item.parts,
            "split": item.split,
        }
        for item in queue
    ]
    if args.json:
        print(json.dumps({"progress": progress_text(scene), "queue": rows}, indent=2))
        return 0
    print(f"{progress_text(scene)}; {len(rows)} listed, most suspicious first")
    for row in rows:
        fix = row["suggestion"]
        if fix == "merge" and row["partner"] is not None:
            fix += f" with {for_terminal(scene.instances[row['partner']].name)}"
        elif fix == "split" and row["split"] is not None:
            fix += " into 3D parts" if row["split"] == "3d" else " into two objects"
        reasons = for_terminal("; ".join(row["reasons"]) or "nothing suspicious")
        name = for_terminal(row["name"])[:20]
        print(f"  {row['id']:>4}  {name:<20} {row['suspicion']:5.2f}  {fix:<28} {reasons}")
    return 0
