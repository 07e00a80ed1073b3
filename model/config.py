"""Network configuration: one dataclass describing every width, depth and variant switch."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

# H and W must be multiples of this: the patch size (14) times 2, because the part head's 8x8 windows
# run on the 4x- and 8x-upsampled patch grid, which therefore has to be even.
SIZE_MULTIPLE = 28


@dataclass(frozen=True)
class IGGTConfig:
    """Architecture of an IGGT network (VGGT geometry + instance branch).

    ``IGGTConfig.full()`` is the official IGGT (lifuguan/IGGT_official, ~1.3B parameters): DINOv2 ViT-L/14
    with 4 registers, 24 alternating frame/global blocks of width 1024, camera/depth/point heads and the
    instance branch (part adaptor + part head) producing 8-dim features.

    ``IGGTConfig.tiny()`` runs the very same code paths with small sizes (about 5M parameters), for
    training on synthetic rooms and for fast tests (forward+backward of 4 views at 224x224 takes ~3 s
    on one CPU core):
      * patch embedding: ViT width 128, depth 4, 2 heads (head dim 64), 4 registers, 16x16 position grid;
      * aggregator: width 128, 4 frame + 4 global blocks, 2 heads, qk-norm and 2D RoPE as the full model;
      * heads read aggregator layers (0, 1, 2, 3) (the full model's 4, 11, 17, 23 of 24, scaled);
      * camera head: 2 trunk blocks (width 256, 4 heads, MLP ratio 2), 4 refinement iterations;
      * DPT heads: 32 features, per-level channels (32, 64, 128, 128), output hidden width 16;
      * part adaptor 32 channels; part head 32 features, 4 cross-attention heads, 8x8 windows with
        1 head, window-stage conv width 16, channel-attention squeeze 8;
      * ``keep_unused=False`` (there is no official tiny checkpoint to mirror).

    ``keep_unused``: when True (the default of ``full()``) the modules the inference forward never reads
    are built too (tracking head, the part head's DPT leftovers ``norm/projects/resize_layers`` and its
    discarded ``cross_attention_1``, DINOv2's ``mask_token``), so ``state_dict()`` equals the official
    one key for key. ``load_iggt`` and ``predict`` use ``keep_unused=False`` (about 319 MiB less for
    the full model); the skipped checkpoint keys are logged. The forward output is the same either way.
    """

    name: str = "full"
    # DINOv2 patch embedding
    patch_size: int = 14
    pos_grid: int = 37  # learned position grid of DINOv2 (img_size 518 / 14); resized to the input
    embed_dim: int = 1024
    vit_depth: int = 24
    vit_heads: int = 16
    vit_mlp_ratio: float = 4.0
    num_register_tokens: int = 4
    # alternating-attention aggregator
    aa_depth: int = 24
    aa_heads: int = 16
    aa_mlp_ratio: float = 4.0
    rope_freq: float = 100.0
    # aggregator layers read by the DPT heads and the part adaptor; the camera head reads the last one
    head_layers: tuple[int, ...] = (4, 11, 17, 23)
    # camera head
    camera_trunk_depth: int = 4
    camera_heads: int = 16
    camera_mlp_ratio: float = 4.0
    camera_iterations: int = 4
    # depth / point DPT heads
    dpt_features: int = 256
    dpt_out_channels: tuple[int, ...] = (256, 512, 1024, 1024)
    dpt_hidden: int = 32
    # instance branch
    adaptor_channels: int = 256
    part_features: int = 256
    part_dim: int = 8
    part_cross_heads: int = 8
    part_window_size: int = 8
    part_window_heads: int = 4
    part_window_overlap: float = 0.5
    part_window_mlp_ratio: float = 4.0
    part_conv_features: int = 64
    part_cab_compress: int = 3
    part_cab_squeeze: int = 30
    # tracking head (weights only: built when keep_unused is True)
    track_features: int = 128
    track_hidden: int = 384
    track_corr_levels: int = 7
    track_corr_radius: int = 4
    track_depth: int = 6
    track_heads: int = 8
    # variant switch, see the class docstring
    keep_unused: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.embed_dim % self.vit_heads or self.embed_dim % self.aa_heads:
            problems.append("embed_dim must be divisible by vit_heads and aa_heads")
        elif (self.embed_dim // self.aa_heads) % 4:
            problems.append("the aggregator head dim must be divisible by 4 (2D RoPE)")
        if (2 * self.embed_dim) % self.camera_heads:
            problems.append("2*embed_dim must be divisible by camera_heads")
        if len(self.head_layers) != 4 or not all(0 <= i < self.aa_depth for i in self.head_layers):
            problems.append(f"head_layers must be 4 indices in [0, {self.aa_depth})")
        if len(self.dpt_out_channels) != 4:
            problems.append("dpt_out_channels must have 4 entries")
        if self.part_features % self.part_cross_heads or self.part_features % self.part_window_heads:
            problems.append("part_features must be divisible by the part head's attention heads")
        if (self.part_features // 2) % self.part_window_heads:
            problems.append("part_features/2 must be divisible by part_window_heads")
        if self.part_features % self.part_window_size:
            problems.append("part_features must be divisible by part_window_size")
        if (self.part_features // 2) // self.part_cab_squeeze < 1:
            problems.append("part_cab_squeeze too large for part_features/2")
        if problems:
            raise ValueError("invalid IGGTConfig: " + "; ".join(problems))

    # ------------------------------------------------------------------ presets
    @classmethod
    def full(cls, **overrides: Any) -> IGGTConfig:
        """The official IGGT architecture (all modules kept unless overridden)."""
        return cls(**overrides)

    @classmethod
    def tiny(cls, **overrides: Any) -> IGGTConfig:
        """Small network with the same code paths (see the class docstring)."""
        values: dict[str, Any] = dict(
            name="tiny",
            pos_grid=16,
            embed_dim=128,
            vit_depth=4,
            vit_heads=2,
            aa_depth=4,
            aa_heads=2,
            head_layers=(0, 1, 2, 3),
            camera_trunk_depth=2,
            camera_heads=4,
            camera_mlp_ratio=2.0,
            dpt_features=32,
            dpt_out_channels=(32, 64, 128, 128),
            dpt_hidden=16,
            adaptor_channels=32,
            part_features=32,
            part_cross_heads=4,
            part_window_heads=1,
            part_conv_features=16,
            part_cab_squeeze=8,
            track_features=32,
            track_hidden=64,
            track_corr_levels=3,
            track_corr_radius=2,
            track_depth=1,
            track_heads=4,
            keep_unused=False,
        )
        values.update(overrides)
        return cls(**values)

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> IGGTConfig:
        return dataclasses.replace(self, **changes)

    @property
    def token_dim(self) -> int:
        """Channels of an aggregator output token (frame and global halves concatenated)."""
        return 2 * self.embed_dim

    @property
    def output_layers(self) -> tuple[int, ...]:
        """Aggregator layers whose outputs the heads read (all others are not kept)."""
        return tuple(sorted({*self.head_layers, self.aa_depth - 1}))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IGGTConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown IGGTConfig fields: {', '.join(unknown)}")
        values = dict(data)
        for key in ("head_layers", "dpt_out_channels"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> IGGTConfig:
        return cls.from_dict(json.loads(text))
