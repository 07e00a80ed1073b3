"""Prediction heads of IGGT."""

from .camera import CameraHead
from .dpt import DPTHead
from .part_adaptor import PartAdaptor
from .part_head import PartHead
from .track import TrackHead

__all__ = ["CameraHead", "DPTHead", "PartAdaptor", "PartHead", "TrackHead"]
