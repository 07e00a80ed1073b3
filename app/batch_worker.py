"""One batch worker: reconstructs scans one after another with the weights loaded once.

The same object runs in the batch's own process (embedded), in a local worker process (``--workers``)
and inside a Ray actor (``--ray``): `ScanWorker.run` turns one scan into ``OUT_DIR/<name>.iggt`` (written
atomically by `app.scene_io.save_scene`) and a `ScanRecord`; a bad scan is a failed record, never an
exception. Each start of a scan is counted in a marker file under ``OUT_DIR/.batch/running/`` (on the
storage every node sees), so a scan whose worker died and that Ray retried says how many tries it took.

Fault injection for tests and drills: ``IGGT_BATCH_FAULT=kill:SCAN:once`` (or ``:always``) makes the
worker kill its own process with SIGKILL in the middle of SCAN (after the network, before saving);
``once`` leaves a marker in ``OUT_DIR/.batch/`` so only the first try dies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from app.batch_manifest import DONE, FAILED, ScanRecord
from app.batch_scans import Scan
from app.errors import UserError
from app.progress import Cancelled, Progress
from app.reconstruct import iter_reconstruct
from app.run_plan import RunPlan

FAULT_ENV = "IGGT_BATCH_FAULT"
STATE_DIR = ".batch"  # under OUT_DIR: attempt markers and fault markers


def state_dir(out_dir: Path) -> Path:
    return out_dir / STATE_DIR


def running_dir(out_dir: Path) -> Path:
    return state_dir(out_dir) / "running"


def _key(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:20]


def _start_attempt(out_dir: Path, name: str) -> int:
    """Count one more start of scan ``name``; returns the attempt number (1 on the first try)."""
    marker = running_dir(out_dir) / _key(name)
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        attempt = int(marker.read_text().split()[0]) + 1
    except (OSError, ValueError, IndexError):
        attempt = 1
    marker.write_text(f"{attempt} {socket.gethostname()}:{os.getpid()} {name}\n")
    return attempt


def _end_attempt(out_dir: Path, name: str) -> None:
    (running_dir(out_dir) / _key(name)).unlink(missing_ok=True)


def _fault_fires(out_dir: Path, name: str) -> bool:
    spec = os.environ.get(FAULT_ENV, "")
    parts = spec.split(":")
    if len(parts) != 3 or parts[0] != "kill" or parts[1] != name:
        return False
    if parts[2] == "always":
        return True
    marker = state_dir(out_dir) / f"fault-{_key(name)}"
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        with open(marker, "x"):
            return True
    except FileExistsError:
        return False


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ScanWorker:
    """Reconstructs scans into ``out_dir`` with one network kept loaded between scans."""

    def __init__(self, config: RunPlan, out_dir: Path) -> None:
        from app.inference import get_predictor

        self.config = config
        self.out_dir = Path(out_dir)
        # get_predictor keeps this network for every later iter_reconstruct with the same settings
        get_predictor(config.inference).load()

    def run(
        self,
        scan: Scan,
        fingerprint: str,
        settings: str,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> ScanRecord:
        """Reconstruct ``scan`` and save it; raises only Cancelled/KeyboardInterrupt (nothing written)."""
        from app.scene_io import save_scene

        started = time.monotonic()
        attempt = _start_attempt(self.out_dir, scan.name)
        base = {"scan": scan.name, "input": str(scan.folder), "fingerprint": fingerprint,
                "settings": settings, "attempts": attempt, "worker": worker_name()}  # fmt: skip
        fault = _fault_fires(self.out_dir, scan.name)
        try:
            gen = iter_reconstruct([scan.folder], self.config)
            try:
                while True:
                    event = next(gen)
                    if fault and event.stage == "clustering":
                        os.kill(os.getpid(), signal.SIGKILL)  # the injected fault: die mid-scan
                    if on_progress is not None:
                        on_progress(event)
            except StopIteration as stop:
                scene = stop.value
            finally:
                gen.close()
            output = scan.output(self.out_dir)
            output.parent.mkdir(parents=True, exist_ok=True)
            save_scene(scene, output)
        except (Cancelled, KeyboardInterrupt):
            _end_attempt(self.out_dir, scan.name)
            raise
        except UserError as exc:
            return self._finish(base, started, status=FAILED, error=str(exc))
        except Exception as exc:  # one scan's internal error must not stop the batch
            error = f"internal error: {type(exc).__name__}: {exc}"
            return self._finish(base, started, status=FAILED, error=error)
        stats = [i.stats.consistency for i in scene.instances.values() if i.stats.consistency is not None]
        notes = [f"skipped {Path(s.file).name}: {s.reason}" for s in scene.settings.skipped_files]
        notes += list(scene.settings.notes)
        return self._finish(
            base, started, status=DONE, views=scene.n_views, points=scene.n_points,
            instances=len(scene.instances), notes=notes,
            consistency=round(sum(stats) / len(stats), 4) if stats else None,
        )  # fmt: skip

    def _finish(self, base: dict, started: float, **values) -> ScanRecord:
        _end_attempt(self.out_dir, base["scan"])
        finished = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        return ScanRecord(**base, **values, seconds=round(time.monotonic() - started, 3), finished=finished)
