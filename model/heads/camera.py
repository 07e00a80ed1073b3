"""Camera head: iterative refinement of a 9-d pose encoding from the camera tokens."""

from __future__ import annotations

import torch
from torch import nn

from ..config import IGGTConfig
from ..layers import Block, Mlp
from ..layers.linear import Linear
from .activations import activate_pose

POSE_DIM = 9  # absT_quaR_FoV: [tx, ty, tz, qx, qy, qz, qw, fov_h, fov_w]


class CameraHead(nn.Module):
    """Camera tokens (B, S, 2C) -> list of ``iterations`` activated encodings (B, S, 9).

    Each iteration embeds the current (pre-activation) encoding, modulates the normalised tokens with
    it (adaLN: shift, scale, gate), runs the trunk (attention across frames) and adds a delta.
    """

    def __init__(self, cfg: IGGTConfig) -> None:
        super().__init__()
        dim = cfg.token_dim
        self.iterations = cfg.camera_iterations
        self.trunk = nn.Sequential(
            *(
                Block(dim, cfg.camera_heads, cfg.camera_mlp_ratio, layer_scale=0.01)
                for _ in range(cfg.camera_trunk_depth)
            )
        )
        self.token_norm = nn.LayerNorm(dim)
        self.trunk_norm = nn.LayerNorm(dim)
        self.empty_pose_tokens = nn.Parameter(torch.zeros(1, 1, POSE_DIM))
        self.embed_pose = Linear(POSE_DIM, dim)
        self.poseLN_modulation = nn.Sequential(nn.SiLU(), Linear(dim, 3 * dim))
        self.adaln_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.pose_branch = Mlp(dim, dim // 2, POSE_DIM)

    def forward(self, camera_tokens: torch.Tensor) -> list[torch.Tensor]:
        b, s, _ = camera_tokens.shape
        tokens = self.token_norm(camera_tokens)
        normed = self.adaln_norm(tokens)
        encoding = None
        results = []
        for _ in range(self.iterations):
            if encoding is None:
                cond = self.embed_pose(self.empty_pose_tokens.expand(b, s, -1))
            else:
                cond = self.embed_pose(encoding.detach())
            shift, scale, gate = self.poseLN_modulation(cond).chunk(3, dim=-1)
            x = gate * (normed * (1 + scale) + shift) + tokens
            x = self.trunk(x)
            delta = self.pose_branch(self.trunk_norm(x))
            encoding = delta if encoding is None else encoding + delta
            results.append(activate_pose(encoding))
        return results
