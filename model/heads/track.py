"""Tracking head parameters (VGGT's TrackHead), kept only for checkpoint fidelity.

IGGT's inference forward never runs the tracker (it needs query points), so this module only mirrors
the official parameter layout: ``build_iggt(IGGTConfig.full())`` exposes exactly the official state
dict, and such a checkpoint round-trips. Point tracking itself is not part of this application.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import IGGTConfig
from .dpt import DPTHead


class _Mlp(nn.Module):
    def __init__(self, dim_in: int, hidden: int, dim_out: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim_in, hidden)
        self.fc2 = nn.Linear(hidden, dim_out)


class _SelfBlock(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = _Mlp(dim, 4 * dim, dim)


class _CrossBlock(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.cross_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = _Mlp(dim, 4 * dim, dim)


class _UpdateFormer(nn.Module):
    def __init__(self, input_dim: int, hidden: int, output_dim: int, depth: int, heads: int) -> None:
        super().__init__()
        self.input_norm = nn.LayerNorm(input_dim)
        self.input_transform = nn.Linear(input_dim, hidden)
        self.output_norm = nn.LayerNorm(hidden)
        self.flow_head = nn.Linear(hidden, output_dim)
        self.virual_tracks = nn.Parameter(torch.zeros(1, 64, 1, hidden))  # sic: official spelling
        self.time_blocks = nn.ModuleList(_SelfBlock(hidden, heads) for _ in range(depth))
        self.space_virtual_blocks = nn.ModuleList(_SelfBlock(hidden, heads) for _ in range(depth))
        self.space_point2virtual_blocks = nn.ModuleList(_CrossBlock(hidden, heads) for _ in range(depth))
        self.space_virtual2point_blocks = nn.ModuleList(_CrossBlock(hidden, heads) for _ in range(depth))


class _Tracker(nn.Module):
    def __init__(self, cfg: IGGTConfig) -> None:
        super().__init__()
        latent = cfg.track_features
        transformer_dim = 3 * latent + 4
        corr_dim = cfg.track_corr_levels * (2 * cfg.track_corr_radius + 1) ** 2
        self.corr_mlp = _Mlp(corr_dim, cfg.track_hidden, latent)
        self.query_ref_token = nn.Parameter(torch.zeros(1, 2, transformer_dim))
        self.updateformer = _UpdateFormer(
            transformer_dim, cfg.track_hidden, latent + 2, cfg.track_depth, cfg.track_heads
        )
        self.fmap_norm = nn.LayerNorm(latent)
        self.ffeat_norm = nn.GroupNorm(1, latent)
        self.ffeat_updater = nn.Sequential(nn.Linear(latent, latent), nn.GELU())
        self.vis_predictor = nn.Sequential(nn.Linear(latent, 1))
        self.conf_predictor = nn.Sequential(nn.Linear(latent, 1))


class TrackHead(nn.Module):
    def __init__(self, cfg: IGGTConfig) -> None:
        super().__init__()
        self.feature_extractor = DPTHead(
            cfg.token_dim, output_dim=None, features=cfg.track_features, out_channels=cfg.dpt_out_channels
        )
        self.tracker = _Tracker(cfg)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("Point tracking is not supported; the track head only holds weights.")
