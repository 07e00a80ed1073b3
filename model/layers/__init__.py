"""Building blocks shared by the aggregator and the heads."""

from .attention import CrossAttention, SelfAttention
from .block import Block, LayerScale, Mlp
from .rope import Rope2D, RopeTables, patch_positions
from .vit import VisionTransformer

__all__ = [
    "Block",
    "CrossAttention",
    "LayerScale",
    "Mlp",
    "Rope2D",
    "RopeTables",
    "SelfAttention",
    "VisionTransformer",
    "patch_positions",
]
