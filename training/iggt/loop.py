"""Resumable, deterministic training of IGGT on on-the-fly synthetic rooms (CPU or CUDA).

A run lives in one folder: ``last.pt`` (model + optimiser + step, rewritten atomically every few
minutes and at the end of a piece), ``train_log.csv`` (one row per logged step: the loss parts, lr,
speed; TensorBoard-compatible scalars can be derived from it), ``val_log.csv`` (loss on fixed held-out
rooms) and ``config.json``. Calling ``train`` again on the same folder continues where it stopped,
so long runs are split into pieces (``max_minutes``). Given the seed and the thread count, the
data, the pixel samples and therefore the run are deterministic: scene seeds and view counts are a
pure function of (seed, step).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training.synthetic import render_room
from training.synthetic.config import TRAIN_SEED_OFFSET, VAL_SEED_OFFSET

from .losses import LossWeights, iggt_loss, instance_loss
from .stages import check_stage, instance_forward, reinit_instance_branch, set_trainable
from .targets import make_batch

LOG_FIELDS = [
    "step",
    "elapsed_s",
    "lr",
    "total",
    "camera",
    "depth",
    "point",
    "mvc",
    "views",
    "height",
    "width",
    "step_s",
]
VAL_FIELDS = ["step", "elapsed_s", "total", "camera", "depth", "point", "mvc"]


@dataclass
class TrainConfig:
    model: str = "tiny"
    steps: int = 20_000  # step at which the cosine schedule ends (the whole run, all pieces)
    lr: float = 4e-4
    min_lr_ratio: float = 0.05
    warmup: int = 300
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    batch_size: int = 1  # rooms per step
    min_views: int = 2
    max_views: int = 8
    sizes: tuple[tuple[int, int], ...] = ((112, 112),)  # one drawn per step
    seed: int = 0
    checkpoint_minutes: float = 5.0
    max_minutes: float = 110.0  # length of one piece; the next call resumes
    log_every: int = 10
    val_every: int = 200
    val_scenes: int = 4
    val_views: int = 4
    threads: int = 1
    device: str = "cpu"
    init: str | None = None  # fine-tune from this checkpoint (anything load_iggt accepts)
    # step at which the (warm-up + cosine) schedule starts; a resume that asks for a later start than the
    # run's switches to a fresh schedule (its lr, warmup, min_lr_ratio) from that step on
    schedule_start: int = 0
    stage: str = "all"  # "all" or "instance" (only the instance branch, trunk frozen; see stages.py)
    reinit_instance: bool = False  # start the instance branch from fresh weights (new runs only)
    # "bf16": the forward pass under torch.autocast in bfloat16 (AVX-512 BF16 CPUs, CUDA); parameters,
    # optimizer state and losses stay float32. "fp32": everything float32.
    dtype: str = "fp32"
    # rooms rendered ahead by this many worker processes (0: in the training process, between steps)
    render_workers: int = 0
    loss: LossWeights = dataclasses.field(default_factory=LossWeights)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        data["loss"] = LossWeights(**data.get("loss", {}))
        data["sizes"] = tuple(tuple(s) for s in data.get("sizes", ((112, 112),)))
        return cls(**data)


def step_plan(cfg: TrainConfig, step: int) -> tuple[list[int], int, int, int]:
    """Scene seeds, views and size of a step: a pure function of (seed, step)."""
    rng = np.random.default_rng([cfg.seed, step, 7])
    views = int(rng.integers(cfg.min_views, cfg.max_views + 1))
    h, w = cfg.sizes[int(rng.integers(len(cfg.sizes)))]
    seeds = [
        TRAIN_SEED_OFFSET + cfg.seed * 10_000_000 + step * cfg.batch_size + i for i in range(cfg.batch_size)
    ]
    return seeds, views, h, w


def autocast(cfg: TrainConfig) -> contextlib.AbstractContextManager:
    """The forward pass's precision context: bfloat16 autocast for ``dtype="bf16"``, else nothing."""
    if cfg.dtype == "bf16":
        return torch.autocast(device_type=torch.device(cfg.device).type, dtype=torch.bfloat16)
    if cfg.dtype != "fp32":
        raise ValueError(f"dtype must be 'fp32' or 'bf16', not {cfg.dtype!r}")
    return contextlib.nullcontext()


def float32_outputs(obj):
    """Network outputs as float32 (the losses are computed in full precision)."""
    if torch.is_tensor(obj):
        return obj.float() if obj.is_floating_point() else obj
    if isinstance(obj, dict):
        return {k: float32_outputs(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(float32_outputs(v) for v in obj)
    return obj


def step_loss(net: torch.nn.Module, batch, cfg: TrainConfig, gen: torch.Generator):
    """(loss, parts) of one training step: the forward under `autocast`, the loss in float32."""
    with autocast(cfg):
        out = instance_forward(net, batch.images) if cfg.stage == "instance" else net(batch.images)
    out = float32_outputs(out)
    if cfg.stage == "instance":
        return instance_loss(out, batch, cfg.loss, gen)
    return iggt_loss(out, batch, cfg.loss, gen)


def render_step(cfg: TrainConfig, step: int) -> tuple[int, int, int, list]:
    """(views, height, width, rooms) of a step: a pure function of (cfg.seed, step)."""
    seeds, views, h, w = step_plan(cfg, step)
    return views, h, w, [render_room(s, views, h, w) for s in seeds]


class RoomSource:
    """The rooms of each step, rendered in this process or ahead of time by worker processes
    (``cfg.render_workers``), so rendering (numpy ray casting, about as long as a tiny-model step on
    one core) leaves the training step's critical path. Same rooms either way: they depend only on
    (seed, step)."""

    def __init__(self, cfg: TrainConfig, first_step: int) -> None:
        self.cfg = cfg
        self.next_step = first_step
        self.pending: dict = {}
        self.pool = None
        if cfg.render_workers > 0:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(
                cfg.render_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_render_worker_init,
            )

    def take(self, step: int) -> tuple[int, int, int, list]:
        if self.pool is None:
            return render_step(self.cfg, step)
        ahead = 2 * self.cfg.render_workers
        self.next_step = max(self.next_step, step)
        while self.next_step < min(step + ahead, self.cfg.steps):
            self.pending[self.next_step] = self.pool.submit(render_step, self.cfg, self.next_step)
            self.next_step += 1
        future = self.pending.pop(step, None)
        return future.result() if future is not None else render_step(self.cfg, step)

    def close(self) -> None:
        if self.pool is not None:
            for future in self.pending.values():
                future.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _render_worker_init() -> None:
    torch.set_num_threads(1)


def lr_at(cfg: TrainConfig, step: int) -> float:
    step -= cfg.schedule_start
    if step < cfg.warmup:
        return cfg.lr * (max(step, 0) + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.schedule_start - cfg.warmup))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".partial")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _append_csv(path: Path, fields: list[str], row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _truncate_csv(path: Path, last_step: int) -> None:
    """Drop rows logged after the checkpoint we resume from (they will be recomputed)."""
    if not path.exists():
        return
    with path.open() as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    fields = list(rows[0].keys())
    tmp = path.with_suffix(".partial")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(r for r in rows if int(r["step"]) <= last_step)
    os.replace(tmp, path)


def build_model(cfg: TrainConfig) -> torch.nn.Module:
    from model import IGGTConfig, build_iggt

    if cfg.init:
        from model.checkpoint import load_iggt

        return load_iggt(cfg.init)
    factory = getattr(IGGTConfig, cfg.model, None)
    if factory is None:
        raise ValueError(f"unknown model config {cfg.model!r} (use 'tiny' or 'full')")
    return build_iggt(factory())


@torch.no_grad()
def validation_loss(net: torch.nn.Module, cfg: TrainConfig, size: tuple[int, int]) -> dict[str, float]:
    net.eval()
    sums: dict[str, float] = {}
    for i in range(cfg.val_scenes):
        scene = render_room(VAL_SEED_OFFSET + i, cfg.val_views, *size)
        batch = make_batch([scene])
        batch = batch.to(cfg.device)
        out = net(batch.images)
        _, parts = iggt_loss(out, batch, cfg.loss, torch.Generator().manual_seed(i))
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v / cfg.val_scenes
    net.train()
    return sums


def train(
    cfg: TrainConfig,
    out_dir: Path,
    progress: Callable[[str], None] = print,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Train (or continue training) in ``out_dir``; returns the step reached."""
    out_dir = Path(out_dir)
    autocast(cfg)  # a bad dtype fails before anything is written
    if cfg.render_workers < 0:
        raise ValueError(f"render_workers must be >= 0, not {cfg.render_workers}")
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    ckpt_path = out_dir / "last.pt"
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False) if ckpt_path.exists() else None
    if state is not None:
        saved = TrainConfig.from_dict(state["train_config"])
        requested = cfg
        # data and model must match; the schedule length, loss weights and piece length may change
        cfg = dataclasses.replace(
            saved,
            max_minutes=cfg.max_minutes,
            checkpoint_minutes=cfg.checkpoint_minutes,
            threads=cfg.threads,
            device=cfg.device,
            steps=cfg.steps or saved.steps,
            loss=cfg.loss,
            dtype=cfg.dtype,
            render_workers=cfg.render_workers,
        )
        if requested.schedule_start > saved.schedule_start:  # a fresh schedule for the continuation
            cfg = dataclasses.replace(
                cfg,
                schedule_start=requested.schedule_start,
                lr=requested.lr,
                warmup=requested.warmup,
                min_lr_ratio=requested.min_lr_ratio,
            )
    if state is not None:  # resume: the architecture recorded in the checkpoint (also for fine-tuning runs)
        from model import IGGTConfig, build_iggt

        net = build_iggt(IGGTConfig.from_dict(state["model_config"]))
        net.load_state_dict(state["model"])
    else:
        net = build_model(cfg)
        if cfg.reinit_instance:
            reinit_instance_branch(net, cfg.seed)
    net.to(cfg.device).train()
    trainable = set_trainable(net, check_stage(cfg.stage))
    decay = [p for p in trainable if p.ndim >= 2]
    no_decay = [p for p in trainable if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    step, elapsed = 0, 0.0
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state["elapsed_s"])
        progress(f"resuming {out_dir} at step {step} ({elapsed / 60:.1f} min trained)")
    _truncate_csv(out_dir / "train_log.csv", step)
    _truncate_csv(out_dir / "val_log.csv", step)
    (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))

    def save() -> None:
        _atomic_torch_save(
            {
                "model": net.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "elapsed_s": elapsed,
                "train_config": cfg.to_dict(),
                "model_config": getattr(getattr(net, "config", None), "to_dict", dict)(),
            },
            ckpt_path,
        )

    piece_start = time.perf_counter()
    last_ckpt = piece_start
    rooms = RoomSource(cfg, step)
    while step < cfg.steps:
        t0 = time.perf_counter()
        views, h, w, scenes = rooms.take(step)
        wait = time.perf_counter() - t0
        batch = make_batch(scenes).to(cfg.device)
        lr = lr_at(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr
        gen = torch.Generator().manual_seed(cfg.seed * 7_919 + step)
        loss, parts = step_loss(net, batch, cfg, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
        opt.step()
        step += 1
        dt = time.perf_counter() - t0
        elapsed += dt
        if step % cfg.log_every == 0 or step == 1:
            row = {
                "step": step,
                "elapsed_s": round(elapsed, 1),
                "lr": f"{lr:.3e}",
                **{k: f"{v:.5f}" for k, v in parts.items()},
                "views": views,
                "height": h,
                "width": w,
                "step_s": round(dt, 3),
            }
            _append_csv(out_dir / "train_log.csv", LOG_FIELDS, row)
            progress(
                f"step {step}/{cfg.steps} loss {parts['total']:.4f} ("
                + " ".join(f"{k} {parts[k]:.3f}" for k in ("camera", "depth", "point", "mvc") if k in parts)
                + f") {views}x{h}x{w} {dt:.2f}s/step (rooms {wait:.2f}s) lr {lr:.2e}"
            )
        if cfg.val_every and step % cfg.val_every == 0:
            val = validation_loss(net, cfg, cfg.sizes[-1])
            _append_csv(
                out_dir / "val_log.csv",
                VAL_FIELDS,
                {"step": step, "elapsed_s": round(elapsed, 1), **{k: f"{v:.5f}" for k, v in val.items()}},
            )
            progress(f"val step {step}: " + " ".join(f"{k} {v:.4f}" for k, v in val.items()))
        now = time.perf_counter()
        if now - last_ckpt > cfg.checkpoint_minutes * 60:
            save()
            last_ckpt = now
        if now - piece_start > cfg.max_minutes * 60 or should_stop():
            progress(f"piece finished at step {step}; run again to resume")
            break
    rooms.close()
    save()
    return step
