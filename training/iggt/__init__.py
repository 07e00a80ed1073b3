"""Training IGGT on synthetic rooms: targets, losses and the resumable loop."""

from .loop import TrainConfig, train
from .losses import LossWeights, camera_loss, contrastive_loss, iggt_loss, regression_loss
from .targets import Batch, make_batch

__all__ = [
    "Batch",
    "LossWeights",
    "TrainConfig",
    "camera_loss",
    "contrastive_loss",
    "iggt_loss",
    "make_batch",
    "regression_loss",
    "train",
]
