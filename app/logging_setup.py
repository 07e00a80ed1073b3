"""Logging to a rotating file in the user log folder (and optionally the console)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from app.paths import user_log_dir

LOG_FILE_NAME = "iggt-viewer.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (test runners swap and close it)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def log_file_path() -> Path:
    return user_log_dir() / LOG_FILE_NAME


def configure_logging(debug: bool = False, console: bool = False) -> Path | None:
    """Attach a rotating file handler (1 MB x 3) once; return the log file path (None if not writable)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    path: Path | None = log_file_path()
    if not any(getattr(h, "_iggt", False) for h in root.handlers):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=1_000_000, backupCount=3, encoding="utf-8", errors="backslashreplace"
            )
            handler.setFormatter(logging.Formatter(_FORMAT))
            handler._iggt = True  # type: ignore[attr-defined]
            root.addHandler(handler)
        except OSError:
            path = None
        if console:
            stream = _CurrentStderrHandler()
            stream.setLevel(logging.DEBUG if debug else logging.WARNING)
            stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
            stream._iggt = True  # type: ignore[attr-defined]
            root.addHandler(stream)
    return path
