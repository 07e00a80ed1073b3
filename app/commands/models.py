"""`iggt models list` / `iggt models get KEY`: the real models (official IGGT, real CLIPs) on this machine,
and downloading them from the hub when the user asks (see app/models_hub.py)."""

from __future__ import annotations

import argparse
import json
import sys
import time

NAME = "models"
HELP = "list the models on this machine (bundled / in the hub cache) or download one from the hub"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="each model: state, size, where, licence, the setting that uses it")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    get = sub.add_parser("get", help="download a model into the hub cache (resumes a cancelled download)")
    get.add_argument("key", metavar="MODEL", help="iggt-official or clip:NAME:TAG (see 'iggt models list')")
    get.add_argument("--revision", help="a commit or branch of the hub repository (default: main)")
    get.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def _list(as_json: bool) -> int:
    from app.hub_download import human_bytes
    from app.models_hub import list_models
    from model.checkpoint import hub_cache_dir

    states = list_models()
    if as_json:
        print(json.dumps({"hub_cache": str(hub_cache_dir()),
                          "models": [{**s.__dict__, "present": s.present} for s in states]}, indent=1))
        return 0
    width = max(len(s.key) for s in states)
    for s in states:
        size = human_bytes(s.size) if s.present else f"about {human_bytes(s.size)}"
        print(f"{s.key:<{width}}  {s.state:<11}  {size:>10}  {s.title}")
        print(f"{'':<{width}}  use: {s.setting}" + (f"   at: {s.where}" if s.where else ""))
        print(f"{'':<{width}}  licence: {s.licence}")
    print(f"hub cache: {hub_cache_dir()} (HF_HUB_CACHE / HF_HOME move it)")
    return 0


class _Bar:
    """A rich download bar on a terminal, a line every few seconds otherwise."""

    def __init__(self, quiet: bool, title: str):
        self.quiet, self.title = quiet, title
        self.rich = None
        self.last = 0.0
        if not quiet and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.rich = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(), transient=True)
            self.task = self.rich.add_task(title, total=None)

    def __enter__(self) -> _Bar:
        if self.rich is not None:
            self.rich.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.rich is not None:
            self.rich.stop()

    def __call__(self, p) -> None:
        if self.quiet:
            return
        if self.rich is not None:
            label = self.title if p.stage == "download" else f"{p.stage} {p.file}"
            if p.total:
                self.rich.update(self.task, completed=p.done, total=p.total, description=label)
            else:
                self.rich.update(self.task, description=label)
            return
        now = time.monotonic()
        if p.stage != "download" or now - self.last >= 2.0 or (p.total and p.done >= p.total):
            self.last = now
            print(f"{self.title}: {p.text()}", file=sys.stderr, flush=True)


def _get(args: argparse.Namespace) -> int:
    from app.models_hub import find, get

    model = find(args.key)
    try:
        with _Bar(args.quiet, model.title) as bar:
            state = get(model.key, progress=bar, revision=args.revision)
    except KeyboardInterrupt:
        print("download interrupted; run the same command again to resume it", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"{state.key}: {state.state}, {state.where}")
        print(f"use it with: {'--weights' if state.kind == 'iggt' else '--model'} {state.setting}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list(args.json)
    return _get(args)
