"""Shared test fixtures and paths."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from fake_weights import placeholder_weights  # noqa: F401  (re-exported: tests import it from here)

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"  # official-IGGT parity data (see its README)
SAMPLES = ROOT / "resources" / "photos"  # real indoor photos, MIT (see its README)


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


@pytest.fixture(autouse=True)
def _fresh_cli_logging():
    """app.cli attaches its console log handler to the stderr of the first in-process run; drop it after
    each test so that later runs get their own (tests that call app.cli.main in this process)."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_iggt", False)]:
        root.removeHandler(handler)
        handler.close()
