"""Shared test fixtures and paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
SAMPLES = SHARED / "samples"


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep tests away from the real user's settings, logs and caches."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        path = home / sub
        path.mkdir()
        os.environ[var] = str(path)


def placeholder_weights(path: Path) -> Path:
    """A valid safetensors file that names no preferred input size, standing in for weights a test's fake
    predictor never loads (the pipeline still reads the header for the default input size)."""
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"unused": np.zeros(1, np.float32)}, str(path))
    return path
