"""``iggt batch --dry-run``: what would run, and what it needs.

Memory comes from the same estimate the viewer's settings dialog shows (`app.inference.bytes_per_view` and
the predictor's views cap on the chosen device); time from the scans this batch already finished (their
seconds per view-megapixel in the manifest), else, for the full model on a CPU, from the prior the app
announces before such a run (`app.run_estimate`).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from app.batch import BatchOptions, batch_plan, prepare
from app.batch_manifest import DONE, ScanRecord, manifest_path, read_manifest
from app.images import collect_image_paths
from app.progress import format_seconds
from app.run_plan import ReconstructConfig


def seconds_per_view_mpx(records: dict[str, ScanRecord], size: tuple[int, int]) -> float | None:
    """Median seconds per view-megapixel of the finished scans (None: none finished yet)."""
    mpx = size[0] * size[1] / 1e6
    rates = [r.seconds / (r.views * mpx) for r in records.values() if r.status == DONE and r.views]
    return statistics.median(rates) if rates else None


def dry_run(source: Path, out_dir: Path, config: ReconstructConfig, options: BatchOptions,
            as_json: bool = False) -> int:  # fmt: skip
    from app.inference import bytes_per_view, free_memory_bytes, get_predictor

    out_dir = out_dir.expanduser().absolute()
    run_plan = batch_plan(config)
    scans, plan, _settings = prepare(source, out_dir, run_plan, options.retry_failed)
    h, w = run_plan.preprocess.target_size()
    predictor = get_predictor(config.inference)
    predictor.load()
    cap, why = predictor.max_views(h, w)
    token_dim = 2 * int(getattr(predictor.net.config, "embed_dim", 1024))
    reduced = predictor.device.startswith("cuda") and config.inference.dtype != "float32"
    per_view = bytes_per_view(token_dim, h, w, reduced)
    rate = seconds_per_view_mpx(read_manifest(manifest_path(out_dir)), (h, w))
    time_from = None if rate is None else "the scans this batch already finished"
    if rate is None and getattr(predictor.net.config, "name", "") == "full" and predictor.device == "cpu":
        from app.run_estimate import cpu_seconds

        rate = cpu_seconds(1, 1000, 1000)  # the full model's forward on this CPU, per view-megapixel
        time_from = "the full model's expected forward time on this CPU, before any scan has measured it"
    rows = []
    for job in plan.jobs:
        n = len(collect_image_paths([job.scan.folder])[0])
        views = min(n, run_plan.preprocess.max_views or n)
        rows.append({
            "scan": job.scan.name, "views": views, "memory_gb": round(per_view * views / 1e9, 2),
            "fits": views <= cap, "seconds": None if rate is None else round(rate * views * h * w / 1e6, 1),
        })  # fmt: skip
    total_s = sum(r["seconds"] for r in rows) if rate is not None else None
    report = {
        "scans": len(scans), "to_run": rows, "skipped": [{"scan": s, "why": y} for s, y in plan.skipped],
        "model": predictor.model_id, "device": predictor.device, "input_size": [h, w],
        "views_cap": cap, "views_cap_why": why, "free_bytes": free_memory_bytes(predictor.device),
        "seconds_total_one_worker": total_s, "time_from": time_from, "runner": options.runner,
    }  # fmt: skip
    if as_json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"{len(rows)} of {len(scans)} scans would run ({options.runner}), {predictor.model_id} on "
          f"{predictor.device} at {w}x{h}; at most {cap} views per scan ({why})")  # fmt: skip
    for r in rows:
        when = "time unknown" if r["seconds"] is None else f"about {format_seconds(r['seconds'])}"
        warn = "" if r["fits"] else f"  ⚠ will fail: more than {cap} views (use --views {cap})"
        print(f"  run   {r['scan']}: {r['views']} views, about {r['memory_gb']:.2f} GB, {when}{warn}")
    for scan, why_skip in plan.skipped:
        print(f"  skip  {scan}: {why_skip}")
    if total_s is not None and rows:
        print(f"about {format_seconds(total_s)} on one worker (from {time_from})")
    elif rows:
        print("time: measured by the first scans (the manifest has none finished yet)")
    return 0
