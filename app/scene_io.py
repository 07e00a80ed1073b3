"""Scene files (`.iggt`): save atomically, load with full validation.

Format (version 1): a zip container.
  scene.json              manifest: format name/version, app version, model id, settings, views,
                          instance table, edit log, metadata, and an index of every array
                          (member name, dtype, shape)
  arrays/<name>.npy       numpy .npy arrays (no pickles): images (unless stored as paths), extrinsic,
                          intrinsic, depth, depth_conf, point_map, point_conf, point_mask,
                          features (float16), labels; layers/<name>.npy; embeddings/<k>/ids|vectors.npy
Float arrays are stored uncompressed (they barely compress and load fastest that way); labels, masks
and images are deflated. Every member carries the zip CRC-32, so damage is detected on load.

With ``image_storage="paths"`` the images are not embedded: the manifest keeps each original path and
its SHA-256, and loading re-reads and re-preprocesses them (a missing or changed file becomes a grey
placeholder and a warning in ``scene.load_warnings``).

Saving goes through ``model.atomic_write`` (a temporary file next to the target, fsynced, the previous
file kept as ``<name>.bak``, then renamed into place), so a crash never leaves a half-written scene; it
never replaces a file that is not a scene, nor a ``.bak`` that is not a scene's. Loading checks what the
file declares before reading it (``app.scene_limits``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from app import __version__, scene_limits
from app.errors import UserError
from app.scene import Instance, InstanceEmbeddings, Scene, ViewInfo
from app.scene_settings import SceneSettings
from model import atomic_write

log = logging.getLogger(__name__)

FORMAT_NAME = "iggt-scene"
FORMAT_VERSION = 1
SUFFIX = ".iggt"
MANIFEST = "scene.json"
_CORE_ARRAYS = {
    "extrinsic": "float32",
    "intrinsic": "float32",
    "depth": "float32",
    "depth_conf": "float32",
    "point_map": "float32",
    "point_conf": "float32",
    "point_mask": "bool",
    "features": "float16",
    "labels": "int32",
}
_COMPRESSED_DTYPES = ("bool", "int32", "uint8", "int64", "int16", "uint16")


class SceneFileError(UserError):
    """A scene file that cannot be read: damaged, not a scene, or from a newer app version."""


# ------------------------------------------------------------------------------------------------ save
def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _scene_arrays(scene: Scene) -> dict[str, np.ndarray]:
    arrays = {name: getattr(scene, name) for name in _CORE_ARRAYS}
    if scene.image_storage == "embedded":
        arrays["images"] = scene.images
    for name, layer in scene.layers.items():
        arrays[f"layers/{name}"] = layer
    for k, (_, emb) in enumerate(sorted(scene.embeddings.items())):
        arrays[f"embeddings/{k}/ids"] = emb.instance_ids
        arrays[f"embeddings/{k}/vectors"] = emb.vectors
    return arrays


def _manifest(scene: Scene, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "app_version": __version__,
        "created_by_app_version": scene.app_version,
        "created": scene.created,
        "model_id": scene.model_id,
        "settings": scene.settings.to_json(),
        "image_storage": scene.image_storage,
        "image_size": list(scene.image_size),
        "views": [v.to_json() for v in scene.views],
        "instances": [inst.to_json() for inst in scene.instances.values()],
        "layers": sorted(scene.layers),
        "embeddings": {m: k for k, m in enumerate(sorted(scene.embeddings))},
        "edit_log": scene.edit_log,
        "metadata": scene.metadata,
        "arrays": {
            name: {"file": f"arrays/{name}.npy", "dtype": str(a.dtype), "shape": list(a.shape)}
            for name, a in arrays.items()
        },
    }


def _check_target(path: Path) -> None:
    if path.exists() and path.is_dir():
        raise UserError(f"cannot save the scene to {path}: it is a folder")
    atomic_write.check_file_target(path)
    parent = path.parent
    if not parent.is_dir():
        raise UserError(f"cannot save the scene to {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UserError(f"cannot save the scene to {path}: folder {parent} is not writable")


def is_scene_file(path: Path) -> bool:
    try:
        read_manifest(path)
    except SceneFileError:
        return False
    return True


def check_replaceable(path: Path, keep_backup: bool = True) -> None:
    """Refuse to save over anything but a scene file, and to replace a backup that is not a scene's.

    A photo, a device or someone's document given as the output stays untouched (and so does a
    ``<name>.bak`` that is not a scene file: it may be the only copy of something).
    """
    _check_target(path)
    if path.exists() and not is_scene_file(path):
        raise UserError(f"{path} exists and is not an IGGT scene file; refusing to replace it")
    bak = backup_path(path)
    if keep_backup and path.exists() and os.path.lexists(bak) and not is_scene_file(bak):
        raise UserError(f"{bak} exists and is not a scene backup; move it away to save {path.name}")


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def save_scene(scene: Scene, path: str | os.PathLike, *, keep_backup: bool = True) -> Path:
    """Write ``scene`` to ``path`` atomically; the file replaced (if any) is kept as ``<path>.bak``."""
    path = Path(path).expanduser().absolute()
    check_replaceable(path, keep_backup)
    scene.validate()
    arrays = _scene_arrays(scene)
    manifest = _manifest(scene, arrays)
    backup = backup_path(path) if keep_backup else None
    with (
        atomic_write.atomic_file(path, backup=backup) as tmp,
        open(tmp, "wb") as fh,
        zipfile.ZipFile(fh, "w", allowZip64=True) as zf,
    ):
        zf.writestr(MANIFEST, json.dumps(manifest, indent=1), compress_type=zipfile.ZIP_DEFLATED)
        for name, array in arrays.items():
            compress = zipfile.ZIP_DEFLATED if str(array.dtype) in _COMPRESSED_DTYPES else zipfile.ZIP_STORED
            info = zipfile.ZipInfo(manifest["arrays"][name]["file"], date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = compress
            zf.writestr(info, _npy_bytes(array), compresslevel=1 if compress else None)
    log.info("saved scene %s (%d views, %d instances)", path, scene.n_views, len(scene.instances))
    return path


# ------------------------------------------------------------------------------------------------ load
def _fail(path: Path, why: str) -> SceneFileError:
    return SceneFileError(f"cannot open scene {path.name}: {why}")


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON manifest only (fast; for `iggt info` and file dialogs). Checks format and version."""
    path = Path(path)
    with _open_zip(path) as zf:
        return _read_manifest(zf, path)


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.exists():
        raise SceneFileError(f"scene file not found: {path}")
    if path.is_dir():
        raise SceneFileError(f"{path} is a folder, not a scene file (a folder of photos becomes one with "
                             f"`iggt reconstruct FOLDER -o SCENE.iggt`)")
    try:
        scene_limits.check_regular_file(path)  # a FIFO would hang, /dev/zero would never end
    except scene_limits.LimitError as exc:
        raise _fail(path, str(exc)) from None
    try:
        return zipfile.ZipFile(path, "r")
    except zipfile.BadZipFile:
        if path.stat().st_size == 0:
            raise _fail(path, "the file is empty") from None
        raise _fail(path, "not an .iggt scene file, or the file is damaged/truncated") from None
    except OSError as exc:
        raise _fail(path, exc.strerror or str(exc)) from None


def _read_manifest(zf: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        scene_limits.check_manifest_member(zf, MANIFEST)
        raw = zf.read(MANIFEST)
    except KeyError:
        raise _fail(path, f"it has no {MANIFEST} (not an .iggt scene file)") from None
    except scene_limits.LimitError as exc:
        raise _fail(path, str(exc)) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _fail(path, f"the manifest is damaged ({exc})") from None
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(path, f"the manifest is not valid JSON ({exc})") from None
    except RecursionError:
        raise _fail(path, "the manifest is nested too deeply") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise _fail(path, "not an .iggt scene file (wrong format marker)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _fail(path, f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise _fail(
            path,
            f"it was written by a newer IGGT Viewer (app {manifest.get('app_version', '?')}, scene format "
            f"{version}); this app ({__version__}) reads format {FORMAT_VERSION} and older - please update",
        )
    return manifest


def _read_array(
    zf: zipfile.ZipFile, path: Path, name: str, entry: Any, dims: tuple[int, int, int]
) -> np.ndarray:
    if not isinstance(entry, dict) or not {"file", "dtype", "shape"} <= set(entry):
        raise _fail(path, f"array index entry for {name!r} is malformed")
    try:  # sizes and header first: nothing is decompressed that the scene's dimensions do not allow
        scene_limits.check_array_shape(name, entry["shape"], dims)
        scene_limits.check_member(zf, str(entry["file"]), name, entry)
    except KeyError:
        raise _fail(path, f"array {name!r} is missing") from None
    except scene_limits.LimitError as exc:
        raise _fail(path, str(exc)) from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _fail(path, f"array {name!r} is damaged ({exc})") from None
    try:
        with zf.open(entry["file"]) as fh:
            array = np.lib.format.read_array(fh, allow_pickle=False)
    except KeyError:
        raise _fail(path, f"array {name!r} is missing") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _fail(path, f"array {name!r} is damaged ({exc})") from None
    if str(array.dtype) != entry["dtype"] or list(array.shape) != list(entry["shape"]):
        raise _fail(
            path,
            f"array {name!r} is {array.dtype}{list(array.shape)}, "
            f"index says {entry['dtype']}{entry['shape']}",
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise _fail(path, f"array {name!r} contains NaN or infinite values")
    return array


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(size, mtime_ns) of a file, None when there is none: a save can tell that the file changed since
    it was read (another program saved it meanwhile)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def load_scene(path: str | os.PathLike) -> Scene:
    """Read and validate a scene file; raises SceneFileError with a readable message when it cannot."""
    path = Path(path).expanduser()
    stamp = file_stamp(path)  # before reading: a change while it is read shows as a change
    with _open_zip(path) as zf:
        manifest = _read_manifest(zf, path)
        index = manifest.get("arrays")
        if not isinstance(index, dict):
            raise _fail(path, "the array index is missing")
        for name, dtype in _CORE_ARRAYS.items():
            if name not in index:
                raise _fail(path, f"array {name!r} is missing")
            if index[name].get("dtype") != dtype:
                raise _fail(path, f"array {name!r} must be {dtype}, index says {index[name].get('dtype')}")
        try:
            dims = scene_limits.scene_dims(manifest)
        except scene_limits.LimitError as exc:
            raise _fail(path, str(exc)) from None
        arrays = {name: _read_array(zf, path, name, entry, dims) for name, entry in index.items()}
    try:
        views = [ViewInfo.from_json(v) for v in manifest["views"]]
        instances = [Instance.from_json(d) for d in manifest["instances"]]
        settings = SceneSettings.from_json(manifest.get("settings", {}))
        storage = manifest.get("image_storage", "embedded")
        warnings: list[str] = []
        if storage == "embedded":
            if "images" not in arrays:
                raise _fail(path, "array 'images' is missing")
            images = arrays["images"]
        else:
            images, warnings = _reload_images(views, arrays["depth"].shape, settings.preprocess.background)
        embeddings = {
            model: InstanceEmbeddings(arrays[f"embeddings/{k}/ids"], arrays[f"embeddings/{k}/vectors"])
            for model, k in dict(manifest.get("embeddings", {})).items()
        }
        layers = {name: arrays[f"layers/{name}"] for name in manifest.get("layers", [])}
        if len({i.id for i in instances}) != len(instances):
            raise ValueError("duplicate instance ids")
        scene = Scene(
            views=views,
            images=images,
            extrinsic=arrays["extrinsic"],
            intrinsic=arrays["intrinsic"],
            depth=arrays["depth"],
            depth_conf=arrays["depth_conf"],
            point_map=arrays["point_map"],
            point_conf=arrays["point_conf"],
            point_mask=arrays["point_mask"],
            features=arrays["features"],
            labels=arrays["labels"],
            instances=instances,
            embeddings=embeddings,
            layers=layers,
            settings=settings,
            model_id=str(manifest.get("model_id", "")),
            app_version=str(manifest.get("created_by_app_version", manifest.get("app_version", ""))),
            created=manifest.get("created"),
            edit_log=list(manifest.get("edit_log", [])),
            metadata=dict(manifest.get("metadata", {})),
            image_storage=storage,
        )
    except SceneFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _fail(path, f"its contents are inconsistent ({type(exc).__name__}: {exc})") from None
    scene.load_warnings = warnings
    scene.loaded_stamp = stamp
    for w in warnings:
        log.info("%s: %s", path.name, w)  # callers show scene.load_warnings to the user
    return scene


def _reload_images(
    views: list[ViewInfo], depth_shape: tuple[int, ...], background: str = "white"
) -> tuple[np.ndarray, list[str]]:
    """Re-read referenced originals (scenes saved with image_storage='paths')."""
    from app.images import ImageReadError, file_sha256, preprocess_image, read_image

    s, h, w = depth_shape
    images = np.full((s, h, w, 3), 128, dtype=np.uint8)
    warnings = []
    for i, view in enumerate(views):
        p = Path(view.path)
        try:
            if file_sha256(p) != view.sha256:
                warnings.append(f"image {view.name} changed since the reconstruction; shown grey")
                continue
            images[i] = preprocess_image(read_image(p, background), view.transform)
        except (OSError, UserError, ImageReadError) as exc:
            warnings.append(f"image {view.name} cannot be read ({exc}); shown grey")
    return images, warnings
