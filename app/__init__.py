"""Headless core of IGGT Viewer: images in, scene out. Never imports Qt."""

from __future__ import annotations

__version__ = "0.1.0"
