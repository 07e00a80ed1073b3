"""What a scene file may declare, checked before anything in it is decompressed.

A hostile or damaged ``.iggt`` must not make the app read without end (a FIFO, ``/dev/zero``), inflate a
small file into gigabytes, or allocate an absurd array: the file must be a regular file, the manifest
is capped, and every array member's npy header and sizes must agree with the array index and with the
scene's own dimensions (views from the manifest, image size) before its data is read.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

MAX_MANIFEST_BYTES = 64 << 20  # instance table + edit log of a very long session fit easily
MAX_VIEWS = 4096
MAX_PIXELS = 64 << 20  # per view, at the model's resolution
MAX_FEATURE_DIM = 1024
MAX_LAYER_CHANNELS = 64
MAX_EMBEDDING_DIM = 8192
MAX_EMBEDDED_INSTANCES = 1 << 16  # cached per-instance vectors (edits may leave more ids than instances)
MAX_EMBEDDING_VALUES = 1 << 26
_NPY_HEADER_MAX = 1 << 16  # npy headers are a few hundred bytes; numpy itself refuses above 10 kB


class LimitError(ValueError):
    """The file declares something the app refuses to read (the message says what)."""


def check_regular_file(path: Path) -> int:
    """The size of ``path`` if it is a regular file (following links); refuse FIFOs, devices, sockets."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise LimitError("the file does not exist") from None
    except OSError as exc:
        raise LimitError(exc.strerror or str(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise LimitError("it is a folder, not a scene file")
    if not stat.S_ISREG(st.st_mode):
        raise LimitError("it is not a regular file (a device, FIFO or socket); refusing to read it")
    return st.st_size


def check_manifest_member(zf: zipfile.ZipFile, name: str) -> None:
    info = zf.getinfo(name)
    if info.file_size > MAX_MANIFEST_BYTES:
        raise LimitError(f"the manifest declares {info.file_size} bytes (at most {MAX_MANIFEST_BYTES})")


def scene_dims(manifest: dict[str, Any]) -> tuple[int, int, int]:
    """(views, height, width) as the manifest states them, within the app's limits."""
    views = manifest.get("views")
    size = manifest.get("image_size")
    if not isinstance(views, list) or not (isinstance(size, list) and len(size) == 2):
        raise LimitError("the manifest lacks its views or image size")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        raise LimitError(f"the image size {size!r} is invalid")
    s, (h, w) = len(views), size
    if not 0 < s <= MAX_VIEWS:
        raise LimitError(f"{s} views (1 to {MAX_VIEWS} allowed)")
    if h * w > MAX_PIXELS:
        raise LimitError(f"an image size of {w}x{h} (at most {MAX_PIXELS} pixels)")
    return s, h, w


def _expected(name: str, dims: tuple[int, int, int]) -> list[int | None]:
    """The shape ``name`` must have; None marks a dimension checked by ``_bounded`` instead."""
    s, h, w = dims
    fixed = {
        "extrinsic": [s, 3, 4], "intrinsic": [s, 3, 3], "depth": [s, h, w], "depth_conf": [s, h, w],
        "point_conf": [s, h, w], "point_mask": [s, h, w], "labels": [s, h, w], "point_map": [s, h, w, 3],
        "images": [s, h, w, 3], "features": [s, h, w, None],
    }  # fmt: skip
    if name in fixed:
        return fixed[name]
    if re.fullmatch(r"layers/[^/]+", name):
        return [s, h, w]  # plus optional channel dims, bounded below
    if re.fullmatch(r"embeddings/\d+/ids", name):
        return [None]
    if re.fullmatch(r"embeddings/\d+/vectors", name):
        return [None, None]
    raise LimitError(f"the array index names an unknown array {name!r}")


def _bounded(name: str, shape: list[int], expected: list[int | None]) -> bool:
    if name.startswith("layers/"):
        return shape[:3] == expected and int(np.prod(shape[3:], dtype=np.int64)) <= MAX_LAYER_CHANNELS
    if len(shape) != len(expected):
        return False
    for got, want in zip(shape, expected, strict=True):
        if want is not None and got != want:
            return False
    if name == "features":
        return 0 < shape[3] <= MAX_FEATURE_DIM
    if name.startswith("embeddings/"):
        if len(shape) == 2 and (shape[1] > MAX_EMBEDDING_DIM or shape[0] * shape[1] > MAX_EMBEDDING_VALUES):
            return False
        return shape[0] <= MAX_EMBEDDED_INSTANCES
    return True


def check_array_shape(name: str, shape: Any, dims: tuple[int, int, int]) -> None:
    """Refuse an index entry whose shape does not fit the scene's dimensions."""
    if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise LimitError(f"array {name!r} has an invalid shape {shape!r}")
    expected = _expected(name, dims)
    if not _bounded(name, shape, expected):
        s, h, w = dims
        raise LimitError(
            f"array {name!r} is declared {shape}, which does not fit the scene ({s} views at {w}x{h})"
        )


def read_npy_header(fh) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, header length) of an npy stream, reading only its header."""
    version = np.lib.format.read_magic(fh)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise LimitError(f"unsupported npy version {version}")
    shape, fortran, dtype = readers[version](fh, max_header_size=_NPY_HEADER_MAX)
    return shape, fortran, dtype, fh.tell()


def check_member(zf: zipfile.ZipFile, member: str, name: str, entry: dict[str, Any]) -> None:
    """The member's npy header agrees with the index entry, and its declared uncompressed size is
    exactly header + data: nothing is decompressed beyond the header to find out."""
    info = zf.getinfo(member)
    with zf.open(info) as fh:
        shape, _fortran, dtype, header_len = read_npy_header(fh)
    if dtype.hasobject:
        raise LimitError(f"array {name!r} holds Python objects")
    if str(dtype) != entry["dtype"] or list(shape) != list(entry["shape"]):
        raise LimitError(
            f"array {name!r} is {dtype}{list(shape)}, index says {entry['dtype']}{entry['shape']}"
        )
    data = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if info.file_size != header_len + data:
        raise LimitError(
            f"array {name!r} is damaged ({info.file_size} bytes, its header implies {header_len + data})"
        )
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise LimitError(f"array {name!r} has inconsistent sizes in the zip index")
