"""Running a batch: which scans to run, and the embedded runners (this process, or local processes).

`plan_batch` compares the scans with the manifest: a scan whose last record is done, whose output exists
and whose input and settings fingerprints are unchanged is skipped; a failed one is skipped (until its
input changes) unless ``retry_failed``. The runners call ``on_record`` as each scan finishes (the caller
appends it to the manifest) and ``on_start`` as one starts. Ray's runner is `app.batch_ray.run_ray`.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from app.batch_manifest import DONE, FAILED, ScanRecord
from app.batch_scans import Scan, input_fingerprint
from app.batch_worker import ScanWorker, worker_name
from app.run_plan import RunPlan

MAX_ATTEMPTS = 3  # a scan whose worker process died this many times is recorded as failed

RecordFn = Callable[[ScanRecord], None]
StartFn = Callable[[str], None]


@dataclass(frozen=True)
class Job:
    scan: Scan
    fingerprint: str


@dataclass
class BatchPlan:
    jobs: list[Job] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (scan, why)


def plan_batch(
    scans: Sequence[Scan], out_dir: Path, records: dict[str, ScanRecord], settings: str, retry_failed: bool
) -> BatchPlan:
    plan = BatchPlan()
    for scan in scans:
        fingerprint = input_fingerprint(scan)
        last = records.get(scan.name)
        same = last is not None and last.fingerprint == fingerprint and last.settings == settings
        if same and last.status == DONE and scan.output(out_dir).is_file():
            plan.skipped.append((scan.name, "done, unchanged"))
        elif same and last.status == FAILED and not retry_failed:
            plan.skipped.append((scan.name, f"failed before ({last.error}); --retry-failed to run it again"))
        else:
            plan.jobs.append(Job(scan, fingerprint))
    return plan


def run_embedded(
    jobs: Sequence[Job], config: RunPlan, out_dir: Path, settings: str,
    on_record: RecordFn, on_start: StartFn,
) -> None:  # fmt: skip
    """The scans one after another in this process, the network loaded once."""
    if not jobs:
        return
    worker = ScanWorker(config, out_dir)
    for job in jobs:
        on_start(job.scan.name)
        on_record(worker.run(job.scan, job.fingerprint, settings))


# ---------------------------------------------------------------------------------- local processes
_WORKER: ScanWorker | None = None


def _init_process(config: RunPlan, out_dir: Path) -> None:
    global _WORKER
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle; it ends the pool
    _WORKER = ScanWorker(config, out_dir)


def _run_in_process(job: Job, settings: str) -> ScanRecord:
    assert _WORKER is not None
    return _WORKER.run(job.scan, job.fingerprint, settings)


def run_processes(
    jobs: Sequence[Job], config: RunPlan, out_dir: Path, settings: str,
    on_record: RecordFn, on_start: StartFn, workers: int,
) -> None:  # fmt: skip
    """The scans on ``workers`` local processes (each loads the network once). A process that dies takes
    the scans it had with it: the pool is started again and those scans run again (at most MAX_ATTEMPTS
    starts each; the attempt counter in OUT_DIR says which scan's worker died)."""
    pending = list(jobs)
    tries: dict[str, int] = {}
    context = multiprocessing.get_context("spawn")
    while pending:
        pool = ProcessPoolExecutor(workers, context, _init_process, (config, out_dir))
        running: dict[Future, Job] = {}
        broken = False
        try:
            while (pending or running) and not broken:
                while pending and len(running) < workers:
                    job = pending.pop(0)
                    tries[job.scan.name] = tries.get(job.scan.name, 0) + 1
                    on_start(job.scan.name)
                    running[pool.submit(_run_in_process, job, settings)] = job
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        on_record(future.result())
                    except BrokenProcessPool:
                        broken = True
                        _retry_or_fail(job, tries, pending, settings, on_record)
            for job in running.values():  # a broken pool fails every scan still in it
                _retry_or_fail(job, tries, pending, settings, on_record)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _retry_or_fail(
    job: Job, tries: dict[str, int], pending: list[Job], settings: str, on_record: RecordFn
) -> None:
    if tries[job.scan.name] < MAX_ATTEMPTS:
        pending.append(job)
        return
    on_record(ScanRecord(
        scan=job.scan.name, input=str(job.scan.folder), fingerprint=job.fingerprint, settings=settings,
        status=FAILED, attempts=tries[job.scan.name], worker=worker_name(),
        error=f"the worker process died {MAX_ATTEMPTS} times running this scan (out of memory? killed?)",
    ))  # fmt: skip
