"""IGGT network: configuration, construction, checkpoint loading and inference."""

from .config import IGGTConfig
from .iggt import IGGT, build_iggt

__all__ = ["IGGT", "IGGTConfig", "build_iggt"]
