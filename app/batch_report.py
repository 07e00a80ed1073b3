"""What a batch tells its user: one overall bar (a terminal) or one line per scan; the summary."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from app.batch_manifest import DONE, ScanRecord
from app.progress import format_seconds


@dataclass
class BatchSummary:
    out_dir: str
    manifest: str
    runner: str  # "embedded", "2 local processes", "ray (local)" ...
    total: int = 0  # scans found
    to_run: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (scan, why)
    retried: list[tuple[str, int, str]] = field(default_factory=list)  # (scan, attempts, final status)
    not_run: list[str] = field(default_factory=list)  # left when the batch was interrupted
    interrupted: bool = False
    seconds: float = 0.0
    scan_seconds: float = 0.0  # sum of the finished scans' own times
    ray: dict[str, Any] | None = None

    def add(self, record: ScanRecord) -> None:
        if record.status == DONE:
            self.done.append(record.scan)
        else:
            self.failed.append((record.scan, record.error))
        if record.attempts > 1:
            self.retried.append((record.scan, record.attempts, record.status))
        self.scan_seconds += record.seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir, "manifest": self.manifest, "runner": self.runner, "scans": self.total,
            "ran": len(self.done) + len(self.failed), "done": self.done,
            "failed": [{"scan": s, "error": e} for s, e in self.failed],
            "skipped": [{"scan": s, "why": w} for s, w in self.skipped],
            "retried": [{"scan": s, "attempts": a, "status": st} for s, a, st in self.retried],
            "not_run": self.not_run, "interrupted": self.interrupted, "seconds": round(self.seconds, 2),
            "scans_per_hour": self.scans_per_hour, "ray": self.ray,
        }  # fmt: skip

    @property
    def scans_per_hour(self) -> float | None:
        ran = len(self.done) + len(self.failed)
        return round(ran * 3600 / self.seconds, 1) if ran and self.seconds > 0 else None

    def lines(self) -> list[str]:
        ran = len(self.done) + len(self.failed)
        out = [f"{self.total} scans: {len(self.done)} done, {len(self.failed)} failed, "
               f"{len(self.skipped)} skipped (done before, unchanged or failed)"
               + (f", {len(self.not_run)} not run" if self.not_run else "")
               + f" in {format_seconds(self.seconds)} ({self.runner})"]  # fmt: skip
        if ran and self.seconds > 0:
            out[0] += f", {self.scans_per_hour} scans/hour"
        for scan, attempts, status in self.retried:
            out.append(f"retried {scan}: its worker process died; {status} after {attempts} attempts")
        for scan, why in self.failed:
            out.append(f"failed {scan}: {why}")
        if self.interrupted:
            out.append("interrupted: nothing half-written; run the same command again to resume")
        out.append(f"manifest: {self.manifest}")
        return out


class BatchProgress:
    """One overall bar (done / failed / running, ETA) on a terminal; one plain line per event otherwise."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total, self.quiet = total, quiet
        self.done = self.failed = 0
        self.running: set[str] = set()
        self.bar = None
        self.started = time.monotonic()

    def __enter__(self) -> BatchProgress:
        if not self.quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self.bar.start()
            self.task = self.bar.add_task(self._description(), total=self.total)
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def _description(self) -> str:
        return f"scans: {self.done} done, {self.failed} failed, {len(self.running)} running"

    def _say(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def started_scan(self, name: str) -> None:
        self.running.add(name)
        if self.bar is not None:
            self.bar.update(self.task, description=self._description())
        else:
            self._say(f"[{self.done + self.failed}/{self.total}] started {name}")

    def finished_scan(self, record: ScanRecord) -> None:
        self.running.discard(record.scan)
        if record.status == DONE:
            self.done += 1
            what = (f"done {record.scan}: {record.views} views, {record.instances} instances "
                    f"({format_seconds(record.seconds)})")  # fmt: skip
        else:
            self.failed += 1
            what = f"failed {record.scan}: {record.error}"
        if record.attempts > 1:
            what += f" (attempt {record.attempts}: a worker died before)"
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=self._description())
        self._say(f"[{self.done + self.failed}/{self.total}] {what}")
