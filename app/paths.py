"""Where the application's files live: bundled resources and per-user folders."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "iggt-viewer"
APP_AUTHOR = "iggt-viewer"

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
WEIGHTS_DIR = RESOURCES / "weights"
SAMPLE_DIR = RESOURCES / "sample"
ICONS_DIR = RESOURCES / "icons"


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))


def user_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))


def user_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))
