"""`iggt synth OUT`: render synthetic rooms with ground truth to disk (layout: model/synthetic/storage.py)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.errors import UserError

NAME = "synth"
HELP = "render synthetic furnished rooms (RGB PNG + depth/cameras/instances npz) for training or evaluation"


def parse_size(text: str) -> tuple[int, int]:
    """'224x308' -> (224, 308); both must be positive multiples of 28."""
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size must look like HxW (e.g. 224x224), got {text!r}") from None
    if h <= 0 or w <= 0 or h % 28 or w % 28:
        raise UserError(f"--size: height and width must be positive multiples of 28, got {h}x{w}")
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="output folder (created if missing)")
    parser.add_argument("--scenes", type=int, default=1, help="number of rooms (default 1)")
    parser.add_argument("--views", type=int, default=8, help="views per room (default 8)")
    parser.add_argument("--size", default="224x224", help="image size HxW, multiples of 28 (default 224x224)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first room; room i uses seed+i")
    parser.add_argument("--shadows", action="store_true", help="cast hard shadows (slower)")


def run(args: argparse.Namespace) -> int:
    height, width = parse_size(args.size)
    if args.scenes < 1:
        raise UserError("--scenes must be at least 1")
    if not 1 <= args.views <= 64:
        raise UserError("--views must be between 1 and 64")
    if args.seed < 0:
        raise UserError("--seed must be non-negative")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out} exists and is not a folder")
    from training.synthetic import RoomConfig, render_room
    from training.synthetic.storage import scene_dir_name, write_index, write_scene

    args.out.mkdir(parents=True, exist_ok=True)
    cfg = RoomConfig(shadows=args.shadows)
    names = []
    start = time.perf_counter()
    for i in range(args.scenes):
        seed = args.seed + i
        scene = render_room(seed, args.views, height, width, cfg)
        write_scene(scene, args.out)
        names.append(scene_dir_name(seed))
        print(
            f"\r[{i + 1}/{args.scenes}] {names[-1]}: {len(scene.instances)} instances",
            end="",
            file=sys.stderr,
        )
    print(file=sys.stderr)
    write_index(
        args.out,
        names,
        views=args.views,
        height=height,
        width=width,
        first_seed=args.seed,
        shadows=args.shadows,
    )
    print(f"wrote {args.scenes} scene(s) to {args.out} in {time.perf_counter() - start:.1f} s")
    return 0
