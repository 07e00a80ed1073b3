"""Photos and mask overlays for the panels: originals (EXIF-upright), thumbnails, label maps that
line up with them, and numpy -> QImage conversion. Mask geometry comes from the Scene's ViewTransform,
so masks are drawn at the photo's own resolution."""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage, QPixmap

from app.colors import label_image
from app.scene import NO_INSTANCE, Scene

log = logging.getLogger(__name__)

THUMB_SIDE = 200


def to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 -> QImage (a deep copy, safe to keep)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(rgb))


def mask_edges(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a boolean mask (4-neighbourhood)."""
    edge = np.zeros_like(mask)
    inner = mask[1:-1, 1:-1]
    edge[1:-1, 1:-1] = inner & ~(mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:])
    edge[[0, -1], :] |= mask[[0, -1], :]
    edge[:, [0, -1]] |= mask[:, [0, -1]]
    return edge


def overlay(image: np.ndarray, labels: np.ndarray, colours: dict[int, tuple[int, int, int]],
            opacity: float = 0.45, only: int | None = None, outline: bool = True,
            dim_rest: float = 0.0) -> np.ndarray:
    """Draw instance masks over a photo. ``only``: draw one instance; ``dim_rest``: darken the rest."""
    out = image.astype(np.float32)
    fg = labels != NO_INSTANCE if only is None else labels == only
    if dim_rest > 0:
        out[~fg] *= 1.0 - dim_rest
    if fg.any():
        tint = label_image(labels, colours).astype(np.float32)
        out[fg] = out[fg] * (1.0 - opacity) + tint[fg] * opacity
        if outline:
            if only is None:
                edges = np.zeros_like(fg)
                edges[:, 1:] |= labels[:, 1:] != labels[:, :-1]
                edges[1:, :] |= labels[1:, :] != labels[:-1, :]
                edges &= fg
            else:
                edges = mask_edges(fg)
            out[edges] = tint[edges]
    return np.clip(out, 0, 255).astype(np.uint8)


class ViewImages:
    """Per-scene cache of original photos (a few) and thumbnails (all), with aligned label maps."""

    def __init__(self, scene: Scene, max_originals: int = 4) -> None:
        self.scene = scene
        self._originals: OrderedDict[int, np.ndarray] = OrderedDict()
        self._thumbs: dict[int, np.ndarray] = {}
        self._max = max_originals
        self.missing_originals: set[int] = set()

    def original(self, view: int) -> np.ndarray:
        """The photo at its own resolution (the model-resolution image when the file is unavailable)."""
        if view in self._originals:
            self._originals.move_to_end(view)
            return self._originals[view]
        info = self.scene.views[view]
        image = None
        path = Path(info.path) if info.path else None
        if path is not None and path.is_file():
            try:
                from app.images import read_image

                image = read_image(path)
                if image.shape[:2] != tuple(info.original_size):
                    log.warning("%s changed size since the reconstruction; using the model image", path)
                    image = None
            except Exception as exc:
                log.warning("cannot read %s: %s", path, exc)
                image = None
        if image is None:
            self.missing_originals.add(view)
            image = self._model_image_at_original(view)
        self._originals[view] = image
        while len(self._originals) > self._max:
            self._originals.popitem(last=False)
        return image

    def _model_image_at_original(self, view: int) -> np.ndarray:
        """The preprocessed image resampled back onto the original pixel grid (nearest)."""
        img = self.scene.images[view]
        h0, w0 = self.scene.views[view].original_size
        if (h0, w0) == img.shape[:2] and self.scene.views[view].transform.crop_box == (0.0, 0.0, w0, h0):
            return np.asarray(img)
        return self.scene.views[view].transform.labels_to_original(np.asarray(img), fill=0)

    def labels_at(self, view: int, shape: tuple[int, int]) -> np.ndarray:
        """The view's label map sampled on an image grid of ``shape`` covering the original photo."""
        tr = self.scene.views[view].transform
        h0, w0 = tr.original_size
        h, w = shape
        rows_o = (np.arange(h) + 0.5) * (h0 / h) - 0.5
        cols_o = (np.arange(w) + 0.5) * (w0 / w) - 0.5
        r, _ = tr.original_to_model(rows_o, np.zeros(h))
        _, c = tr.original_to_model(np.zeros(w), cols_o)
        mh, mw = tr.model_size
        ri = np.floor(r + 0.5).astype(np.int64)
        ci = np.floor(c + 0.5).astype(np.int64)
        out = self.scene.labels[view][np.clip(ri, 0, mh - 1)][:, np.clip(ci, 0, mw - 1)]
        outside = ((ri < 0) | (ri >= mh))[:, None] | ((ci < 0) | (ci >= mw))[None, :]
        if outside.any():
            out = np.where(outside, NO_INSTANCE, out)
        return out

    def thumbnail(self, view: int, side: int = THUMB_SIDE) -> np.ndarray:
        """A small copy of the photo (longest side ``side``), cached."""
        if view not in self._thumbs:
            from PIL import Image

            img = self.original(view)
            h, w = img.shape[:2]
            scale = side / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            self._thumbs[view] = np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR))
        return self._thumbs[view]
