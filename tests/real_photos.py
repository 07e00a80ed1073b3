"""A real-photo scene for tests: resources/photos/room_png_3 (a table top with fruit, a plate, a cup; no
chair) reconstructed by the bundled tiny IGGT at its default settings, once per test process."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOM_PNG_3 = ROOT / "resources" / "photos" / "room_png_3"
# Where the plate is in the first photo (x, y as fractions of the image): on its rim, off the banana.
PLATE_AT = (0.557, 0.609)


@lru_cache(maxsize=1)
def _saved_room_png_3() -> Path:
    from app.reconstruct import ReconstructConfig, reconstruct
    from app.scene_io import save_scene

    scene = reconstruct(sorted(ROOM_PNG_3.glob("*.png")), ReconstructConfig())
    return save_scene(scene, Path(tempfile.mkdtemp(prefix="iggt-real-photos-")) / "room_png_3.iggt")


def room_png_3():
    """A fresh copy of the reconstructed scene (callers may change it)."""
    from app.scene_io import load_scene

    return load_scene(_saved_room_png_3())


def plate_instance(scene) -> int:
    """The instance under the plate's rim in the first view."""
    h, w = scene.labels.shape[1:]
    return int(scene.labels[0, int(PLATE_AT[1] * h), int(PLATE_AT[0] * w)])
