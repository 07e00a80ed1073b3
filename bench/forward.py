"""Forward time and activation memory of the full IGGT (recipe weights, CPU, fp32) vs the official code.

Usage:  .venv/bin/python bench/forward.py [--cases two_views,three_views,4x168x224,4x336x504]
                                         [--threads 2] [--repeats 1] [--isolate] [--dtype bf16]

For each case: wall time of ``net(images)`` under ``torch.inference_mode``, the resident memory just
before it, and the peak during it (``VmHWM`` after resetting it through ``/proc/self/clear_refs``, as
the reference measurement did). "increment" = peak - before, i.e. activation memory. The official
figures are those of tests/reference/README.md (same 2-core CPU machine, 2 threads, fp32).
``--isolate`` runs every case in a fresh process (as the official figures were measured); otherwise
all cases share one process and one build. Timings are only meaningful on an otherwise idle machine:
the load average is printed first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
REFERENCE = ROOT / "tests" / "reference"

# case -> (views, height, width, official forward s, official increment MiB); reference README table
CASES = {
    "two_views": (2, 112, 168, 4.30, 254),
    "three_views": (3, 140, 196, 10.8, 427),
    "4x168x224": (4, 168, 224, 16.0, 779),
    "4x336x504": (4, 336, 504, 87.9, 4079),
}
OFFICIAL_WEIGHTS_MIB = 4957


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def case_images(name: str):
    import numpy as np
    import torch

    views, h, w, *_ = CASES[name]
    path = REFERENCE / f"iggt_{name}.npz"
    if path.exists():
        return torch.from_numpy(np.load(path)["images"])
    # smooth synthetic images (content does not change the cost)
    gen = torch.Generator().manual_seed(views * 1000 + h)
    ys = torch.linspace(0, 1, h)[:, None]
    xs = torch.linspace(0, 1, w)[None, :]
    out = []
    for s in range(views):
        freq = torch.rand(3, 2, generator=gen) * 6 + 1
        phase = torch.rand(3, generator=gen) * 6.28
        chans = [
            0.5 + 0.4 * torch.sin(freq[c, 0] * 6.28 * (ys + 0.06 * s) + freq[c, 1] * 6.28 * (xs + 0.03 * s)
                                  + phase[c])
            for c in range(3)
        ]
        out.append(torch.stack(chans))
    return torch.stack(out)


def run_case(net, name: str, repeats: int) -> dict:
    import torch

    x = case_images(name)
    times, cpu_times = [], []
    rss_before = peak = 0
    for _ in range(repeats):
        rss_before = status_kib("VmRSS:")
        reset_ok = reset_peak()
        start, cpu_start = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            out = net(x)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        peak = status_kib("VmHWM:") if reset_ok else 0
        del out
    views, h, w, official_s, official_inc = CASES[name]
    return {
        "case": name, "views": views, "size": f"{h}x{w}", "first_s": times[0], "best_s": min(times),
        "cpu_s": cpu_times[0],
        "rss_before_mib": rss_before / 1024, "peak_mib": peak / 1024,
        "increment_mib": (peak - rss_before) / 1024, "official_s": official_s,
        "official_increment_mib": official_inc,
    }


def build(threads: int):
    import torch
    from recipe import build_recipe_iggt

    torch.set_num_threads(threads)
    start = time.perf_counter()
    net = build_recipe_iggt()
    return net, time.perf_counter() - start


def print_table(rows: list[dict], build_s: float | None) -> None:
    if build_s is not None:
        print(f"build + recipe weights: {build_s:.1f} s (official: 25-35 s)")
    header = (f"{'case':<12} {'views':>5} {'size':>8} | "
              f"{'time s':>7} {'cpu s':>7} {'official':>8} {'ratio':>6} | "
              f"{'before MiB':>10} {'peak MiB':>9} {'incr MiB':>8} {'official':>8} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['case']:<12} {r['views']:>5} {r['size']:>8} | "
              f"{r['first_s']:>7.2f} {r['cpu_s']:>7.2f} {r['official_s']:>8.2f} "
              f"{r['first_s'] / r['official_s']:>6.2f} | {r['rss_before_mib']:>10.0f} {r['peak_mib']:>9.0f} "
              f"{r['increment_mib']:>8.0f} {r['official_increment_mib']:>8.0f} "
              f"{r['increment_mib'] / r['official_increment_mib']:>6.2f}")
    print("time = wall time of the first forward (cpu = its process CPU time over all threads); "
          "ratio = time / official")
    print("goals: time ratio <= 0.90, increment ratio <= 0.50 (official weights alone: "
          f"{OFFICIAL_WEIGHTS_MIB} MiB RSS; ours hold only the 4639 MiB the forward uses)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--isolate", action="store_true", help="one fresh process per case")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32",
                        help="bf16: fp32 against a bf16 aggregator in one run, with errors and ARI "
                             "(bench/forward_dtype.py, which names its own cases)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = [c for c in args.cases.split(",") if c]
    unknown = [c for c in names if c not in CASES]
    if unknown and args.dtype == "fp32":
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    if args.dtype == "bf16":
        from forward_dtype import main_bf16

        chosen = None if args.cases == ",".join(CASES) else args.cases.split(",")
        return main_bf16(CASES, case_images, build, status_kib, reset_peak, args.threads, ROOT, chosen)
    if not args.json:
        print(f"load average before start: {os.getloadavg()[0]:.2f} (timings need an idle machine); "
              f"threads {args.threads}")
    if args.isolate:
        rows = []
        for name in names:
            cmd = [sys.executable, __file__, "--cases", name, "--threads", str(args.threads),
                   "--repeats", str(args.repeats), "--json"]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print_table(rows, None)
        return 0
    net, build_s = build(args.threads)
    rows = [run_case(net, name, args.repeats) for name in names]
    if args.json:
        print(json.dumps(rows[0]))
        return 0
    print_table(rows, build_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
