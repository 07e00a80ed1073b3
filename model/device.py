"""Where and how a forward runs: device choice, precision, progress/cancel control, OOM translation."""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import ctypes.util
import functools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from .errors import Cancelled, IGGTError, OutOfMemory

ProgressFn = Callable[[str, float], None]
CancelFn = Callable[[], bool]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """"auto"/None -> CUDA when available, else CPU; anything else is validated."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise IGGTError(f"Unknown device {device!r}; use 'auto', 'cpu' or 'cuda'.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise IGGTError("CUDA was requested but no CUDA GPU is available; use device='cpu' or 'auto'.")
    return dev


def autocast_dtype(device: torch.device, dtype: torch.dtype | None = None) -> torch.dtype | None:
    """Reduced precision for the aggregator: bf16 where the GPU supports it, else fp16; None on CPU.

    An explicit ``dtype`` wins (``torch.float32`` disables autocast).
    """
    if dtype is not None:
        return None if dtype == torch.float32 else dtype
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=dtype)


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """Disables CUDA autocast (the heads run in fp32, as in the official code)."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", enabled=False)


@dataclass
class RunControl:
    """Progress reporting and cooperative cancellation, checked between blocks.

    ``step(stage, fraction)`` reports progress (rate-limited) and raises ``Cancelled`` when the cancel
    callback says so.
    """

    progress: ProgressFn | None = None
    cancel: CancelFn | None = None
    min_interval_s: float = 0.05
    _last_report: float = field(default=0.0, repr=False)

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("Inference was cancelled.")

    def step(self, stage: str, fraction: float) -> None:
        self.check()
        if self.progress is None:
            return
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last_report >= self.min_interval_s:
            self._last_report = now
            self.progress(stage, min(max(float(fraction), 0.0), 1.0))


_ACTIVE_CONTROL: contextvars.ContextVar[RunControl | None] = contextvars.ContextVar(
    "iggt_control", default=None
)


@contextlib.contextmanager
def control_scope(control: RunControl | None) -> Iterator[None]:
    """Makes ``control`` reachable from deep inside the network (``check_cancel``) during a forward."""
    token = _ACTIVE_CONTROL.set(control)
    try:
        yield
    finally:
        _ACTIVE_CONTROL.reset(token)


def check_cancel() -> None:
    """Raises ``Cancelled`` if the forward running in this context was asked to stop."""
    control = _ACTIVE_CONTROL.get()
    if control is not None:
        control.check()


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


@contextlib.contextmanager
def translate_oom(views: int, height: int, width: int, device: torch.device) -> Iterator[None]:
    """Turns a device OOM into ``OutOfMemory`` with advice, after releasing cached memory."""
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        if device.type == "cuda":
            torch.cuda.empty_cache()
        where = "GPU" if device.type == "cuda" else "memory"
        raise OutOfMemory(
            f"Ran out of {where} memory for {views} view(s) at {width}x{height}. "
            "Try fewer views or a smaller image size"
            + (", or run on the CPU." if device.type == "cuda" else ".")
        ) from None


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Returns freed heap memory to the OS (glibc ``malloc_trim``), so peaks of later stages do not
    stack on memory that is free but still resident. A no-op where unavailable."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
