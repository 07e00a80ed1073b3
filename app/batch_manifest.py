"""The batch manifest: ``OUT_DIR/batch-manifest.jsonl``, one JSON object a line, one line per finished scan.

Lines are only ever appended (and flushed to disk) as scans finish, so an interrupted batch keeps every
finished scan's record; the last line of a scan is its current state. A torn last line (a machine that
died mid-write) is ignored. Reruns read it to skip scans that are done and unchanged; the viewer reads
it to list the scans.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

MANIFEST_NAME = "batch-manifest.jsonl"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True)
class ScanRecord:
    scan: str  # the scan's name; its output is <OUT_DIR>/<scan>.iggt
    input: str = ""  # the scan's folder
    fingerprint: str = ""  # of the input images (`app.batch_scans.input_fingerprint`)
    settings: str = ""  # of the run settings and weights (`app.batch_scans.settings_fingerprint`)
    status: str = FAILED  # "done" | "failed"
    seconds: float = 0.0  # wall time of the scan on its worker (the last attempt)
    views: int = 0
    points: int = 0
    instances: int = 0
    consistency: float | None = None  # mean cross-view consistency of the instances that have one
    error: str = ""  # why it failed (one line)
    attempts: int = 1  # how many times a worker started it (> 1: a worker died and it was retried)
    worker: str = ""  # host:pid of the worker that finished it
    finished: str = ""  # ISO time
    notes: list[str] = field(default_factory=list)  # skipped images and other notes of the run

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScanRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def manifest_path(out_dir: Path) -> Path:
    return out_dir / MANIFEST_NAME


def read_manifest(path: Path) -> dict[str, ScanRecord]:
    """The current record of every scan in the manifest file (empty when there is none yet)."""
    records: dict[str, ScanRecord] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records
    for line in text.splitlines():
        try:
            data = json.loads(line)
            record = ScanRecord.from_json(data)
        except (ValueError, TypeError):
            continue  # a torn or foreign line
        if isinstance(record.scan, str) and record.scan:
            records[record.scan] = record
    return records


def append_record(path: Path, record: ScanRecord) -> None:
    """Append one record and flush it to disk (a line is written with a single write call)."""
    line = json.dumps(record.to_json(), sort_keys=False) + "\n"
    needs_newline = False
    try:
        with open(path, "rb") as fh:  # a torn last line must not swallow this one
            fh.seek(0, os.SEEK_END)
            if fh.tell():
                fh.seek(-1, os.SEEK_END)
                needs_newline = fh.read(1) != b"\n"
    except FileNotFoundError:
        pass
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(("\n" if needs_newline else "") + line)
        fh.flush()
        os.fsync(fh.fileno())
