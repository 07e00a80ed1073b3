"""`iggt batch INPUT_ROOT -o OUT_DIR`: every image folder under INPUT_ROOT -> OUT_DIR/<name>.iggt
(see docs/cli.md; reconstruct's options apply to every scan)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.commands.reconstruct import add_run_options, build_config

NAME = "batch"
HELP = "reconstruct every image folder under a folder (or in a list file), here or on a Ray cluster"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path,
                        help="folder searched for image folders (each one scan), or a text file listing "
                             "one folder a line")  # fmt: skip
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="output folder: <scan>.iggt files and the manifest batch-manifest.jsonl",
    )
    add_run_options(parser)
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="parallel workers: local processes (default 1: this process) or, with --ray, "
        "Ray actors (default: one per CPU, or per --gpus-per-scan of each GPU)",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run on Ray: alone, a local Ray started for this run; with an address "
        "(auto, HOST:6379), that cluster (needs the 'cluster' extra)",
    )
    parser.add_argument(
        "--gpus-per-scan",
        type=float,
        default=None,
        metavar="F",
        help="GPUs each Ray worker takes with --device cuda (fractions share a GPU; default 1)",
    )
    parser.add_argument("--retry-failed", action="store_true", help="run scans that failed before again")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list what would run, with the memory and time estimate, and stop",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def batch_options(args: argparse.Namespace, device: str):
    from app.batch import BatchOptions
    from app.errors import UserError

    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, not {args.workers}")
    gpus = args.gpus_per_scan
    if gpus is not None:
        if args.ray is None:
            raise UserError("--gpus-per-scan needs --ray (local workers share the GPU by --workers)")
        if device != "cuda":
            raise UserError("--gpus-per-scan needs --device cuda")
        if not 0 < gpus <= 8:
            raise UserError(f"--gpus-per-scan must be in (0, 8], not {gpus}")
    elif args.ray is not None and device == "cuda":
        gpus = 1.0
    return BatchOptions(workers=args.workers, ray=args.ray, gpus_per_scan=gpus or 0.0,
                        retry_failed=args.retry_failed, quiet=args.quiet or args.json)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from app.batch import run_batch

    config = build_config(args)
    options = batch_options(args, config.inference.device)
    if args.dry_run:
        from app.batch_estimate import dry_run

        return dry_run(args.input, args.output, config, options, as_json=args.json)
    summary = run_batch(args.input, args.output, config, options)
    if args.json:
        print(json.dumps(summary.to_json(), indent=1))
    else:
        lines = summary.lines()
        print(lines[0])
        for line in lines[1:]:
            print(line, file=sys.stderr if line.startswith(("failed", "retried")) else sys.stdout)
    if summary.interrupted:
        return 130
    return 1 if summary.failed else 0
