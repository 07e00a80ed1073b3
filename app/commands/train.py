"""`iggt train`: train or fine-tune IGGT on synthetic rooms rendered on the fly (resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.errors import UserError

NAME = "train"
HELP = "train (or fine-tune) an IGGT model on synthetic rooms; resumes from OUT/last.pt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, required=True, help="run folder (checkpoints, logs); resumed if it exists"
    )
    parser.add_argument(
        "--config", default="tiny", choices=["tiny", "full"], help="model size (default tiny)"
    )
    parser.add_argument(
        "--init", type=Path, help="fine-tune from these weights (any checkpoint load_iggt accepts)"
    )
    parser.add_argument("--steps", type=int, default=20_000, help="total optimisation steps of the schedule")
    parser.add_argument("--lr", type=float, default=4e-4, help="peak learning rate (AdamW, cosine)")
    parser.add_argument("--warmup", type=int, default=300, help="linear warm-up steps")
    parser.add_argument("--batch", type=int, default=1, help="rooms per step")
    parser.add_argument("--views", default="2-8", help="views per room, MIN-MAX (default 2-8)")
    parser.add_argument(
        "--size", action="append", help="training size HxW (repeat for a mix; default 112x112)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (data and sampling)")
    parser.add_argument(
        "--max-minutes", type=float, default=110.0, help="stop this piece after so many minutes"
    )
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0, help="checkpoint interval")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--dtype", default="fp32", choices=["fp32", "bf16"],
        help="bf16: forward pass under bfloat16 autocast (weights, optimizer state, losses stay fp32)",
    )  # fmt: skip
    parser.add_argument(
        "--render-workers", type=int, default=0, metavar="N",
        help="render the rooms ahead in N worker processes (default 0: between steps, in this process)",
    )  # fmt: skip
    parser.add_argument(
        "--stage",
        default="all",
        choices=["all", "instance"],
        help="all: the whole network, every loss; instance: only the instance branch (trunk frozen, "
        "contrastive loss, ~4x cheaper steps), e.g. on top of --init weights",
    )
    parser.add_argument(
        "--reinit-instance", action="store_true", help="start the instance branch from fresh weights"
    )
    parser.add_argument("--export", type=Path, help="after training, write the weights (safetensors) here")
    parser.add_argument(
        "--input-width",
        type=int,
        help="with --export: record the network input width the weights work best at (the app's default)",
    )
    parser.add_argument("--input-height", type=int, help="with --export and --input-width: the height")


def _views(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in text.split("-")) if "-" in text else (int(text), int(text))
    except ValueError:
        raise UserError(f"--views must look like MIN-MAX (e.g. 2-8), got {text!r}") from None
    if not 1 <= lo <= hi <= 12:
        raise UserError("--views: need 1 <= MIN <= MAX <= 12")
    return lo, hi


def run(args: argparse.Namespace) -> int:
    from app.commands.synth import parse_size

    sizes = tuple(parse_size(s) for s in (args.size or ["112x112"]))
    lo, hi = _views(args.views)
    if args.init is not None and not args.init.exists():
        raise UserError(f"--init: no such file {args.init}")
    if args.steps < 1 or args.batch < 1 or args.lr <= 0:
        raise UserError("--steps and --batch must be positive and --lr > 0")
    if not 0 <= args.render_workers <= 256:
        raise UserError("--render-workers must be between 0 and 256")
    if args.max_minutes <= 0:
        raise UserError("--max-minutes must be positive")
    preferred: dict[str, str] = {}
    if args.input_height is not None and args.input_width is None:
        raise UserError("--input-height needs --input-width")
    if args.input_width is not None:
        if args.export is None:
            raise UserError("--input-width/--input-height are recorded in the exported weights: add --export")
        from model.checkpoint import preferred_metadata

        try:
            preferred = preferred_metadata(args.input_width, args.input_height)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    from training.iggt import TrainConfig, train

    cfg = TrainConfig(
        model=args.config,
        steps=args.steps,
        lr=args.lr,
        warmup=args.warmup,
        batch_size=args.batch,
        min_views=lo,
        max_views=hi,
        sizes=sizes,
        seed=args.seed,
        max_minutes=args.max_minutes,
        checkpoint_minutes=args.checkpoint_minutes,
        threads=args.threads,
        device=args.device,
        init=str(args.init) if args.init else None,
        stage=args.stage,
        reinit_instance=args.reinit_instance,
        dtype=args.dtype,
        render_workers=args.render_workers,
    )
    step = train(cfg, args.out, progress=lambda m: print(m, flush=True))
    print(f"reached step {step}; checkpoint {args.out / 'last.pt'}")
    if args.export:
        from training.iggt.export import export_checkpoint

        export_checkpoint(args.out / "last.pt", args.export, **preferred)
        print(f"wrote {args.export}")
    return 0
