"""Stand-in weight files for tests (importable from tests/ and tests/viewer/ alike)."""

from __future__ import annotations

from pathlib import Path


def placeholder_weights(path: Path) -> Path:
    """A valid safetensors file that names no preferred input size, standing in for weights a test's fake
    predictor never loads (the pipeline still reads the header for the default input size)."""
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"unused": np.zeros(1, np.float32)}, str(path))
    return path
