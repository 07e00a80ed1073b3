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
    from app.measure import metric_scene

    options = options or ExportOptions()
    spec, path = FORMATS[fmt], Path(path)
    result = spec.run(metric_scene(scene, options.scale), path, options)
    if not spec.folder and fmt != "table" and path.suffix.lower() != spec.suffix:
        # written as asked, but other tools go by the name: say so rather than leave a surprise
        result.warnings.append(f"{path.name} holds a {spec.title} but is not named *{spec.suffix}; "
                               f"other tools may not open it")  # fmt: skip
    return result


ALL_NAMES = {"ply": "cloud.ply", "glb": "scene.glb", "colmap": "colmap", "masks": "masks",
             "coco": "coco.json", "table": "instances.csv"}  # fmt: skip


def export_all(scene: Scene, folder: Path | str, options: ExportOptions | None = None) -> list[ExportResult]:
    """Every format into ``folder`` (created if needed) under the names of ``ALL_NAMES``.

    Existing outputs are refused before anything is written unless ``options.force``.
    """
    options = options or ExportOptions()
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} is a file; give a folder to export every format into")
    if not options.force:
        taken = [name for name in ALL_NAMES.values() if (folder / name).exists()]
        if taken:
            raise OutputExistsError(folder / taken[0])
    folder.mkdir(parents=True, exist_ok=True)
    from app.measure import metric_scene

    scene = metric_scene(scene, options.scale)  # once for every format
    results = []
    progress = options.progress
    for k, (fmt, name) in enumerate(ALL_NAMES.items()):

        def report(message: str, fraction: float, k: int = k, fmt: str = fmt) -> None:
            if progress is not None:
                progress(f"{fmt}: {message}", (k + fraction) / len(ALL_NAMES))

        step = ExportOptions(options.force, options.colour_by, options.with_images, report, options.cancel)
        results.append(export_scene(scene, fmt, folder / name, step))
    return results


__all__ = [
    "ALL_NAMES",
    "FORMATS",
    "ExportCancelled",
    "ExportFormat",
    "ExportOptions",
    "ExportResult",
    "OutputExistsError",
    "export_all",
    "export_scene",
]
