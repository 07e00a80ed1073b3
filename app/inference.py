"""Running the network: weights resolution, device choice, view cap, progress and cancel.

``weights`` settings: "bundled" (resources/weights/iggt-tiny.safetensors), a local file path
(.safetensors / .pt / .pth, official checkpoints included), or a model-hub id ("owner/name", only
usable when the hub cache already holds it: this app never needs the network). Loading goes through
`model.load_iggt`; inference through `model.predict.predict` (frame chunks, bf16 autocast on CUDA).
What the weights' metadata leaves to them (input size, clustering preset) is resolved once per run by
`app.run_plan.make_plan`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from app.errors import UserError
from app.paths import WEIGHTS_DIR

if TYPE_CHECKING:
    from model.checkpoint import PreferredInput

log = logging.getLogger(__name__)

BUNDLED = "bundled"
BUNDLED_WEIGHTS = WEIGHTS_DIR / "iggt-tiny.safetensors"
DEVICES = ("auto", "cpu", "cuda")
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
HARD_MAX_VIEWS = 200  # global attention is quadratic in views; beyond this nothing is practical
# Activation memory per view of the full model at the demo's 336x504 in fp32, measured with the
# official code on CPU (4 views: +4.1 GB); scaled by pixels and by model width for other settings.
FULL_BYTES_PER_VIEW_336x504 = 1.05e9
FULL_TOKEN_DIM = 2048
MEMORY_HEADROOM = 0.8  # use at most this share of the free memory
# Where the network's own stages fall within the whole forward (rough shares of the full model's time).
FORWARD_STAGES = {
    "preparing": (0.0, 0.01),
    "patch embedding": (0.01, 0.25),
    "aggregator": (0.25, 0.65),
    "heads": (0.65, 0.98),
    "cameras": (0.98, 0.99),
    "done": (0.99, 1.0),
}


def forward_progress(progress: ProgressFn) -> ProgressFn:
    """Turn the network's per-stage fractions into one fraction of the whole forward."""
    last = [0.0]

    def report(stage: str, fraction: float) -> None:
        lo, hi = FORWARD_STAGES.get(stage, (last[0], last[0]))
        overall = max(last[0], lo + (hi - lo) * min(max(fraction, 0.0), 1.0))
        last[0] = overall
        progress(stage, overall)

    return report


ProgressFn = Callable[[str, float], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class InferenceConfig:
    weights: str = BUNDLED
    device: str = "auto"  # auto | cpu | cuda[:N]
    dtype: str | None = None  # None: bf16/fp16 autocast on CUDA, fp32 on CPU; or "float32"
    frame_chunk: int | None = None  # frames per head chunk (None: automatic)

    def validate(self) -> None:
        if not (self.device in DEVICES or re.fullmatch(r"cuda:\d+", self.device)):
            raise UserError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.dtype not in (None, "float32", "bfloat16", "float16"):
            raise UserError(f"dtype must be float32, bfloat16 or float16, not {self.dtype!r}")
        if self.frame_chunk is not None and self.frame_chunk < 1:
            raise UserError(f"frame chunk must be at least 1, not {self.frame_chunk}")


@dataclass(frozen=True)
class WeightsSource:
    kind: str  # "file" | "hub"
    location: str  # file path or hub id
    label: str  # what the user asked for ("bundled", a path, a hub id)


def resolve_weights(setting: str) -> WeightsSource:
    """Turn a weights setting into a file or a hub id; raise UserError with advice when impossible."""
    setting = (setting or BUNDLED).strip()
    if setting == BUNDLED:
        if not BUNDLED_WEIGHTS.is_file():
            raise UserError(
                f"the bundled weights are missing ({BUNDLED_WEIGHTS}); "
                "reinstall the app or pass --weights FILE"
            )
        return WeightsSource("file", str(BUNDLED_WEIGHTS), BUNDLED)
    path = Path(setting).expanduser()
    if path.exists():  # a file, or a folder of (possibly sharded) weights: model.load_iggt reads both
        return WeightsSource("file", str(path.absolute()), setting)
    hub = re.fullmatch(r"[\w.-]+/[\w.-]+(@[\w.-]+)?", setting)
    if hub and not setting.startswith((".", "/", "~")) and Path(setting).suffix not in WEIGHT_SUFFIXES:
        return WeightsSource("hub", setting, setting)
    if os.sep in setting or Path(setting).suffix in WEIGHT_SUFFIXES:
        raise UserError(f"weights file not found: {setting}")
    raise UserError(f"weights must be 'bundled', a checkpoint file or a hub id (owner/name), not {setting!r}")


def check_device(device: str) -> None:
    """UserError when CUDA is requested on a machine without a usable CUDA GPU."""
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UserError(
                "--device cuda was requested but no CUDA GPU is available; use --device cpu or auto"
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise UserError(f"there is no CUDA device {index} (found {torch.cuda.device_count()})")


def weights_id(source: WeightsSource, config_name: str) -> str:
    """A short id naming the exact weights (config name + content hash for files up to 512 MB)."""
    if source.kind == "hub":
        return f"iggt-{config_name}:{source.location}"
    path = Path(source.location)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES)
        size = sum(p.stat().st_size for p in files)
        return f"iggt-{config_name}:{path.name}:{size}"
    size = path.stat().st_size
    if size <= 512 * 2**20:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()[:12]
    else:  # hashing gigabytes costs seconds; name + size identify the release well enough
        digest = f"{path.name}:{size}"
    return f"iggt-{config_name}:{digest}"


class Predictor(Protocol):
    """What the reconstruction pipeline needs from a model (tests provide fakes)."""

    model_id: str

    def load(self) -> None: ...

    def max_views(self, height: int, width: int) -> tuple[int, str]: ...

    def predict(self, images: np.ndarray, progress: ProgressFn, cancel: CancelFn) -> Any: ...


def free_memory_bytes(device: str) -> int | None:
    """Free memory of the device, None if unknown. CUDA: free GPU memory plus what PyTorch holds cached
    but unused (reserved - allocated: it is ours to reuse, and counting it as used would shrink the view
    cap after every run in one process); CPU: MemAvailable."""
    if device.startswith("cuda"):
        import torch

        try:
            dev = torch.device(device)
            free, _ = torch.cuda.mem_get_info(dev)
            cached = torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev)
            return int(free) + max(0, int(cached))
        except (RuntimeError, AssertionError):
            return None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def weights_bytes(source: WeightsSource) -> int | None:
    """Bytes of the weight file(s) (None for a hub id: the loader finds the files)."""
    if source.kind != "file":
        return None
    path = Path(source.location)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    return path.stat().st_size


def weights_oom_message(size: int | None, device: str) -> str:
    what = "the weights" if size is None else f"the weights ({size / 1e6:,.0f} MB)"
    where = "GPU memory" if device.startswith("cuda") else "memory"
    advice = ("use --dtype bfloat16 (float16 before compute capability 8.0) to hold the aggregator in half "
              "the memory, or run on the CPU (--device cpu)"
              if device.startswith("cuda") else "close other programs, or use smaller weights")  # fmt: skip
    return f"ran out of {where} loading {what} on {device}; {advice}"


def check_weights_fit(size: int | None, free: int | None, device: str) -> None:
    """UserError, before loading, when the weights alone cannot fit the GPU's free memory. (On the CPU
    ``.pt`` weights are memory-mapped and need no free memory up front, so only CUDA is checked.)"""
    if not device.startswith("cuda") or size is None or free is None or size <= free:
        return
    raise UserError(
        f"the weights ({size / 1e9:.1f} GB) do not fit the {free / 1e9:.1f} GB of free GPU memory on "
        f"{device}; use --dtype bfloat16 (half the memory), run on the CPU (--device cpu) or free GPU memory"
    )


def bytes_per_view(token_dim: int, height: int, width: int, reduced_precision: bool) -> float:
    scale = (height * width) / (336 * 504) * (token_dim / FULL_TOKEN_DIM)
    per_view = FULL_BYTES_PER_VIEW_336x504 * scale
    return per_view * (0.6 if reduced_precision else 1.0) + 16e6  # + outputs kept per view


@dataclass
class NetworkPredictor:
    """The real network behind the `Predictor` protocol (loaded lazily by `load`)."""

    config: InferenceConfig = field(default_factory=InferenceConfig)
    model_id: str = ""
    net: Any = None
    device: str = "cpu"
    source: WeightsSource | None = None
    preferred: PreferredInput | None = None  # the input size the loaded weights name (after load)

    def load(self) -> None:
        if self.net is not None:
            return
        self.config.validate()
        self.source = resolve_weights(self.config.weights)
        import torch

        from model import load_iggt
        from model.device import free_device_memory, is_out_of_memory, resolve_device
        from model.errors import IGGTError

        try:
            dev = resolve_device(self.config.device)
        except IGGTError as exc:
            raise UserError(str(exc)) from None
        # an explicit reduced precision on a GPU also stores the aggregator's weights in it (half the memory)
        storage = None
        if dev.type == "cuda" and self.config.dtype in ("bfloat16", "float16"):
            storage = getattr(torch, self.config.dtype)
        size = weights_bytes(self.source)
        needed = None if size is None else size // 2 if storage is not None else size
        check_weights_fit(needed, free_memory_bytes(str(dev)), str(dev))
        try:
            self.net = load_iggt(self.source.location, device=dev, dtype=storage)
        except IGGTError as exc:
            raise UserError(str(exc)) from None
        except FileNotFoundError as exc:
            raise UserError(f"weights not found: {exc}") from None
        except Exception as exc:  # only running out of memory is handled here
            if not is_out_of_memory(exc):
                raise
        if self.net is None:  # out of memory: every reference to the half-loaded network is gone now
            free_device_memory(dev)
            raise UserError(weights_oom_message(size, str(dev)))
        self.device = str(dev)
        info = getattr(self.net, "weights_info", None)
        self.preferred = None if info is None else info.preferred
        name = getattr(getattr(self.net, "config", None), "name", "model")
        self.model_id = weights_id(self.source, name)
        log.info("loaded %s on %s (torch %s)", self.model_id, self.device, torch.__version__)

    def max_views(self, height: int, width: int) -> tuple[int, str]:
        """(how many views fit, explanation) for this model on this device."""
        self.load()
        cfg = self.net.config
        token_dim = 2 * int(getattr(cfg, "embed_dim", 1024))
        reduced = self.device.startswith("cuda") and self.config.dtype != "float32"
        per_view = bytes_per_view(token_dim, height, width, reduced)
        free = free_memory_bytes(self.device)
        if free is None:
            return HARD_MAX_VIEWS, "memory unknown"
        fit = int(free * MEMORY_HEADROOM // per_view)
        where = "GPU memory" if self.device.startswith("cuda") else "memory"
        why = f"about {per_view / 1e9:.2f} GB each, {free / 1e9:.1f} GB free {where}"
        return max(1, min(HARD_MAX_VIEWS, fit)), why

    def predict(self, images: np.ndarray, progress: ProgressFn, cancel: CancelFn) -> Any:
        self.load()
        import torch

        from app.run_estimate import cpu_warning
        from model.errors import Cancelled, IGGTError, OutOfMemory
        from model.predict import PredictOptions, predict

        warning = cpu_warning(self.net.config.name, self.device, *images.shape[:3])
        if warning:
            log.warning("%s", warning)
        dtype = None if self.config.dtype is None else getattr(torch, self.config.dtype)
        options = PredictOptions(
            device=self.device,
            dtype=dtype,
            frame_chunk=self.config.frame_chunk,
            progress=forward_progress(progress),
            cancel=cancel,
        )
        try:
            return predict(self.net, torch.from_numpy(np.ascontiguousarray(images)), options)
        except Cancelled:
            raise  # (an IGGTError too, but not the user's mistake)
        except OutOfMemory as exc:
            raise UserError(f"{exc} (use --views N with a smaller N, or a smaller --width)") from None
        except IGGTError as exc:
            raise UserError(str(exc)) from None


_CACHE: dict[tuple[str, str, str | None], NetworkPredictor] = {}


def get_predictor(config: InferenceConfig) -> NetworkPredictor:
    """A predictor for ``config``, reusing an already loaded network with the same weights/device."""
    key = (config.weights, config.device, config.dtype)
    pred = _CACHE.get(key)
    if pred is None or pred.config != config:
        _CACHE.clear()  # never keep two networks in memory
        pred = _CACHE[key] = NetworkPredictor(config)
    return pred
