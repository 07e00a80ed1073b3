"""IGGT network: configuration, construction, checkpoint loading and inference (torch/numpy only).

::

    from model import IGGTConfig, build_iggt, load_iggt, predict, PredictOptions

    net = load_iggt("lifuguan/IGGT_official")          # or a .pt/.safetensors file or a folder
    pred = predict(net, images, PredictOptions(progress=cb, cancel=stop))   # numpy Prediction

* ``build_iggt(IGGTConfig.full())`` is the official architecture with the official state dict (key for
  key, ``keep_unused=True``: tracking head and the part head's never-used layers included).
* ``load_iggt`` builds the lean variant (``keep_unused=False``): the ~319 MiB of weights the inference
  forward never reads are skipped with a log line. Outputs are identical.
* ``net(images)`` returns the official output dict; ``predict`` returns typed numpy arrays
  (cameras, depth, points, instance features) and handles device, precision, progress, cancel, OOM.
* ``IGGTConfig.tiny()`` is a ~5M-parameter network with the same code paths (training, tests).
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
