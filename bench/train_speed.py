"""Benchmark: IGGT training steps per minute on this machine, fp32 vs bf16 autocast, rooms rendered in the
training process vs by render workers; a per-phase profile of a step; and (``--curve N``) the loss curves
of N steps in fp32 and in bf16 from the same weights and data, to check that bf16 trains alike.

    .venv/bin/python bench/train_speed.py --steps 12                 # speed table (from the shipped weights)
    .venv/bin/python bench/train_speed.py --curve 300 --threads 1    # fp32 vs bf16 loss curves (slow)

Steps use the bundled weights (``--init``), the whole network (``--stage all``) or the instance branch,
at ``--size`` with ``--views`` per room. Wall times grow when the CPU is shared (the load average is
printed); the CPU seconds per step (this process) are the figure to compare on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from training.iggt.loop import (  # noqa: E402
    TrainConfig,
    autocast,
    build_model,
    float32_outputs,
    render_step,
    train,
)
from training.iggt.losses import iggt_loss, instance_loss  # noqa: E402
from training.iggt.stages import check_stage, instance_forward, set_trainable  # noqa: E402
from training.iggt.targets import make_batch  # noqa: E402

PHASES = ("render", "batch", "forward", "loss", "backward", "optimizer")


def profile(cfg: TrainConfig, steps: int) -> dict[str, float]:
    """Median seconds per phase of ``steps`` training steps (after one warm-up step)."""
    torch.set_num_threads(cfg.threads)
    net = build_model(cfg).train()
    trainable = set_trainable(net, check_stage(cfg.stage))
    opt = torch.optim.AdamW(trainable, lr=1e-5)
    times: dict[str, list[float]] = {p: [] for p in PHASES}
    for step in range(steps + 1):
        t = [time.perf_counter()]
        _, _, _, scenes = render_step(cfg, step)
        t.append(time.perf_counter())
        batch = make_batch(scenes)
        t.append(time.perf_counter())
        with autocast(cfg):
            out = instance_forward(net, batch.images) if cfg.stage == "instance" else net(batch.images)
        t.append(time.perf_counter())
        gen = torch.Generator().manual_seed(step)
        fn = instance_loss if cfg.stage == "instance" else iggt_loss
        loss, _ = fn(float32_outputs(out), batch, cfg.loss, gen)
        t.append(time.perf_counter())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t.append(time.perf_counter())
        opt.step()
        t.append(time.perf_counter())
        if step:
            for i, name in enumerate(PHASES):
                times[name].append(t[i + 1] - t[i])
    return {name: float(np.median(v)) for name, v in times.items()}


def end_to_end(cfg: TrainConfig, steps: int) -> tuple[float, float]:
    """(steps per minute wall, CPU seconds of this process per step) of ``train`` over ``steps`` steps."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = replace(cfg, steps=steps, val_every=0, checkpoint_minutes=1e9)
        wall, cpu = time.perf_counter(), time.process_time()
        train(cfg, Path(tmp), progress=lambda _m: None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return 60.0 * steps / wall, cpu / steps


def curves(cfg: TrainConfig, steps: int, window: int) -> None:
    logs = {}
    for dtype in ("fp32", "bf16"):
        run = Path(tempfile.mkdtemp(prefix=f"curve-{dtype}-"))
        c = replace(cfg, dtype=dtype, steps=steps, val_every=0, log_every=1, warmup=20)
        t = time.perf_counter()
        train(c, run, progress=lambda _m: None)
        print(f"{dtype}: {steps} steps in {time.perf_counter() - t:.0f} s wall; log {run / 'train_log.csv'}")
        logs[dtype] = np.genfromtxt(run / "train_log.csv", delimiter=",", names=True)
    keys = [k for k in ("total", "camera", "depth", "point", "mvc") if k in logs["fp32"].dtype.names]
    print(f"mean loss per {window} steps (fp32 / bf16):")
    print("steps".ljust(12) + "".join(k.rjust(18) for k in keys))
    for lo in range(0, steps, window):
        row = f"{lo}-{min(lo + window, steps)}".ljust(12)
        for k in keys:
            pair = []
            for dtype in ("fp32", "bf16"):
                log = logs[dtype]
                sel = (log["step"] > lo) & (log["step"] <= lo + window)
                pair.append(float(np.nanmean(log[k][sel])))
            row += f"{pair[0]:.4f} / {pair[1]:.4f}".rjust(18)
        print(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10, help="steps per measurement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="render workers of the worker variant")
    ap.add_argument("--stage", choices=("all", "instance"), default="all")
    ap.add_argument("--size", type=int, default=224, help="square training size")
    ap.add_argument("--views", default="4-4", help="views per room MIN-MAX")
    ap.add_argument("--init", default=str(ROOT / "resources" / "weights" / "iggt-tiny.safetensors"))
    ap.add_argument("--curve", type=int, default=0, help="compare fp32 and bf16 loss curves over N steps")
    ap.add_argument("--window", type=int, default=50, help="averaging window of the curves")
    args = ap.parse_args()
    lo, hi = (int(x) for x in args.views.split("-"))
    cfg = TrainConfig(init=args.init, stage=args.stage, sizes=((args.size, args.size),), min_views=lo,
                      max_views=hi, threads=args.threads, seed=3, lr=1e-4, warmup=5)  # fmt: skip
    print(f"torch {torch.__version__}, {args.threads} threads, load average {os.getloadavg()[0]:.1f}; "
          f"stage {args.stage}, {lo}-{hi} views at {args.size}x{args.size}")  # fmt: skip
    if args.curve:
        curves(cfg, args.curve, args.window)
        return
    print("per-phase median seconds of a step (rooms rendered in this process):")
    print("dtype".ljust(6) + "".join(p.rjust(10) for p in PHASES))
    for dtype in ("fp32", "bf16"):
        prof = profile(replace(cfg, dtype=dtype), args.steps)
        print(dtype.ljust(6) + "".join(f"{prof[p]:10.3f}" for p in PHASES))
    print(f"end to end ({args.steps} steps of `train`):")
    for dtype, workers in (("fp32", 0), ("bf16", 0), ("bf16", args.workers)):
        per_min, cpu = end_to_end(replace(cfg, dtype=dtype, render_workers=workers), args.steps)
        print(f"  {dtype}, render workers {workers}: {per_min:.1f} steps/min, {cpu:.2f} CPU-s/step "
              f"(training process)")  # fmt: skip
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
