"""Tiny synthetic scans for the batch tests, and what "the same scene file" means for them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from app.cli import main

SIZE = (112, 168)  # H, W: the smallest input the batch tests use (multiples of 28)
RUN_OPTIONS = ["--width", "168"]  # reconstruct's own options, given to both commands


def write_room(folder: Path, seed: int, views: int = 2) -> Path:
    """Render room ``seed`` as PNGs into ``folder`` (one scan)."""
    from training.synthetic import render_room

    room = render_room(seed, views, *SIZE)
    folder.mkdir(parents=True)
    for i, image in enumerate(room.images):
        Image.fromarray(image).save(folder / f"view_{i:02d}.png")
    return folder


def write_broken(folder: Path) -> Path:
    """A scan whose every 'photo' is damaged: reconstruct refuses it with a reason."""
    folder.mkdir(parents=True)
    for i in range(2):
        (folder / f"view_{i:02d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    return folder


def change_one_image(folder: Path) -> None:
    """Alter a few pixels of the scan's first photo (a re-shot photo, as the fingerprint sees it)."""
    path = sorted(folder.glob("*.png"))[0]
    pixels = np.array(Image.open(path))
    pixels[:8, :8] = 255 - pixels[:8, :8]
    Image.fromarray(pixels).save(path)


def run_config(*extra: str):
    """The ReconstructConfig `iggt reconstruct` would use with RUN_OPTIONS and ``extra``."""
    import argparse

    from app.commands.reconstruct import add_run_options, build_config

    parser = argparse.ArgumentParser()
    add_run_options(parser)
    return build_config(parser.parse_args([*RUN_OPTIONS, *extra]))


def reconstruct_cli(folder: Path, out: Path) -> Path:
    assert main(["reconstruct", str(folder), "-o", str(out), "-q", *RUN_OPTIONS]) == 0
    return out


def scene_content(path: Path) -> dict:
    """Everything in a scene file except when it was written and how long each step took."""
    with zipfile.ZipFile(path) as zf:
        arrays = {n: zf.read(n) for n in zf.namelist() if n.endswith(".npy")}
        meta = json.loads(zf.read("scene.json"))
    meta.pop("created")
    meta["settings"].pop("timings_s")
    return {"arrays": arrays, "meta": meta}


def assert_same_scene(a: Path, b: Path) -> None:
    ca, cb = scene_content(a), scene_content(b)
    assert sorted(ca["arrays"]) == sorted(cb["arrays"])
    for name in ca["arrays"]:
        assert ca["arrays"][name] == cb["arrays"][name], f"{name} differs between {a} and {b}"
    assert ca["meta"] == cb["meta"]
