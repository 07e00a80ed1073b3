"""`iggt export SCENE --format FMT -o OUT [--force]`: hand a scene to other tools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "export"
HELP = "export a scene: point cloud (ply), 3D scene (glb), cameras (colmap), masks, coco, instance table"

FORMAT_NAMES = ("ply", "glb", "colmap", "masks", "coco", "table", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", type=Path, help="scene file (.iggt)")
    parser.add_argument("--format", "-f", required=True, choices=FORMAT_NAMES, help="what to write")
    parser.add_argument(
        "-o", "--output", required=True, type=Path,
        help="output file (ply, glb, coco: .json, table: .csv or .json) or folder (colmap, masks, all)",
    )  # fmt: skip
    parser.add_argument("--force", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--colour-by", choices=("rgb", "instance"), default="rgb",
        help="PLY and GLB point colours (default: rgb)",
    )  # fmt: skip
    parser.add_argument("--no-images", action="store_true", help="COLMAP: do not copy the images")
    parser.add_argument(
        "--scale-from", type=Path, metavar="SCENE",
        help="write geometry in metres using the scale set in SCENE (e.g. another file of the same room); "
        "by default the scene's own scale, when it has one",
    )  # fmt: skip
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from app.display import for_terminal
    from app.errors import UserError
    from app.export import ExportOptions, export_all, export_scene
    from app.scene_io import load_scene

    if not args.scene.exists():  # a folder is told as such by load_scene
        raise UserError(f"scene file not found: {args.scene}")
    last = [-1]

    def progress(message: str, fraction: float) -> None:
        pct = int(fraction * 100)
        if not args.quiet and pct // 10 != last[0] // 10:
            last[0] = pct
            print(f"[{pct:3d}%] {message}", file=sys.stderr)

    scene = load_scene(args.scene)
    for warning in getattr(scene, "load_warnings", []) or []:
        print(f"warning: {for_terminal(warning)}", file=sys.stderr)
    scale = None
    if args.scale_from is not None:
        from app.measure import scale_from_file

        if not args.scale_from.is_file():
            raise UserError(f"--scale-from: scene file not found: {args.scale_from}")
        scale = scale_from_file(args.scale_from)
    options = ExportOptions(
        force=args.force, colour_by=args.colour_by, with_images=not args.no_images, progress=progress,
        scale=scale,
    )  # fmt: skip
    if args.format == "all":
        results = export_all(scene, args.output, options)
    else:
        results = [export_scene(scene, args.format, args.output, options)]
    for result in results:
        for warning in result.warnings:
            print(f"warning: {for_terminal(warning)}", file=sys.stderr)
        print(f"wrote {for_terminal(result.path)}")
    return 0
