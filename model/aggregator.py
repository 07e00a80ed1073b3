"""Alternating-attention aggregator (VGGT): per-frame and all-frame attention over DINOv2 tokens."""

from __future__ import annotations

import torch
from torch import nn

from .config import IGGTConfig
from .layers import Block, Rope2D, VisionTransformer, patch_positions

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4: no device argument (CUDA only)
        return device_type == "cuda" and torch.is_autocast_enabled()


def first_and_rest(tokens: torch.Tensor, batch: int, frames: int) -> torch.Tensor:
    """(1, 2, X, C) learned tokens -> (batch*frames, X, C): index 0 for frame 0, index 1 for the others."""
    first = tokens[:, :1].expand(batch, 1, *tokens.shape[2:])
    rest = tokens[:, 1:].expand(batch, frames - 1, *tokens.shape[2:])
    return torch.cat([first, rest], dim=1).reshape(batch * frames, *tokens.shape[2:])


class Aggregator(nn.Module):
    """Images (B, S, 3, H, W) in [0, 1] -> {layer: (B, S, 1 + R + P, 2C)} for the requested layers.

    Each output concatenates the frame-attention and global-attention block outputs of that depth.
    Token order per frame: camera token, R register tokens, patch tokens (row-major).
    Only the layers listed in ``keep`` are materialised (the official code keeps all of them).
    """

    def __init__(self, cfg: IGGTConfig) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.patch_embed = VisionTransformer(
            patch_size=cfg.patch_size,
            dim=dim,
            depth=cfg.vit_depth,
            num_heads=cfg.vit_heads,
            mlp_ratio=cfg.vit_mlp_ratio,
            num_registers=cfg.num_register_tokens,
            pos_grid=cfg.pos_grid,
            with_mask_token=cfg.keep_unused,
        )
        self.rope = Rope2D(cfg.rope_freq)

        def make_block() -> Block:
            return Block(dim, cfg.aa_heads, cfg.aa_mlp_ratio, layer_scale=0.01, qk_norm=True, rope=self.rope)

        self.frame_blocks = nn.ModuleList(make_block() for _ in range(cfg.aa_depth))
        self.global_blocks = nn.ModuleList(make_block() for _ in range(cfg.aa_depth))
        self.camera_token = nn.Parameter(torch.zeros(1, 2, 1, dim))
        self.register_token = nn.Parameter(torch.zeros(1, 2, cfg.num_register_tokens, dim))
        self.patch_size = cfg.patch_size
        self.num_special = 1 + cfg.num_register_tokens
        self.head_dim = dim // cfg.aa_heads
        self.register_buffer("_resnet_mean", torch.tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1), False)
        self.register_buffer("_resnet_std", torch.tensor(IMAGENET_STD).view(1, 1, 3, 1, 1), False)

    @property
    def patch_start_idx(self) -> int:
        return self.num_special

    def forward(self, images: torch.Tensor, keep: tuple[int, ...]) -> dict[int, torch.Tensor]:
        weight_dtype = self.camera_token.dtype
        device_type = images.device.type
        if weight_dtype == torch.float32 or _autocast_on(device_type):
            return self._forward(images, keep)
        # weights stored in reduced precision (load_iggt(dtype=...)): compute in that precision
        with torch.autocast(device_type, dtype=weight_dtype):
            return self._forward(images, keep)

    def _forward(self, images: torch.Tensor, keep: tuple[int, ...]) -> dict[int, torch.Tensor]:
        b, s, _, h, w = images.shape
        rows, cols = h // self.patch_size, w // self.patch_size
        normalised = ((images - self._resnet_mean) / self._resnet_std).reshape(b * s, 3, h, w)
        patches = self.patch_embed(normalised)
        del normalised
        c = patches.shape[-1]
        tokens = torch.cat(
            [
                first_and_rest(self.camera_token, b, s).to(patches.dtype),
                first_and_rest(self.register_token, b, s).to(patches.dtype),
                patches,
            ],
            dim=1,
        )
        del patches
        p = tokens.shape[1]
        positions = patch_positions(rows, cols, self.num_special, images.device)
        frame_tables = self.rope.tables(positions, self.head_dim, torch.float32)
        global_tables = frame_tables.repeat(s)

        outputs: dict[int, torch.Tensor] = {}
        depth = len(self.frame_blocks)
        for i in range(depth):
            tokens = self.frame_blocks[i](tokens.reshape(b * s, p, c), frame_tables)
            frame_out = tokens.reshape(b, s, p, c) if i in keep else None
            tokens = self.global_blocks[i](tokens.reshape(b, s * p, c), global_tables)
            if frame_out is not None:
                outputs[i] = torch.cat([frame_out, tokens.reshape(b, s, p, c)], dim=-1)
            del frame_out
        return outputs
