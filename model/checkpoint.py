"""Loading and saving IGGT weights.

``load_iggt(source)`` accepts a ``.safetensors``/``.pt``/``.pth``/``.bin`` file, a folder holding one
(or a sharded set with an ``*.index.json``), or a Hugging Face hub id such as ``lifuguan/IGGT_official``
(``owner/name[@revision]``, read from the local hub cache only: loading never downloads; `app.models_hub`
downloads when the user asks). The official checkpoint format is loaded as is: ``module.`` prefixes are
stripped, keys and shapes are validated against the configuration, and tensors the inference forward
never uses (tracking head, part-head leftovers) are skipped with a log line unless ``keep_unused=True``.

Weights may name the input size they were trained for in their safetensors metadata
(``iggt.input_width``, optionally ``iggt.input_height`` and ``iggt.max_views``; decimal strings, see
`preferred_metadata`); other entries (e.g. the app's clustering preset) are kept as they are.
``load_iggt`` keeps what the file says in ``net.weights_info``; `read_weights_info` and `read_metadata`
read it without loading the tensors. The app uses it as the default input size.

Memory: the network is built on the meta device and every tensor is placed directly into it, one at
a time, so the weights are never held twice: ``.pt``-style files are memory-mapped
(``torch.load(mmap=True)``; the parameters then live in the copy-on-write file mapping), safetensors
files are read tensor by tensor straight into the new parameters. Only the aggregator may be stored in
reduced precision (``dtype``); the heads always stay float32.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import atomic_write
from .config import IGGTConfig
from .errors import CheckpointError
from .iggt import IGGT, build_iggt, set_tensor
from .safetensors_file import SafetensorsReader

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
CONFIG_METADATA_KEY = "iggt_config"
INPUT_WIDTH_METADATA_KEY = "iggt.input_width"  # network input width (pixels) the weights were trained for
INPUT_HEIGHT_METADATA_KEY = "iggt.input_height"  # optional; without it the app keeps the demo's 2:3 ratio
MAX_VIEWS_METADATA_KEY = "iggt.max_views"  # optional: most views per scene the weights were trained with
_SIZE_LIMITS = {INPUT_WIDTH_METADATA_KEY: (28, 4032), INPUT_HEIGHT_METADATA_KEY: (28, 4032),
                MAX_VIEWS_METADATA_KEY: (1, 10_000)}
# preferred file names when a folder holds several candidates
_PREFERRED_NAMES = ("model.safetensors", "iggt.safetensors", "pytorch_model.bin", "model.pt", "model.pth")
OFFICIAL_REPO = "lifuguan/IGGT_official"  # the hub repository of the official checkpoint
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict", "module", "net")


# ---------------------------------------------------------------------------------------------- reading
@dataclass
class TensorSource:
    """Lazily readable tensors of one checkpoint (possibly several shard files)."""

    origin: str
    shapes: dict[str, tuple[int, ...]]
    metadata: dict[str, str] = field(default_factory=dict)
    _readers: dict[str, object] = field(default_factory=dict, repr=False)  # key -> reader
    _files: list[SafetensorsReader] = field(default_factory=list, repr=False)
    _renamed: dict[str, str] = field(default_factory=dict, repr=False)  # clean key -> stored key

    def get(self, key: str) -> torch.Tensor:
        reader = self._readers[key]
        stored = self._renamed.get(key, key)
        try:
            if isinstance(reader, dict):
                return reader[stored]
            return reader.get_tensor(stored)
        except Exception as exc:  # truncated data surfaces here for safetensors
            raise CheckpointError(
                f"{self.origin}: cannot read tensor {stored!r} ({exc}); is the file truncated?"
            ) from None

    def close(self) -> None:
        self._readers.clear()
        for reader in self._files:
            reader.close()
        self._files.clear()


def _strip_prefix(key: str) -> str:
    while key.startswith("module."):
        key = key[len("module.") :]
    return key


def _read_safetensors(path: Path, source: TensorSource) -> None:
    reader = SafetensorsReader(path)
    source.metadata.update(reader.metadata)
    source._files.append(reader)
    _register(source, path, reader, reader.shapes)


def _torch_load(path: Path) -> object:
    import argparse

    import numpy as np

    # harmless objects some training scripts store next to the weights
    allowed = [argparse.Namespace, np.dtype, *(type(np.dtype(t)) for t in ("float32", "float64", "int64"))]
    with contextlib.suppress(AttributeError):
        allowed.append(np._core.multiarray.scalar)
    try:
        with torch.serialization.safe_globals(allowed):
            try:
                return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:
                if "mmap" not in str(exc):
                    raise
                # legacy (non-zip) format cannot be memory-mapped
                return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        if "Weights only load failed" in text or "Unsupported global" in text:
            raise CheckpointError(
                f"{path}: the file contains pickled Python objects besides tensors, which are not loaded "
                "for safety. Re-save only the state dict (torch.save(model.state_dict(), path)) or convert "
                "it to .safetensors."
            ) from None
        if zipfile.is_zipfile(path) or "zip archive" in text or "EOF" in text:
            raise CheckpointError(
                f"{path}: cannot read the PyTorch checkpoint ({_short(exc)}); is it truncated or corrupt?"
            ) from None
        raise CheckpointError(f"{path}: not a PyTorch or safetensors checkpoint ({_short(exc)})") from None


def _short(exc: BaseException, limit: int = 120) -> str:
    text = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _find_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
        if tensors and len(tensors) >= len(obj) / 2:
            return tensors
        for wrapper in _WRAPPER_KEYS:
            if isinstance(obj.get(wrapper), dict):
                return _find_state_dict(obj[wrapper], path)
    raise CheckpointError(
        f"{path}: no state dict found (the file holds a {type(obj).__name__}"
        + (f" with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, dict) else "")
        + ")"
    )


def _read_torch(path: Path, source: TensorSource) -> None:
    state = _find_state_dict(_torch_load(path), path)
    _register(source, path, state, {k: tuple(v.shape) for k, v in state.items()})


def _register(source: TensorSource, path: Path, reader: object, shapes: dict[str, tuple[int, ...]]) -> None:
    for stored, shape in shapes.items():
        key = _strip_prefix(stored)
        if key in source.shapes:
            raise CheckpointError(f"{path}: tensor {key!r} appears twice (shards overlap?)")
        source.shapes[key] = shape
        source._readers[key] = reader
        if key != stored:
            source._renamed[key] = stored


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"Checkpoint not found: {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")


def read_checkpoint(files: list[Path], origin: str) -> TensorSource:
    source = TensorSource(origin=origin, shapes={})
    for path in files:
        _check_file(path)
        if path.suffix == ".safetensors":
            _read_safetensors(path, source)
        elif path.suffix in WEIGHT_SUFFIXES:
            _read_torch(path, source)
        else:
            raise CheckpointError(
                f"{path}: unsupported file type {path.suffix or '(none)'}; expected one of "
                + ", ".join(WEIGHT_SUFFIXES)
            )
    if not source.shapes:
        raise CheckpointError(f"{origin}: the checkpoint contains no tensors")
    return source


# ---------------------------------------------------------------------------------------------- locating
def weight_files_in(folder: Path) -> list[Path]:
    """The weight file(s) of a folder: an index's shards, else the single (or preferred) weight file."""
    for index in sorted(folder.glob("*.index.json")):
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{index}: unreadable shard index ({exc})") from None
        return [folder / name for name in dict.fromkeys(weight_map.values())]
    candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not candidates:
        raise CheckpointError(
            f"{folder}: no weights found in this folder (looked for " + ", ".join(WEIGHT_SUFFIXES) + " files)"
        )
    if len(candidates) == 1:
        return candidates
    for name in _PREFERRED_NAMES:
        for path in candidates:
            if path.name == name:
                return [path]
    safetensors = [p for p in candidates if p.suffix == ".safetensors"]
    if len(safetensors) == 1:
        return safetensors
    raise CheckpointError(
        f"{folder}: several weight files ({', '.join(p.name for p in candidates)}); pass the file itself"
    )


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (HF_HUB_CACHE, else HF_HOME/hub), so it
    is the folder every other hub tool on this machine uses."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


def resolve_hub(repo_id: str, revision: str | None = None) -> Path:
    """Local folder of the hub repo's weights, from the local hub cache only: loading never touches the
    network (downloads are an explicit step, ``iggt models get``)."""
    from huggingface_hub import snapshot_download

    patterns = ["*.safetensors", "*.index.json", "*.pt", "*.pth", "*.bin", "*.ckpt", "*.json"]
    try:
        folder = snapshot_download(repo_id, revision=revision, allow_patterns=patterns, local_files_only=True,
                                   cache_dir=hub_cache_dir())
        return Path(folder)
    except Exception:
        raise CheckpointError(
            f"{repo_id}: not in the local hub cache ({hub_cache_dir()}); download it with "
            + ("'iggt models get iggt-official'" if repo_id == OFFICIAL_REPO else f"'hf download {repo_id}'")
            + " or pass a local checkpoint file"
        ) from None


def choose_weight_files(files: list[str]) -> list[str]:
    """Of a hub repo's file list, the weight file(s) the folder logic would load (one format only, so no
    duplicate is downloaded), plus the top-level JSON files (configs, shard indexes)."""
    top = [f for f in files if "/" not in f]
    weights = [f for f in top if f.endswith(WEIGHT_SUFFIXES)]
    jsons = [f for f in top if f.endswith(".json")]
    indexes = [f for f in jsons if f.endswith(".index.json")]
    if indexes:
        shard_suffix = ".safetensors" if indexes[0].endswith(".safetensors.index.json") else ".bin"
        return sorted(jsons + [f for f in weights if f.endswith(shard_suffix)])
    chosen = next((name for name in _PREFERRED_NAMES if name in weights), None)
    if chosen is None:
        safetensors = [f for f in weights if f.endswith(".safetensors")]
        candidates = safetensors if len(safetensors) == 1 else weights
        if len(candidates) != 1:
            raise CheckpointError(
                "the repository holds " + (f"several weight files ({', '.join(weights)})" if weights
                                           else "no weight file") + "; cannot tell which to use"
            )
        chosen = candidates[0]
    return sorted([chosen, *jsons])


def locate(source: str | os.PathLike) -> tuple[list[Path], str]:
    """The weight file(s) of a file, folder or hub id (hub ids: from the local hub cache only)."""
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        return weight_files_in(path), str(path)
    if path.exists() or path.suffix in WEIGHT_SUFFIXES or text.startswith((".", "/", "~")):
        return [path], str(path)
    if _HUB_ID.match(text):
        repo_id, _, revision = text.partition("@")
        folder = resolve_hub(repo_id, revision or None)
        return weight_files_in(folder), f"{text} (hub, {folder})"
    raise CheckpointError(f"Checkpoint not found: {text} (neither a file, a folder nor a hub id owner/name)")


# ---------------------------------------------------------------------------------------------- validating
def config_from_source(source: TensorSource) -> IGGTConfig | None:
    """The configuration recorded in the file's metadata, else the preset whose shapes fit."""
    text = source.metadata.get(CONFIG_METADATA_KEY)
    if text:
        try:
            return IGGTConfig.from_json(text)
        except (ValueError, TypeError) as exc:
            raise CheckpointError(
                f"{source.origin}: invalid {CONFIG_METADATA_KEY} metadata ({exc})"
            ) from None
    width = source.shapes.get("aggregator.camera_token")
    if width is not None:
        for preset in (IGGTConfig.full(), IGGTConfig.tiny()):
            if width[-1] == preset.embed_dim:
                return preset
    return None


def _describe(source: TensorSource, expected: dict[str, tuple[int, ...]]) -> str:
    """One sentence about what the checkpoint looks like."""
    keys = set(source.shapes)
    tops = sorted({k.split(".")[0] for k in keys})
    has = {name: any(k.startswith(name + ".") for k in keys) for name in
           ("aggregator", "camera_head", "depth_head", "point_head", "part_adaptor", "part_head")}
    if has["aggregator"] and not has["part_adaptor"] and not has["part_head"]:
        return "this is a VGGT checkpoint without the instance head (no part_adaptor / part_head weights)"
    if not any(has.values()):
        return f"this does not look like an IGGT checkpoint (top-level names: {', '.join(tops[:8])})"
    width = source.shapes.get("aggregator.camera_token")
    want = expected.get("aggregator.camera_token")
    if width and want and width[-1] != want[-1]:
        return f"this checkpoint has width {width[-1]}, the configuration expects {want[-1]} (another size?)"
    return f"the checkpoint has {len(keys)} tensors under {', '.join(tops[:8])}"


def _listing(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass
class LoadPlan:
    load: list[str]  # keys to read into the network
    skipped_unused: list[str]  # known-unused keys present in the file, not loaded
    unexpected: list[str]  # keys the configuration does not know
    absent_unused: list[str]  # (keep_unused) never-used keys the file lacks: zero-filled


def plan_load(source: TensorSource, cfg: IGGTConfig, net: IGGT) -> LoadPlan:
    full_expected = {k: tuple(v.shape) for k, v in build_iggt(cfg.replace(keep_unused=True), "meta")
                     .state_dict().items()}
    used = set(build_iggt(cfg.replace(keep_unused=False), "meta").state_dict())
    wanted = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    optional = {k for k in wanted if k.endswith(("num_batches_tracked", "relative_position_index_SA",
                                                 "relative_position_index_OCA"))}
    missing = [k for k in wanted if k not in source.shapes and k not in optional and k in used]
    mismatched = [
        f"{k} (file {list(source.shapes[k])}, expected {list(shape)})"
        for k, shape in wanted.items()
        if k in source.shapes and source.shapes[k] != shape
    ]
    if missing or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} tensors are missing: {_listing(missing)}")
        if mismatched:
            parts.append(f"{len(mismatched)} tensors have the wrong shape: {_listing(mismatched, 3)}")
        raise CheckpointError(
            f"{source.origin} does not fit the IGGT '{cfg.name}' network ({_describe(source, wanted)}): "
            + "; ".join(parts)
        )
    skipped = [k for k in source.shapes if k not in wanted and k in full_expected]
    unexpected = [k for k in source.shapes if k not in full_expected]
    absent_unused = [k for k in wanted if k not in source.shapes and k not in used and k not in optional]
    return LoadPlan([k for k in wanted if k in source.shapes], skipped, unexpected, absent_unused)


# ------------------------------------------------------------------------------------------ preferred input
@dataclass(frozen=True)
class PreferredInput:
    """The input size the weights were trained for, from their metadata (None: the file does not say)."""

    width: int | None = None
    height: int | None = None
    max_views: int | None = None

    def describe(self) -> str:
        if self.width is None:
            return "not recorded"
        text = f"width {self.width} px" if self.height is None else f"{self.width}x{self.height} px"
        return text + (f", at most {self.max_views} views" if self.max_views is not None else "")


def preferred_metadata(
    width: int | None,
    height: int | None = None,
    max_views: int | None = None,
) -> dict[str, str]:
    """The metadata entries recording a preferred input size, e.g. for ``save_iggt(net, path, metadata=...)``:
    ``preferred_metadata(308, 224)`` -> ``{"iggt.input_width": "308", "iggt.input_height": "224"}``."""
    values = {INPUT_WIDTH_METADATA_KEY: width, INPUT_HEIGHT_METADATA_KEY: height,
              MAX_VIEWS_METADATA_KEY: max_views}  # fmt: skip
    meta = {key: str(int(v)) for key, v in values.items() if v is not None}
    try:
        preferred_input_from_metadata(meta, "preferred input size")
    except CheckpointError as exc:
        raise ValueError(str(exc)) from None
    return meta


def preferred_input_from_metadata(metadata: dict[str, str], origin: str) -> PreferredInput:
    """Parse and check the preferred-size entries of a file's metadata (CheckpointError when malformed)."""
    values: dict[str, int] = {}
    for key, (lo, hi) in _SIZE_LIMITS.items():
        text = metadata.get(key)
        if text is None:
            continue
        try:
            value = int(str(text).strip())
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise CheckpointError(
                f"{origin}: invalid {key} metadata {text!r} (expected a whole number from {lo} to {hi})"
            )
        values[key] = value
    if INPUT_HEIGHT_METADATA_KEY in values and INPUT_WIDTH_METADATA_KEY not in values:
        raise CheckpointError(
            f"{origin}: {INPUT_HEIGHT_METADATA_KEY} metadata without {INPUT_WIDTH_METADATA_KEY}"
        )
    return PreferredInput(
        values.get(INPUT_WIDTH_METADATA_KEY), values.get(INPUT_HEIGHT_METADATA_KEY),
        values.get(MAX_VIEWS_METADATA_KEY),
    )  # fmt: skip


@dataclass(frozen=True)
class WeightsInfo:
    """What a weights file says about itself (kept as ``net.weights_info`` by `load_iggt`)."""

    origin: str
    config_name: str | None  # None: neither recorded nor recognised by shape
    tensors: int  # tensors in the file
    parameters: int  # numbers stored in the file (parameters, buffers and never-used weights)
    preferred: PreferredInput
    metadata: dict[str, str] = field(default_factory=dict)  # the safetensors metadata ({} for .pt files)


def read_metadata(source: str | os.PathLike) -> tuple[dict[str, str], str]:
    """(metadata, origin) of a file, folder or hub id from the safetensors header(s) alone (cheap: no
    tensor is read; other formats carry no metadata and give an empty dict)."""
    files, origin = locate(source)
    metadata: dict[str, str] = {}
    for path in files:
        if path.suffix != ".safetensors":
            continue
        _check_file(path)
        reader = SafetensorsReader(path)
        reader.close()
        metadata.update(reader.metadata)
    return metadata, origin


def read_preferred_input(source: str | os.PathLike) -> PreferredInput:
    """The preferred input size of a file, folder or hub id from its metadata (see `read_metadata`)."""
    return preferred_input_from_metadata(*read_metadata(source))


def read_weights_info(source: str | os.PathLike) -> WeightsInfo:
    """Describe a checkpoint without building the network (headers only for safetensors; ``.pt`` files are
    memory-mapped)."""
    files, origin = locate(source)
    src = read_checkpoint(files, origin)
    try:
        cfg = config_from_source(src)
        return WeightsInfo(
            origin, None if cfg is None else cfg.name, len(src.shapes),
            sum(math.prod(shape) for shape in src.shapes.values()),
            preferred_input_from_metadata(src.metadata, origin), dict(src.metadata),
        )  # fmt: skip
    finally:
        src.close()


def with_preferred_input(
    path_in: str | os.PathLike,
    path_out: str | os.PathLike,
    width: int | None,
    height: int | None = None,
    max_views: int | None = None,
    extra: dict[str, str] | None = None,
) -> Path:
    """Copy a .safetensors weights file with a preferred input size (and the ``extra`` entries, e.g. the
    app's) recorded in its metadata (replacing any earlier size), written by safetensors itself; the
    tensors are the same, and the write is atomic, so ``path_out`` may be ``path_in``."""
    path_in, path_out = Path(path_in), Path(path_out)
    if path_in.suffix != ".safetensors":
        raise CheckpointError(f"{path_in}: only .safetensors files carry metadata")
    _check_file(path_in)
    from safetensors.torch import save_file

    reader = SafetensorsReader(path_in)
    try:
        tensors = {name: reader.get_tensor(name) for name in reader.shapes}
        meta = {k: v for k, v in reader.metadata.items() if k not in _SIZE_LIMITS}
        entries = {**preferred_metadata(width, height, max_views), **(extra or {})}
        path_out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write.atomic_file(path_out) as tmp:
            save_file(tensors, str(tmp), metadata={**meta, **entries})
    finally:
        reader.close()
    return path_out


# ---------------------------------------------------------------------------------------------- public API
def load_iggt(
    source: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    config: IGGTConfig | None = None,
    keep_unused: bool = False,
) -> IGGT:
    """Loads an IGGT network (eval mode) from a file, a folder or a hub id.

    ``dtype``: storage dtype of the aggregator weights (default float32). With bfloat16/float16 the
    aggregator runs in that precision while the heads stay float32, as in the official code.
    ``config``: the architecture; by default taken from the file's metadata or recognised by shape.
    ``keep_unused``: also load the weights the forward never uses (tracking head etc.).
    """
    from .device import resolve_device

    dev = resolve_device(device)
    files, origin = locate(source)
    src = read_checkpoint(files, origin)
    try:
        preferred = preferred_input_from_metadata(src.metadata, origin)
        cfg = config or config_from_source(src) or IGGTConfig.full()
        cfg = cfg.replace(keep_unused=keep_unused)
        net = build_iggt(cfg, device="meta")
        plan = plan_load(src, cfg, net)
        if plan.skipped_unused:
            log.info("%s: skipped %d tensors the inference forward never uses (%s)", origin,
                     len(plan.skipped_unused), _summarise_prefixes(plan.skipped_unused))
        if plan.unexpected:
            log.warning("%s: ignored %d unknown tensors: %s", origin, len(plan.unexpected),
                        _listing(plan.unexpected))
        for key in plan.load:
            tensor = src.get(key)
            set_tensor(net, key, _convert(tensor, dev, _weight_dtype(key, dtype)))
        if plan.absent_unused:
            log.warning("%s: %d tensors the forward never uses are not in the file and were zero-filled (%s)",
                        origin, len(plan.absent_unused), _summarise_prefixes(plan.absent_unused))
            state = net.state_dict(keep_vars=True)
            for key in plan.absent_unused:
                set_tensor(net, key, torch.zeros(state[key].shape, dtype=state[key].dtype, device=dev))
        net.restore_constant_buffers(dev)
    finally:
        src.close()
    leftovers = [k for k, v in net.state_dict(keep_vars=True).items() if v.is_meta]
    if leftovers:
        raise CheckpointError(f"{origin}: tensors left unset: {_listing(leftovers)}")
    net.weights_info = WeightsInfo(
        origin, cfg.name, len(src.shapes), sum(math.prod(shape) for shape in src.shapes.values()), preferred,
        dict(src.metadata),
    )  # fmt: skip
    log.info("loaded IGGT '%s' from %s (%d tensors, preferred input %s) on %s", cfg.name, origin,
             len(plan.load), preferred.describe(), dev)  # fmt: skip
    return net.eval()


def _weight_dtype(key: str, dtype: torch.dtype | None) -> torch.dtype:
    if dtype is None or not key.startswith("aggregator."):
        return torch.float32
    return dtype


def _convert(tensor: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    if tensor.is_floating_point():
        return tensor.to(device=device, dtype=dtype)
    return tensor.to(device=device)


def _summarise_prefixes(keys: list[str]) -> str:
    counts: dict[str, int] = {}
    for k in keys:
        parts = k.split(".")
        prefix = ".".join(parts[:2]) if parts[0] == "part_head" else parts[0]
        if k == "aggregator.patch_embed.mask_token":
            prefix = k
        counts[prefix] = counts.get(prefix, 0) + 1
    return ", ".join(f"{p}: {n}" for p, n in sorted(counts.items()))


def save_iggt(net: IGGT, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Writes the network's weights as safetensors with its configuration in the metadata (atomic)."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {CONFIG_METADATA_KEY: net.config.to_json(), "format": "pt", **(metadata or {})}
    tensors = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write.atomic_file(path) as tmp:
        save_file(tensors, tmp, metadata=meta)
    return path
