"""Train the tiny CLIP with open_clip's ClipLoss on the crop data set. Resumable: a checkpoint is written
atomically every few hundred steps and picked up on restart.

    python -m training.clip.train --run /work/runs/clip-tiny --steps 4000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from model.clip.config import TinyClipConfig, build_tiny_clip, save_tiny_clip, tiny_tokenizer

from .captions import absent_captions, sample_caption
from .data import CLASSES, COLOURS, CropSet
from .encode import normalise_images, uint8_to_tensor
from .evaluate import zero_shot


@dataclass
class TrainConfig:
    steps: int = 4000
    batch: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.1
    warmup: int = 200
    absent_negatives: int = 16  # captions of absent things added as extra negatives per batch
    structure_prob: float = 0.12  # share of the batch drawn from floor / wall / ceiling patches
    brightness: float = 0.08
    checkpoint_every: int = 200
    eval_every: int = 500
    seed: int = 0


class BatchSampler:
    """Class-balanced batches in which no (class, colour) pair repeats, so a caption such as
    "a red chair" has a single positive image in the batch (fewer false negatives for the CLIP loss)."""

    def __init__(self, data: CropSet, cfg: TrainConfig, rng: np.random.Generator):
        self.rng, self.cfg = rng, cfg
        self.by_class = {c: np.flatnonzero(data.classes == c) for c in np.unique(data.classes)}
        self.furniture = [c for c in self.by_class if CLASSES[c] not in ("floor", "wall", "ceiling")]
        self.structure = [c for c in self.by_class if c not in self.furniture]
        self.colours = data.colours

    def __call__(self) -> np.ndarray:
        picked, keys = [], set()
        tries = 0
        while len(picked) < self.cfg.batch and tries < self.cfg.batch * 20:
            tries += 1
            pool = (
                self.structure
                if self.structure and self.rng.random() < self.cfg.structure_prob
                else self.furniture
            )
            c = pool[int(self.rng.integers(len(pool)))]
            i = int(self.rng.choice(self.by_class[c]))
            key = (c, int(self.colours[i]))
            if key in keys:
                continue
            keys.add(key)
            picked.append(i)
        return np.asarray(picked)


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        skip = (
            skip or "token_embedding" in name or "positional_embedding" in name or "class_embedding" in name
        )
        (no_decay if skip else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def _augment(x: torch.Tensor, rng: np.random.Generator, brightness: float) -> torch.Tensor:
    flip = torch.as_tensor(rng.random(len(x)) < 0.5)
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    scale = torch.as_tensor(1.0 + rng.uniform(-brightness, brightness, len(x)), dtype=x.dtype)
    return (x * scale.view(-1, 1, 1, 1)).clamp_(0.0, 1.0)


def _absent_loss(model, tokenizer, rng, n, image_f, text_f, scale) -> torch.Tensor:
    """Image-to-text cross-entropy with captions of absent things appended as extra negatives."""
    import torch.nn.functional as F

    absent = F.normalize(model.encode_text(tokenizer(absent_captions(rng, n))), dim=-1)
    logits = scale * image_f @ torch.cat([text_f, absent]).T
    return F.cross_entropy(logits, torch.arange(len(image_f)))


def _save_checkpoint(path: Path, model, opt, step: int, rng: np.random.Generator) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "rng": rng.bit_generator.state},
        tmp,
    )
    os.replace(tmp, path)


def train(
    run: Path, cfg: TrainConfig, model_cfg: TinyClipConfig, train_data: CropSet, heldout: CropSet | None
) -> None:
    import open_clip

    run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = build_tiny_clip(model_cfg)
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    ckpt_path = run / "checkpoint.pt"
    step = 0
    if ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
        rng.bit_generator.state = state["rng"]
        print(f"resumed at step {step}", flush=True)
    (run / "config.json").write_text(
        json.dumps({"train": asdict(cfg), "model": model_cfg.to_json()}, indent=2)
    )
    loss_fn = open_clip.ClipLoss()
    tokenizer = tiny_tokenizer(model_cfg)
    sampler = BatchSampler(train_data, cfg, rng)
    log = (run / "train.log").open("a")
    start, losses = time.time(), []
    model.train()
    while step < cfg.steps:
        idx = sampler()
        images = _augment(uint8_to_tensor(train_data.crops[idx]), rng, cfg.brightness)
        captions = [
            sample_caption(
                rng,
                CLASSES[train_data.classes[i]],
                COLOURS[train_data.colours[i]] if train_data.colours[i] >= 0 else None,
            )
            for i in idx
        ]
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, cfg)
        image_f, text_f, scale = model(normalise_images(images, model_cfg), tokenizer(captions))
        loss = loss_fn(image_f, text_f, scale)
        if cfg.absent_negatives:
            loss = loss + _absent_loss(model, tokenizer, rng, cfg.absent_negatives, image_f, text_f, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        losses.append(loss.item())
        if step % 50 == 0:
            line = (
                f"step {step} loss {np.mean(losses):.4f} lr {_lr_at(step, cfg):.2e} "
                f"scale {scale.item():.1f} {time.time() - start:.0f}s"
            )
            print(line, flush=True)
            log.write(line + "\n")
            log.flush()
            losses = []
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            _save_checkpoint(ckpt_path, model, opt, step, rng)
        if heldout is not None and (step % cfg.eval_every == 0 or step == cfg.steps):
            result = zero_shot(model, model_cfg, heldout)
            line = f"eval step {step} crop_top1 {result.crop_top1:.4f} mask_top1 {result.mask_top1:.4f}"
            print(line, flush=True)
            log.write(line + " " + json.dumps(result.per_class) + "\n")
            log.flush()
            model.train()
    save_tiny_clip(model, model_cfg, run / "clip-tiny.safetensors")
    print(f"done: {run / 'clip-tiny.safetensors'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="train the tiny CLIP on synthetic crops")
    parser.add_argument("--run", type=Path, required=True, help="run folder (data/, checkpoints, log)")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_data = CropSet.load(args.run / "data" / "train.npz")
    heldout_path = args.run / "data" / "heldout.npz"
    heldout = CropSet.load(heldout_path) if heldout_path.is_file() else None
    cfg = TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr)
    train(args.run, cfg, TinyClipConfig(), train_data, heldout)


if __name__ == "__main__":
    main()
