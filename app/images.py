"""Images in: collect, validate, decode and preprocess photos exactly like the official IGGT demo.

Preprocessing (official ``load_and_preprocess_images(mode="resize", resize_target_size=(504, 336))``):
each image is converted to 8-bit RGB (RGBA alpha-composited on white) and resized to exactly W x H
with bicubic resampling, ignoring its aspect ratio; the network input is that image / 255. So mixed
sizes and aspect ratios all end up at the same W x H. Defaults W=504, H=336; another target width
keeps the demo's 2:3 ratio and both sides are multiples of 28 (the network needs them). Weights may
name the size they were trained for (`model.checkpoint.PreferredInput`); with
`PreprocessConfig.with_model_defaults` that is the default, while a width the user chose wins.

Beyond the demo: EXIF orientation is applied first; grayscale, palette, 16-bit, float and CMYK
images are converted to 8-bit RGB properly (16-bit is scaled, not clipped); the alpha background
can be black. Every bad file is reported by name with a reason and skipped; non-image files are
skipped with a note.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import struct
import warnings
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import UserError
from app.progress import Progress, StagePlan
from app.scene import ViewInfo, ViewTransform

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".dib", ".tif", ".tiff"})
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "DIB", "TIFF"})
PATCH_MULTIPLE = 28
DEMO_SIZE = (336, 504)  # H, W of the official demo
DEFAULT_WIDTH = DEMO_SIZE[1]  # the width when neither the user nor the model's metadata chose one
MIN_SIDE = 8  # smaller images carry no usable content for a 336x504 network input
MAX_PIXELS = 250_000_000  # decompression-bomb guard (about 16k x 16k)
MAX_FILES = 5000


@dataclass(frozen=True)
class PreprocessConfig:
    width: int | None = None  # target width in pixels (rounded to a multiple of 28); None or 0: the default
    height: int | None = None  # None: the model's preferred height with its width, else the demo's 2:3 ratio
    background: str = "white"  # "white" or "black": what transparent pixels are composited on
    max_views: int | None = None  # use at most this many images, evenly spaced (None: all)

    def __post_init__(self) -> None:
        if not self.width:  # settings store "unset" as 0
            object.__setattr__(self, "width", None)

    def target_size(self) -> tuple[int, int]:
        """(H, W), both multiples of 28 (the demo's 504 when no width is set)."""
        w = round_to_multiple(self.width or DEFAULT_WIDTH)
        h = round_to_multiple(self.height if self.height is not None else w * DEMO_SIZE[0] / DEMO_SIZE[1])
        return h, w

    def with_model_defaults(
        self, width: int | None, height: int | None = None, max_views: int | None = None
    ) -> PreprocessConfig:
        """This config with the model's preferred size where the user chose none: the width (and the
        height that goes with it) when no width is set, the views cap when none is set."""
        out = self
        if self.width is None and width:
            out = replace(out, width=width, height=height if self.height is None else self.height)
        if self.max_views is None and max_views:
            out = replace(out, max_views=max_views)
        return out

    def validate(self) -> None:
        if self.background not in ("white", "black"):
            raise UserError(f"background must be 'white' or 'black', not {self.background!r}")
        if self.width is not None and not 28 <= self.width <= 4032:
            raise UserError(f"width must be between 28 and 4032 pixels, not {self.width}")
        if self.height is not None and not 28 <= self.height <= 4032:
            raise UserError(f"height must be between 28 and 4032 pixels, not {self.height}")
        if self.max_views is not None and self.max_views < 1:
            raise UserError(f"the number of views must be at least 1, not {self.max_views}")


def round_to_multiple(value: float, multiple: int = PATCH_MULTIPLE) -> int:
    return max(multiple, round(value / multiple) * multiple)


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str
    bad: bool  # True: a broken image (an error to report); False: not an image file (a note)

    def __str__(self) -> str:
        return f"{self.path.name}: {self.reason}"


@dataclass
class ImageSet:
    """Preprocessed images ready for the network, with everything needed to map results back."""

    images: np.ndarray  # (S, H, W, 3) uint8, model resolution
    views: list[ViewInfo]
    skipped: list[SkippedFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def bad_files(self) -> list[SkippedFile]:
        return [s for s in self.skipped if s.bad]

    def as_float(self) -> np.ndarray:
        """(S, 3, H, W) float32 in [0, 1] — the network input (the demo's ToTensor)."""
        return np.ascontiguousarray(self.images.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


class ImageReadError(Exception):
    """One file cannot be used; the message is the reason shown next to its name."""


# -------------------------------------------------------------------------------------------- collect
def natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name.lower())] + [str(path)]


def collect_image_paths(sources: Sequence[str | os.PathLike]) -> tuple[list[Path], list[SkippedFile]]:
    """Expand folders (not recursive) and files into image candidates, natural-sorted per folder.

    Returns (candidates, skipped); explicit files keep the given order. Raises UserError when a
    source does not exist.
    """
    if not sources:
        raise UserError("no images given")
    candidates: list[Path] = []
    skipped: list[SkippedFile] = []
    for src in sources:
        p = Path(src).expanduser()
        if p.is_dir():
            try:
                entries = sorted(p.iterdir(), key=natural_key)
            except OSError as exc:
                raise UserError(f"cannot list folder {p}: {exc.strerror or exc}") from None
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # hidden files (.DS_Store, editor temp files)
                if entry.is_dir():
                    skipped.append(
                        SkippedFile(entry, "a subfolder (folders are not searched recursively)", False)
                    )
                elif entry.suffix.lower() in IMAGE_SUFFIXES:
                    candidates.append(entry)
                else:
                    skipped.append(SkippedFile(entry, "not an image file type", False))
        elif p.is_symlink() and not p.exists():
            skipped.append(SkippedFile(p, "broken link (the file it points to does not exist)", True))
        elif not p.exists():
            if len(sources) == 1:
                raise UserError(f"no such file or folder: {p}")
            skipped.append(SkippedFile(p, "file not found", True))
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            candidates.append(p)
        else:
            skipped.append(SkippedFile(p, "not an image file type", False))
    seen: set[Path] = set()
    unique = []
    for c in candidates:
        key = c.absolute()
        if key not in seen:
            seen.add(key)
            unique.append(c)
    if len(unique) > MAX_FILES:
        raise UserError(f"{len(unique)} images is too many (at most {MAX_FILES}); pick a subset")
    return unique, skipped


def evenly_spaced(n: int, k: int) -> list[int]:
    """k indices spread evenly over range(n), first and last included."""
    if k >= n:
        return list(range(n))
    if k == 1:
        return [0]
    return sorted({round(i) for i in np.linspace(0, n - 1, k)})


# ------------------------------------------------------------------------------------------ decoding
MAX_HASHED_BYTES = 4 << 30  # no photo is this large; a path to /dev/zero or a huge file is not hashed


def file_sha256(path: Path) -> str:
    """SHA-256 of a regular file's content. Scenes store original paths, so ``path`` is untrusted: a FIFO,
    a device or an endless file raises ImageReadError instead of hanging or reading without end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO without a writer must not block the open
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImageReadError("not a regular file (a device, FIFO or socket)")
        if st.st_size > MAX_HASHED_BYTES:
            raise ImageReadError(f"too large to be an image ({st.st_size} bytes)")
        h = hashlib.sha256()
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale integer or float pixel data of any depth to uint8."""
    a = np.asarray(array)
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "b":
        return a.astype(np.uint8) * 255
    if a.dtype.kind in "ui":
        peak = 255 if a.max(initial=0) <= 255 else 65535 if a.max(initial=0) <= 65535 else int(a.max())
        return np.clip(a.astype(np.float64) * (255.0 / peak) + 0.5, 0, 255).astype(np.uint8)
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    peak = a.max(initial=0.0)
    scale = 255.0 if peak <= 1.0 else 255.0 / peak
    return np.clip(a * scale + 0.5, 0, 255).astype(np.uint8)


def _to_rgb(img: Image.Image, background: str) -> np.ndarray:
    """Any PIL mode -> (H, W, 3) uint8 RGB; transparency composited on ``background``."""
    bg = 255 if background == "white" else 0
    mode = img.mode
    if mode in ("P", "PA") or (mode in ("L", "RGB", "1") and "transparency" in img.info):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        rgb = rgba[..., :3] * alpha + bg * (1.0 - alpha)
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    if mode in ("RGB",):
        return np.asarray(img, dtype=np.uint8)
    if mode in ("L",):
        g = np.asarray(img, dtype=np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode == "1":
        g = np.asarray(img.convert("L"), dtype=np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode.startswith("I") or mode == "F":  # 16/32-bit integer or float grayscale
        g = _to_uint8(np.asarray(img))
        return np.repeat(g[..., None], 3, axis=2) if g.ndim == 2 else g[..., :3]
    # CMYK, YCbCr, LAB, HSV, ...: Pillow's converters
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def read_image(path: Path, background: str = "white") -> np.ndarray:
    """Decode one file fully into upright (EXIF-oriented) 8-bit RGB; raise ImageReadError with a reason."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if path.is_symlink():
            raise ImageReadError("broken link (the file it points to does not exist)") from None
        raise ImageReadError("file not found") from None
    except OSError as exc:
        raise ImageReadError(f"cannot be read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise ImageReadError("is a folder, not a file")
    if not path.is_file():
        raise ImageReadError("not a regular file (a device, FIFO or socket)")
    if size == 0:
        raise ImageReadError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # e.g. "Corrupt EXIF data": orientation is optional
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt = img.format or "?"
                if fmt not in ACCEPTED_FORMATS:
                    raise ImageReadError(f"unsupported image format {fmt} (use JPEG, PNG, WebP, BMP or TIFF)")
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise ImageReadError(f"too large ({w}x{h} pixels; at most {MAX_PIXELS // 1_000_000} MP)")
                if min(w, h) < MIN_SIDE:
                    raise ImageReadError(f"too small ({w}x{h} pixels; at least {MIN_SIDE}x{MIN_SIDE} needed)")
                img.load()
                try:
                    upright = ImageOps.exif_transpose(img)
                except Exception:  # malformed EXIF: keep the stored orientation
                    log.warning("%s: unreadable EXIF orientation; using the stored orientation", path.name)
                    upright = img
                return _to_rgb(upright if upright is not None else img, background)
    except ImageReadError:
        raise
    except PermissionError:
        raise ImageReadError("cannot be read (permission denied)") from None
    except IsADirectoryError:
        raise ImageReadError("is a folder, not a file") from None
    except UnidentifiedImageError:
        raise ImageReadError("not an image, or its format is not recognised") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageReadError(f"too large (more than {MAX_PIXELS // 1_000_000} MP)") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        text = str(exc).lower()
        if "truncated" in text or isinstance(exc, EOFError):
            raise ImageReadError("truncated or incomplete image data") from None
        raise ImageReadError(f"damaged image data ({exc})") from None
    except MemoryError:
        raise ImageReadError("too large to decode in the available memory") from None


def preprocess_image(rgb: np.ndarray, transform: ViewTransform) -> np.ndarray:
    """Crop to ``transform.crop_box`` (whole image in resize mode), bicubic-resize to the model grid."""
    h, w = transform.model_size
    img = Image.fromarray(rgb)
    left, top, right, bottom = transform.crop_box
    box = None if (left, top, right, bottom) == (0, 0, img.width, img.height) else (left, top, right, bottom)
    resized = img.resize((w, h), Image.Resampling.BICUBIC, box=box)
    return np.asarray(resized, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------- load
def describe_skipped(skipped: Iterable[SkippedFile], limit: int = 5) -> str:
    items = [str(s) for s in skipped]
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def iter_load_images(
    sources: Sequence[str | os.PathLike],
    config: PreprocessConfig = PreprocessConfig(),
    plan: StagePlan | None = None,
) -> Generator[Progress, None, ImageSet]:
    """Load and preprocess images, yielding progress; returns an ImageSet.

    Raises UserError when nothing usable remains (the message names the bad files).
    """
    config.validate()
    plan = plan or StagePlan([("images", 1.0)])
    candidates, skipped = collect_image_paths(sources)
    notes = []
    h, w = config.target_size()
    if (config.width is not None and config.width != w) or (config.height is not None and config.height != h):
        notes.append(f"image size set to {w}x{h} (sides must be multiples of {PATCH_MULTIPLE})")
    if not candidates:
        where = ", ".join(str(s) for s in sources)
        detail = f" ({describe_skipped(skipped)})" if skipped else ""
        raise UserError(f"no images found in {where}{detail}; supported: JPEG, PNG, WebP, BMP, TIFF")
    images: list[np.ndarray] = []
    views: list[ViewInfo] = []
    for i, path in enumerate(candidates):
        yield plan.event("images", i / len(candidates), f"reading {path.name} ({i + 1}/{len(candidates)})")
        try:
            rgb = read_image(path, config.background)
            digest = file_sha256(path)
        except ImageReadError as exc:
            skipped.append(SkippedFile(path, str(exc), True))
            log.info("skipped %s: %s", path, exc)  # the caller reports skipped files to the user
            continue
        except OSError as exc:
            skipped.append(SkippedFile(path, f"cannot be read ({exc.strerror or exc})", True))
            continue
        transform = ViewTransform.resize(rgb.shape[:2], (h, w))
        images.append(preprocess_image(rgb, transform))
        views.append(ViewInfo(path.name, str(path.absolute()), digest, tuple(rgb.shape[:2]), transform))
    bad = [s for s in skipped if s.bad]
    if not images:
        raise UserError(
            f"none of the {len(candidates)} image file(s) could be used: {describe_skipped(bad or skipped)}"
        )
    if config.max_views is not None and len(images) > config.max_views:
        keep = evenly_spaced(len(images), config.max_views)
        notes.append(f"using {len(keep)} of {len(images)} images, evenly spaced")
        images = [images[k] for k in keep]
        views = [views[k] for k in keep]
    yield plan.event("images", 1.0, f"{len(images)} image(s) ready at {w}x{h}")
    return ImageSet(np.stack(images), views, skipped, notes)


def load_images(
    sources: Sequence[str | os.PathLike], config: PreprocessConfig = PreprocessConfig()
) -> ImageSet:
    """`iter_load_images` without progress."""
    from app.progress import run_generator

    return run_generator(iter_load_images(sources, config))
