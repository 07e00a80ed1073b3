"""`iggt info SCENE|WEIGHTS [--json]`: what a scene file or a weights file holds (docs/cli.md: JSON keys)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.scene_settings import SceneSettings

NAME = "info"
HELP = "describe a scene file (views, image size, points, instances, model, settings) or model weights"
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scene", type=Path,
        help="scene file (.iggt), or IGGT weights: 'bundled', a checkpoint file or folder, a cached hub id",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")


def is_weights(target: str | Path) -> bool:
    """Whether ``iggt info`` was given weights rather than a scene file."""
    path = Path(target)
    return str(target) == "bundled" or path.suffix.lower() in WEIGHT_SUFFIXES or path.is_dir() or (
        not path.exists() and path.suffix == "" and str(target).count("/") == 1
    )


def weights_summary(setting: str) -> dict[str, Any]:
    """The `iggt info WEIGHTS --json` document: architecture, size, the preferred input size and clustering
    preset."""
    from app.errors import UserError
    from app.images import PreprocessConfig
    from app.inference import resolve_weights
    from app.run_plan import defaults_from_metadata
    from model.checkpoint import read_weights_info
    from model.errors import IGGTError

    source = resolve_weights(setting)
    try:
        info = read_weights_info(source.location)
    except IGGTError as exc:
        raise UserError(str(exc)) from None
    pref = defaults_from_metadata(info.metadata, info.origin)
    h, w = PreprocessConfig().with_model_defaults(pref.width, pref.height).target_size()
    meta = info.metadata
    return {
        "weights": source.label,
        "location": info.origin,
        "architecture": info.config_name,
        "tensors": info.tensors,
        "parameters": info.parameters,
        "name": meta.get("name"),
        "step": int(meta["step"]) if meta.get("step", "").isdigit() else None,
        "input_size": [h, w],
        "input_size_from": "metadata" if pref.width is not None else "default",
        "max_views": pref.max_views,
        "input_size_text": pref.size_text(),
        "cluster_preset": pref.cluster_preset,
        "cluster_preset_from": "metadata" if pref.named_preset else "default",
    }


def _weights_text(summary: dict[str, Any]) -> str:
    name = summary["name"] or "?"
    if summary["step"] is not None:
        name += f" (training step {summary['step']})"
    return "\n".join([
        f"weights      {summary['location']}",
        f"architecture IGGT {summary['architecture'] or 'unknown (not recognised by shape)'}, "
        f"{summary['tensors']} tensors, {summary['parameters'] / 1e6:.1f} M values",
        f"name         {name}",
        f"input size   {summary['input_size_text']}",
        f"clustering   preset {summary['cluster_preset']} ("
        + ("from the weights' metadata)" if summary["cluster_preset_from"] == "metadata" else "the default)"),
    ])  # fmt: skip


def scene_summary(scene, path: Path, format_version: int | None = None) -> dict[str, Any]:
    """The `iggt info --json` document (keys documented in docs/cli.md)."""
    from app.measure import scale_of
    from app.review import review_progress, review_state

    h, w = scene.image_size
    reviewed, _ = review_progress(scene)
    return {
        "file": str(path),
        "format_version": format_version,
        "app_version": scene.app_version,
        "created": scene.created,
        "model": scene.model_id,
        "views": scene.n_views,
        "image_size": [h, w],
        "points": scene.n_points,
        "scale_metres_per_unit": scale_of(scene),
        "reviewed": reviewed,
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
                "review": review_state(inst),
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
        "settings": scene.settings.to_json(),
        "warnings": list(scene.load_warnings),
    }


def _text(summary: dict[str, Any], settings: SceneSettings) -> str:
    """The human-readable summary; every string from the file is shown with escapes for control
    characters (an instance name could otherwise retitle or clear the terminal)."""
    from app.display import for_terminal as shown

    h, w = summary["image_size"]
    lines = [
        f"scene      {summary['file']}",
        f"model      {summary['model'] or '?'}",
        f"views      {summary['views']} at {w}x{h} (images {summary['image_storage']})",
        f"points     {summary['points']}",
        f"created    {summary['created']} by IGGT Viewer {summary['app_version']}",
    ]
    if settings.has("cluster"):
        cl = settings.cluster
        lines.append(
            f"settings   points from {settings.points_source}, confidence percentile "
            f"{settings.conf_percentile}, clustering eps {cl.epsilon} "
            f"min cluster {cl.min_cluster_size} min samples {cl.min_samples}"
        )
    scale = summary["scale_metres_per_unit"]
    lines.append(
        "scale      not set (scene units)"
        if scale is None
        else f"scale      {scale:.6g} metres per scene unit"
    )
    lines.append(f"instances  {len(summary['instances'])} ({summary['reviewed']} reviewed)")
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
            review = "" if inst["review"] == "unreviewed" else f"  [{inst['review']}]"
            lines.append(
                f"  {inst['id']:>4}  {shown(inst['name'])[:20]:<20} {inst['colour']:<8} {inst['points']:>8}  "
                f"{views:<14} {cons}{review}"
            )
    for warning in summary["warnings"]:
        lines.append(f"warning: {warning}")
    return "\n".join(shown(line) for line in lines)


def run(args: argparse.Namespace) -> int:
    from app.scene_io import load_scene, read_manifest

    if is_weights(args.scene):
        summary = weights_summary(str(args.scene))
        print(json.dumps(summary, indent=2) if args.json else _weights_text(summary))
        return 0
    scene = load_scene(args.scene)
    summary = scene_summary(scene, args.scene, read_manifest(args.scene)["format_version"])
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_text(summary, scene.settings))
    return 0
