"""Synthetic furnished rooms for training and evaluating IGGT (numpy only)."""

from model.clip.vocabulary import CATEGORIES, CATEGORY_ID, COLOUR_NAMES, FURNITURE, PALETTE

from .config import RoomConfig
from .render import SyntheticScene, render_room

__all__ = [
    "CATEGORIES",
    "CATEGORY_ID",
    "COLOUR_NAMES",
    "FURNITURE",
    "PALETTE",
    "RoomConfig",
    "SyntheticScene",
    "render_room",
]
