"""Batch reconstruction: every scan under an input folder -> ``OUT_DIR/<name>.iggt`` (see docs/cli.md).

`run_batch` is the whole of ``iggt batch``: find the scans, skip what the manifest says is done and
unchanged, run the rest (embedded, local processes or Ray), append each finished scan to the manifest
and return the summary. One batch at a time writes to an OUT_DIR (a lock file), so what an earlier,
killed run left behind (attempt markers, temporary files of an interrupted save) can be cleared first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from app.batch_manifest import ScanRecord, append_record, manifest_path, read_manifest
from app.batch_report import BatchProgress, BatchSummary
from app.batch_run import BatchPlan, plan_batch, run_embedded, run_processes
from app.batch_scans import Scan, find_scans, settings_fingerprint
from app.batch_worker import running_dir, state_dir
from app.errors import UserError
from app.run_plan import ReconstructConfig, RunPlan, make_plan


@dataclass(frozen=True)
class BatchOptions:
    workers: int | None = None  # local processes (None/1: this process); Ray actors (None: per CPU/GPU)
    ray: str | None = None  # None: no Ray; "local": a local Ray for this run; else a cluster address
    gpus_per_scan: float = 0.0  # Ray only
    retry_failed: bool = False
    quiet: bool = False

    @property
    def runner(self) -> str:
        if self.ray is not None:
            return f"ray ({self.ray})"
        if self.workers and self.workers > 1:
            return f"{self.workers} local processes"
        return "embedded"


def batch_plan(config: ReconstructConfig, device_here: bool = True) -> RunPlan:
    """The run plan every scan follows, made once here (the weights' defaults read once). With workers on
    other machines (``device_here`` False) this machine's GPU is not checked: each worker checks its own."""
    if device_here:
        return make_plan(config)
    probe = replace(config, inference=replace(config.inference, device="cpu"))
    return replace(make_plan(probe), inference=config.inference)


def weights_files(config: RunPlan) -> list[Path]:
    from app.inference import resolve_weights

    source = resolve_weights(config.inference.weights)
    if source.kind != "file":
        return []
    path = Path(source.location)
    return sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]


def run_settings(plan: RunPlan) -> str:
    return settings_fingerprint(asdict(plan), weights_files(plan))


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold OUT_DIR's batch lock; a second batch into the same folder is refused."""
    state_dir(out_dir).mkdir(parents=True, exist_ok=True)
    with open(state_dir(out_dir) / "lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UserError(f"another batch is writing to {out_dir}; wait for it or use another -o") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clear_leftovers(out_dir: Path) -> None:
    """Remove the attempt markers a killed run left behind (temporary files of its interrupted saves are
    removed by `model.atomic_write` when that scan is written again)."""
    for marker in running_dir(out_dir).glob("*"):
        marker.unlink(missing_ok=True)


def prepare(source: Path, out_dir: Path, config: RunPlan, retry_failed: bool
            ) -> tuple[list[Scan], BatchPlan, str]:  # fmt: skip
    scans = find_scans(source, out_dir)
    settings = run_settings(config)
    plan = plan_batch(scans, out_dir, read_manifest(manifest_path(out_dir)), settings, retry_failed)
    return scans, plan, settings


def check_out_dir(out_dir: Path) -> Path:
    out_dir = out_dir.expanduser().absolute()
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"output {out_dir} is a file; give a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from None
    if not os.access(out_dir, os.W_OK):
        raise UserError(f"output folder {out_dir} is not writable")
    return out_dir


def run_batch(source: Path, out_dir: Path, config: ReconstructConfig, options: BatchOptions,
              ray_stats=None) -> BatchSummary:  # fmt: skip
    """Run the batch; Ctrl-C (KeyboardInterrupt) ends it cleanly with ``summary.interrupted`` set."""
    config = batch_plan(config, device_here=options.ray in (None, "local"))
    out_dir = check_out_dir(out_dir)
    started = time.monotonic()
    with locked(out_dir):
        clear_leftovers(out_dir)
        scans, plan, settings = prepare(source, out_dir, config, options.retry_failed)
        manifest = manifest_path(out_dir)
        summary = BatchSummary(str(out_dir), str(manifest), options.runner, total=len(scans),
                               to_run=len(plan.jobs), skipped=plan.skipped)  # fmt: skip
        with BatchProgress(len(plan.jobs), options.quiet) as progress:

            def on_record(record: ScanRecord) -> None:
                append_record(manifest, record)
                summary.add(record)
                progress.finished_scan(record)

            args = (plan.jobs, config, out_dir, settings, on_record, progress.started_scan)
            try:
                if options.ray is not None:
                    from app.batch_ray import RayStats, run_ray

                    stats = ray_stats if ray_stats is not None else RayStats()
                    address = None if options.ray == "local" else options.ray
                    run_ray(*args, address=address, workers=options.workers,
                            gpus_per_scan=options.gpus_per_scan, stats=stats)  # fmt: skip
                    summary.ray = {"connect_s": round(stats.connect_s, 2), "workers": stats.workers,
                                   "actors_ready_s": round(stats.actors_ready_s, 2)}  # fmt: skip
                elif options.workers and options.workers > 1:
                    run_processes(*args, workers=options.workers)
                else:
                    run_embedded(*args)
            except KeyboardInterrupt:
                summary.interrupted = True
            finished = set(summary.done) | {s for s, _ in summary.failed}
            summary.not_run = [j.scan.name for j in plan.jobs if j.scan.name not in finished]
        summary.seconds = time.monotonic() - started
    return summary
