"""Exporters: one module per format, all taking a Scene, a target path and ``ExportOptions``.

``export_scene(scene, fmt, path, options)`` dispatches by format name; ``FORMATS`` describes each
format for the CLI and the GUI's export dialog (file or folder, suggested suffix, one-line description).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.errors import UserError
from app.export.atomic import OutputExistsError
from app.export.base import ExportCancelled, ExportOptions, ExportResult
from app.scene import Scene


@dataclass(frozen=True)
class ExportFormat:
    name: str
    title: str
    description: str
    folder: bool  # writes a folder (True) or one file
    suffix: str  # suggested suffix of a file target ("" for folders)
    run: Callable[[Scene, Path, ExportOptions], ExportResult]


def _lazy(module: str, func: str) -> Callable[[Scene, Path, ExportOptions], ExportResult]:
    def run(scene: Scene, path: Path, options: ExportOptions) -> ExportResult:
        import importlib

        return getattr(importlib.import_module(f"app.export.{module}"), func)(scene, path, options)

    return run


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat(
            "ply",
            "Point cloud (PLY)",
            "binary PLY with colour, instance id, category id, confidence",
            False,
            ".ply",
            _lazy("ply", "export_ply"),
        ),
        ExportFormat(
            "glb",
            "3D scene (GLB)",
            "glTF binary: coloured points and camera frustums",
            False,
            ".glb",
            _lazy("glb", "export_glb"),
        ),
        ExportFormat(
            "colmap",
            "Cameras (COLMAP)",
            "COLMAP text model with images (COLMAP, nerfstudio, gsplat)",
            True,
            "",
            _lazy("colmap", "export_colmap"),
        ),
        ExportFormat(
            "masks",
            "Instance masks (PNG)",
            "per view: 16-bit instance-id PNG and colour overlay",
            True,
            "",
            _lazy("masks", "export_masks"),
        ),
        ExportFormat(
            "coco",
            "Instance masks (COCO JSON)",
            "COCO-style JSON with RLE masks per view",
            False,
            ".json",
            _lazy("coco", "export_coco"),
        ),
        ExportFormat(
            "table",
            "Instance table (CSV/JSON)",
            "one row per instance; .csv or .json by suffix",
            False,
            ".csv",
            _lazy("table", "export_table"),
        ),
    )
}


def export_scene(
    scene: Scene, fmt: str, path: Path | str, options: ExportOptions | None = None
) -> ExportResult:
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt].run(scene, Path(path), options or ExportOptions())


__all__ = [
    "FORMATS",
    "ExportCancelled",
    "ExportFormat",
    "ExportOptions",
    "ExportResult",
    "OutputExistsError",
    "export_scene",
]
