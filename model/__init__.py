"""IGGT network: configuration, construction, checkpoint loading and inference.

Public API::

    from model import IGGTConfig, build_iggt, load_iggt, predict, PredictOptions
"""

from .checkpoint import load_iggt, save_iggt
from .config import IGGTConfig
from .errors import Cancelled, CheckpointError, IGGTError, InputSizeError, OutOfMemory
from .iggt import IGGT, build_iggt
from .predict import Prediction, PredictOptions, predict

__all__ = [
    "IGGT",
    "Cancelled",
    "CheckpointError",
    "IGGTConfig",
    "IGGTError",
    "InputSizeError",
    "OutOfMemory",
    "PredictOptions",
    "Prediction",
    "build_iggt",
    "load_iggt",
    "predict",
    "save_iggt",
]
