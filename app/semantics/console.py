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


def scene_embeddings(scene_path: Path, backend) -> tuple:
    """(scene, embeddings, computed_now): the scene file's cached embeddings, else computed in memory.
    The file is not written here: ``keep_embeddings`` (query, ask) or the command's own save (label)."""
    from app.scene_io import load_scene

    from .scene_embeddings import ensure_embeddings

    scene = load_scene(scene_path)
    progress = ProgressLine()
    try:
        emb, computed = ensure_embeddings(scene, backend, on_progress=progress)
    finally:
        progress.close()
    return scene, emb, computed


def keep_embeddings(scene, scene_path: Path, emb, computed: bool, save: bool) -> None:
    """A question about a scene (query, ask) leaves its file as it was unless --save; either way one line
    on stderr says what happened to embeddings computed now."""
    from app.scene_io import backup_path, save_scene

    name, n = scene_path.name, len(emb.instance_ids)
    if not save:
        if computed:
            print(f"note: CLIP features for {n} objects computed, {name} left unchanged "
                  f"(--save keeps them in it: faster next time)", file=sys.stderr)  # fmt: skip
        return
    if not computed:
        print(f"{name} already holds these CLIP features: nothing written", file=sys.stderr)
        return
    why = _not_saveable(scene, scene_path)
    if why:
        print(f"warning: CLIP features not saved: {why}", file=sys.stderr)
        return
    save_scene(scene, scene_path)
    bak = backup_path(scene_path).name
    print(f"saved CLIP features for {n} objects in {name} (the previous file kept as {bak})", file=sys.stderr)


def _not_saveable(scene, scene_path: Path) -> str | None:
    """Why the scene read at the start must not be written back now (None: it may)."""
    from app.scene_io import file_stamp

    if scene.load_warnings:  # features of placeholder photos would be kept as the real ones'
        return f"{scene_path.name} was opened without some of its photos: {scene.load_warnings[0]}"
    if scene.loaded_stamp is None or file_stamp(scene_path) != scene.loaded_stamp:
        return (f"{scene_path.name} changed on disk since it was read (saved by another program?); "
                "run the command again to keep them")  # fmt: skip
    return None


def add_save_argument(parser: argparse.ArgumentParser) -> None:
    """label: it writes its labels into the scene file unless --no-save."""
    parser.add_argument(
        "--no-save",
        action="store_true",
        help="do not write the labels (and the CLIP features computed for them) into the scene file",
    )


def add_cache_argument(parser: argparse.ArgumentParser) -> None:
    """query, ask: they read the scene file; only --save writes to it."""
    parser.add_argument(
        "--save",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="keep the CLIP features computed for this scene in the scene file, so that the next question "
        "is faster (the file is rewritten, the one before kept as .bak); default: the file is only read",
    )
