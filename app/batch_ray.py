"""The batch on Ray: one actor per worker, each loading the network once; Ray retries what a dead one had.

Ray (the ``cluster`` extra) is imported only here. ``address=None`` starts a local Ray for the run
(bound to 127.0.0.1, no dashboard) and stops it afterwards; an address (``auto``, ``HOST:6379``) joins a
running cluster. Every node must see INPUT_ROOT and OUT_DIR at the same paths (shared storage): workers
read the photos and write ``OUT_DIR/<name>.iggt`` themselves, so only names and records travel.

Faults: an actor whose process dies (killed, out of memory) is restarted by Ray (``max_restarts``) and
the scan it was running is sent again (``max_task_retries``), to the restarted actor wherever Ray places
it; a scan that kills its worker every time is recorded as failed once the retries are used up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.batch_manifest import FAILED, ScanRecord
from app.batch_run import MAX_ATTEMPTS, Job, RecordFn, StartFn
from app.batch_worker import FAULT_ENV
from app.errors import UserError
from app.run_plan import RunPlan

_UNSET = "\0unset"  # the driver had no OMP_NUM_THREADS


@dataclass
class RayStats:
    """What Ray cost beyond the scans themselves (for the summary and bench/batch.py)."""

    connect_s: float = 0.0  # ray.init (starting the local cluster or joining one)
    actors_ready_s: float = 0.0  # until every actor had loaded the weights
    workers: int = 0
    started_local: bool = False
    address: str = ""


def import_ray():
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs Ray: pip install 'iggt-viewer[cluster]' (or pip install ray)") from None
    return ray


class ScanActor:
    """The Ray actor: a `ScanWorker` in its own process."""

    def __init__(self, config: RunPlan, out_dir: Path, driver_omp: str) -> None:
        # Ray pins OMP_NUM_THREADS to the actor's CPUs; use the threads `iggt reconstruct` would (the
        # driver's setting, else torch's default), so outputs are bit-identical to it
        if driver_omp == _UNSET:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = driver_omp
        from app.batch_worker import ScanWorker

        self.worker = ScanWorker(config, out_dir)

    def ready(self) -> bool:
        return True

    def run(self, job: Job, settings: str) -> ScanRecord:
        return self.worker.run(job.scan, job.fingerprint, settings)


def _runtime_env(local: bool) -> dict:
    env_vars = {}
    if os.environ.get(FAULT_ENV):
        env_vars[FAULT_ENV] = os.environ[FAULT_ENV]
    if local:  # workers import this very checkout of the app (not another install on the path)
        import app

        root = str(Path(app.__file__).resolve().parent.parent)
        env_vars["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return {"env_vars": env_vars} if env_vars else {}


def connect(address: str | None, num_cpus: int | None = None):
    """ray.init: a new local Ray for this run (``address`` None) or the cluster at ``address``."""
    ray = import_ray()
    kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is None:
        kwargs.update(num_cpus=num_cpus, _node_ip_address="127.0.0.1")
    try:
        ray.init(address=address or "local", **kwargs)
    except ConnectionError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    return ray


def default_workers(ray, gpus_per_scan: float) -> int:
    resources = ray.cluster_resources()
    if gpus_per_scan > 0:
        return max(1, int(resources.get("GPU", 0) / gpus_per_scan))
    return max(1, int(resources.get("CPU", 1)))


def run_ray(
    jobs: Sequence[Job], config: RunPlan, out_dir: Path, settings: str,
    on_record: RecordFn, on_start: StartFn, *, address: str | None, workers: int | None,
    gpus_per_scan: float = 0.0, stats: RayStats | None = None,
) -> None:  # fmt: skip
    """Run ``jobs`` on Ray actors (see the module docstring). Ctrl-C kills the actors (nothing partial is
    written: saves are atomic) and, for a local Ray, stops it."""
    stats = stats if stats is not None else RayStats()
    if not jobs:
        return
    ray = import_ray()
    owned = not ray.is_initialized()  # a caller that connected already (a notebook, the tests) keeps it
    t = time.perf_counter()
    if owned:
        ray = connect(address, num_cpus=None if address else min(len(jobs), workers or os.cpu_count() or 1))
    stats.connect_s = time.perf_counter() - t
    stats.started_local, stats.address = owned and address is None, address or "local"
    try:
        _drive(ray, jobs, config, out_dir, settings, on_record, on_start, workers, gpus_per_scan,
               stats, local=address is None)  # fmt: skip
    finally:
        if owned:
            ray.shutdown()


def _drive(ray, jobs, config, out_dir, settings, on_record, on_start, workers, gpus_per_scan, stats,
           local) -> None:  # fmt: skip
    from ray.exceptions import RayActorError

    n = min(len(jobs), workers or default_workers(ray, gpus_per_scan))
    options = {
        "num_cpus": 1,
        "max_restarts": MAX_ATTEMPTS - 1,
        "max_task_retries": MAX_ATTEMPTS - 1,
        "runtime_env": _runtime_env(local),
    }
    if gpus_per_scan > 0:
        options["num_gpus"] = gpus_per_scan
    actor_class = ray.remote(ScanActor).options(**options)
    driver_omp = os.environ.get("OMP_NUM_THREADS", _UNSET)
    t = time.perf_counter()

    actors: list = []  # every actor started, so that all of them are ended

    def new_actor():
        actors.append(actor_class.remote(config, out_dir, driver_omp))
        return actors[-1]

    try:
        for _ in range(n):
            new_actor()
        try:
            ray.get([a.ready.remote() for a in actors])
        except RayActorError as exc:
            raise UserError(f"the Ray workers could not load the model: {_first_line(exc)}") from None
        stats.actors_ready_s, stats.workers = time.perf_counter() - t, n
        _schedule(ray, jobs, settings, on_record, on_start, list(actors), new_actor)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)


def _schedule(ray, jobs, settings, on_record, on_start, idle: list, new_actor) -> None:
    """One scan at a time on each idle actor until every scan has a record.

    A worker Ray's memory monitor killed (the node ran low on memory) is not retried by Ray itself for
    actor tasks: its scan goes back in the queue (MAX_ATTEMPTS starts in all) for a fresh actor.
    """
    from ray.exceptions import OutOfMemoryError, RayActorError, RayTaskError

    pending = list(jobs)
    running: dict = {}  # object ref -> (actor, job)
    tries: dict[str, int] = {}
    while pending or running:
        while pending and idle:
            actor, job = idle.pop(), pending.pop(0)
            tries[job.scan.name] = tries.get(job.scan.name, 0) + 1
            on_start(job.scan.name)
            running[actor.run.remote(job, settings)] = (actor, job)
        ready, _ = ray.wait(list(running), num_returns=1)
        for ref in ready:
            actor, job = running.pop(ref)
            try:
                on_record(ray.get(ref))
                idle.append(actor)
            except OutOfMemoryError as exc:
                ray.kill(actor, no_restart=True)
                idle.append(new_actor())
                if tries[job.scan.name] < MAX_ATTEMPTS:
                    pending.append(job)
                else:
                    on_record(_failed(job, settings, f"the node ran out of memory: {_first_line(exc)}"))
            except RayActorError as exc:  # the retries are used up: this scan kills its worker
                error = (f"the worker died {MAX_ATTEMPTS} times running this scan (out of memory? killed?): "
                         f"{_first_line(exc)}")  # fmt: skip
                on_record(_failed(job, settings, error))
                idle.append(new_actor())
            except RayTaskError as exc:
                on_record(_failed(job, settings, f"internal error on the worker: {_first_line(exc)}"))
                idle.append(actor)

def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _failed(job: Job, settings: str, error: str) -> ScanRecord:
    return ScanRecord(scan=job.scan.name, input=str(job.scan.folder), fingerprint=job.fingerprint,
                      settings=settings, status=FAILED, attempts=MAX_ATTEMPTS, error=error)  # fmt: skip
