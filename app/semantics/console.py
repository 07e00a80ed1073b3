"""Shared pieces of the semantic CLI commands: model option, progress line, scene loading/saving."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.progress import Progress

MODEL_ENV = "IGGT_CLIP_MODEL"


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=os.environ.get(MODEL_ENV, "bundled"),
        help="CLIP model: 'bundled' (default, or $IGGT_CLIP_MODEL), NAME:TAG from the local open_clip/HF "
        "cache (e.g. ViT-B-16:laion2b_s34b_b88k), NAME:/path/to/checkpoint, or a clip-tiny .safetensors",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")


class ProgressLine:
    """One updating line on stderr (only when stderr is a terminal or when verbose)."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._shown = False

    def __call__(self, event: Progress) -> None:
        if self.enabled:
            print(f"\r{event.format():<78}", end="", file=sys.stderr, flush=True)
            self._shown = True

    def close(self) -> None:
        if self._shown:
            print(file=sys.stderr)
            self._shown = False


def load_backend_for(args: argparse.Namespace):
    """The backend the options ask for; falls back to the bundled model with a warning on stderr."""
    from .backends import load_backend_or_bundled

    loaded = load_backend_or_bundled(args.model, args.device)
    if loaded.warning:
        print(f"warning: {loaded.warning}", file=sys.stderr)
    return loaded.backend


def scene_embeddings(scene_path: Path, args: argparse.Namespace, backend):
    """(scene, embeddings) with the embeddings cached in the scene file unless --no-save."""
    from app.scene_io import load_scene, save_scene

    from .scene_embeddings import ensure_embeddings

    scene = load_scene(scene_path)
    progress = ProgressLine()
    try:
        emb, computed = ensure_embeddings(scene, backend, on_progress=progress)
    finally:
        progress.close()
    if computed and not getattr(args, "no_save", False):
        save_scene(scene, scene_path)
    return scene, emb


def add_save_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-save",
        action="store_true",
        help="do not write computed embeddings / labels back into the scene file",
    )
