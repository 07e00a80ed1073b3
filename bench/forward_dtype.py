"""`bench/forward.py --dtype bf16`: the full IGGT (recipe weights) on the CPU in fp32 and with the aggregator
in bfloat16 (what `load_iggt(dtype=torch.bfloat16)` gives: aggregator weights stored and computed in bf16
under CPU autocast, heads in fp32, as the official code does on GPUs), in one process.

Cases (``--cases``): the parity inputs (two_views, three_views) and 4 real room photos
(resources/photos/room_scan_10) at 336x504 (photos_4x336x504, default) or 168x224 (photos_4x168x224).
For each: forward time and peak-memory increment for both, the max relative error of depth, points,
cameras (pose encoding) and instance features against fp32 (max |a - b| / max |a|, per output),
and on the photos the adjusted Rand index between the instances the app clusters from each ("large"
preset, as for the official model). The aggregator is converted in place after the fp32 runs, so the
weights are never held twice. Results and the decision (bf16 is not the CPU default): docs/models.md.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

PHOTOS = "room_scan_10"
OUTPUTS = {"depth": "depth", "points": "world_points", "cameras": "pose_enc", "features": "part_feat"}


def photo_images(root, views: int = 4, height: int = 336, width: int = 504):
    import torch

    from app.images import PreprocessConfig, load_images

    folder = root / "resources" / "photos" / PHOTOS
    imageset = load_images([str(folder)], PreprocessConfig(width=width, height=height, max_views=views))
    return torch.from_numpy(imageset.as_float()).contiguous()  # (S, 3, H, W)


def _forward(net, x, status_kib, reset_peak) -> tuple[dict, float, float]:
    import torch

    before = status_kib("VmRSS:")
    reset_peak()
    start = time.perf_counter()
    with torch.inference_mode():
        out = net(x)
    seconds = time.perf_counter() - start
    increment = (status_kib("VmHWM:") - before) / 1024
    last = {k: out[v][-1] if isinstance(out[v], list | tuple) else out[v] for k, v in OUTPUTS.items()}
    kept = {k: v.detach().float().numpy().copy() for k, v in last.items()}  # cameras: the last refinement
    del out
    return kept, seconds, increment


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-12))


def _instances(out: dict) -> np.ndarray:
    from app.clustering import ClusterConfig, cluster_views

    points = out["points"][0]
    features = np.moveaxis(out["features"][0], 1, -1)
    return cluster_views(points, np.ascontiguousarray(features), None, ClusterConfig.preset("large")).labels


PHOTO_CASES = {"photos_4x336x504": (4, 336, 504), "photos_4x168x224": (4, 168, 224)}
DEFAULT_CASES = ("two_views", "three_views", "photos_4x336x504")


def main_bf16(cases: dict, case_images, build, status_kib, reset_peak, threads: int, root,
              names: list[str] | None = None) -> int:
    import torch
    from sklearn.metrics import adjusted_rand_score

    print(f"load average before start: {os.getloadavg()[0]:.2f}; threads {threads}; "
          f"torch {torch.__version__}; CPU bf16: {cpu_bf16_text()}")
    inputs = {}
    for name in names or DEFAULT_CASES:
        if name in PHOTO_CASES:
            inputs[name] = photo_images(root, *PHOTO_CASES[name])
        elif name in ("two_views", "three_views"):
            inputs[name] = case_images(name)
        else:
            raise SystemExit(f"--dtype bf16 cases: {', '.join(('two_views', 'three_views', *PHOTO_CASES))}")
    net, build_s = build(threads)
    print(f"build + recipe weights: {build_s:.1f} s")
    runs: dict[str, dict] = {}
    for name, x in inputs.items():
        runs[name] = {"fp32": _forward(net, x, status_kib, reset_peak)}
        print(f"  fp32 {name}: {runs[name]['fp32'][1]:.1f} s", flush=True)
    net.aggregator.to(torch.bfloat16)
    for name, x in inputs.items():
        runs[name]["bf16"] = _forward(net, x, status_kib, reset_peak)
        print(f"  bf16 {name}: {runs[name]['bf16'][1]:.1f} s", flush=True)
    header = (f"{'case':<17} | {'fp32 s':>7} {'bf16 s':>7} {'ratio':>6} {'official':>8} {'bf16/off':>8} | "
              f"{'fp32 MiB':>8} {'bf16 MiB':>8} | " + " ".join(f"{k:>9}" for k in OUTPUTS) + " | ARI")
    print(header)
    print("-" * len(header))
    for name, run in runs.items():
        (ref, t32, m32), (low, t16, m16) = run["fp32"], run["bf16"]
        official = cases[name.removeprefix("photos_")][3]
        errors = " ".join(f"{_rel_error(ref[k], low[k]):>9.2e}" for k in OUTPUTS)
        ari = ""
        if name.startswith("photos"):
            ari = f"{adjusted_rand_score(_instances(ref).ravel(), _instances(low).ravel()):.4f}"
        print(f"{name:<17} | {t32:>7.1f} {t16:>7.1f} {t16 / t32:>6.2f} {official:>8.1f} "
              f"{t16 / official:>8.2f} | {m32:>8.0f} {m16:>8.0f} | {errors} | {ari}")
    print("errors: max |bf16 - fp32| / max |fp32| per output; ARI: instances ('large' preset) from bf16 "
          "against those from fp32 on the photos; MiB: peak resident increment during the forward")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


def cpu_bf16_text() -> str:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    found = [f for f in ("avx512_bf16", "amx_bf16") if f" {f}" in flags]
    return ", ".join(found) or "none"
