"""The instance table as CSV or JSON (chosen by the output's suffix): one row per instance."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from app.errors import UserError
from app.export.atomic import check_target, write_text_atomic
from app.export.base import ExportOptions, ExportResult, category_ids
from app.review import review_state
from app.scene import Scene

COLUMNS = (
    "id", "name", "category", "category_id", "colour", "locked", "visible", "points", "views", "pixels",
    "mean_confidence", "centroid_x", "centroid_y", "centroid_z",
    "bbox_min_x", "bbox_min_y", "bbox_min_z", "bbox_max_x", "bbox_max_y", "bbox_max_z", "consistency",
    "review",
)  # fmt: skip
TABLE_SUFFIXES = (".csv", ".json")


def instance_rows(scene: Scene) -> list[dict]:
    """Rows computed from the current labels (not from cached statistics), so they are always current."""
    cats = category_ids(scene)
    labels = scene.point_labels
    pts = scene.points
    conf = scene.point_confidence
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    rows = []
    for iid, inst in scene.instances.items():
        a, b = np.searchsorted(sorted_labels, [iid, iid + 1])
        idx = order[a:b]
        p = pts[idx]
        view_pixels = [int(np.count_nonzero(scene.labels[s] == iid)) for s in range(scene.n_views)]
        nan3 = [float("nan")] * 3
        centroid = p.mean(0).tolist() if len(idx) else nan3
        lo = p.min(0).tolist() if len(idx) else nan3
        hi = p.max(0).tolist() if len(idx) else nan3
        rows.append(
            {
                "id": iid,
                "name": inst.name,
                "category": inst.category or "",
                "category_id": cats.get(inst.category or "", 0),
                "colour": "#{:02x}{:02x}{:02x}".format(*inst.colour),
                "locked": inst.locked,
                "visible": inst.visible,
                "points": len(idx),
                "views": sum(1 for n in view_pixels if n),
                "pixels": sum(view_pixels),
                "mean_confidence": float(conf[idx].mean()) if len(idx) else float("nan"),
                "centroid_x": centroid[0], "centroid_y": centroid[1], "centroid_z": centroid[2],
                "bbox_min_x": lo[0], "bbox_min_y": lo[1], "bbox_min_z": lo[2],
                "bbox_max_x": hi[0], "bbox_max_y": hi[1], "bbox_max_z": hi[2],
                "consistency": inst.stats.consistency,
                "review": review_state(inst),
            }
        )  # fmt: skip
    return rows


def _json_value(v):
    return None if isinstance(v, float) and not np.isfinite(v) else v


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A text cell a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+1``, ``@SUM``) gets a
    leading apostrophe, which spreadsheets show as text; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def table_text(scene: Scene, suffix: str) -> str:
    rows = instance_rows(scene)
    if suffix == ".json":
        clean = [{k: _json_value(v) for k, v in row.items()} for row in rows]
        return json.dumps({"columns": list(COLUMNS), "instances": clean}, indent=2)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    return buf.getvalue()


def export_table(scene: Scene, path: Path, options: ExportOptions | None = None) -> ExportResult:
    options = options or ExportOptions()
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise UserError(f"the instance table is written as .csv or .json, not {path.name!r}")
    path = check_target(path, options.force)
    options.report("instance table", 0.0)
    write_text_atomic(path, table_text(scene, suffix), options.force)
    options.report("done", 1.0)
    return ExportResult(path, [path])
