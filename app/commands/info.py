"""`iggt info SCENE [--json]`: what a scene file holds (see docs/cli.md for the JSON keys)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

NAME = "info"
HELP = "describe a scene file: views, image size, points, instances, model and settings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", type=Path, help="scene file (.iggt)")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")


def scene_summary(scene, path: Path, format_version: int | None = None) -> dict[str, Any]:
    """The `iggt info --json` document (keys documented in docs/cli.md)."""
    h, w = scene.image_size
    return {
        "file": str(path),
        "format_version": format_version,
        "app_version": scene.app_version,
        "created": scene.created,
        "model": scene.model_id,
        "views": scene.n_views,
        "image_size": [h, w],
        "points": scene.n_points,
        "image_storage": scene.image_storage,
        "view_files": [
            {
                "index": i,
                "name": v.name,
                "path": v.path,
                "sha256": v.sha256,
                "original_size": list(v.original_size),
            }
            for i, v in enumerate(scene.views)
        ],
        "instances": [
            {
                "id": inst.id,
                "name": inst.name,
                "colour": "#{:02x}{:02x}{:02x}".format(*inst.colour),
                "category": inst.category,
                "visible": inst.visible,
                "locked": inst.locked,
                "points": inst.stats.point_count,
                "pixels": int(sum(inst.stats.view_pixels.values())),
                "views": inst.stats.views,
                "consistency": None if inst.stats.consistency is None else round(inst.stats.consistency, 4),
                "confused_with": inst.stats.confused_with,
                "centroid": None
                if inst.stats.centroid is None
                else [round(c, 4) for c in inst.stats.centroid],
                "bbox_min": None
                if inst.stats.bbox_min is None
                else [round(c, 4) for c in inst.stats.bbox_min],
                "bbox_max": None
                if inst.stats.bbox_max is None
                else [round(c, 4) for c in inst.stats.bbox_max],
            }
            for inst in scene.instances.values()
        ],
        "semantic_models": sorted(scene.embeddings),
        "layers": sorted(scene.layers),
        "edits": len(scene.edit_log),
        "settings": scene.settings,
        "warnings": list(scene.load_warnings),
    }


def _text(summary: dict[str, Any]) -> str:
    h, w = summary["image_size"]
    s = summary["settings"]
    lines = [
        f"scene      {summary['file']}",
        f"model      {summary['model'] or '?'}",
        f"views      {summary['views']} at {w}x{h} (images {summary['image_storage']})",
        f"points     {summary['points']}",
        f"created    {summary['created']} by IGGT Viewer {summary['app_version']}",
    ]
    if s:
        cl = s.get("cluster", {})
        lines.append(
            f"settings   points from {s.get('points_source', '?')}, confidence percentile "
            f"{s.get('conf_percentile', '?')}, clustering eps {cl.get('epsilon', '?')} "
            f"min cluster {cl.get('min_cluster_size', '?')} min samples {cl.get('min_samples', '?')}"
        )
    lines.append(f"instances  {len(summary['instances'])}")
    if summary["instances"]:
        lines.append(f"  {'id':>4}  {'name':<20} {'colour':<8} {'points':>8}  {'views':<14} consistency")
        for inst in summary["instances"]:
            views = ",".join(str(v) for v in inst["views"])
            views = views if len(views) <= 14 else views[:11] + "..."
            cons = "-" if inst["consistency"] is None else f"{inst['consistency']:.2f}"
            if (
                inst["confused_with"] is not None
                and inst["consistency"] is not None
                and inst["consistency"] < 0.5
            ):
                cons += f" (mixed up with {inst['confused_with']})"
            lines.append(
                f"  {inst['id']:>4}  {inst['name'][:20]:<20} {inst['colour']:<8} {inst['points']:>8}  "
                f"{views:<14} {cons}"
            )
    for warning in summary["warnings"]:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from app.scene_io import load_scene, read_manifest

    scene = load_scene(args.scene)
    summary = scene_summary(scene, args.scene, read_manifest(args.scene)["format_version"])
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_text(summary))
    return 0
