"""Where and how a forward runs: device choice, precision, releasing memory (after an OOM, between head
steps on the CPU). Progress and cancel: `model.forward_watch`."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import sys
from collections.abc import Callable

import torch

from .errors import IGGTError

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


BF16_MIN_CAPABILITY = (8, 0)  # Ampere: native bf16; before it bf16 is only emulated (VGGT's rule)


def cuda_reduced_dtype(device: torch.device | int | None = None) -> torch.dtype:
    """The reduced precision a CUDA GPU runs natively: bf16 from compute capability 8.0, else fp16.

    (``torch.cuda.is_bf16_supported()`` also says yes where bf16 is only emulated, e.g. on a T4.)"""
    capability = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if tuple(capability) >= BF16_MIN_CAPABILITY else torch.float16


def autocast_dtype(device: torch.device, dtype: torch.dtype | None = None) -> torch.dtype | None:
    """Reduced precision for the aggregator: `cuda_reduced_dtype` on CUDA; None on CPU.

    An explicit ``dtype`` wins (``torch.float32`` disables autocast).
    """
    if dtype is not None:
        return None if dtype == torch.float32 else dtype
    if device.type != "cuda":
        return None
    return cuda_reduced_dtype(device)


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=dtype)


def full_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """Disables CUDA autocast (the heads run in fp32, as in the official code)."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", enabled=False)


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def oom_message(views: int, height: int, width: int, device: torch.device) -> str:
    where = "GPU" if device.type == "cuda" else "memory"
    return (
        f"Ran out of {where} memory for {views} view(s) at {width}x{height}. "
        "Try fewer views or a smaller image size" + (", or run on the CPU." if device.type == "cuda" else ".")
    )


def free_device_memory(device: torch.device) -> None:
    """Hand memory back after a failed forward. Call it only once every reference to the failure is gone
    (the exception, its traceback and the frames it holds: images, kept layer outputs): memory still
    referenced cannot be freed, and a retry with fewer views would find it missing.

    Frames caught in reference cycles need the cycle collector. With automatic collection off, the
    process has given collecting to one thread of its own (the viewer's GUI thread, where Qt and VTK
    objects must die; this runs in a worker) and the cycles are left to it: the caching allocator reuses
    their memory for the retry once that thread's next pass frees them."""
    if gc.isenabled():
        gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


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
