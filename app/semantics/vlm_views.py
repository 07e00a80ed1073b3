"""The pictures a VLM gets for one instance: its 2-3 views with the largest mask, cropped around the mask,
the instance outlined in a pure colour and everything else dimmed, as PNG data URLs (lossless, so the
outline stays exact)."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np

from .embed import EmbedConfig, _view_areas, select_views

OUTLINE_RGB = (0, 255, 0)  # a colour rendered scenes and photos practically never hold exactly
DIM = 0.35  # brightness kept outside the instance


@dataclass(frozen=True)
class ViewConfig:
    views: int = 3  # per instance, the ones where its mask is largest
    min_pixels: int = 16
    side: int = 336  # the crop's longer side after resizing (what VLM image encoders like)
    margin: float = 0.25  # context around the mask's box, as a share of the box
    outline_px: int = 2
    pad_px: int = 4  # dim frame around the crop, so the outline closes where the mask meets the image edge


@dataclass(frozen=True)
class InstanceViews:
    instance: int
    views: list[int]  # view indices used, largest mask first
    images: list[np.ndarray]  # (h, w, 3) uint8 highlighted crops, same order


def choose_views(labels: np.ndarray, ids: list[int], cfg: ViewConfig | None = None) -> dict[int, list[int]]:
    cfg = cfg or ViewConfig()
    ids = [int(i) for i in ids]
    areas = _view_areas(labels, np.asarray(ids, np.int32))
    chosen = select_views(areas, EmbedConfig(top_k=cfg.views, min_pixels=cfg.min_pixels))
    return dict(zip(ids, chosen, strict=True))


def _resize(img: np.ndarray, mask: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    h, w = mask.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    out = np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BICUBIC))
    m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)) > 127
    return out, m


def highlight_crop(image: np.ndarray, mask: np.ndarray, cfg: ViewConfig | None = None) -> np.ndarray:
    """The instance (``mask``) of one view, cropped with context, outlined and the rest dimmed."""
    from scipy import ndimage

    cfg = cfg or ViewConfig()
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        raise ValueError("the instance is not visible in this view")
    h, w = mask.shape
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    my = max(4, int((y1 - y0) * cfg.margin))
    mx = max(4, int((x1 - x0) * cfg.margin))
    y0, y1, x0, x1 = max(0, y0 - my), min(h, y1 + my), max(0, x0 - mx), min(w, x1 + mx)
    img, m = _resize(np.ascontiguousarray(image[y0:y1, x0:x1, :3]), mask[y0:y1, x0:x1], cfg.side)
    p = cfg.pad_px + cfg.outline_px
    img = np.pad(img, ((p, p), (p, p), (0, 0)), constant_values=0)
    m = np.pad(m, ((p, p), (p, p)), constant_values=False)
    out = img.astype(np.float32)
    out[~m] *= DIM
    ring = ndimage.binary_dilation(m, iterations=cfg.outline_px) & ~m
    out = out.astype(np.uint8)
    out[ring] = OUTLINE_RGB
    return out


def instance_views(
    images: np.ndarray, labels: np.ndarray, instance: int, views: list[int], cfg: ViewConfig | None = None
) -> InstanceViews:
    crops = [highlight_crop(images[v], labels[v] == instance, cfg) for v in views]
    return InstanceViews(int(instance), list(views), crops)


def png_data_url(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", optimize=False, compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_parts(views: InstanceViews) -> list[dict]:
    return [{"type": "image_url", "image_url": {"url": png_data_url(img)}} for img in views.images]
