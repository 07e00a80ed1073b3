"""`iggt eval WEIGHTS`: depth, camera and multi-view instance metrics on held-out synthetic rooms,
with baselines (definitions in app/eval/)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from app.errors import UserError

NAME = "eval"
HELP = "measure a model on held-out synthetic rooms (AbsRel, delta1, AUC@30, T-mIoU, T-SR) beside baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", type=Path, help="model weights (.safetensors or an official checkpoint)")
    parser.add_argument("--scenes", type=int, default=50, help="number of rooms (default 50)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first room (default 0; training uses >= 1e6)"
    )
    parser.add_argument("--views", type=int, default=8, help="views per room (default 8)")
    parser.add_argument("--size", default="224x224", help="image size HxW, multiples of 28 (default 224x224)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--no-baselines", action="store_true", help="skip the baselines")
    parser.add_argument("--preset", choices=("small", "medium", "large", "spatial"),
                        help="clustering preset (default: the one the weights name, as the app uses them)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def run(args: argparse.Namespace) -> int:
    from app.commands.synth import parse_size

    height, width = parse_size(args.size)
    if args.scenes < 1:
        raise UserError("--scenes must be at least 1")
    if not 2 <= args.views <= 12:
        raise UserError("--views must be between 2 and 12 (camera metrics need pairs)")
    if not args.weights.is_file():
        raise UserError(f"no such weights file: {args.weights}")
    from training.synthetic.config import TRAIN_SEED_OFFSET, VAL_SEED_OFFSET

    last = args.seed + args.scenes - 1
    if args.seed < 0 or last >= VAL_SEED_OFFSET:
        raise UserError(
            f"--seed: rooms {VAL_SEED_OFFSET} and above are used in training/validation "
            f"(training from {TRAIN_SEED_OFFSET}); choose seeds below {VAL_SEED_OFFSET}"
        )
    from app.eval.runner import EvalConfig, evaluate, format_table, load_weights

    try:
        net = load_weights(args.weights, args.device)
    except Exception as exc:
        raise UserError(f"cannot load {args.weights}: {exc}") from exc
    cfg = EvalConfig(
        scenes=args.scenes,
        seed=args.seed,
        views=args.views,
        height=height,
        width=width,
        baselines=not args.no_baselines,
        device=args.device,
        cluster_preset=args.preset,
    )

    def progress(message: str, fraction: float) -> None:
        print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)

    results = evaluate(net, cfg, progress)
    results["weights"] = str(args.weights)
    if args.json:
        print(json.dumps(_clean(results)))
    else:
        print(format_table(results))
    return 0
