"""Qt GUI of IGGT Viewer: a thin layer over the headless `app` package."""

from __future__ import annotations
