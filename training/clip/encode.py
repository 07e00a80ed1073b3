"""Batched image / text encoding with the tiny CLIP (normalised features), used by training and evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from model.clip.config import TinyClipConfig, tiny_tokenizer
from model.clip.prompts import query_prompts


def normalise_images(images: torch.Tensor, cfg: TinyClipConfig) -> torch.Tensor:
    """(N,3,S,S) float in [0,1] -> the model's input normalisation."""
    mean = torch.tensor(cfg.mean, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(cfg.std, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


def uint8_to_tensor(crops: np.ndarray) -> torch.Tensor:
    """(N,S,S,3) uint8 -> (N,3,S,S) float in [0,1]."""
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def encode_crops(model, cfg: TinyClipConfig, crops: np.ndarray, batch: int = 256) -> torch.Tensor:
    model.eval()
    out = []
    for i in range(0, len(crops), batch):
        x = normalise_images(uint8_to_tensor(crops[i : i + batch]), cfg)
        out.append(F.normalize(model.encode_image(x), dim=-1))
    return torch.cat(out) if out else torch.zeros(0, cfg.embed_dim)


@torch.no_grad()
def encode_class_prompts(model, cfg: TinyClipConfig, names: Sequence[str]) -> torch.Tensor:
    """One ensembled, normalised text embedding per class name."""
    model.eval()
    tok = tiny_tokenizer(cfg)
    rows = []
    for name in names:
        feats = F.normalize(model.encode_text(tok(query_prompts(name))), dim=-1).mean(0)
        rows.append(F.normalize(feats, dim=-1))
    return torch.stack(rows)
