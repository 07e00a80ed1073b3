"""IGGT network: configuration, construction, checkpoint loading and inference (torch/numpy only).

::

    from model import IGGTConfig, build_iggt, load_iggt, PredictOptions
    from model.predict import predict                   # (``model.predict`` names the module)

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

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule; imported on first use, so that ``model.errors`` or ``model.atomic_write``
# can be used (e.g. by scene files) without loading torch
_EXPORTS = {
    "load_iggt": "checkpoint", "save_iggt": "checkpoint", "IGGTConfig": "config",
    "Cancelled": "errors", "CheckpointError": "errors", "IGGTError": "errors", "InputSizeError": "errors",
    "OutOfMemory": "errors", "IGGT": "iggt", "build_iggt": "iggt",
    "Prediction": "predict", "PredictOptions": "predict",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "save_iggt",
]
