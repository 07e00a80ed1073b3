"""One command that proves the CUDA path on a machine with a GPU (issue #22); prints a table, writes a JSON.

    python bench/gpu_check.py --weights /path/to/iggt_official.safetensors     # a CUDA machine, <= 8 min
    python bench/gpu_check.py --device cpu --tiny                              # the logic, in CI time

Sections (each "ok", "fail" or "skipped" with the reason; the JSON holds every figure):
  environment     torch, GPU, compute capability, the dtype the app picks, TF32 flags
  parity_fp32     the full network with the repository's recipe weights vs tests/reference, TF32 off,
                  the reference tolerances (needs the full network: not with --tiny)
  loading         weight loading time, peak GPU and CPU memory
  precision       bf16 and fp16 vs fp32 on 4 views: depth, points, rotation degrees, feature cosine;
                  the heads confirmed float32 (CUDA only: the CPU runs float32)
  scale           1/10/50/100/200 views at 504x336 and 504x504 (VGGT's table uses 518x518, not a
                  multiple of 28): aggregator-only and full predict time, peak allocated/reserved,
                  against the app's per-view estimate; stops at the time guard or at an OOM
  heads_chunk     the dense heads in chunks of 1 and 8 frames give the same outputs
  oom_recovery    cap the memory, force an out-of-memory error, check the memory is back once the
                  error is dropped, retry with fewer views (the CPU injects the error instead)
  cancel_latency  cancel at 10 % of the aggregator: seconds until the forward stopped

The time guard (``--budget-s``, default 480) skips whatever would not finish in time. No network access:
see docs/gpu_check.md for running it on a machine without one.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

SCHEMA = 1
SECTIONS = (
    "environment",
    "parity_fp32",
    "loading",
    "precision",
    "scale",
    "heads_chunk",
    "oom_recovery",
    "cancel_latency",
)
FULL_VIEWS = (1, 10, 50, 100, 200)
FULL_SIZES = ((336, 504), (504, 504))
TINY_VIEWS = (1, 2, 4)
NEEDS_WEIGHTS = ("precision", "scale", "heads_chunk", "oom_recovery", "cancel_latency")
TINY_SIZES = ((56, 84), (84, 84))


class Guard:
    """The time budget: a step runs only when the time it is expected to take is left."""

    def __init__(self, budget_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_s, self.clock, self.t0 = budget_s, clock, clock()

    def left(self) -> float:
        return self.budget_s - (self.clock() - self.t0)

    def allows(self, expected_s: float) -> bool:
        return expected_s <= self.left()


def skipped(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "reason": reason}


def peak_cpu_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------ metrics
def rotation_degrees(ext_a, ext_b) -> float:
    """Largest angle between the camera rotations of two (S, 3, 4) extrinsics."""
    import numpy as np

    rel = np.einsum("sij,skj->sik", ext_a[:, :, :3], ext_b[:, :, :3])
    cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    return float(np.degrees(np.arccos(cos)).max())


def compare(ref, other) -> dict[str, float]:
    """How far ``other`` (a model.predict.Prediction) is from ``ref``."""
    import numpy as np

    depth = float(np.median(np.abs(other.depth - ref.depth) / np.maximum(np.abs(ref.depth), 1e-6)))
    scale = float(
        np.median(np.linalg.norm(ref.world_points - np.median(ref.world_points, (0, 1, 2)), axis=-1))
    )
    points = float(
        np.median(np.linalg.norm(other.world_points - ref.world_points, axis=-1)) / max(scale, 1e-9)
    )
    fa, fb = ref.normalized_features(), other.normalized_features()
    cosine = float(np.mean(np.sum(fa * fb, axis=-1)))
    return {
        "depth_rel": depth,
        "points_rel": points,
        "rotation_deg": rotation_degrees(ref.extrinsic, other.extrinsic),
        "feature_cosine": cosine,
    }


# ------------------------------------------------------------------------------------------ sections
class Check:
    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        from model.device import resolve_device

        self.args, self.torch = args, torch
        self.device = resolve_device(args.device)
        self.cuda = self.device.type == "cuda"
        self.guard = Guard(args.budget_s)
        self.views = TINY_VIEWS if args.tiny else FULL_VIEWS
        self.sizes = TINY_SIZES if args.tiny else FULL_SIZES
        self.net = None

    def images(self, n: int, h: int, w: int):
        torch = self.torch
        return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(n))

    def predict(self, images, **options):
        from model.predict import PredictOptions, predict

        return predict(self.net, images, PredictOptions(device=self.device, **options))

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize(self.device)

    def environment(self) -> dict[str, Any]:
        torch = self.torch
        from model.device import autocast_dtype

        out = {
            "status": "ok",
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": str(self.device),
            "cpu_threads": torch.get_num_threads(),
            "dtype": str(autocast_dtype(self.device) or torch.float32).removeprefix("torch."),
        }
        if self.cuda:
            props = torch.cuda.get_device_properties(self.device)
            out.update(
                gpu=props.name,
                capability=".".join(map(str, torch.cuda.get_device_capability(self.device))),
                gpu_memory_gib=round(props.total_memory / 2**30, 1),
                tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
                tf32_cudnn=torch.backends.cudnn.allow_tf32,
            )
        return out

    def parity_fp32(self) -> dict[str, Any]:
        if self.args.tiny:
            return skipped("needs the full network with the recipe weights (run without --tiny)")
        if not self.guard.allows(90):
            return skipped("time budget")
        import numpy as np
        from recipe import build_recipe_iggt
        from test_official_parity import TOLERANCES

        from model.geometry import pose_encoding_to_extri_intri

        torch = self.torch
        flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            net = build_recipe_iggt().to(self.device).eval()
            cases, ok = {}, True
            for case in ("two_views", "three_views"):
                ref = dict(np.load(ROOT / "tests" / "reference" / f"iggt_{case}.npz"))
                with torch.inference_mode():
                    out = net(torch.from_numpy(ref["images"]).to(self.device))
                h, w = ref["images"].shape[-2:]
                ext, intr = pose_encoding_to_extri_intri(out["pose_enc"][-1], (h, w))
                got = {
                    "pose_enc": torch.stack(out["pose_enc"]),
                    "pose_enc_last": out["pose_enc"][-1],
                    "depth": out["depth"],
                    "depth_conf": out["depth_conf"],
                    "world_points": out["world_points"],
                    "world_points_conf": out["world_points_conf"],
                    "part_feat": out["part_feat"],
                    "extrinsic": ext,
                    "intrinsic": intr,
                }
                errors = {}
                for key, (atol, rtol) in TOLERANCES.items():
                    a = got[key].detach().float().cpu().numpy().astype(np.float64)
                    b = np.asarray(ref[key], np.float64)
                    errors[key] = float(np.abs(a - b).max())
                    ok &= bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))
                cases[case] = errors
            del net
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags
        return {"status": "ok" if ok else "fail", "max_abs_error": cases}

    def loading(self) -> dict[str, Any]:
        torch = self.torch
        from model import load_iggt

        weights = self.args.weights or str(ROOT / "resources" / "weights" / "iggt-tiny.safetensors")
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        t0 = time.perf_counter()
        self.net = load_iggt(weights, device=self.device)
        self.sync()
        out = {
            "status": "ok",
            "weights": weights,
            "load_s": round(time.perf_counter() - t0, 2),
            "peak_cpu_mib": round(peak_cpu_mib(), 1),
        }
        if self.cuda:
            out["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
        return out

    def precision(self) -> dict[str, Any]:
        if not self.cuda:
            return skipped("reduced precision runs on CUDA only (the CPU runs float32)")
        torch = self.torch
        h, w = self.sizes[0]
        x = self.images(4, h, w)
        head_dtypes: set[str] = set()
        hook = self.net.depth_head.register_forward_hook(lambda _m, _a, o: head_dtypes.add(str(o[0].dtype)))
        try:
            ref = self.predict(x, dtype=torch.float32)
            out = {"status": "ok", "views": 4, "size": f"{w}x{h}"}
            for name, dtype in (("bfloat16", torch.bfloat16), ("float16", torch.float16)):
                out[name] = compare(ref, self.predict(x, dtype=dtype))
        finally:
            hook.remove()
        out["heads_dtype"] = sorted(head_dtypes)
        if head_dtypes != {"torch.float32"}:
            out["status"] = "fail"
        return out

    def _timed(self, fn: Callable[[], Any]) -> float:
        self.sync()
        t0 = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - t0

    def _aggregate(self, x) -> None:
        from model.device import autocast, autocast_dtype

        with self.torch.inference_mode(), autocast(self.device, autocast_dtype(self.device)):
            self.net.aggregator(x[None], self.net.config.output_layers)

    def scale(self) -> dict[str, Any]:
        torch = self.torch
        from app.inference import bytes_per_view
        from model.device import autocast_dtype, is_out_of_memory

        token_dim = 2 * int(self.net.config.embed_dim)
        reduced = autocast_dtype(self.device) is not None
        rows, per_pixel_s = [], None
        for h, w in self.sizes:
            for n in self.views:
                row: dict[str, Any] = {
                    "size": f"{w}x{h}",
                    "views": n,
                    "estimate_gb": round(bytes_per_view(token_dim, h, w, reduced) * n / 1e9, 2),
                }
                expected = 2.5 * per_pixel_s * n * h * w * max(1.0, n / 50) if per_pixel_s else 5.0
                if not self.guard.allows(expected):
                    rows.append({**row, "status": "skipped", "reason": "time guard"})
                    continue
                x = self.images(n, h, w).to(self.device)
                if self.cuda:
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats(self.device)
                try:
                    row["aggregator_s"] = round(self._timed(lambda x=x: self._aggregate(x)), 3)
                    row["predict_s"] = round(self._timed(lambda x=x: self.predict(x)), 3)
                    row["status"] = "ok"
                except Exception as exc:
                    if not (is_out_of_memory(exc) or type(exc).__name__ == "OutOfMemory"):
                        raise
                    row.update(status="oom")
                del x
                if self.cuda:
                    row["peak_allocated_gb"] = round(torch.cuda.max_memory_allocated(self.device) / 1e9, 2)
                    row["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved(self.device) / 1e9, 2)
                rows.append(row)
                if row["status"] == "oom":
                    break
                per_pixel_s = row["predict_s"] / (n * h * w)
        return {"status": "ok", "rows": rows}

    def heads_chunk(self) -> dict[str, Any]:
        import numpy as np

        h, w = self.sizes[0]
        x = self.images(8, h, w)
        one, eight = self.predict(x, frame_chunk=1), self.predict(x, frame_chunk=8)
        outputs = ("depth", "depth_conf", "world_points", "features", "extrinsic")
        diffs = {k: float(np.abs(getattr(one, k) - getattr(eight, k)).max()) for k in outputs}
        # the parity tolerances (tests/reference): chunking changes only the float rounding
        same = all(np.allclose(getattr(one, k), getattr(eight, k), rtol=1e-4, atol=1e-4) for k in outputs)
        return {"status": "ok" if same else "fail", "max_abs_diff": diffs}

    def oom_recovery(self) -> dict[str, Any]:
        torch = self.torch
        from model.errors import OutOfMemory

        h, w = self.sizes[0]
        many, few = (8, 2) if self.args.tiny else (64, 4)
        hook = None
        if self.cuda:
            baseline = torch.cuda.memory_allocated(self.device)
            need = self.net.config.embed_dim * 2 * 4 * many * (h // 14) * (w // 14) * 60
            total = torch.cuda.get_device_properties(self.device).total_memory
            torch.cuda.set_per_process_memory_fraction(min(0.95, (baseline + need / 4) / total), self.device)
        else:  # the CPU cannot be capped: inject the error on the large run, as the tests do
            baseline = 0

            def boom(_m, args):
                if args[0].shape[0] >= many:
                    raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")

            hook = self.net.aggregator.frame_blocks[0].register_forward_pre_hook(boom)  # (views, tokens, dim)
        out: dict[str, Any] = {"views": many, "retry_views": few}
        try:
            try:
                self.predict(self.images(many, h, w))
                out["oom"] = False
            except OutOfMemory:
                out["oom"] = True
            if self.cuda:
                out["allocated_after_mib"] = round(
                    (torch.cuda.memory_allocated(self.device) - baseline) / 2**20, 1
                )
            self.predict(self.images(few, h, w))
            out["retry"] = "ok"
        finally:
            if hook is not None:
                hook.remove()
            if self.cuda:
                torch.cuda.set_per_process_memory_fraction(1.0, self.device)
        released = out.get("allocated_after_mib", 0.0) < 64
        out["status"] = "ok" if out["oom"] and released else "fail"
        return out

    def cancel_latency(self) -> dict[str, Any]:
        from model.errors import Cancelled

        h, w = self.sizes[0]
        n = 4 if self.args.tiny else 32
        state: dict[str, float] = {}

        def progress(stage: str, fraction: float) -> None:
            if stage == "aggregator" and fraction >= 0.1 and "asked" not in state:
                state["asked"] = time.perf_counter()

        try:
            self.predict(self.images(n, h, w), progress=progress, cancel=lambda: "asked" in state)
            return {"status": "fail", "reason": "the forward was not cancelled"}
        except Cancelled:
            latency = time.perf_counter() - state["asked"]
        return {"status": "ok", "views": n, "latency_s": round(latency, 4)}


# ------------------------------------------------------------------------------------------ running
def run(args: argparse.Namespace) -> dict[str, Any]:
    check = Check(args)
    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    for name in SECTIONS:
        if name != "environment" and check.guard.left() <= 0:
            results[name] = skipped("time budget")
            continue
        if name in NEEDS_WEIGHTS and check.net is None:
            results[name] = skipped("the weights did not load")
            continue
        started = time.perf_counter()
        try:
            results[name] = getattr(check, name)()
        except Exception as exc:  # one broken section must not hide the others
            results[name] = {"status": "fail", "reason": f"{type(exc).__name__}: {exc}"}
        results[name]["seconds"] = round(time.perf_counter() - started, 2)
    return {
        "schema": SCHEMA,
        "tiny": bool(args.tiny),
        "device": str(check.device),
        "budget_s": args.budget_s,
        "elapsed_s": round(time.perf_counter() - t0, 2),
        "sections": results,
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        f"IGGT GPU check ({report['device']}{', tiny' if report['tiny'] else ''}): "
        f"{report['elapsed_s']:.1f} s of {report['budget_s']:.0f} s",
        "",
    ]
    for name in SECTIONS:
        r = report["sections"][name]
        detail = r.get("reason") or ", ".join(
            f"{k}={_short(v)}" for k, v in r.items() if k not in ("status", "seconds", "rows")
        )
        lines.append(f"{name:<15} {r['status']:<8} {detail}")
        for row in r.get("rows", []):
            lines.append(f"{'':<15} {'':<8} " + ", ".join(f"{k}={_short(v)}" for k, v in row.items()))
    return "\n".join(lines)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N or cpu")
    parser.add_argument("--tiny", action="store_true", help="the bundled tiny weights at small sizes")
    parser.add_argument(
        "--weights", help="weights file for loading/precision/scale (default: the bundled tiny)"
    )
    parser.add_argument("--budget-s", type=float, default=480.0, help="time guard in seconds (default 480)")
    parser.add_argument("--json", type=Path, default=Path("gpu_check.json"), help="where the JSON goes")
    args = parser.parse_args(argv)
    report = run(args)
    print(table(report))
    args.json.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.json}")
    return 0 if all(s["status"] != "fail" for s in report["sections"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
