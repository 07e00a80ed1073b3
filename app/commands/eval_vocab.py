"""`iggt eval-vocab`: open-vocabulary quality on held-out synthetic rooms (top-1 retrieval, 2D mIoU)."""

from __future__ import annotations

import argparse
import json

from app.errors import UserError

NAME = "eval-vocab"
HELP = "measure open-vocabulary retrieval (top-1) and Label-all 2D mIoU on held-out synthetic rooms"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from app.semantics.console import add_model_arguments

    parser.add_argument("--scenes", type=int, default=20, help="held-out rooms to render (default 20)")
    parser.add_argument(
        "--seed", type=int, default=950_000,
        help="seed of the first room (default 950000; the tiny models trained on seeds >= 1000000)",
    )  # fmt: skip
    parser.add_argument("--views", type=int, default=6, help="views per room (default 6)")
    parser.add_argument("--size", default="224x308", help="image size HxW, multiples of 28 (default 224x308)")
    parser.add_argument(
        "--masks",
        choices=("gt", "iggt"),
        default="gt",
        help="instance masks: ground truth (default) or predicted by the IGGT pipeline",
    )
    parser.add_argument(
        "--weights", default="bundled", help="IGGT weights for --masks iggt (default bundled)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the pixel-wise CLIP baseline")
    parser.add_argument("--json", action="store_true", help='print {"top1", "miou", "baseline": {...}, ...}')
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from app.commands.synth import parse_size

    height, width = parse_size(args.size)
    if not 1 <= args.scenes <= 1000:
        raise UserError("--scenes must be between 1 and 1000")
    if not 1 <= args.views <= 64:
        raise UserError("--views must be between 1 and 64")
    from training.synthetic.config import TRAIN_SEED_OFFSET

    if args.seed < 0 or args.seed + args.scenes - 1 >= TRAIN_SEED_OFFSET:
        raise UserError(
            f"--seed: rooms {TRAIN_SEED_OFFSET} and above are training rooms; choose a first seed >= 0 with "
            f"seed + scenes <= {TRAIN_SEED_OFFSET}"
        )
    from app.progress import run_generator
    from app.semantics.console import ProgressLine, load_backend_for
    from app.semantics.evaluate import EvalConfig, iter_evaluate

    backend = load_backend_for(args)
    cfg = EvalConfig(
        scenes=args.scenes,
        seed=args.seed,
        views=args.views,
        height=height,
        width=width,
        baseline=not args.no_baseline,
        masks=args.masks,
        weights=args.weights,
    )
    progress = ProgressLine()
    try:
        result = run_generator(iter_evaluate(backend, cfg), progress)
    finally:
        progress.close()
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"model {result['model']}, {result['scenes']} held-out rooms x {result['views']} views, "
        f"{result['masks']}"
    )
    print(
        f"  instance pooling (ours): top-1 {result['top1']:.3f} ({result['queries']} queries), "
        f"mIoU {result['miou']:.3f}"
    )
    lab = result["labels"]
    parts = [f"{k} {v['count']}" + (f" ({v['accuracy']:.0%} right)" if v["accuracy"] is not None else "")
             for k, v in lab.items()]  # fmt: skip
    print("  Label all judged with the scene: " + ", ".join(parts))
    if result["baseline"]:
        b = result["baseline"]
        print(f"  pixel-wise CLIP baseline: top-1 {b['top1']:.3f}, mIoU {b['miou']:.3f}")
    print("  per-class IoU: " + ", ".join(f"{k} {v:.2f}" for k, v in result["per_class_iou"].items()))
    return 0
