"""How long the full (official-size) IGGT takes on a CPU, before the first run has measured it.

The prior: bench/forward.py measured the full model's fp32 forward of 4 views at 336x504 in about 88 s on
2 cores of the project's build machine (the official code: 87.9 s), i.e. about 130 s per view-megapixel
on 2 threads. Time is taken as proportional to views x pixels and inverse to the threads (the global
attention grows faster with many views, so large runs take longer than this says). After a run, the viewer
uses the speed it measured instead (viewer.pipeline.remember_timing).
"""

from __future__ import annotations

FULL_CPU_SECONDS_PER_MPX_2_THREADS = 130.0


def cpu_seconds(views: int, height: int, width: int, threads: int | None = None) -> float:
    """Expected forward time of the full IGGT on this CPU (fp32)."""
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    return FULL_CPU_SECONDS_PER_MPX_2_THREADS * views * height * width / 1e6 * 2 / max(int(threads), 1)


def cpu_warning(config_name: str, device: str, views: int, height: int, width: int) -> str | None:
    """A warning before the full model runs on a CPU (None on a GPU or for smaller models)."""
    if config_name != "full" or not device.startswith("cpu"):
        return None
    from app.progress import format_seconds

    seconds = cpu_seconds(views, height, width)
    return (f"the full IGGT runs on the CPU here: {views} views at {width}x{height} take about "
            f"{format_seconds(seconds)} (estimate); a CUDA GPU takes seconds")
