"""A real-photo scene for tests: resources/photos/room_png_3 (a table top with fruit, a plate, a cup; no
chair) as the bundled tiny IGGT reconstructed it (the frozen scene-format fixture
tests/fixtures/scenes/room_png_3_w140.iggt, 22 instances), so that tests of the search's honesty do not
move with every change to the clustering. CLIP runs live on it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOM_PNG_3 = ROOT / "tests" / "fixtures" / "scenes" / "room_png_3_w140.iggt"


def room_png_3():
    """A fresh copy of the scene (callers may change it; the fixture file is never written)."""
    from app.scene_io import load_scene

    return load_scene(ROOM_PNG_3)
