"""The views' original images, upright as the app saw them (EXIF orientation applied).

When an original file is gone or changed, exporters fall back to the model-resolution image scaled to
the original size and say so in a warning, rather than failing or silently exporting something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.images import ImageReadError, file_sha256, read_image
from app.scene import Scene

EXIF_ORIENTATION = 0x0112


@dataclass
class OriginalImage:
    pixels: np.ndarray  # (H0, W0, 3) uint8, upright
    source: Path | None  # the original file, when it was used
    as_stored: bool  # True when the file's stored pixels are already upright RGB (it can be copied as is)
    warning: str | None = None


def _upscaled(scene: Scene, view: int) -> np.ndarray:
    """The model image resampled onto the original pixel grid (outside a crop box stays black)."""
    from PIL import Image

    t = scene.views[view].transform
    h0, w0 = t.original_size
    left, top, right, bottom = t.crop_box
    img = Image.fromarray(np.asarray(scene.images[view]))
    box_w, box_h = max(round(right - left), 1), max(round(bottom - top), 1)
    canvas = Image.new("RGB", (w0, h0))
    canvas.paste(img.resize((box_w, box_h), Image.Resampling.BICUBIC), (round(left), round(top)))
    return np.asarray(canvas, dtype=np.uint8)


def _stored_upright_rgb(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as im:
        orientation = int(im.getexif().get(EXIF_ORIENTATION, 1) or 1)
        return orientation == 1 and im.mode == "RGB"


def load_original(scene: Scene, view: int) -> OriginalImage:
    info = scene.views[view]
    path = Path(info.path)
    h0, w0 = info.original_size
    try:
        if file_sha256(path) != info.sha256:
            problem = "has changed since the reconstruction"
        else:
            pixels = read_image(path)
            if pixels.shape[:2] == (h0, w0):
                return OriginalImage(pixels, path, _stored_upright_rgb(path))
            problem = f"is {pixels.shape[1]}x{pixels.shape[0]}, the scene expects {w0}x{h0}"
    except FileNotFoundError:
        problem = "is missing"
    except (OSError, ImageReadError) as exc:
        problem = f"cannot be read ({exc})"
    warning = f"view {info.name}: original image {path} {problem}; used the model image scaled up instead"
    return OriginalImage(_upscaled(scene, view), None, False, warning)
